"""Every object of the numpy catalogue round-trips through safepickle with the plugin."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import safepickle
from numpy_catalogue import catalogue, object_catalogue
from numpy_compare import assert_same

import safepickle_numpy


def _params() -> list[Any]:
    params = []
    for item_id, obj in catalogue():
        for protocol in (2, 5):
            params.append(pytest.param(obj, protocol, id=f"{item_id}-p{protocol}"))
    return params


@pytest.mark.parametrize(("obj", "protocol"), _params())
def test_round_trip(obj: Any, protocol: int, numpy_policy: safepickle.Policy) -> None:
    data = pickle.dumps(obj, protocol)
    # what plain pickle makes of our own benign catalogue is the reference (it already maps
    # numpy.longlong to numpy.int64, for instance)
    assert_same(safepickle.loads(data, policy=numpy_policy), pickle.loads(data))


def test_catalogue_covers_every_kind() -> None:
    kinds = {type(obj) for _, obj in catalogue()}
    for needed in (np.ndarray, np.ma.MaskedArray, np.rec.recarray, np.random.Generator,
                   np.float64, np.datetime64, np.void, np.record):  # fmt: skip
        assert needed in kinds
    dtype_kinds = {obj.dtype.kind for _, obj in catalogue() if isinstance(obj, np.ndarray)}
    assert set("biufcmMSUV") <= dtype_kinds


def test_catalogue_has_object_arrays() -> None:
    """test_round_trip loads object arrays and StringDType through plain safepickle.loads."""
    objects = object_catalogue()
    assert len(objects) >= 10
    assert {name for name, _ in objects} <= {name for name, _ in catalogue()}


def test_plugin_is_needed() -> None:
    """Without the plugin the default policy refuses numpy: the tests above prove the plugin."""
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"numpy"):
        safepickle.loads(pickle.dumps(np.arange(3)))


def test_protocol_5_out_of_band(numpy_policy: safepickle.Policy) -> None:
    array = np.arange(10.0)
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(array, 5, buffer_callback=buffers.append)
    got = safepickle.loads(data, buffers=buffers, policy=numpy_policy)
    assert_same(got, array)


@pytest.mark.parametrize(("item_id", "obj"), object_catalogue(), ids=lambda v: str(v)[:20])
def test_deprecated_loads_still_works(
    item_id: str, obj: Any, numpy_policy: safepickle.Policy
) -> None:
    """safepickle_numpy.loads is now safepickle.loads with a default policy, and says so."""
    data = pickle.dumps(obj, 5)
    with pytest.warns(DeprecationWarning, match=r"safepickle_numpy\.loads is deprecated"):
        got = safepickle_numpy.loads(data, policy=numpy_policy)
    assert_same(got, pickle.loads(data))


def test_object_array_items_are_checked(numpy_policy: safepickle.Policy) -> None:
    """An object array's items go through the policy like any other global."""
    data = pickle.dumps(np.array([1, complex(1, 2), slice(1)], dtype=object), 2)
    safepickle.loads(data, policy=numpy_policy)  # complex and slice: stdlib, allowed
    data = pickle.dumps(np.array([np.arange], dtype=object), 2)
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"numpy.*arange"):
        safepickle.loads(data, policy=numpy_policy)


def test_deprecated_load_defaults_to_the_plugin(tmp_path: Any) -> None:
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps(np.array(["a", None], dtype=object)))
    with pytest.warns(DeprecationWarning, match=r"safepickle_numpy\.load is deprecated"):
        assert safepickle_numpy.load(path).tolist() == ["a", None]
    with path.open("rb") as file, pytest.warns(DeprecationWarning, match="deprecated"):
        assert safepickle_numpy.load(file).tolist() == ["a", None]
