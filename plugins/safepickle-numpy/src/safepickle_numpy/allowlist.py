"""The numpy allow-list: exactly the names numpy's own pickles need, each with its reason.

Found by pickling the catalogue in ``tests/numpy_catalogue.py`` at protocols 2 and 5 with numpy
2.x and 1.x (``discover_globals.py`` re-runs that for a new numpy) and reviewed by hand: nothing
here imports by name, reads a file or runs code from the stream. Names move between numpy
versions (``numpy.core`` in 1.x, ``numpy._core`` in 2.x); both spellings are listed and both
are handed out as the same narrowed stand-in, so a 1.x pickle loads under 2.x without touching
numpy's deprecated ``numpy.core`` shim.

Not here on purpose: ``numpy.load``/``numpy.lib.npyio``/``numpy.testing``/``numpy.f2py``/
``numpy.memmap``/``numpy.ctypeslib`` (core's floor refuses them anyway), ufuncs and other numpy
functions (a pickle of numpy data never names them; an estimator parameter that does must be
allowed by its user), and ``numpy.ma.masked`` (a process-wide singleton a pickle could change).

Object dtypes and ``StringDType`` are allowed because the plugin's ``safepickle_inspect_stream``
hook (:mod:`safepickle_numpy._inspect`) checks every object array's state before the stream
runs: numpy's ``ndarray.__setstate__`` does not check an object array's item list against its
shape and crashes the interpreter on a short list.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _narrow
from ._narrow import ValueOnly

__all__ = ["NUMPY_GLOBALS", "NUMPY_SUBSTITUTES"]

_PLACEHOLDER = (
    "narrowed: only the empty (0,)-shaped placeholder numpy writes; the array is sized by its "
    "state, whose bytes are in the pickle"
)
_VALUE_ONLY = (
    "handed out as a value-only marker: numpy pickles pass it as an argument and never call "
    "it; a call is refused because the constructor allocates what its arguments say"
)
_SCALAR_TYPE = "a numpy scalar type: calling it converts one value; it allocates one scalar"
_BIT_GENERATOR = (
    "a bit generator class: value-only (its constructor seeds from, and iterates, its "
    "argument); built by __bit_generator_ctor with no argument, then its state is set"
)

_SCALAR_TYPES = (
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "longlong", "ulonglong", "float16", "float32", "float64", "longdouble", "complex64",
    "complex128", "clongdouble", "datetime64", "timedelta64", "str_", "object_",
)  # fmt: skip

#: canonical name -> why it is safe with any arguments
NUMPY_GLOBALS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        # arrays: protocols 0-4 (placeholder + __setstate__) and 5 (a view of the pickle buffer)
        "numpy._core.multiarray._reconstruct": _PLACEHOLDER,
        "numpy.core.multiarray._reconstruct": _PLACEHOLDER + " (numpy 1.x name)",
        "numpy._core.numeric._frombuffer": "narrowed: an array over the pickle's own buffer, "
        "whose shape must match the buffer's size",
        "numpy.core.numeric._frombuffer": "as numpy._core.numeric._frombuffer (numpy 1.x name)",
        "numpy.ndarray": _VALUE_ONLY,
        "numpy.dtype": "narrowed: always a copy (dtype('f8', False, False) is numpy's shared "
        "instance, which a BUILD would change); a dtype allocates no array data. Object "
        "dtypes too: the inspect hook checks every object array's state before the load",
        "numpy._core._internal._convert_to_stringdtype_kwargs": "narrowed: StringDType from "
        "its two flags (coerce, na_object); its arrays are checked as object arrays are",
        # scalars
        "numpy._core.multiarray.scalar": "narrowed: a scalar from a dtype and raw bytes, which "
        "numpy requires to hold the item (bounded by the input)",
        "numpy.core.multiarray.scalar": "as numpy._core.multiarray.scalar (numpy 1.x name)",
        # scalar types, as values (estimator parameters such as dtype=np.float64)
        **{f"numpy.{name}": _SCALAR_TYPE for name in _SCALAR_TYPES},
        # record arrays and masked arrays
        "numpy.rec.recarray": _VALUE_ONLY,
        "numpy.recarray": _VALUE_ONLY + " (numpy 1.x name)",
        "numpy.record": _VALUE_ONLY + " (numpy.record(n) allocates n bytes)",
        "numpy.ma.MaskedArray": _VALUE_ONLY,
        "numpy.ma.core.MaskedArray": _VALUE_ONLY,
        "numpy.ma.core._mareconstruct": "narrowed: only the empty (0,)-shaped placeholder "
        "MaskedArray writes; data and mask come from its state",
        # random generators: rebuilt by name or class with no argument, then their state set
        "numpy.random._pickle.__bit_generator_ctor": "narrowed: one of numpy's bit generator "
        "classes (or names), called with no argument",
        "numpy.random._pickle.__generator_ctor": "narrowed: a Generator around a bit generator "
        "the stream built (or named); no user callable",
        "numpy.random._pickle.__randomstate_ctor": "narrowed: a RandomState around a bit "
        "generator the stream built (or named); no user callable",
        "numpy.random._mt19937.MT19937": _BIT_GENERATOR,
        "numpy.random._pcg64.PCG64": _BIT_GENERATOR,
        "numpy.random._pcg64.PCG64DXSM": _BIT_GENERATOR,
        "numpy.random._philox.Philox": _BIT_GENERATOR,
        "numpy.random._sfc64.SFC64": _BIT_GENERATOR,
        "numpy.random.bit_generator.SeedSequence": _VALUE_ONLY + " (it iterates its entropy)",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence": "narrowed: Cython's "
        "unpickler for SeedSequence, which sets its fields from the stream's state",
    }
)


def _value_only(cls: type) -> ValueOnly:
    return ValueOnly(cls)


_RANDOM = np.random
#: dotted name -> the narrowed callable (or value-only marker) handed out instead
NUMPY_SUBSTITUTES: types.MappingProxyType[str, Callable[..., Any]] = types.MappingProxyType(
    {
        "numpy._core.multiarray._reconstruct": _narrow.reconstruct,
        "numpy.core.multiarray._reconstruct": _narrow.reconstruct,
        "numpy._core.numeric._frombuffer": _narrow.frombuffer,
        "numpy.core.numeric._frombuffer": _narrow.frombuffer,
        "numpy._core.multiarray.scalar": _narrow.scalar,
        "numpy.core.multiarray.scalar": _narrow.scalar,
        "numpy.dtype": _narrow.make_dtype,
        "numpy._core._internal._convert_to_stringdtype_kwargs": _narrow.stringdtype,
        "numpy.ndarray": _value_only(np.ndarray),
        "numpy.rec.recarray": _value_only(np.rec.recarray),
        "numpy.recarray": _value_only(np.rec.recarray),
        "numpy.record": _value_only(np.record),
        "numpy.ma.MaskedArray": _value_only(np.ma.MaskedArray),
        "numpy.ma.core.MaskedArray": _value_only(np.ma.MaskedArray),
        "numpy.ma.core._mareconstruct": _narrow.mareconstruct,
        "numpy.random._pickle.__bit_generator_ctor": _narrow.bit_generator_ctor,
        "numpy.random._pickle.__generator_ctor": _narrow.generator_ctor,
        "numpy.random._pickle.__randomstate_ctor": _narrow.randomstate_ctor,
        "numpy.random._mt19937.MT19937": _value_only(_RANDOM.MT19937),
        "numpy.random._pcg64.PCG64": _value_only(_RANDOM.PCG64),
        "numpy.random._pcg64.PCG64DXSM": _value_only(_RANDOM.PCG64DXSM),
        "numpy.random._philox.Philox": _value_only(_RANDOM.Philox),
        "numpy.random._sfc64.SFC64": _value_only(_RANDOM.SFC64),
        "numpy.random.bit_generator.SeedSequence": _value_only(_RANDOM.SeedSequence),
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence": (_narrow.unpickle_seed_sequence),
    }
)
