"""Series and DataFrames of every dtype, indexes and scalars round-trip through the plugin."""

from __future__ import annotations

import pickle
from typing import Any

import pandas as pd
import pytest
import safepickle
from pandas_catalogue import catalogue

import safepickle_pandas


def _params() -> list[Any]:
    return [
        pytest.param(obj, protocol, id=f"{item_id}-p{protocol}")
        for item_id, obj in catalogue()
        for protocol in (2, 5)
    ]


def assert_same(got: Any, want: Any) -> None:
    assert type(got) is type(want)
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.attrs == want.attrs
    elif isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, check_exact=True)
    elif isinstance(want, pd.Index):
        pd.testing.assert_index_equal(got, want, exact=True, check_exact=True)
        assert getattr(got, "freq", None) == getattr(want, "freq", None)
    elif want is pd.NaT or want is pd.NA:
        assert got is want
    else:
        assert got == want and repr(got) == repr(want)


@pytest.mark.parametrize(("obj", "protocol"), _params())
def test_round_trip(obj: Any, protocol: int, pandas_policy: safepickle.Policy) -> None:
    data = pickle.dumps(obj, protocol)
    assert_same(safepickle.loads(data, policy=pandas_policy), pickle.loads(data))


def test_catalogue_covers_every_dtype() -> None:
    frame = dict(catalogue())["frame-all-dtypes"]
    dtypes = list(frame.dtypes)
    for needed in (pd.CategoricalDtype, pd.DatetimeTZDtype, pd.PeriodDtype, pd.IntervalDtype,
                   pd.SparseDtype, pd.Int64Dtype, pd.BooleanDtype, pd.Float64Dtype,
                   pd.StringDtype):  # fmt: skip
        assert any(isinstance(dtype, needed) for dtype in dtypes), needed
    assert {"O", "m", "M", "c", "b", "u", "f", "i"} <= {getattr(d, "kind", "") for d in dtypes}


def test_numeric_frame_with_plain_loads(pandas_policy: safepickle.Policy) -> None:
    """No object arrays, no Cython helpers (test_round_trip covers frames that have them)."""
    frame = pd.DataFrame([[1, 0.5], [2, 1.5]])  # a RangeIndex: no string index
    got = safepickle.loads(pickle.dumps(frame), policy=pandas_policy)
    pd.testing.assert_frame_equal(got, frame)


def test_pandas_brings_numpy() -> None:
    """Naming pandas is enough for the numpy arrays inside frames."""
    policy = safepickle.Policy(plugins=["pandas"])
    assert policy.decide(safepickle.GlobalRef("numpy", "ndarray")).allowed
    assert policy.decide(safepickle.GlobalRef("pandas", "DataFrame")).allowed


def test_load_from_a_file(tmp_path: Any) -> None:
    frame = pd.DataFrame([["a", 1], ["b", None]], dtype=object)  # an object block
    path = tmp_path / "f.pkl"
    path.write_bytes(pickle.dumps(frame))
    with pytest.warns(DeprecationWarning, match=r"safepickle_pandas\.load is deprecated"):
        pd.testing.assert_frame_equal(safepickle_pandas.load(path), frame)
    with pytest.warns(DeprecationWarning, match=r"safepickle_pandas\.loads is deprecated"):
        pd.testing.assert_frame_equal(safepickle_pandas.loads(path.read_bytes()), frame)


def test_short_object_list_in_a_frame_is_refused(pandas_policy: safepickle.Policy) -> None:
    """An object block whose item list is shorter than its shape: refused before it runs
    (numpy would crash the interpreter), by plain safepickle.loads with the pandas plugin."""
    frame = pd.DataFrame({"s": ["a", "b", "c"]}, dtype=object)
    data = pickle.dumps(frame, 2)
    shape = b"K\x01K\x01K\x03\x86"  # version 1, the block's shape (1, 3)
    assert shape in data
    short = data.replace(shape, b"K\x01K\x01J\x00\xe1\xf5\x05\x86", 1)
    with pytest.raises(safepickle.UnsafeOpcode, match="item list holds 3"):
        safepickle.loads(short, policy=pandas_policy)
    pd.testing.assert_frame_equal(safepickle.loads(data, policy=pandas_policy), frame)


def test_numpy_and_pandas_check_a_stream_once(
    pandas_policy: safepickle.Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both plugins implement the inspect hook; named together they walk each stream once."""
    from safepickle_numpy import _inspect

    walks: list[int] = []
    walk = _inspect.check_object_arrays

    def counting(data: memoryview) -> int:
        walks.append(len(data))
        return walk(data)

    monkeypatch.setattr(_inspect, "check_object_arrays", counting)
    both = safepickle.Policy(plugins=["numpy", "pandas"])
    frame = pd.DataFrame({"s": ["a", "b"]}, dtype=object)
    data = pickle.dumps(frame)
    pd.testing.assert_frame_equal(safepickle.loads(data, policy=both), frame)
    assert walks == [len(data)]
