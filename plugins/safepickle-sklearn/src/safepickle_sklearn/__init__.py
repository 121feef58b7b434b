"""safepickle plugin for scikit-learn: fitted estimators, pipelines and joblib model files.

Enable it by name, ``safepickle.Policy(plugins=["sklearn"])``; it includes the numpy plugin's
table, so fitted arrays load too. Estimators with object arrays (string class labels,
``feature_names_in_``) need :func:`safepickle_numpy.loads` (see that plugin); :func:`load` and
:func:`load_joblib` here use it with the scikit-learn policy by default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Any

import safepickle_numpy
from safepickle import Decision, GlobalRef, Policy, hookimpl
from safepickle_numpy import AllowTable

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
def safepickle_validate_object(obj: Any) -> None:
    """Refuse decision trees whose node links leave the tree or point backwards."""
    check_trees(obj)


def _policy(policy: Policy | None) -> Policy:
    return policy if policy is not None else Policy(plugins=["sklearn"])


def loads(
    data: bytes, /, *, policy: Policy | None = None, allow: Iterable[object] | None = None
) -> Any:
    """:func:`safepickle_numpy.loads` with ``Policy(plugins=["sklearn"])`` by default.

    .. versionadded:: 0.1
    """
    return safepickle_numpy.loads(data, policy=_policy(policy), allow=allow)


def load(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """:func:`safepickle_numpy.load` with ``Policy(plugins=["sklearn"])`` by default.

    .. versionadded:: 0.1
    """
    return safepickle_numpy.load(file, policy=_policy(policy), allow=allow)


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
    return safepickle_numpy.load_joblib(file, policy=_policy(policy), allow=allow)
