"""safepickle: load pickles without running code your policy did not allow."""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("safepickle")
"""Marker for plugin hook implementations: ``@safepickle.hookimpl``."""

from .api import Unpickler, dump, dumps, load, load_all, loads  # noqa: E402
from .decision import Decision, GlobalRef, Verdict  # noqa: E402
from .errors import (  # noqa: E402
    ExecutionError,
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    PluginError,
    PolicyError,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
)
from .limits import Limits  # noqa: E402
from .policy import Policy, allowed  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Decision",
    "ExecutionError",
    "ForbiddenGlobal",
    "GlobalRef",
    "LimitExceeded",
    "Limits",
    "MalformedPickle",
    "PluginError",
    "Policy",
    "PolicyError",
    "SafePickleError",
    "TruncatedPickle",
    "Unpickler",
    "UnsafeOpcode",
    "Verdict",
    "__version__",
    "allowed",
    "dump",
    "dumps",
    "hookimpl",
    "load",
    "load_all",
    "loads",
]
