"""Every estimator of sklearn.utils.all_estimators() that fits on a tiny dataset, fitted, and
pipelines, round-trip through the plugin at protocols 2 and 5."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safepickle
from estimator_compare import assert_same
from sklearn.utils import all_estimators
from sklearn_catalogue import catalogue, left_out

import safepickle_sklearn

_ITEMS = dict(catalogue())


def _params() -> list[Any]:
    return [
        pytest.param(name, protocol, id=f"{name}-p{protocol}")
        for name in _ITEMS
        for protocol in (2, 5)
    ]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # deprecated classes warn in __new__
@pytest.mark.parametrize(("name", "protocol"), _params())
def test_round_trip(name: str, protocol: int, sklearn_policy: safepickle.Policy) -> None:
    data = pickle.dumps(_ITEMS[name], protocol)
    got = safepickle.loads(data, policy=sklearn_policy)
    assert_same(got, pickle.loads(data))  # our own benign catalogue: plain pickle is the reference


def test_every_estimator_is_in_the_catalogue() -> None:
    assert left_out() == ()
    assert {name for name, _ in all_estimators()} <= set(_ITEMS)


def test_fitted_on_numbers(sklearn_policy: safepickle.Policy) -> None:
    """Estimators fitted on numbers have no object arrays."""
    model = _ITEMS["LogisticRegression"]
    got = safepickle.loads(pickle.dumps(model), policy=sklearn_policy)
    assert np.array_equal(got.predict(np.ones((2, 4))), model.predict(np.ones((2, 4))))


def test_string_labels_are_object_arrays(sklearn_policy: safepickle.Policy) -> None:
    """classes_ is an object array of str: loaded by plain safepickle.loads after the
    plugin's inspect hook checked it; a short item list in it is refused."""
    from sklearn.linear_model import LogisticRegression
    from sklearn_catalogue import Y_CLASS, X

    labels = np.array(["a", "b", None])[Y_CLASS].astype(object)
    model = LogisticRegression().fit(X, labels.astype(str).astype(object))
    data = pickle.dumps(model, 2)
    got = safepickle.loads(data, policy=sklearn_policy)
    assert got.predict(X[:3]).tolist() == model.predict(X[:3]).tolist()
    assert got.classes_.dtype == object
    shape = b"K\x01K\x03\x85"  # version 1, classes_'s shape (3,)
    assert shape in data  # classes_ (and any other 3-item array): every copy made short
    short = data.replace(shape, b"K\x01J\x00\xe1\xf5\x05\x85")
    with pytest.raises(safepickle.UnsafeOpcode, match="item list holds 3"):
        safepickle.loads(short, policy=sklearn_policy)


def test_deprecated_loads_and_load(sklearn_policy: safepickle.Policy, tmp_path: Path) -> None:
    model = _ITEMS["LogisticRegression"]
    data = pickle.dumps(model)
    with pytest.warns(DeprecationWarning, match=r"safepickle_sklearn\.loads is deprecated"):
        assert_same(safepickle_sklearn.loads(data), model)
    (tmp_path / "m.pkl").write_bytes(data)
    with pytest.warns(DeprecationWarning, match=r"safepickle_sklearn\.load is deprecated"):
        assert_same(safepickle_sklearn.load(tmp_path / "m.pkl"), model)


def test_dataframe_feature_names(sklearn_policy: safepickle.Policy) -> None:
    """feature_names_in_ (set when fitted on a DataFrame) is an object array of str."""
    import pandas
    from sklearn.linear_model import Ridge
    from sklearn_catalogue import Y_REG, X

    model = Ridge().fit(pandas.DataFrame(X, columns=list("abcd")), Y_REG)
    got = safepickle.loads(pickle.dumps(model), policy=sklearn_policy)
    assert got.feature_names_in_.tolist() == ["a", "b", "c", "d"]
