"""safepickle plugin for numpy: arrays, scalars, dtypes, masked arrays and random generators.

Enable it by name, ``safepickle.Policy(plugins=["numpy"])``, or in a policy file
(``plugins = ["numpy"]``). It allows exactly the names in :data:`NUMPY_GLOBALS`, several of
them narrowed (see :mod:`safepickle_numpy._narrow`). Object arrays need a check of the stream
that a plugin cannot make inside :func:`safepickle.loads`: load them with :func:`loads` /
:func:`load`. :func:`load_joblib` reads files written by ``joblib.dump`` through the same checks.
"""

from __future__ import annotations

from safepickle import Decision, GlobalRef, hookimpl

from ._joblib import load_joblib
from ._load import ObjectDtypes, load, loads
from ._table import AllowTable
from .allowlist import NUMPY_GLOBALS, NUMPY_SUBSTITUTES

__all__ = [
    "NUMPY_GLOBALS",
    "TABLE",
    "AllowTable",
    "ObjectDtypes",
    "load",
    "load_joblib",
    "loads",
    "safepickle_decide",
]
__version__ = "0.1.0"

#: the numpy allow-list as a plugin table; other plugins include it (``includes=[TABLE]``)
TABLE = AllowTable("numpy", NUMPY_GLOBALS, NUMPY_SUBSTITUTES)


@hookimpl
def safepickle_decide(ref: GlobalRef) -> Decision | None:
    """Allow numpy's reconstruction names (exactly :data:`NUMPY_GLOBALS`); abstain otherwise."""
    return TABLE.decide(ref)
