"""safepickle plugin for scikit-learn: fitted estimators, pipelines and joblib model files.

Enable it by name, ``safepickle.Policy(plugins=["sklearn"])``; it includes the numpy plugin's
table, so fitted arrays load too, object arrays (string class labels, ``feature_names_in_``)
included: like the numpy plugin, this one checks their states before the stream runs
(:func:`safepickle_inspect_stream`). :func:`load_joblib` reads ``joblib.dump`` model files
with the scikit-learn policy by default; :func:`loads` and :func:`load` are deprecated aliases.
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

from ._validate import check_trees
from .allowlist import ESTIMATOR_CLASSES, SKLEARN_GLOBALS, SKLEARN_SUBSTITUTES

__all__ = [
    "ESTIMATOR_CLASSES",
    "SKLEARN_GLOBALS",
    "TABLE",
    "load",
    "load_joblib",
    "loads",
    "safepickle_decide",
    "safepickle_inspect_stream",
    "safepickle_validate_object",
]
__version__ = "0.1.0"

#: the scikit-learn allow-list, including numpy's
TABLE = AllowTable(
    "sklearn", SKLEARN_GLOBALS, SKLEARN_SUBSTITUTES, includes=[safepickle_numpy.TABLE]
)


@hookimpl
def safepickle_decide(ref: GlobalRef) -> Decision | None:
    """Allow scikit-learn's estimators and their fitted state's helpers, and numpy's names."""
    return TABLE.decide(ref)


@hookimpl
def safepickle_inspect_stream(data: memoryview, verified: Verified) -> None:
    """Check object arrays' states before the stream runs, as the numpy plugin does (once per
    stream when both are named): :func:`safepickle_numpy.inspect_stream`."""
    safepickle_numpy.inspect_stream(data, verified)


@hookimpl
def safepickle_validate_object(obj: Any) -> None:
    """Refuse decision trees whose node links leave the tree or point backwards."""
    check_trees(obj)


def loads(
    data: bytes, /, *, policy: Policy | None = None, allow: Iterable[object] | None = None
) -> Any:
    """Deprecated: :func:`safepickle.loads` with ``Policy(plugins=["sklearn"])`` by default,
    which loads object arrays since the plugin checks them in its inspect hook.

    Use :func:`safepickle.loads` with the scikit-learn plugin in the policy instead.
    """
    deprecated("safepickle_sklearn.loads", "sklearn")
    return safepickle.loads(data, policy=default_policy(policy, "sklearn"), allow=allow)


def load(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """Deprecated: :func:`safepickle.load` of a path or a binary file, with
    ``Policy(plugins=["sklearn"])`` by default.

    Use :func:`safepickle.load` with the scikit-learn plugin in the policy instead.
    """
    deprecated("safepickle_sklearn.load", "sklearn")
    return load_path(file, default_policy(policy, "sklearn"), allow)


def load_joblib(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """:func:`safepickle_numpy.load_joblib` with ``Policy(plugins=["sklearn"])`` by default:
    a model saved with ``joblib.dump`` (compressed or not).

    .. versionadded:: 0.1
    """
    return safepickle_numpy.load_joblib(
        file, policy=default_policy(policy, "sklearn"), allow=allow
    )
