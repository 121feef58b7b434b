"""Narrowed stand-ins for numpy callables whose general form allocates beyond the input.

A pickle names these callables with the exact arguments numpy's own ``__reduce__`` writes
(``_reconstruct(ndarray, (0,), b"b")``, ``dtype("f8", False, True)``); an attacker can name them
with others (``_reconstruct(ndarray, (10**6, 10**6), "O")`` is 8 TB of ``None`` pointers). Each
stand-in accepts the arguments the pickler writes and calls the real function; anything else is
a ``ValueError``, which safepickle reports as an execution error.

Classes a pickle only passes around as values (``ndarray`` as the first argument of
``_reconstruct``, bit generator classes) are handed out as :class:`ValueOnly` markers: calling
one is refused, and the stand-ins below unwrap them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from ._dtype_state import BAD_DTYPE, constructible

__all__ = ["ValueOnly", "real_class"]

_MAX_DIMS = 64  # numpy's NPY_MAXDIMS since 2.0 (32 before): a shape longer than this is bogus


def _core() -> Any:
    """The module numpy's pickles name as ``numpy._core`` (2.x) or ``numpy.core`` (1.x)."""
    try:
        from numpy import _core  # noqa: PLC0415 - numpy 1.x has no numpy._core
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy import core as _core  # type: ignore[no-redef]  # noqa: PLC0415
    return _core


def _refuse(message: str) -> NoReturn:
    raise ValueError(f"safepickle_numpy refuses {message}")


class ValueOnly:
    """Stands for a class that numpy's pickles pass as an argument and never call.

    Calling it is refused: its constructor allocates what its arguments say
    (``ndarray((10**9,), object)``) or iterates them (``PCG64(range(10**10))``).
    """

    __slots__ = ("cls",)

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        _refuse(
            f"calling {self.cls.__module__}.{self.cls.__qualname__}(...) from a pickle: numpy's "
            "own pickles never call it, and its constructor allocates what the arguments say"
        )

    def __repr__(self) -> str:
        return f"<value-only {self.cls.__module__}.{self.cls.__qualname__}>"


def real_class(obj: object) -> object:
    """``obj``, or the class a :class:`ValueOnly` stands for."""
    return obj.cls if isinstance(obj, ValueOnly) else obj


def _subclass_of(obj: object, base: type, what: str) -> type:
    cls = real_class(obj)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        _refuse(f"{what} with {obj!r}: expected a subclass of {base.__qualname__}")
    return cls


def _empty_placeholder(shape: object, dtype: object, what: str) -> None:
    """numpy pickles an array as an empty placeholder that ``__setstate__`` then fills."""
    if shape not in ((0,), [0], 0) or dtype not in (b"b", "b"):
        _refuse(
            f"{what}(shape={shape!r}, dtype={dtype!r}): numpy pickles always write "
            "(0,) and 'b' and size the array from its state, which is bounded by the input"
        )


def reconstruct(subtype: object, shape: object, dtype: object) -> Any:
    """``numpy._core.multiarray._reconstruct`` for the placeholder numpy writes only."""
    cls = _subclass_of(subtype, np.ndarray, "_reconstruct")
    _empty_placeholder(shape, dtype, "_reconstruct")
    return _core().multiarray._reconstruct(cls, (0,), b"b")


def mareconstruct(subtype: object, baseclass: object, baseshape: object, basetype: object) -> Any:
    """``numpy.ma.core._mareconstruct`` for the placeholder MaskedArray writes only."""
    cls = _subclass_of(subtype, np.ma.MaskedArray, "_mareconstruct")
    base = _subclass_of(baseclass, np.ndarray, "_mareconstruct")
    _empty_placeholder(baseshape, basetype, "_mareconstruct")
    ma_core: Any = np.ma.core
    return ma_core._mareconstruct(cls, base, (0,), "b")


def _check_shape(shape: object, what: str) -> tuple[int, ...]:
    if not (
        isinstance(shape, tuple)
        and len(shape) <= _MAX_DIMS
        and all(type(n) is int and n >= 0 for n in shape)
    ):
        _refuse(f"{what} with shape {shape!r}: expected a tuple of at most 64 sizes")
    return shape


