"""numpy arrays and joblib files through safepickle (docs/scientific-stack.md shows this file)."""

import pickle

import joblib
import numpy as np
import safepickle

import safepickle_numpy

policy = safepickle.Policy(plugins=["numpy"])  # the numpy plugin, by its entry-point name

# arrays of every dtype, scalars, masked and record arrays: plain safepickle.loads
data = pickle.dumps({"weights": np.linspace(0, 1, 5), "step": np.int64(3)})
loaded = safepickle.loads(data, policy=policy)
assert loaded["step"] == 3

# object arrays too: the plugin checks each one's item count against its shape before the
# stream runs, and every item's globals go through the policy
labels = pickle.dumps(np.array(["cat", "dog", None], dtype=object))
assert safepickle.loads(labels, policy=policy).tolist() == ["cat", "dog", None]

# a short item list (numpy itself would crash the interpreter on it) is a clean refusal
short = labels.replace(b"K\x01K\x03\x85", b"K\x01K\x09\x85", 1)  # shape (9,) for 3 items
assert short != labels
try:
    safepickle.loads(short, policy=policy)
except safepickle.UnsafeOpcode as exc:
    message = str(exc)
else:
    raise AssertionError("expected a refusal")
assert "whose item list holds 3" in message

# files written by joblib.dump, compressed or not, without joblib's own unpickler
joblib.dump({"w": np.arange(3.0), "names": np.array(["a", "b"], dtype=object)}, "m.joblib", 3)
model = safepickle_numpy.load_joblib("m.joblib", policy=policy)
assert model["names"].tolist() == ["a", "b"]

# whatever the policy does not allow is refused before anything runs
try:
    safepickle.loads(pickle.dumps(np.sum), policy=policy)
except safepickle.ForbiddenGlobal as exc:
    message = str(exc)
else:
    raise AssertionError("expected a refusal")
assert "allow=['numpy:sum']" in message
