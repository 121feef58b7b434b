"""safepickle plugin for numpy: arrays of every dtype, scalars, masked and random generators.

Enable it by name, ``safepickle.Policy(plugins=["numpy"])``, or in a policy file
(``plugins = ["numpy"]``). It allows exactly the names in :data:`NUMPY_GLOBALS`, several of
them narrowed (see :mod:`safepickle_numpy._narrow`), and checks every object array's state
before the stream runs (:func:`safepickle_inspect_stream`). :func:`load_joblib` reads files
written by ``joblib.dump`` through the same checks.
"""

from __future__ import annotations

from safepickle import Decision, GlobalRef, hookimpl
from safepickle.verify import Verified

from ._inspect import inspect_stream
from ._joblib import load_joblib
from ._load import load, loads
from ._table import AllowTable
from .allowlist import NUMPY_GLOBALS, NUMPY_SUBSTITUTES

__all__ = [
    "NUMPY_GLOBALS",
    "TABLE",
    "AllowTable",
    "inspect_stream",
    "load",
    "load_joblib",
    "loads",
    "safepickle_decide",
    "safepickle_inspect_stream",
]
__version__ = "0.1.0"

#: the numpy allow-list as a plugin table; other plugins include it (``includes=[TABLE]``)
TABLE = AllowTable("numpy", NUMPY_GLOBALS, NUMPY_SUBSTITUTES)


@hookimpl
def safepickle_decide(ref: GlobalRef) -> Decision | None:
    """Allow numpy's reconstruction names (exactly :data:`NUMPY_GLOBALS`); abstain otherwise."""
    return TABLE.decide(ref)


@hookimpl
def safepickle_inspect_stream(data: memoryview, verified: Verified) -> None:
    """Refuse a stream whose object (or ``StringDType``) array states numpy would read past,
    before anything runs; see :func:`inspect_stream`. Plugins that include :data:`TABLE`
    must implement this hook too, calling :func:`inspect_stream`."""
    inspect_stream(data, verified)
