"""Models saved with joblib.dump (compressed or not) load through safepickle_sklearn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import joblib
import pytest
import safepickle
from estimator_compare import assert_same
from sklearn_catalogue import catalogue

import safepickle_sklearn

_MODELS = ["RandomForestClassifier", "pipeline-columns", "KNeighborsClassifier",
           "DecisionTreeRegressor", "StandardScaler", "TfidfVectorizer", "LogisticRegression",
           "IsolationForest", "SVC", "Birch"]  # fmt: skip


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 1), ("xz", 1)], ids=str)
@pytest.mark.parametrize("name", _MODELS)
def test_joblib_model_round_trip(name: str, compress: Any, tmp_path: Path) -> None:
    model = dict(catalogue())[name]
    path = tmp_path / "model.joblib"
    joblib.dump(model, path, compress=compress)
    assert_same(safepickle_sklearn.load_joblib(path), joblib.load(path))


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("touch CANARY",)


def test_hostile_joblib_model_refused(canary: Path) -> None:
    model = dict(catalogue())["LogisticRegression"]
    joblib.dump([model, _Evil()], "model.joblib", compress=3)
    with pytest.raises(safepickle.ForbiddenGlobal, match="system"):
        safepickle_sklearn.load_joblib("model.joblib")
