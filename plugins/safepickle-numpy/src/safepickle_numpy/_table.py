"""AllowTable: an exact ``module.qualname`` -> reason table as a safepickle plugin.

The numpy, pandas and scikit-learn plugins are each one table; a plugin that needs another
library's names (pandas needs numpy's) is a table that includes the other table, so naming
``"pandas"`` in a policy is enough and there is still one exact list to review per library.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from safepickle import Decision, GlobalRef, hookimpl

__all__ = ["AllowTable"]


class AllowTable:
    """Allows exactly the names in ``reasons`` (and in the ``includes``); abstains otherwise.

    :param rule: the rule name reported with each decision (``"numpy"``).
    :param reasons: canonical dotted name -> why it is safe to call with any arguments.
    :param substitutes: dotted name -> the narrowed callable handed out instead of the real one.
    :param includes: tables whose names this one allows too, under their own rule.
    """

    def __init__(
        self,
        rule: str,
        reasons: Mapping[str, str],
        substitutes: Mapping[str, Callable[..., Any]] | None = None,
        includes: Iterable[AllowTable] = (),
    ) -> None:
        unknown = set(substitutes or {}) - set(reasons)
        if unknown:
            raise ValueError(f"substitutes without an allow entry: {sorted(unknown)}")
        self.rule = rule
        self.reasons = types.MappingProxyType(dict(reasons))
        self.substitutes = types.MappingProxyType(dict(substitutes or {}))
        self.includes = tuple(includes)

    def decide(self, ref: GlobalRef) -> Decision | None:
        """The table's decision on ``ref``: an allow, or None (abstain)."""
        dotted = ref.dotted
        reason = self.reasons.get(dotted)
        if reason is not None:
            return Decision.allow(reason, rule=self.rule, substitute=self.substitutes.get(dotted))
        for table in self.includes:
            decision = table.decide(ref)
            if decision is not None:
                return decision
        return None

    def names(self) -> frozenset[str]:
        """Every name this table allows, its includes' names too."""
        own = frozenset(self.reasons)
        return own.union(*(table.names() for table in self.includes))

    @hookimpl
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        return self.decide(ref)
