"""The numpy objects the plugin must round-trip: the catalogue tests load each one, and
``discover_globals.py`` pickles them to list the globals they need."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from typing import Any

import numpy as np

_NUMERIC = [
    "?", "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q",
    "e", "f", "d", "g", "F", "D", "G",
    ">i4", ">f8", "<u2", ">c16",
]  # fmt: skip
_TIME_UNITS = ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]


def _numeric_arrays() -> Iterator[tuple[str, Any]]:
    rng = np.random.default_rng(0)
    for code in _NUMERIC:
        dtype = np.dtype(code)
        values = rng.integers(0, 100, size=12).reshape(3, 4)
        yield f"array[{code}]", values.astype(dtype)
        yield f"fortran[{code}]", np.asfortranarray(values.astype(dtype))
        yield f"scalar[{code}]", dtype.type(7)
    yield "float-specials", np.array([np.nan, np.inf, -np.inf, -0.0, 1e-310])
    yield "complex-nan", np.array([complex(np.nan, 1), 1j])
    yield "0-d", np.array(3.5)
    yield "empty", np.zeros((0, 3), dtype="i8")
    yield "strided-view", np.arange(20)[::3]
    yield "3-d", np.arange(24, dtype="f4").reshape(2, 3, 4)


def _text_and_void() -> Iterator[tuple[str, Any]]:
    yield "unicode", np.array(["", "a", "héllo", "\U0001f600"])
    yield "bytes", np.array([b"", b"ab", b"\x00\xff"])
    yield "void", np.array([b"\x01\x02\x03"], dtype="V3")
    yield "scalar-str", np.str_("text")
    yield "scalar-bytes", np.bytes_(b"raw")
    yield "scalar-void", np.void(b"\x00\x01")
    yield "scalar-bool", np.True_


def _structured() -> Iterator[tuple[str, Any]]:
    point = np.dtype([("x", "f8"), ("y", "i4"), ("name", "U5")])
    yield "structured", np.array([(1.0, 2, "a"), (3.5, -1, "bc")], dtype=point)
    nested = np.dtype([("p", point), ("tags", "S3", (2,)), ("m", "<f4", (2, 2))])
    yield "nested-structured", np.zeros(3, dtype=nested)
    yield "aligned-structured", np.zeros(2, dtype=np.dtype([("a", "u1"), ("b", "f8")], align=True))
    yield "titled-structured", np.zeros(2, dtype=[(("Title", "t"), "i2")])
    yield "void-struct-scalar", np.array([(1.0, 2, "a")], dtype=point)[0]
    yield "record-scalar", np.rec.array([(1, 2.0)], names="a,b")[0]
    yield "recarray", np.rec.array([(1, 2.0), (3, 4.0)], names="a,b")
    yield "subarray-dtype", np.zeros(2, dtype=("i4", (3,)))
    yield "dtype-metadata", np.zeros(2, dtype=np.dtype("f8", metadata={"unit": "m"}))


def _times() -> Iterator[tuple[str, Any]]:
    for unit in _TIME_UNITS:
        yield f"datetime64[{unit}]", np.array(["2001-01-01", "NaT", "1970-01-02"], f"M8[{unit}]")
        yield f"timedelta64[{unit}]", np.array([1, -5, "NaT"], f"m8[{unit}]")
    yield "datetime64-scalar", np.datetime64("2024-02-29T12:30", "m")
    yield "timedelta64-scalar", np.timedelta64(90, "s")
    yield "generic-datetime", np.array(["NaT"], dtype="M8")


def _objects() -> Iterator[tuple[str, Any]]:
    """Object dtypes and StringDType: checked by the plugin's inspect hook, then loaded."""
    yield "object", np.array([1, "a", None, 2.5, (1, 2), [3]], dtype=object)
    yield "object-2d", np.array([[1, None], [{"k": 1}, b"x"]], dtype=object)
    nested = np.empty(2, dtype=object)
    nested[0] = np.arange(3)
    nested[1] = np.array(["a"])
    yield "object-of-arrays", nested
    yield (
        "object-stdlib",
        np.array(
            [decimal.Decimal("1.5"), datetime.date(2020, 1, 2), frozenset({1})], dtype=object
        ),
    )
    yield "object-empty", np.array([], dtype=object)
    yield "object-masked", np.ma.masked_array(np.array([1, "a"], dtype=object), mask=[0, 1])
    yield "object-field", np.zeros(2, dtype=[("a", "i4"), ("o", "O")])
    yield "dtype[O]", np.dtype("O")
    yield "stringdtype", np.array(["x", "longer text"], dtype=np.dtypes.StringDType())
    yield "dtype-stringdtype", np.dtypes.StringDType()


def _masked() -> Iterator[tuple[str, Any]]:
    yield "masked", np.ma.masked_array([1, 2, 3], mask=[0, 1, 0], fill_value=-9)
    yield "masked-float", np.ma.masked_invalid(np.array([1.0, np.nan, 3.0]))
    yield "masked-nomask", np.ma.masked_array(np.arange(4.0))
    yield (
        "masked-structured",
        np.ma.masked_array(np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), mask=[(1, 0), (0, 1)]),
    )
    yield (
        "masked-2d-fortran",
        np.ma.masked_array(np.asfortranarray(np.ones((2, 3))), mask=np.eye(2, 3, dtype=bool)),
    )


def _random() -> Iterator[tuple[str, Any]]:
    for bit_generator in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937):
        yield f"generator-{bit_generator.__name__}", np.random.Generator(bit_generator(5))
    yield "generator-Philox", np.random.Generator(np.random.Philox(5))
    yield "generator-SFC64", np.random.Generator(np.random.SFC64(5))
    yield "bitgen-PCG64", np.random.PCG64(9)
    yield "seed-sequence", np.random.SeedSequence(1234, spawn_key=(1, 2))
    yield "random-state", np.random.RandomState(3)
    used = np.random.default_rng(11)
    used.random(5)
    yield "generator-used", used


def _dtypes() -> Iterator[tuple[str, Any]]:
    for code in ["f8", ">i2", "U7", "S3", "V4", "M8[ns]", "m8[D]", "c8"]:
        yield f"dtype[{code}]", np.dtype(code)
    yield "dtype-structured", np.dtype([("a", "i4"), ("b", [("c", "f8")])])
    yield "dtype-type", np.float64
    yield "finfo-like", (np.int64, np.float32, np.complex128)


def catalogue() -> list[tuple[str, Any]]:
    """(id, object) pairs: arrays of every dtype, scalars, masked arrays, generators."""
    items: list[tuple[str, Any]] = []
    for part in (
        _numeric_arrays, _text_and_void, _structured, _times, _masked, _random, _dtypes,
        _objects,
    ):  # fmt: skip
        items.extend(part())
    return items


def object_catalogue() -> list[tuple[str, Any]]:
    """The part of :func:`catalogue` with object dtypes or StringDType."""
    return list(_objects())
