"""``load_joblib``: read a file ``joblib.dump`` wrote, through safepickle's verifier and policy.

joblib's own loader is a ``pickle._Unpickler`` that trusts every global, and ``joblib`` is on
safepickle's floor. Here the file is read whole (bounded by ``max_input_bytes``, decompressed
too), split into a plain pickle and its arrays' raw data (:mod:`._joblib_scan`), and the plain
pickle is loaded by :func:`safepickle.loads` under the caller's policy plus one private global
that hands out the arrays. Object arrays, which joblib stores as nested pickles, are loaded by
:func:`safepickle.loads` too; their globals are decided before anything runs.
"""

from __future__ import annotations

import bz2
import lzma
import os
import sys
import zlib
from collections.abc import Iterable
from typing import IO, Any

import numpy as np
import safepickle
from safepickle import (
    Decision,
    ForbiddenGlobal,
    GlobalRef,
    LimitExceeded,
    MalformedPickle,
    Policy,
    TruncatedPickle,
    hookimpl,
)
from safepickle.verify import verify

from ._scan import ARRAY_GLOBAL, ArraySpec, check_object_arrays, split_joblib

__all__ = ["load_joblib"]

_CHUNK = 1 << 20


def read_bounded(source: str | os.PathLike[str] | IO[bytes], limit: int) -> bytes:
    """The whole file, read in chunks (``read(limit)`` would allocate ``limit`` bytes at
    once), and a LimitExceeded past ``limit`` bytes."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            return read_bounded(file, limit)
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = source.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise LimitExceeded(
                f"the file is larger than max_input_bytes ({limit})",
                limit="max_input_bytes",
                maximum=limit,
            )


def _too_big(limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"the decompressed joblib file is larger than max_input_bytes ({limit}); raise the "
        "limit (policy.with_limits(max_input_bytes=...)) if you trust the file",
        limit="max_input_bytes",
        maximum=limit,
    )


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    inflater = zlib.decompressobj(wbits)
    pending = data
    while True:
        out += inflater.decompress(pending, limit + 1 - len(out))
        if len(out) > limit:
            raise _too_big(limit)
        pending = inflater.unconsumed_tail
        if inflater.eof or not pending:
            break
    if not inflater.eof:
        raise TruncatedPickle("the compressed joblib file is truncated")
    return bytes(out)


def _unpack(data: bytes, decompressor: Any, limit: int) -> bytes:
    """bz2/lzma: decompress at most ``limit + 1`` bytes, whatever the input claims."""
    out = bytearray(decompressor.decompress(data, limit + 1))
    while not decompressor.eof and not decompressor.needs_input and len(out) <= limit:
        out += decompressor.decompress(b"", limit + 1 - len(out))
    if len(out) > limit:
        raise _too_big(limit)
    if not decompressor.eof:
        raise TruncatedPickle("the compressed joblib file is truncated")
    return bytes(out)


def _decompress(data: bytes, limit: int) -> bytes:
    """joblib compresses the whole file; it names the method by the stream's magic bytes."""
    try:
        if data.startswith(b"\x78"):
            return _inflate(data, zlib.MAX_WBITS, limit)
        if data.startswith(b"\x1f\x8b"):
            return _inflate(data, 16 + zlib.MAX_WBITS, limit)
        if data.startswith(b"BZ"):
            return _unpack(data, bz2.BZ2Decompressor(), limit)
        if data.startswith(b"\xfd7zXZ"):
            return _unpack(data, lzma.LZMADecompressor(lzma.FORMAT_XZ), limit)
        if data.startswith(b"\x5d\x00"):
            return _unpack(data, lzma.LZMADecompressor(lzma.FORMAT_ALONE), limit)
    except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
        raise MalformedPickle(f"the compressed joblib file is corrupt: {exc}") from exc
    if data.startswith(b"\x04\x22\x4d\x18"):
        raise MalformedPickle("lz4-compressed joblib files are not supported; re-save with zlib")
    if data.startswith(b"ZF"):
        raise MalformedPickle("joblib files from before joblib 0.10 ('ZF') are not supported")
    return data


