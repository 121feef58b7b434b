"""The ``safepickle_inspect_stream`` check: object arrays' states, before anything runs.

numpy's ``ndarray.__setstate__`` reads as many items from an object array's list as the
array's shape says, without checking the list's length (numpy 2.4: a 60-byte pickle with shape
``(3,)`` and a 2-item list crashes the interpreter). A decision per global cannot see a
``BUILD``'s state, so core hands every verified, allowed stream to this hook first and the pass
in :mod:`._scan` checks each such state; only then may ``numpy.dtype`` build object dtypes.

The pass runs only on streams that name a numpy global (every array does), and costs little on
numeric arrays: their data is one long constant, which the pass skips without copying.
"""

from __future__ import annotations

import threading

from safepickle.verify import Verified

from ._scan import check_object_arrays

__all__ = ["inspect_stream"]


class _Last(threading.local):
    #: the Verified last checked on this thread: the numpy, pandas and scikit-learn plugins
    #: all implement the hook, and a policy naming two of them checks each stream once
    verified: Verified | None = None


_LAST = _Last()


def _names_numpy(verified: Verified) -> bool:
    return any(
        use.ref.module == "numpy" or use.ref.module.startswith("numpy.")
        for use in verified.globals
    )


def inspect_stream(data: memoryview, verified: Verified) -> None:
    """Refuse (:class:`~safepickle.UnsafeOpcode`) a stream with an array state numpy would
    read past: an object (or ``StringDType``) array whose item list does not match its
    shape, or that the pass cannot check."""
    if verified is _LAST.verified or not _names_numpy(verified):
        return
    check_object_arrays(data)
    _LAST.verified = verified  # only once it passed: a refusal stops the load anyway
