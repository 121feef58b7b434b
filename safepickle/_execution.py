"""Executing a verified, approved stream: on which unpickler, and inside what budget.

The C unpickler (:class:`~safepickle._unpickler.SafeUnpickler`) runs every stream but one whose
dict keys or set members could collide on purpose (more than
:data:`~safepickle._guarded.GUARD_THRESHOLD` keys whose hash the stream could choose), which runs
on :class:`~safepickle._guarded.GuardedUnpickler`. A stream that names a global runs inside a
:class:`~safepickle.budget.LoadBudget`: what is left of ``Limits.result_bound`` after the
verifier's estimate, which narrowed constructors charge before they copy.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._guarded import GUARD_THRESHOLD, GuardedUnpickler
from ._unpickler import SafeUnpickler
from .budget import LoadBudget, opened

if TYPE_CHECKING:
    from ._manager import PolicyManager
    from .context import LoadContext
    from .limits import Limits
    from .verify import Verified

__all__ = ["execute"]


def execute(
    file: Any,
    verified: Verified,
    limits: Limits,
    *,
    approved: dict[tuple[str, str], Any],
    manager: PolicyManager,
    context: LoadContext,
    fix_imports: bool,
    encoding: str,
    errors: str,
    buffers: Iterable[Any] | None,
) -> Any:
    """Unpickle ``file`` (the verified stream) and return the value it builds."""
    unpickler: Any
    if verified.unknown_hash_keys > GUARD_THRESHOLD:
        unpickler = GuardedUnpickler(
            file,
            approved=approved,
            manager=manager,
            context=context,
            max_hash_collisions=limits.max_hash_collisions,
            fix_imports=fix_imports,
            encoding=encoding,
            errors=errors,
            buffers=buffers,
        )
    else:
        unpickler = SafeUnpickler(
            file,
            approved=approved,
            manager=manager,
            context=context,
            fix_imports=fix_imports,
            encoding=encoding,
            errors=errors,
            buffers=buffers,
        )
    try:
        if not verified.globals:  # nothing is called: nothing can charge a budget
            return unpickler.load()
        budget = LoadBudget(
            limits.result_bound(verified.end - verified.start),
            verified.estimated_bytes,
            limits.max_hash_work,
            verified.hash_work,
            limits.max_hash_collisions,
        )
        with opened(budget):
            return unpickler.load()
    except BaseException as exc:
        # The pure-Python unpickler's own frames (load, load_reduce ...) are in the traceback,
        # holding it and the failing call's arguments: clear their locals (they have finished).
        if exc.__traceback__ is not None:
            traceback.clear_frames(exc.__traceback__.tb_next)
        raise
    finally:
        # a raised exception's traceback keeps this frame: the unpickler's stack and memo may
        # hold views of the caller's out-of-band buffers, which must not outlive the load
        del unpickler
