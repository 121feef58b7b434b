"""The pandas allow-list: the classes and reconstruction functions pandas' own pickles name,
each with its reason; never readers, writers, ``eval`` or anything under ``pandas.io``.

Found by pickling the catalogue in ``tests/pandas_catalogue.py`` at protocols 2 and 5
(``discover_globals.py`` re-runs that for a new pandas) and reviewed by hand. pandas 2.x and
3.x write the same names for these objects. pyarrow-backed arrays are not covered: they pickle
through pyarrow's own reconstruction functions.
"""

from __future__ import annotations

import types

__all__ = ["PANDAS_GLOBALS"]

_CLASS = (
    "a pandas class: pickles rebuild it with cls.__new__ and its __setstate__ from arrays and "
    "values the stream built; its constructor reads no file and runs no callable it is given"
)
_DTYPE = "a pandas extension dtype: a small value object (unit, time zone, categories...)"
_ARRAY = "a pandas extension array: rebuilt from numpy arrays the stream built"
_OFFSET = "a date offset: a value object (n, normalize and a few integers)"
_INDEX_CTOR = (
    "pandas' index reconstruction: cls.__new__(cls, **d) (or the subclass's own) for an Index "
    "class the policy decided separately and data the stream built"
)
_UNPICKLE_SCALAR = "rebuilds a scalar from integers (value, unit) and a time zone or freq"
_OFFSETS = (
    "Day", "Hour", "Minute", "Second", "Milli", "Micro", "Nano", "Tick", "BusinessDay",
    "BusinessHour", "MonthBegin", "MonthEnd", "BusinessMonthBegin", "BusinessMonthEnd",
    "SemiMonthBegin", "SemiMonthEnd", "Week", "WeekOfMonth", "LastWeekOfMonth",
    "QuarterBegin", "QuarterEnd", "BQuarterBegin", "BQuarterEnd", "HalfYearBegin",
    "HalfYearEnd", "BHalfYearBegin", "BHalfYearEnd", "YearBegin", "YearEnd", "BYearBegin",
    "BYearEnd", "Easter", "FY5253", "FY5253Quarter", "DateOffset",
)  # fmt: skip

_MASKED_DTYPES = (
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32",
    "Float64",
)  # fmt: skip

#: canonical name -> why it is safe with any arguments
PANDAS_GLOBALS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        # containers and their internals
        "pandas.DataFrame": _CLASS,
        "pandas.Series": _CLASS,
        "pandas.core.internals.managers.BlockManager": _CLASS + " (a DataFrame's blocks)",
        "pandas.core.internals.managers.SingleBlockManager": _CLASS + " (a Series' block)",
        "pandas._libs.internals._unpickle_block": "builds one block from its values (an "
        "array the stream built), a placement (slice or int array) and ndim",
        # indexes
        "pandas.Index": _CLASS,
        "pandas.RangeIndex": _CLASS + " (lazy: start, stop, step)",
        "pandas.MultiIndex": _CLASS,
        "pandas.DatetimeIndex": _CLASS,
        "pandas.TimedeltaIndex": _CLASS,
        "pandas.PeriodIndex": _CLASS,
        "pandas.IntervalIndex": _CLASS,
        "pandas.CategoricalIndex": _CLASS,
        "pandas.core.indexes.base._new_Index": _INDEX_CTOR,
        "pandas.core.indexes.datetimes._new_DatetimeIndex": _INDEX_CTOR,
        "pandas.core.indexes.interval._new_IntervalIndex": _INDEX_CTOR,
        "pandas.core.indexes.timedeltas._new_TimedeltaIndex": _INDEX_CTOR,
        # extension arrays and dtypes
        "pandas.Categorical": _ARRAY,
        "pandas.arrays.BooleanArray": _ARRAY,
        "pandas.arrays.DatetimeArray": _ARRAY,
        "pandas.arrays.FloatingArray": _ARRAY,
        "pandas.arrays.IntegerArray": _ARRAY,
        "pandas.arrays.IntervalArray": _ARRAY,
        "pandas.arrays.PeriodArray": _ARRAY,
        "pandas.arrays.SparseArray": _ARRAY,
        "pandas.arrays.StringArray": _ARRAY,
        "pandas.arrays.TimedeltaArray": _ARRAY,
        "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked": "Cython's unpickler for "
        "NDArrayBacked (Categorical, DatetimeArray ...): cls.__new__ and fields from the state",
        "pandas._libs.interval.__pyx_unpickle_IntervalMixin": "Cython's unpickler for "
        "IntervalMixin: cls.__new__ and fields from the state",
        "pandas._libs.sparse.IntIndex": "a sparse index; its constructor checks the indices "
        "are sorted and within length",
        "pandas.BooleanDtype": _DTYPE,
        "pandas.CategoricalDtype": _DTYPE,
        "pandas.DatetimeTZDtype": _DTYPE,
        "pandas.IntervalDtype": _DTYPE,
        "pandas.PeriodDtype": _DTYPE,
        "pandas.SparseDtype": _DTYPE,
        "pandas.StringDtype": _DTYPE,
        **{f"pandas.{size}Dtype": _DTYPE for size in _MASKED_DTYPES},
        # scalars and missing values
        "pandas.NA": "the NA singleton, by name (a BUILD on it is refused by core)",
        "pandas.Interval": _CLASS + " (two bounds and a closed side)",
        "pandas.Period": _CLASS + " (an ordinal and a freq)",
        "pandas._libs.tslibs.nattype._nat_unpickle": "returns the NaT singleton",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle": _UNPICKLE_SCALAR,
        "pandas._libs.tslibs.timestamps._unpickle_timestamp": _UNPICKLE_SCALAR,
        **{f"pandas._libs.tslibs.offsets.{name}": _OFFSET for name in _OFFSETS},
        "pandas.DateOffset": _OFFSET,
    }
)