def frombuffer(buffer: object, dtype: object, shape: object, order: object) -> Any:
    """``numpy._core.numeric._frombuffer`` (protocol 5): an array over the pickle's own bytes,
    so its size is bounded by the input; checked so that a bogus shape fails early."""
    if not isinstance(buffer, (bytes, bytearray, memoryview, pickle_buffer_type())):
        _refuse(f"_frombuffer over a {type(buffer).__name__}: expected the pickle's bytes")
    if not isinstance(dtype, np.dtype) or dtype.itemsize == 0:
        _refuse(f"_frombuffer with dtype {dtype!r}")
    size = math.prod(_check_shape(shape, "_frombuffer"))
    if size * dtype.itemsize != memoryview(buffer).nbytes:  # type: ignore[arg-type]
        _refuse("_frombuffer whose shape does not match the size of its buffer")
    if order not in ("C", "F"):
        _refuse(f"_frombuffer with order {order!r}")
    if not constructible(dtype):  # numpy refuses object dtypes here by their flags
        _refuse(f"_frombuffer with dtype {dtype!r}: {BAD_DTYPE}")
    return _core().numeric._frombuffer(buffer, dtype, shape, order)


def pickle_buffer_type() -> type:
    import pickle  # noqa: PLC0415 - only for the PickleBuffer type, never to load

    return pickle.PickleBuffer


def scalar(dtype: object, *obj: object) -> Any:
    """``numpy._core.multiarray.scalar``: a scalar from its dtype and raw bytes (numpy checks
    the bytes are at least the item size, so nothing is allocated beyond the input). A
    structured scalar with object fields comes from a one-item array of its dtype: numpy 2.4
    reads the item from an empty one (a crash), so the array must hold one."""
    if not isinstance(dtype, np.dtype) or len(obj) > 1:
        _refuse(f"scalar({dtype!r}, ...): expected a dtype and one value")
    if obj and not dtype.hasobject and not isinstance(obj[0], bytes):
        _refuse("scalar() of a non-object dtype from anything but bytes")
    if obj and dtype.hasobject and dtype.fields is not None:
        item = obj[0]
        if not (
            type(item) is np.ndarray and item.dtype == dtype and item.nbytes >= dtype.itemsize
        ):
            _refuse("scalar() of a structured dtype with objects from anything but one item")
    if not constructible(dtype):
        _refuse(f"scalar() of {dtype!r}: {BAD_DTYPE}")
    return _core().multiarray.scalar(dtype, *obj)


def make_dtype(obj: object, align: object = False, copy: object = False) -> np.dtype[Any]:
    """``numpy.dtype``, always as a copy: ``dtype("f8", False, False)`` is numpy's shared
    float64 instance, and the ``BUILD`` that follows in a pickle would change it for the whole
    process. A class argument may be a :class:`ValueOnly` (``numpy.record``)."""
    if isinstance(obj, range) or type(align) is not bool or type(copy) is not bool:
        _refuse(f"dtype({obj!r}, {align!r}, {copy!r})")
    result: np.dtype[Any] = np.dtype(real_class(obj), align=align, copy=True)  # type: ignore[call-overload]
    return result


def stringdtype(*args: object) -> Any:
    """``numpy._core._internal._convert_to_stringdtype_kwargs(coerce, na_object)``."""
    if len(args) > 2 or (args and (type(args[0]) not in (bool, int) or args[0] not in (0, 1))):
        _refuse(f"_convert_to_stringdtype_kwargs{args!r}")
    return _core()._internal._convert_to_stringdtype_kwargs(*args)


def _random_ctor(name: str) -> Callable[..., Any]:
    def ctor(bit_generator: object = "MT19937") -> Any:
        random_pickle: Any = importlib.import_module("numpy.random._pickle")
        if isinstance(bit_generator, str) and bit_generator not in random_pickle.BitGenerators:
            _refuse(f"{name}({bit_generator!r}): not a numpy bit generator")
        cls = real_class(bit_generator)
        if isinstance(cls, type) and not issubclass(cls, np.random.BitGenerator):
            _refuse(f"{name}({bit_generator!r}): not a numpy bit generator")
        if not isinstance(cls, (str, type, np.random.BitGenerator)):
            _refuse(f"{name}({bit_generator!r}): not a numpy bit generator")
        real: Callable[..., Any] = getattr(random_pickle, name)
        return real(cls)

    ctor.__name__ = ctor.__qualname__ = name
    return ctor


bit_generator_ctor = _random_ctor("__bit_generator_ctor")
generator_ctor = _random_ctor("__generator_ctor")
randomstate_ctor = _random_ctor("__randomstate_ctor")


def unpickle_seed_sequence(cls: object, checksum: object, state: object) -> Any:
    """The Cython ``__pyx_unpickle_SeedSequence``: ``cls.__new__(cls)`` and its fields set from
    ``state``; ``cls`` arrives as a :class:`ValueOnly`."""
    from numpy.random import bit_generator  # noqa: PLC0415

    real = _subclass_of(cls, np.random.SeedSequence, "__pyx_unpickle_SeedSequence")
    return bit_generator.__pyx_unpickle_SeedSequence(real, checksum, state)  # type: ignore[attr-defined]
