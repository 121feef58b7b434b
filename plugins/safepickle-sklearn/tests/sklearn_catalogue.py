"""Every scikit-learn estimator of ``all_estimators()`` that fits on a tiny dataset, fitted, plus
pipelines; ``discover_globals.py`` pickles them to list the globals they need."""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    OutlierMixin,
    RegressorMixin,
)
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import all_estimators

_RNG = np.random.default_rng(0)
X = np.abs(_RNG.normal(size=(40, 4))) + 0.1  # positive: some estimators need it
Y_CLASS = np.array([0, 1, 2, 1] * 10)
Y_REG = X @ np.array([1.0, -2.0, 0.5, 3.0]) + _RNG.normal(size=40) * 0.1
TEXT = ["the cat sat", "a dog ran", "the dog sat", "a cat ran"] * 10

#: constructor arguments for estimators that need some, by class name
_NEEDS: dict[str, dict[str, Any]] = {
    "ClassifierChain": {"estimator": LogisticRegression()},
    "RegressorChain": {"estimator": Ridge()},
    "MultiOutputClassifier": {"estimator": LogisticRegression()},
    "MultiOutputRegressor": {"estimator": Ridge()},
    "OneVsOneClassifier": {"estimator": LogisticRegression()},
    "OneVsRestClassifier": {"estimator": LogisticRegression()},
    "OutputCodeClassifier": {"estimator": LogisticRegression(), "random_state": 0},
    "RFE": {"estimator": Ridge()},
    "RFECV": {"estimator": Ridge(), "cv": 2},
    "SelectFromModel": {"estimator": Ridge()},
    "SequentialFeatureSelector": {"estimator": Ridge(), "n_features_to_select": 2, "cv": 2},
    "SelfTrainingClassifier": {"estimator": LogisticRegression()},
    "StackingClassifier": {"estimators": [("lr", LogisticRegression())], "cv": 2},
    "StackingRegressor": {"estimators": [("r", Ridge())], "cv": 2},
    "VotingClassifier": {"estimators": [("lr", LogisticRegression())]},
    "VotingRegressor": {"estimators": [("r", Ridge())]},
    "FrozenEstimator": {"estimator": Ridge().fit(X, Y_REG)},
    "GridSearchCV": {"estimator": Ridge(), "param_grid": {"alpha": [1.0, 2.0]}, "cv": 2},
    "HalvingGridSearchCV": {"estimator": Ridge(), "param_grid": {"alpha": [1.0, 2.0]}},
    "RandomizedSearchCV": {
        "estimator": Ridge(),
        "param_distributions": {"alpha": [1.0, 2.0]},
        "n_iter": 2,
        "cv": 2,
    },
    "HalvingRandomSearchCV": {"estimator": Ridge(), "param_distributions": {"alpha": [1.0]}},
    "ColumnTransformer": {"transformers": [("s", StandardScaler(), [0, 1])]},
    "FeatureUnion": {"transformer_list": [("s", StandardScaler()), ("p", PCA(1))]},
    "Pipeline": {"steps": [("s", StandardScaler()), ("r", Ridge())]},
    "CalibratedClassifierCV": {"cv": 2},
    "FixedThresholdClassifier": {"estimator": LogisticRegression()},
    "TunedThresholdClassifierCV": {"estimator": LogisticRegression(), "cv": 2},
    "SparseCoder": {"dictionary": np.eye(4)},
    "PatchExtractor": {},
    "LabelBinarizer": {},
    "GaussianRandomProjection": {"n_components": 2},
    "SparseRandomProjection": {"n_components": 2},
    "PLSSVD": {"n_components": 1},
}
#: estimators whose input is not a numeric matrix, by class name: (X, y)
_DATA: dict[str, tuple[Any, Any]] = {
    "CountVectorizer": (TEXT, None),
    "TfidfVectorizer": (TEXT, None),
    "HashingVectorizer": (TEXT, None),
    "DictVectorizer": ([{"a": 1, "b": 2}, {"a": 3}], None),
    "FeatureHasher": ([{"a": 1, "b": 2}, {"a": 3}], None),
    "LabelBinarizer": (Y_CLASS, None),
    "LabelEncoder": (Y_CLASS, None),
    "MultiLabelBinarizer": ([[1, 2], [3]], None),
    "PatchExtractor": (np.arange(2 * 8 * 8, dtype=float).reshape(2, 8, 8), None),
    "IsotonicRegression": (X[:, 0], Y_REG),
    "MultiOutputClassifier": (X, np.c_[Y_CLASS, Y_CLASS[::-1]]),
    "MultiOutputRegressor": (X, np.c_[Y_REG, Y_REG]),
    "ClassifierChain": (X, np.c_[Y_CLASS % 2, Y_CLASS // 2]),
    "RegressorChain": (X, np.c_[Y_REG, Y_REG]),
    "MultiTaskLasso": (X, np.c_[Y_REG, Y_REG]),
    "MultiTaskLassoCV": (X, np.c_[Y_REG, Y_REG]),
    "MultiTaskElasticNet": (X, np.c_[Y_REG, Y_REG]),
    "MultiTaskElasticNetCV": (X, np.c_[Y_REG, Y_REG]),
    "CCA": (X, np.c_[Y_REG, Y_REG]),
    "PLSCanonical": (X, np.c_[Y_REG, Y_REG]),
    "SelfTrainingClassifier": (X, np.where(np.arange(40) % 3 == 0, -1, Y_CLASS)),
    "FixedThresholdClassifier": (X, Y_CLASS % 2),
    "TunedThresholdClassifierCV": (X, Y_CLASS % 2),
    "GammaRegressor": (X, np.abs(Y_REG) + 0.1),
    "PoissonRegressor": (X, np.abs(Y_REG)),
    "KernelCenterer": (X @ X.T, None),
    "NeighborhoodComponentsAnalysis": (X, Y_CLASS),
    "PLSSVD": (X, np.c_[Y_REG, Y_REG]),
}


def _target(cls: type) -> Any:
    if issubclass(cls, ClassifierMixin):
        return Y_CLASS
    if issubclass(cls, RegressorMixin):
        return Y_REG
    if issubclass(cls, (ClusterMixin, OutlierMixin)):
        return None
    return Y_REG  # transformers and the rest: y is ignored or used as a target


def _fitted(name: str, cls: type) -> BaseEstimator | None:
    kwargs = dict(_NEEDS.get(name, {}))
    if "random_state" in inspect.signature(cls).parameters:
        kwargs.setdefault("random_state", 0)
    try:
        estimator = cls(**kwargs)
        x, y = _DATA.get(name, (X, _target(cls)))
        estimator.fit(x) if y is None else estimator.fit(x, y)
    except Exception:
        return None
    return estimator


def _pipelines() -> list[tuple[str, Any]]:
    column = ColumnTransformer(
        [("scale", StandardScaler(), [0, 1]), ("onehot", OneHotEncoder(), [2])]
    )
    data = np.c_[X[:, :2], np.arange(40) % 3]
    return [
        ("pipeline-scale-ridge", make_pipeline(StandardScaler(), Ridge()).fit(X, Y_REG)),
        (
            "pipeline-pca-forest",
            make_pipeline(PCA(2), RandomForestClassifier(5, random_state=0)).fit(X, Y_CLASS),
        ),
        ("pipeline-columns", make_pipeline(column, LogisticRegression()).fit(data, Y_CLASS)),
        (
            "feature-union",
            FeatureUnion([("s", StandardScaler()), ("p", PCA(1))]).fit(X, Y_REG),
        ),
        (
            "transformed-target",
            TransformedTargetRegressor(Ridge(), transformer=StandardScaler()).fit(X, Y_REG),
        ),
    ]


@functools.lru_cache(maxsize=1)
def catalogue() -> tuple[tuple[str, Any], ...]:
    """(id, fitted estimator) pairs, and the names of the estimators left out."""
    items: list[tuple[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on a tiny dataset
        for name, cls in all_estimators():
            estimator = _fitted(name, cls)
            if estimator is not None:
                items.append((name, estimator))
        items.extend(_pipelines())
    return tuple(items)


@functools.lru_cache(maxsize=1)
def left_out() -> tuple[str, ...]:
    fitted = {name for name, _ in catalogue()}
    return tuple(name for name, _ in all_estimators() if name not in fitted)
