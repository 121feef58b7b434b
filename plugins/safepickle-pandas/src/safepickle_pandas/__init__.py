"""safepickle plugin for pandas: Series, DataFrames, indexes, extension arrays and scalars.

Enable it by name, ``safepickle.Policy(plugins=["pandas"])``; its table includes the numpy
plugin's, so naming ``"pandas"`` is enough. Most frames hold object arrays (strings, mixed
columns, string indexes), which need :func:`safepickle_numpy.loads`'s check of the stream:
:func:`loads` and :func:`load` here are that function with the pandas policy by default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Any

import safepickle_numpy
from safepickle import Decision, GlobalRef, Policy, hookimpl
from safepickle_numpy import AllowTable

from ._validate import check_codes
from .allowlist import PANDAS_GLOBALS

__all__ = [
    "PANDAS_GLOBALS",
    "TABLE",
    "load",
    "loads",
    "safepickle_decide",
    "safepickle_validate_object",
]
__version__ = "0.1.0"

#: the pandas allow-list, including numpy's (pandas data is numpy arrays underneath)
TABLE = AllowTable("pandas", PANDAS_GLOBALS, includes=[safepickle_numpy.TABLE])


@hookimpl
def safepickle_decide(ref: GlobalRef) -> Decision | None:
    """Allow pandas' reconstruction names and numpy's; abstain otherwise."""
    return TABLE.decide(ref)


@hookimpl
def safepickle_validate_object(obj: Any) -> None:
    """Refuse categoricals and MultiIndexes whose codes point outside their categories."""
    check_codes(obj)


def _policy(policy: Policy | None) -> Policy:
    return policy if policy is not None else Policy(plugins=["pandas"])


def loads(
    data: bytes, /, *, policy: Policy | None = None, allow: Iterable[object] | None = None
) -> Any:
    """:func:`safepickle_numpy.loads` with ``Policy(plugins=["pandas"])`` by default.

    .. versionadded:: 0.1
    """
    return safepickle_numpy.loads(data, policy=_policy(policy), allow=allow)


def load(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """:func:`safepickle_numpy.load` with ``Policy(plugins=["pandas"])`` by default.

    .. versionadded:: 0.1
    """
    return safepickle_numpy.load(file, policy=_policy(policy), allow=allow)
