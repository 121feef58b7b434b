"""The policy options every command that loads or scans takes: ``--config``, ``--allow``,
``--plugin`` (``safepickle scan``, ``learn`` and ``run``), and the policy they describe."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .errors import PolicyError
from .policy import Policy

__all__ = ["PolicySettings", "add_policy_options"]


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--config``, ``--allow`` and ``--plugin`` to ``parser``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="policy file (safepickle.toml, or pyproject.toml's [tool.safepickle]); default: "
        "$SAFEPICKLE_CONFIG, else the nearest one from the current folder up, else the "
        "default policy",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAME",
        help="also allow NAME ('pkg.mod:Class', 'pkg.mod.Class' or 'pkg.mod:*'); repeatable",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="NAME",
        help="also use the installed plugin NAME (entry-point group 'safepickle'); repeatable",
    )


@dataclass(frozen=True)
class PolicySettings:
    """How to build a command's policy; plain data, so that worker processes can rebuild it
    (a Policy holds plugins and locks, which do not cross processes)."""

    config: str | None = None
    allow: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    static: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, static: bool = False) -> PolicySettings:
        """The settings the options of :func:`add_policy_options` parsed into ``args``."""
        return cls(args.config, tuple(args.allow), tuple(args.plugin), static)

    def policy(self) -> Policy:
        """The policy file (``config``, else ``$SAFEPICKLE_CONFIG``, else the nearest one, else
        the default policy), widened by ``allow`` and ``plugins``."""
        policy = Policy.from_config(self.config)
        if self.allow:
            policy = policy.allowing(*self.allow)
        if self.plugins:
            policy = policy.with_plugins(*self.plugins)
        return policy

    def checked_policy(self) -> Policy:
        """:meth:`policy` with its plugins loaded now, so that a bad name in the options is a
        usage error (exit status 2) before any work starts."""
        from .cli import UsageError  # noqa: PLC0415 - cli imports the subcommand modules

        try:
            policy = self.policy()
            policy.manager  # noqa: B018 - builds the plugin manager
        except PolicyError as exc:
            raise UsageError(str(exc)) from exc
        return policy
