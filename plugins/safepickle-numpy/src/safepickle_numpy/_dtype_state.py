"""Which dtype states numpy's ``dtype.__setstate__`` may see: exactly the ones numpy writes.

A pickle rebuilds a dtype as ``numpy.dtype(args)`` then ``BUILD`` with a state, and numpy's
``__setstate__`` trusts that state: it takes fields, flags and byte order without the
constructor's checks (an array of the result can read raw bytes as object pointers) and crashes
on some (numpy 2.4: a datetime64 state without its unit). :func:`dtype_from_state` builds the
dtype with the constructor instead and accepts the state only if that dtype pickles back to it.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

__all__ = ["BAD_DTYPE", "constructible", "dtype_from_state", "identical"]

_MAX_DEPTH = 64

#: why a dtype BUILD is refused unless its state is numpy's own (:func:`dtype_from_state`)
BAD_DTYPE = (
    "numpy's dtype.__setstate__ trusts its state: it takes fields, flags and byte order "
    "without the constructor's checks (an array of such a dtype reads bytes as object "
    "pointers) and crashes on some states (a datetime64 one without its unit)"
)


def constructible(dtype: np.dtype[Any]) -> bool:
    """Whether numpy's constructor builds ``dtype`` as it is: same flags (object or not), item
    size and byte order, object fields that overlap nothing and lie inside the item.
    ``dtype.__setstate__`` checks none of this, and a pickle can ``BUILD`` any dtype."""
    fresh = _rebuilt(dtype, 0)
    return (
        fresh is not None
        and fresh.flags == dtype.flags
        and fresh.itemsize == dtype.itemsize
        and fresh.str == dtype.str
    )


def dtype_from_state(base: np.dtype[Any], state: object) -> np.dtype[Any] | None:
    """The dtype ``base.__setstate__(state)`` (a ``BUILD``) would make, built by numpy's
    constructor instead, or None unless ``state`` is exactly what numpy writes for that dtype.

    numpy's ``dtype.__setstate__`` trusts its state: a datetime64 state without its unit
    metadata crashes the interpreter, flags and byte order are taken as given, object fields
    may overlap other fields. So a state is accepted only when a dtype the constructor builds
    from it pickles back to the very same state: ``__setstate__`` then sees only what numpy
    itself wrote."""
    if isinstance(base, np.dtypes.StringDType) or type(state) is not tuple:
        return None
    try:
        candidate = _from_state(base, state)
        if candidate is None:
            return None
        written = candidate.__reduce__()[2]
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError):
        return None
    same_kind = (
        type(candidate) is type(base)
        and candidate.type is base.type
        and candidate.char == base.char
    )
    return candidate if same_kind and identical(written, state) else None


def _from_state(base: np.dtype[Any], state: tuple[Any, ...]) -> np.dtype[Any] | None:
    if len(state) not in (8, 9) or state[0] not in (3, 4):
        return None
    _, endian, subarray, names, fields, elsize, _, flags = state[:8]
    meta = state[8] if len(state) == 9 else None
    if subarray is not None:
        inner, shape = subarray
        if not isinstance(inner, np.dtype):
            return None
        result: np.dtype[Any] = np.dtype((inner, shape))
        return result
    if names is not None:
        spec: dict[str, Any] = {
            "names": list(names),
            "formats": [fields[name][0] for name in names],
            "offsets": [fields[name][1] for name in names],
            "itemsize": elsize,
            "aligned": bool(flags & 0x80),  # NPY_ALIGNED_STRUCT
        }
        titles = [fields[name][2] if len(fields[name]) > 2 else None for name in names]
        if any(title is not None for title in titles):
            spec["titles"] = titles
        layout: Any = spec if base.type is np.void else (base.type, spec)
        made: np.dtype[Any] = np.dtype(layout)
        return made
    if base.kind in "Mm":  # metadata: (user metadata or None, (unit, count, 1, 1))
        user, (unit, count, _, _) = cast("tuple[Any, tuple[bytes, int, int, int]]", meta)
        scale = "" if count == 1 else str(count)
        plain = np.dtype(f"{base.kind}8[{scale}{unit.decode('ascii')}]")
        plain = plain if unit != b"generic" else np.dtype(f"{base.kind}8")
        meta = user
    else:
        plain = np.dtype(base)
    if endian in "<>":
        plain = plain.newbyteorder(endian)
    if meta is not None:
        plain = np.dtype(plain, metadata=meta)
    return plain


def identical(written: object, given: object) -> bool:
    """``written == given`` with the same types all the way down (``True`` is not ``1``),
    dtypes compared by value, flags and byte order."""
    if isinstance(written, np.dtype) or isinstance(given, np.dtype):
        return (
            isinstance(written, np.dtype)
            and isinstance(given, np.dtype)
            and type(written) is type(given)
            and written == given
            and written.flags == given.flags
            and written.str == given.str
        )
    if type(written) is not type(given):
        return False
    if isinstance(written, tuple):
        other = cast("tuple[Any, ...]", given)
        return len(written) == len(other) and all(
            identical(a, b) for a, b in zip(written, other, strict=True)
        )
    if isinstance(written, dict):
        mapping = cast("dict[Any, Any]", given)
        return written.keys() == mapping.keys() and all(
            identical(value, mapping[key]) for key, value in written.items()
        )
    return bool(written == given)


def _rebuilt(dtype: np.dtype[Any], depth: int) -> np.dtype[Any] | None:
    """``dtype`` built again by numpy's constructor from its description; None if refused."""
    if depth > _MAX_DEPTH or isinstance(dtype, np.dtypes.StringDType):
        return None  # numpy never BUILDs a StringDType: it pickles by its constructor's flags
    try:
        if dtype.subdtype is not None:
            base, shape = dtype.subdtype
            inner = _rebuilt(base, depth + 1)
            if inner is None or not constructible(base):
                return None
            return np.dtype((inner, shape))
        if dtype.names is not None and dtype.fields is not None:
            formats = [dtype.fields[name][0] for name in dtype.names]
            if not all(constructible(part) for part in formats):
                return None
            spec = {
                "names": list(dtype.names),
                "formats": formats,
                "offsets": [dtype.fields[name][1] for name in dtype.names],
                "itemsize": dtype.itemsize,
                "aligned": dtype.isalignedstruct,
            }
            return np.dtype(spec)  # type: ignore[call-overload, no-any-return]
        plain: np.dtype[Any] = np.dtype(dtype.str)
    except (TypeError, ValueError):
        return None
    return plain
