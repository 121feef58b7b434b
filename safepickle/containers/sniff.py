"""Does a stream that failed to verify still look like a pickle?

A member of an archive is scanned whatever its name, but most members are not pickles (tensor
storages, text). One that fails verification is taken as plain data unless it could have done
something under plain :func:`pickle.load` before failing: that needs a global, so we look for
an opcode naming one (``GLOBAL``/``INST`` with two text lines, ``STACK_GLOBAL``) in the bytes
before the point where verification failed, or for a pickle file name.
"""

from __future__ import annotations

import re

from . import Buffer

__all__ = ["PICKLE_SUFFIXES", "looks_like_pickle", "names_global"]

#: file name endings that say "pickle" (a member named so that fails to verify is an error)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pck", ".pcl", ".p", ".joblib", ".jbl", ".sav")
_TEXT_GLOBAL = re.compile(rb"[ci][A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n")
_STACK_GLOBAL = 0x93


def names_global(prefix: Buffer) -> bool:
    """Whether ``prefix`` holds something that reads as an opcode naming a global."""
    raw = bytes(prefix)
    return _STACK_GLOBAL in raw or _TEXT_GLOBAL.search(raw) is not None


def looks_like_pickle(name: str, data: Buffer, failed_at: int | None) -> bool:
    """Whether a stream that failed verification at ``failed_at`` is a (broken) pickle."""
    if name.lower().endswith(PICKLE_SUFFIXES):
        return True
    end = len(data) if failed_at is None else min(failed_at, len(data))
    return names_global(memoryview(data)[:end])
