"""Every estimator of sklearn.utils.all_estimators() that fits on a tiny dataset, fitted, and
pipelines, round-trip through the plugin at protocols 2 and 5."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import safepickle
from core_names_sk import marks
from estimator_compare import assert_same
from sklearn.utils import all_estimators
from sklearn_catalogue import catalogue, left_out

import safepickle_sklearn

_ITEMS = dict(catalogue())


def _params() -> list[Any]:
    return [
        pytest.param(name, protocol, id=f"{name}-p{protocol}",
                     marks=marks(obj, protocol))
        for name, obj in _ITEMS.items()
        for protocol in (2, 5)
    ]  # fmt: skip


@pytest.mark.filterwarnings("ignore::FutureWarning")  # deprecated classes warn in __new__
@pytest.mark.parametrize(("name", "protocol"), _params())
def test_round_trip(name: str, protocol: int, sklearn_policy: safepickle.Policy) -> None:
    data = pickle.dumps(_ITEMS[name], protocol)
    got = safepickle_sklearn.loads(data, policy=sklearn_policy)
    assert_same(got, pickle.loads(data))  # our own benign catalogue: plain pickle is the reference


def test_every_estimator_is_in_the_catalogue() -> None:
    assert left_out() == ()
    assert {name for name, _ in all_estimators()} <= set(_ITEMS)


def test_without_object_arrays_plain_loads_works(sklearn_policy: safepickle.Policy) -> None:
    """Estimators fitted on numbers have no object arrays: safepickle.loads is enough."""
    model = _ITEMS["LogisticRegression"]
    got = safepickle.loads(pickle.dumps(model), policy=sklearn_policy)
    assert np.array_equal(got.predict(np.ones((2, 4))), model.predict(np.ones((2, 4))))


def test_string_labels_need_the_object_array_check(sklearn_policy: safepickle.Policy) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn_catalogue import Y_CLASS, X

    labels = np.array(["a", "b", None])[Y_CLASS].astype(object)
    model = LogisticRegression().fit(X, labels.astype(str).astype(object))
    data = pickle.dumps(model)
    with pytest.raises(safepickle.ExecutionError, match="object dtypes"):
        safepickle.loads(data, policy=sklearn_policy)
    got = safepickle_sklearn.loads(data)
    assert got.predict(X[:3]).tolist() == model.predict(X[:3]).tolist()


def test_dataframe_feature_names() -> None:
    """feature_names_in_ (set when fitted on a DataFrame) is an object array of str."""
    import pandas
    from sklearn.linear_model import Ridge
    from sklearn_catalogue import Y_REG, X

    model = Ridge().fit(pandas.DataFrame(X, columns=list("abcd")), Y_REG)
    got = safepickle_sklearn.loads(pickle.dumps(model))
    assert got.feature_names_in_.tolist() == ["a", "b", "c", "d"]
