"""A pandas DataFrame through safepickle (docs/scientific-stack.md shows this file)."""

import pickle

import pandas as pd
import safepickle

import safepickle_pandas

policy = safepickle.Policy(plugins=["pandas"])  # brings the numpy plugin's names too

numbers = pd.DataFrame([[1, 0.5], [2, 1.5]])
assert safepickle.loads(pickle.dumps(numbers), policy=policy).equals(numbers)

# object columns are numpy object arrays: load them with safepickle_pandas.loads
mixed = pd.DataFrame([["a", 1], ["b", None]], dtype=object)
assert safepickle_pandas.loads(pickle.dumps(mixed)).equals(mixed)

# pandas' readers are on safepickle's floor: no policy can allow them
payload = b"\x80\x02cpandas\nread_csv\nX\x01\x00\x00\x00x\x85R."
try:
    safepickle_pandas.loads(payload)
except safepickle.ForbiddenGlobal as exc:
    message = str(exc)
else:
    raise AssertionError("expected a refusal")
assert "floor" in message
