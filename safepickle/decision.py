"""What a policy decides about one global: :class:`Decision`, :class:`Verdict`,
:class:`GlobalRef`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["Decision", "GlobalRef", "Verdict"]


class Verdict(enum.Enum):
    """Allow or deny. Abstaining is expressed by returning ``None`` instead of a Decision.

    .. versionadded:: 0.1
    """

    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True)
class GlobalRef:
    """A global as the policy sees it: canonical module and qualified name.

    ``qualname`` may be dotted (``Outer.Inner``) for nested classes; it is decided whole.

    .. versionadded:: 0.1
    """

    module: str
    qualname: str

    @property
    def dotted(self) -> str:
        """``module.qualname``, the spelling used in allow-lists and messages."""
        return f"{self.module}.{self.qualname}"

    def __str__(self) -> str:
        return self.dotted


@dataclass(frozen=True)
class Decision:
    """One plugin's (or the floor's) verdict on a global, with the reason and rule behind it.

    Build them with :meth:`allow` and :meth:`deny`. ``rule`` is a short stable identifier for
    reports (``"floor"``, ``"allow-list"``, ``"default-deny"``); ``plugin`` is filled in by the
    manager with the name of the plugin that returned the decision. ``substitute``, when set on
    an allow, is handed to the unpickler instead of importing the real global: built-in plugins
    use it to narrow a callable to the arguments a pickler writes (see ``_codecs.encode``).

    .. versionadded:: 0.1
    """

    verdict: Verdict
    reason: str
    rule: str = ""
    plugin: str = ""
    substitute: Any = None

    @classmethod
    def allow(cls, reason: str, *, rule: str = "allow", substitute: Any = None) -> Decision:
        """An allowing decision."""
        return cls(Verdict.ALLOW, reason, rule=rule, substitute=substitute)

    @classmethod
    def deny(cls, reason: str, *, rule: str = "deny") -> Decision:
        """A denying decision; any deny wins over every allow."""
        return cls(Verdict.DENY, reason, rule=rule)

    @property
    def allowed(self) -> bool:
        """True for an allow."""
        return self.verdict is Verdict.ALLOW
