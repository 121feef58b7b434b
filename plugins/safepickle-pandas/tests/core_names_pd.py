"""Which pickles core's name rule refuses before any plugin is asked (reported to the lead).

Core refuses name parts starting with ``__`` (``safepickle/names.py``), except what pickle
writes and Cython's ``__pyx_unpickle_*``; numpy's random generators pickle through
``numpy.random._pickle.__generator_ctor`` and friends. Tests of such objects are strict xfails:
they start failing, and must be switched back on, the day core accepts those names.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import safepickle
from safepickle.names import name_problem
from safepickle.verify import verify

CORE_BLOCKED = pytest.mark.xfail(
    raises=safepickle.ForbiddenGlobal,
    strict=True,
    reason="core's name rule refuses a name this object pickles through (see core_names_pd.py)",
)


def core_blocked(obj: Any, protocol: int) -> bool:
    """Does pickling ``obj`` name a global that core refuses by its shape alone?"""
    verified = verify(pickle.dumps(obj, protocol), limits=safepickle.Limits())
    return any(name_problem(use.ref) for use in verified.globals if not use.shape_only)


def marks(obj: Any, protocol: int) -> list[Any]:
    return [CORE_BLOCKED] if core_blocked(obj, protocol) else []
