"""safepickle plugin for pandas: Series, DataFrames, indexes, extension arrays and scalars.

Enable it by name, ``safepickle.Policy(plugins=["pandas"])``; its table includes the numpy
plugin's, so naming ``"pandas"`` is enough. Most frames hold object arrays (strings, mixed
columns, string indexes): like the numpy plugin, this one checks their states before the stream
runs (:func:`safepickle_inspect_stream`), so :func:`safepickle.loads` loads them.
:func:`loads` and :func:`load` here are deprecated aliases.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Any

import safepickle
import safepickle_numpy
from safepickle import Decision, GlobalRef, Policy, hookimpl
from safepickle.verify import Verified
from safepickle_numpy import AllowTable
from safepickle_numpy._load import default_policy, deprecated, load_path

from ._validate import check_codes
from .allowlist import PANDAS_GLOBALS

__all__ = [
    "PANDAS_GLOBALS",
    "TABLE",
    "load",
    "loads",
    "safepickle_decide",
    "safepickle_inspect_stream",
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
def safepickle_inspect_stream(data: memoryview, verified: Verified) -> None:
    """Check object arrays' states before the stream runs, as the numpy plugin does (once per
    stream when both are named): :func:`safepickle_numpy.inspect_stream`."""
    safepickle_numpy.inspect_stream(data, verified)


@hookimpl
def safepickle_validate_object(obj: Any) -> None:
    """Refuse categoricals and MultiIndexes whose codes point outside their categories."""
    check_codes(obj)


def loads(
    data: bytes, /, *, policy: Policy | None = None, allow: Iterable[object] | None = None
) -> Any:
    """Deprecated: :func:`safepickle.loads` with ``Policy(plugins=["pandas"])`` by default,
    which loads object arrays since the plugin checks them in its inspect hook.

    Use :func:`safepickle.loads` with the pandas plugin in the policy instead.
    """
    deprecated("safepickle_pandas.loads", "pandas")
    return safepickle.loads(data, policy=default_policy(policy, "pandas"), allow=allow)


def load(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """Deprecated: :func:`safepickle.load` of a path or a binary file, with
    ``Policy(plugins=["pandas"])`` by default.

    Use :func:`safepickle.load` with the pandas plugin in the policy instead.
    """
    deprecated("safepickle_pandas.load", "pandas")
    return load_path(file, default_policy(policy, "pandas"), allow)
