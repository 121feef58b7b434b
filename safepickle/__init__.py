"""safepickle: load pickles without running code your policy did not allow."""

from __future__ import annotations

from .api import Unpickler, dump, dumps, load, load_all, loads
from .config import load_config
from .decision import Decision, GlobalRef, Verdict
from .errors import (
    ExecutionError,
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    PluginError,
    PolicyError,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
    ValidationFailed,
)
from .hookspecs import hookimpl
from .limits import Limits
from .patching import patch
from .policy import Policy, allowed

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
    "ValidationFailed",
    "Verdict",
    "__version__",
    "allowed",
    "dump",
    "dumps",
    "hookimpl",
    "load",
    "load_all",
    "load_config",
    "loads",
    "patch",
]
