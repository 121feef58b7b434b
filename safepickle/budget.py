"""The per-load allocation budget that narrowed constructors charge while a stream executes.

The verifier estimates, before anything runs, what the opcodes of a stream allocate
(:attr:`Verified.estimated_bytes`); what it cannot see is what an allowed callable allocates
from its arguments: ``list(x)``, ``bytearray(b)``, ``str(b, "utf-8")`` copy a value that one
memoized reference may pass any number of times (4 MB of pickle, 1 GB of copies). The loader
opens a :class:`LoadBudget` for the rest of :meth:`Limits.result_bound` around execution;
narrowed constructors (the stdlib plugin's substitutes, plugins' replacements) call
:func:`charge` *before* they copy, so an amplifying stream is refused with
:class:`~safepickle.LimitExceeded` before the memory is asked for.

Outside a load (a substitute called by hand) nothing is charged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import LimitExceeded

__all__ = ["LoadBudget", "active", "charge", "charge_hash_work", "opened"]


class LoadBudget:
    """What one load may still allocate (bytes) and hash (objects, unfolded)."""

    __slots__ = ("bytes_left", "hash_left", "max_hash_collisions", "max_hash_work", "max_result")

    def __init__(
        self,
        max_result: int,
        used: int = 0,
        max_hash_work: int = 0,
        hash_used: int = 0,
        max_hash_collisions: int = 64,
    ) -> None:
        self.max_result = max_result
        self.bytes_left = max_result - used
        self.max_hash_work = max_hash_work
        self.hash_left = max_hash_work - hash_used
        self.max_hash_collisions = max_hash_collisions

    def charge(self, nbytes: int, what: str) -> None:
        """Take ``nbytes`` from the budget, or raise before anything is allocated."""
        self.bytes_left -= nbytes
        if self.bytes_left < 0:
            raise LimitExceeded(
                f"{what} would take the load past max_result_bytes (this stream may allocate "
                f"at most {self.max_result:,} bytes); if you trust this input, raise it: "
                "Policy(limits=Limits(max_result_bytes=..., max_result_ratio=...))",
                limit="max_result_bytes",
                maximum=self.max_result,
            )

    def charge_hash_work(self, units: int, what: str) -> None:
        """Take ``units`` objects to hash from the budget, or raise before hashing them."""
        self.hash_left -= units
        if self.hash_left < 0:
            raise LimitExceeded(
                f"{what} would hash more than max_hash_work={self.max_hash_work:,} objects "
                "in one load; if you trust this input, raise it: "
                "Policy(limits=Limits(max_hash_work=...))",
                limit="max_hash_work",
                maximum=self.max_hash_work,
            )


_ACTIVE: ContextVar[LoadBudget | None] = ContextVar("safepickle_load_budget", default=None)


def active() -> LoadBudget | None:
    """The budget of the load executing in this context, if any."""
    return _ACTIVE.get()


def charge(nbytes: int, what: str) -> None:
    """Charge ``nbytes`` to the executing load's budget (nothing outside a load)."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.charge(nbytes, what)


def charge_hash_work(units: int, what: str) -> None:
    """Charge ``units`` hashed objects to the executing load's budget (nothing outside one)."""
    budget = _ACTIVE.get()
    if budget is not None:
        budget.charge_hash_work(units, what)


@contextmanager
def opened(budget: LoadBudget) -> Iterator[LoadBudget]:
    """Make ``budget`` the active one for the block (the loader wraps execution in it)."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)
