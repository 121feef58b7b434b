"""``load``/``loads`` that also accept object arrays, checked before numpy sees them.

``safepickle.loads`` with the numpy plugin refuses object dtypes (and ``StringDType``): numpy's
``ndarray.__setstate__`` does not check an object array's item list against its shape and
crashes the interpreter on a short list, and a plugin cannot look at a ``BUILD`` state before it
runs. These functions first walk the stream (:func:`._scan.check_object_arrays`), and only if
every object array's state is numpy's layout with the right number of items do they load it
under the caller's policy plus :class:`ObjectDtypes`.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterable
from typing import IO, Any

import safepickle
from safepickle import Decision, GlobalRef, LimitExceeded, MalformedPickle, Policy, hookimpl

from . import _narrow
from ._scan import check_object_arrays

__all__ = ["ObjectDtypes", "load", "loads"]

_REASON = (
    "object dtypes allowed for this load: safepickle_numpy checked every object array's "
    "item count against its shape before the load"
)


_OBJECT_DECISIONS = types.MappingProxyType(
    {
        "numpy.dtype": Decision.allow(_REASON, rule="numpy", substitute=_narrow.make_dtype),
        "numpy._core._internal._convert_to_stringdtype_kwargs": Decision.allow(
            _REASON, rule="numpy", substitute=_narrow.stringdtype
        ),
    }
)


class ObjectDtypes:
    """Per-load plugin: ``numpy.dtype`` may build object dtypes, and ``StringDType`` may be
    rebuilt. Only :func:`loads` and :func:`safepickle_numpy.load_joblib` add it, after the
    check; it is asked before the numpy table (``tryfirst``), whose allow it replaces."""

    @hookimpl(tryfirst=True)
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        return _OBJECT_DECISIONS.get(ref.dotted)


def _policy(policy: Policy | None, allow: Iterable[object] | None) -> Policy:
    base = policy if policy is not None else Policy(plugins=["numpy"])
    return base.allowing(*allow) if allow else base


def checked_policy(data: bytes, start: int, policy: Policy) -> tuple[int, Policy]:
    """Check the object arrays of the pickle at ``data[start]``; return its end and the
    policy to load it under."""
    if len(data) - start > policy.limits.max_input_bytes:
        raise LimitExceeded(
            f"the pickle is larger than max_input_bytes ({policy.limits.max_input_bytes})",
            limit="max_input_bytes",
            maximum=policy.limits.max_input_bytes,
        )
    end = check_object_arrays(data, start)
    return end, _with_object_dtypes(policy)


#: base policy id -> (base, derived): a loop of loads decides each global once per base policy
_DERIVED: dict[int, tuple[Policy, Policy]] = {}


def _with_object_dtypes(policy: Policy) -> Policy:
    hit = _DERIVED.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    derived = policy.with_plugins(ObjectDtypes())
    if len(_DERIVED) >= 64:
        _DERIVED.clear()
    _DERIVED[id(policy)] = (policy, derived)  # keeps the base alive, so its id stays its own
    return derived


def loads(
    data: bytes | bytearray | memoryview,
    /,
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
    buffers: Iterable[Any] | None = None,
) -> Any:
    """:func:`safepickle.loads` that also loads numpy object arrays, after checking them.

    ``policy`` defaults to ``Policy(plugins=["numpy"])``. A stream whose object arrays cannot
    be checked is refused with :class:`~safepickle.MalformedPickle`.

    .. versionadded:: 0.1
    """
    raw = bytes(data)
    end, checked = checked_policy(raw, 0, _policy(policy, allow))
    if end != len(raw):
        raise MalformedPickle(f"{len(raw) - end} byte(s) follow the pickle's STOP", offset=end)
    return safepickle.loads(raw, policy=checked, buffers=buffers)


def load(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
    buffers: Iterable[Any] | None = None,
) -> Any:
    """:func:`loads` of a whole file (a path or a binary file object), read up to the policy's
    ``max_input_bytes``.

    .. versionadded:: 0.1
    """
    effective = _policy(policy, allow)
    from ._joblib import read_bounded  # noqa: PLC0415 - _joblib imports this module

    data = read_bounded(file, effective.limits.max_input_bytes)
    return loads(data, policy=effective, buffers=buffers)
