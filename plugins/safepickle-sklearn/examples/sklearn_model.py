"""A scikit-learn model saved with joblib, loaded through safepickle
(docs/scientific-stack.md shows this file)."""

import pickle

import joblib
import numpy as np
import safepickle
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import safepickle_sklearn

X = np.random.default_rng(0).normal(size=(30, 3))
y = (X[:, 0] > 0).astype(int)
model = make_pipeline(StandardScaler(), RandomForestClassifier(10, random_state=0)).fit(X, y)
joblib.dump(model, "model.joblib", compress=3)

loaded = safepickle_sklearn.load_joblib("model.joblib")  # Policy(plugins=["sklearn"])
assert (loaded.predict(X) == model.predict(X)).all()

# plain pickles too, string class labels (object arrays) included: plain safepickle.loads
labels = np.where(y == 1, "yes", "no").astype(object)
named = RandomForestClassifier(5, random_state=0).fit(X, labels)
policy = safepickle.Policy(plugins=["sklearn"])
restored = safepickle.loads(pickle.dumps(named), policy=policy)
assert restored.classes_.tolist() == ["no", "yes"]

# a function stored in an estimator is refused until you allow it by name
joblib.dump(FunctionTransformer(np.log1p).fit(X), "log.joblib")
try:
    safepickle_sklearn.load_joblib("log.joblib")
except safepickle.ForbiddenGlobal as exc:
    message = str(exc)
else:
    raise AssertionError("expected a refusal")
assert "numpy.log1p" in message
transformer = safepickle_sklearn.load_joblib("log.joblib", allow=["numpy.log1p"])
assert transformer.func is np.log1p
