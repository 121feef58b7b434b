"""numpy arrays and joblib files through safepickle (docs/scientific-stack.md shows this file)."""

import pickle

import joblib
import numpy as np
import safepickle

import safepickle_numpy

policy = safepickle.Policy(plugins=["numpy"])  # the numpy plugin, by its entry-point name

# numeric arrays, scalars, masked and record arrays: plain safepickle.loads
data = pickle.dumps({"weights": np.linspace(0, 1, 5), "step": np.int64(3)})
loaded = safepickle.loads(data, policy=policy)
assert loaded["step"] == 3

# object arrays (and StringDType) need the stream checked first: safepickle_numpy.loads
labels = pickle.dumps(np.array(["cat", "dog", None], dtype=object))
try:
    safepickle.loads(labels, policy=policy)
except safepickle.ExecutionError as exc:
    message = str(exc)
else:
    raise AssertionError("expected a refusal")
assert "object dtypes" in message
assert safepickle_numpy.loads(labels, policy=policy).tolist() == ["cat", "dog", None]

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
