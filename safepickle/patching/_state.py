"""Which patches are active, and whose policy a load under them uses.

The module attributes a patch replaces are process-wide, so the record of active patches is
too. Each patch remembers the thread that applied it: a load uses the innermost patch its own
thread applied, so ``with safepickle.patch(allow=[...])`` in one thread never widens what
another thread's loads accept. A thread that applied none (a library's worker thread) uses
the innermost patch of the whole process, so nothing loads unpatched while any patch is on.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..policy import Policy
    from ._patch import Patch

__all__ = ["LOCK", "STACK", "current_policy"]

#: guards STACK and every install/restore; re-entrant because undo may run inside apply's
#: error handling
LOCK = threading.RLock()
#: the active patches, oldest first
STACK: list[Patch] = []


def current_policy() -> Policy | None:
    """The policy of the innermost patch the calling thread applied, else of the innermost
    patch of the process; None when no patch is active."""
    stack = STACK[:]  # a copy: another thread may undo a patch meanwhile
    if not stack:
        return None
    me = threading.get_ident()
    for patch in reversed(stack):
        if patch.thread == me:
            return patch.policy
    return stack[-1].policy
