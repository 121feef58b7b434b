"""A pandas DataFrame through safepickle (docs/scientific-stack.md shows this file)."""

import pickle

import pandas as pd
import safepickle

policy = safepickle.Policy(plugins=["pandas"])  # brings the numpy plugin's names too

numbers = pd.DataFrame([[1, 0.5], [2, 1.5]])
assert safepickle.loads(pickle.dumps(numbers), policy=policy).equals(numbers)

# object columns and string indexes are numpy object arrays: the plugin checks each one's
# item count against its shape before the stream runs, then plain safepickle.loads loads them
mixed = pd.DataFrame([["a", 1], ["b", None]], dtype=object, index=["x", "y"])
assert safepickle.loads(pickle.dumps(mixed), policy=policy).equals(mixed)

# pandas' readers are on safepickle's floor: no policy can allow them
payload = b"\x80\x02cpandas\nread_csv\nX\x01\x00\x00\x00x\x85R."
try:
    safepickle.loads(payload, policy=policy)
except safepickle.ForbiddenGlobal as exc:
    message = str(exc)
else:
    raise AssertionError("expected a refusal")
assert "floor" in message
