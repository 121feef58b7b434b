"""Deprecated ``load``/``loads``: :func:`safepickle.load`/:func:`safepickle.loads` do it all now.

They predate core's ``safepickle_inspect_stream`` hook, when the only way to check object
arrays before numpy saw them was to walk the stream outside the load. The plugin now does that
walk in the hook, so ``safepickle.loads(data, policy=Policy(plugins=["numpy"]))`` loads object
arrays; these remain as aliases that default the policy to the numpy plugin.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import IO, Any

import safepickle
from safepickle import Policy

__all__ = ["default_policy", "deprecated", "load", "loads"]


def default_policy(policy: Policy | None, plugin: str) -> Policy:
    return policy if policy is not None else Policy(plugins=[plugin])


def deprecated(old: str, plugin: str) -> None:
    warnings.warn(
        f"{old} is deprecated: object arrays load through safepickle.load/loads with "
        f'policy=safepickle.Policy(plugins=["{plugin}"]), which check them first',
        DeprecationWarning,
        stacklevel=3,
    )


def loads(
    data: bytes | bytearray | memoryview,
    /,
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
    buffers: Iterable[Any] | None = None,
) -> Any:
    """Deprecated: ``safepickle.loads(data, policy=...)`` with ``Policy(plugins=["numpy"])`` by
    default.
    Use :func:`safepickle.loads` with the numpy plugin in the policy instead.
    """
    deprecated("safepickle_numpy.loads", "numpy")
    return safepickle.loads(
        data, policy=default_policy(policy, "numpy"), allow=allow, buffers=buffers
    )


def load(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
    buffers: Iterable[Any] | None = None,
) -> Any:
    """Deprecated: :func:`safepickle.load` of a path or a binary file, with
    ``Policy(plugins=["numpy"])`` by default.
    Use :func:`safepickle.load` with the numpy plugin in the policy instead.
    """
    deprecated("safepickle_numpy.load", "numpy")
    return load_path(file, default_policy(policy, "numpy"), allow, buffers)


def load_path(
    file: str | os.PathLike[str] | IO[bytes],
    policy: Policy,
    allow: Iterable[object] | None = None,
    buffers: Iterable[Any] | None = None,
) -> Any:
    """:func:`safepickle.load` of a path too (it takes file objects)."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as opened:
            return safepickle.load(opened, policy=policy, allow=allow, buffers=buffers)
    return safepickle.load(file, policy=policy, allow=allow, buffers=buffers)
