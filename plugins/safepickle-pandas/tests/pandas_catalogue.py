"""The pandas objects the plugin must round-trip: Series and DataFrames of every dtype, indexes
and scalars; ``discover_globals.py`` pickles them to list the globals they need."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

_DATES = pd.date_range("2024-01-01", periods=4, freq="D")


def _dtypes() -> dict[str, Any]:
    """One column per dtype pandas offers."""
    return {
        "int64": pd.array([1, 2, 3, 4], dtype="int64"),
        "uint8": np.array([1, 2, 3, 4], dtype="uint8"),
        "float32": np.array([1.5, np.nan, 3.0, -0.0], dtype="float32"),
        "complex": np.array([1j, 2, 3, 4 + 1j]),
        "bool": [True, False, True, False],
        "object": ["a", None, 3, decimal.Decimal("1.5")],
        "str": pd.array(["a", "b", None, "d"], dtype="str"),
        "string-python": pd.array(["a", "b", None, "d"], dtype=pd.StringDtype("python")),
        "Int64": pd.array([1, None, 3, 4], dtype="Int64"),
        "UInt16": pd.array([1, None, 3, 4], dtype="UInt16"),
        "Float64": pd.array([1.5, None, 3.0, 4.0], dtype="Float64"),
        "boolean": pd.array([True, None, False, True], dtype="boolean"),
        "category": pd.Categorical(["x", "y", "x", None]),
        "category-ordered": pd.Categorical([3, 1, 2, 1], categories=[3, 2, 1], ordered=True),
        "datetime": _DATES,
        "datetime-s": _DATES.as_unit("s"),
        "datetime-tz": _DATES.tz_localize("Europe/Paris"),
        "datetime-utc": _DATES.tz_localize("UTC"),
        "timedelta": pd.to_timedelta([1, 2, None, 4], unit="h"),
        "period": pd.period_range("2024-01", periods=4, freq="M"),
        "interval": pd.interval_range(0, 4),
        "sparse": pd.arrays.SparseArray([0, 0, 1, 0]),
        "sparse-float": pd.arrays.SparseArray([0.0, np.nan, 2.0, 0.0]),
        "date-objects": [datetime.date(2020, 1, i) for i in range(1, 5)],
    }


def _series() -> Iterator[tuple[str, Any]]:
    for name, values in _dtypes().items():
        yield f"series[{name}]", pd.Series(values, name=name)


def _frames() -> Iterator[tuple[str, Any]]:
    yield "frame-all-dtypes", pd.DataFrame(_dtypes())
    yield "frame-empty", pd.DataFrame()
    yield "frame-no-rows", pd.DataFrame({"a": pd.Series([], dtype="int64")})
    frame = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}, index=["r1", "r2"])
    frame.attrs = {"source": "test"}
    yield "frame-attrs", frame
    yield "frame-datetime-index", pd.DataFrame({"v": range(4)}, index=_DATES)
    yield "frame-tz-index", pd.DataFrame({"v": range(4)}, index=_DATES.tz_localize("UTC"))
    arrays = [["a", "a", "b", "b"], [1, 2, 1, 2]]
    multi = pd.MultiIndex.from_arrays(arrays, names=["letter", "number"])
    yield "frame-multiindex", pd.DataFrame({"v": range(4)}, index=multi)
    yield "frame-multi-columns", pd.DataFrame(np.ones((2, 4)), columns=multi)
    yield "frame-wide", pd.DataFrame(np.arange(60.0).reshape(3, 20))


def _indexes() -> Iterator[tuple[str, Any]]:
    yield "range-index", pd.RangeIndex(2, 20, 3)
    yield "index-int", pd.Index([1, 5, 9])
    yield "index-str", pd.Index(["a", "b"])
    yield "index-object", pd.Index(["a", 1], dtype=object)
    yield "datetime-index", _DATES
    yield "datetime-index-freq", pd.date_range("2024-01-01", periods=3, freq="2h")
    yield "datetime-index-business", pd.bdate_range("2024-01-01", periods=3)
    yield "timedelta-index", pd.timedelta_range("1 day", periods=3)
    yield "period-index", pd.period_range("2024Q1", periods=3, freq="Q")
    yield "interval-index", pd.IntervalIndex.from_breaks([0, 1.5, 3])
    yield "categorical-index", pd.CategoricalIndex(["a", "b", "a"])
    yield "multiindex", pd.MultiIndex.from_product([["x", "y"], [1, 2]], names=["k", "n"])


def _scalars() -> Iterator[tuple[str, Any]]:
    yield "timestamp", pd.Timestamp("2024-02-29 12:30:00.123456789")
    yield "timestamp-tz", pd.Timestamp("2024-02-29 12:30", tz="America/New_York")
    yield "timestamp-utc", pd.Timestamp("2024-02-29", tz="UTC")
    yield "timedelta", pd.Timedelta("1 days 2 hours")
    yield "period", pd.Period("2024-03", freq="M")
    yield "interval", pd.Interval(0.5, 1.5, closed="left")
    yield "nat", pd.NaT
    yield "na", pd.NA
    yield "offset-day", pd.offsets.Day(3)
    yield "offset-month-end", pd.offsets.MonthEnd()
    yield "offset-week", pd.offsets.Week(weekday=2)
    yield "dtype-category", pd.CategoricalDtype(["a", "b"], ordered=True)
    yield "dtype-datetime-tz", pd.DatetimeTZDtype("ns", "UTC")
    yield "dtype-Int64", pd.Int64Dtype()
    yield "dtype-period", pd.PeriodDtype("D")
    yield "dtype-interval", pd.IntervalDtype("int64", "right")
    yield "dtype-sparse", pd.SparseDtype("float64", 0.0)
    yield "dtype-string", pd.StringDtype("python")


def catalogue() -> list[tuple[str, Any]]:
    """(id, object) pairs: Series and DataFrames of every dtype, indexes, scalars."""
    return [*_series(), *_frames(), *_indexes(), *_scalars()]