class _Arrays:
    """The per-load plugin that allows :data:`ARRAY_GLOBAL` and hands out the arrays."""

    def __init__(self, data: bytes, specs: list[ArraySpec], policy: Policy) -> None:
        self._data = data
        self._specs = specs
        self._policy = policy
        self._decision = Decision.allow(
            "safepickle_numpy.load_joblib's stand-in for joblib's array wrapper: returns the "
            "array whose data follows the wrapper in the file",
            rule="joblib-array",
            substitute=self._array,
        )

    @hookimpl
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        return self._decision if (ref.module, ref.qualname) == ARRAY_GLOBAL else None

    def _array(self, state: object, index: object) -> Any:
        if type(index) is not int or not 0 <= index < len(self._specs):
            raise ValueError(f"no joblib array number {index!r}")
        spec = self._specs[index]
        if not isinstance(state, dict) or state.get("dtype") != spec.dtype:
            raise ValueError("a joblib array wrapper's state changed between scan and load")
        if spec.nested:
            nested = self._data[spec.offset : spec.offset + spec.length]
            array = safepickle.loads(nested, policy=self._policy)  # checked when scanned
            if not isinstance(array, np.ndarray):
                raise ValueError("a joblib object array's nested pickle is not an array")
            return array
        flat = (
            np.frombuffer(
                self._data,
                dtype=spec.dtype,
                count=spec.length // max(spec.dtype.itemsize, 1),
                offset=spec.offset,
            )
            if spec.length
            else np.empty(0, dtype=spec.dtype)
        )
        array = _native(flat.copy())  # writable and owning, as joblib returns it
        if spec.order == "F":
            return array.reshape(spec.shape[::-1]).transpose()
        return array.reshape(spec.shape)


def _native(array: Any) -> Any:
    """The array in native byte order, as joblib's loader returns it (``byteswap`` + ``view``
    keeps the values and the dtype's other properties)."""
    foreign = ">" if sys.byteorder == "little" else "<"
    dtype = array.dtype
    fields = dtype.fields
    mismatched = dtype.byteorder == foreign or (
        dtype.byteorder == "|"
        and bool(fields)
        and all(field[0].byteorder == foreign for field in fields.values())
    )
    return array.byteswap().view(dtype.newbyteorder("=")) if mismatched else array


def _check_nested(data: bytes, start: int, policy: Policy) -> int:
    """Check the nested pickle at ``start`` (an object array): its object arrays' states here,
    and every global it names against ``policy`` (decided now, before anything runs)."""
    end = check_object_arrays(data, start)
    verified = verify(data[start:end], limits=policy.limits)
    for use in verified.globals:
        decision = policy.decide(use.ref)
        if not decision.allowed:
            entry = f"'{use.ref.module}:{use.ref.qualname}'"
            hint = (
                " It is on safepickle's floor and can never be allowed."
                if decision.rule == "floor"
                else f" If you trust it, pass allow=[{entry}]."
            )
            raise ForbiddenGlobal(
                f"global '{use.ref.dotted}' is forbidden (in the object array at offset "
                f"{start}): {decision.reason} [rule {decision.rule}].{hint}",
                module=use.ref.module,
                name=use.ref.qualname,
                raw_module=use.raw_module,
                raw_name=use.raw_name,
                decision=decision,
                offset=start + use.offset,
            )
    return end


def load_joblib(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """Load a file written by ``joblib.dump`` (compressed or not), checked by safepickle.

    ``policy`` defaults to ``Policy(plugins=["numpy"])``; ``allow`` adds entries for this call.
    Every global is decided by the policy before anything runs (object arrays' too), arrays
    are rebuilt from the file's bytes by this function, not by joblib, and the decompressed
    size is bounded by the policy's ``max_input_bytes``. lz4 and pre-0.10 joblib files are
    refused with a :class:`~safepickle.MalformedPickle`, memory mapping is not offered.

    .. versionadded:: 0.1
    """
    base = policy if policy is not None else Policy(plugins=["numpy"])
    if allow:
        base = base.allowing(*allow)
    limit = base.limits.max_input_bytes
    data = _decompress(read_bounded(file, limit), limit)
    if not data:
        raise TruncatedPickle("the joblib file is empty")
    # the scan checks object arrays' states here; the numpy plugin's inspect hook checks the
    # rewritten stream (and each nested pickle) again when it is loaded
    stream, specs = split_joblib(data, lambda start: _check_nested(data, start, base))
    return safepickle.loads(stream, policy=base.with_plugins(_Arrays(data, specs, base)))
