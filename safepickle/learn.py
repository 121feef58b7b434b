"""``safepickle learn PATH...``: a policy file from trusted samples, found statically.

Every sample is scanned as ``safepickle scan`` does (same verifier, containers and decisions,
nothing executed or imported) under a base policy (the policy file, ``--allow``,
``--plugin``). The globals the base policy does not allow are written as ``allow`` entries,
each with a comment naming where it was seen; floor items, globals the policy denies, and
opcodes no policy entry can allow are never written: they are reported instead. The output is
the policy file format :func:`safepickle.load_config` reads: top-level keys for a
``safepickle.toml``, or a ``[tool.safepickle]`` table for ``pyproject.toml``.

.. versionadded:: 0.2
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from ._policy_options import PolicySettings, add_policy_options
from .cli import UsageError, write_output
from .limits import Limits
from .policy import Policy
from .scan.engine import Scanner
from .scan.model import FileResult
from .scan.runner import scan_files
from .scan.walk import DEFAULT_INCLUDE, find_files

__all__ = ["Learned", "add_parser", "learn", "render"]

#: decision rules of globals a learned file may allow: nothing but "no plugin allows it"
_LEARNABLE = frozenset({"default-deny"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Learned:
    """What the samples need: entries to allow (with where each was seen), and what was held
    back (with why)."""

    #: "module:qualname" -> places ("file!member @offset")
    allow: dict[str, list[str]] = field(default_factory=dict)
    #: one line each: a floor item, a denied global, an unsafe opcode
    held_back: list[str] = field(default_factory=list)
    #: one line each: a sample that could not be scanned
    errors: list[str] = field(default_factory=list)
    samples: int = 0


def learn(results: Sequence[FileResult]) -> Learned:
    """Collect what ``results`` (scans of trusted samples) need allowed."""
    learned = Learned(samples=len(results))
    for result in results:
        for stream in result.streams:
            where = result.path + (f"!{stream.location}" if stream.location else "")
            for finding in stream.globals:
                if finding.decision == "allow":
                    continue
                if finding.rule in _LEARNABLE:
                    entry = f"{finding.module}:{finding.qualname}"
                    learned.allow.setdefault(entry, []).append(f"{where} @{finding.offset}")
                else:
                    learned.held_back.append(
                        f"{where}: '{finding.name}' not written: {finding.reason} "
                        f"[rule {finding.rule}]"
                    )
            problem = stream.problem
            if problem is not None:
                line = f"{where}: {problem.message}"
                if stream.status == "refused":
                    learned.held_back.append(line + " (a policy file cannot allow this)")
                else:
                    learned.errors.append(line)
    return learned


def _comment(text: str) -> str:
    return _CONTROL.sub("?", text)


def _string(text: str) -> str:
    return json.dumps(text)  # a TOML basic string: JSON's escapes are TOML's


def render(learned: Learned, base: Policy, *, pyproject: bool = False) -> str:
    """The policy file: the base policy's own settings plus the learned allow entries."""
    described = base.describe()
    lines = [
        f"# safepickle policy learned by `safepickle learn` (safepickle {__version__}) from "
        f"{learned.samples} sample file(s).",
        "# Review every entry before use: allowing a class trusts its own reconstruction code.",
    ]
    if learned.held_back or learned.errors:
        lines.append(
            f"# {len(learned.held_back)} finding(s) were held back and {len(learned.errors)} "
            "sample(s) could not be scanned: see the command's output."
        )
    if pyproject:
        lines.append("[tool.safepickle]")
    allow = sorted(set(described["allow"]) | set(learned.allow))
    lines.append("allow = [")
    for entry in allow:
        places = learned.allow.get(entry)
        if places:
            seen = ", ".join(places[:2]) + (
                f" (+{len(places) - 2} more)" if len(places) > 2 else ""
            )
            lines.append(f"    {_string(entry)},  # seen in {_comment(seen)}")
        else:
            lines.append(f"    {_string(entry)},  # from the base policy")
    lines.append("]")
    if described["deny"]:
        lines.append("deny = [" + ", ".join(_string(e) for e in described["deny"]) + "]")
    if described["plugins"]:
        lines.append("plugins = [" + ", ".join(_string(p) for p in described["plugins"]) + "]")
    if not described["defaults"]:
        lines.append("defaults = false")
    changed = {
        name: value
        for name, value in described["limits"].items()
        if value != getattr(Limits(), name)
    }
    if changed:
        lines.append("[tool.safepickle.limits]" if pyproject else "[limits]")
        lines.extend(f"{name} = {value}" for name, value in sorted(changed.items()))
    return "\n".join(lines) + "\n"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``learn`` on the main parser's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "learn",
        help="write a policy file allowing what trusted samples need",
        description="Scan trusted sample files (statically, executing nothing) and write a "
        "policy file that allows the globals they need, each with a comment naming where it "
        "was seen. Floor items, denied globals and unsafe opcodes are never written: they are "
        "reported. Exit status: 0 written, 1 written but something was held back, 2 written "
        "but some sample could not be scanned.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trusted sample files, folders")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    parser.add_argument(
        "--pyproject",
        action="store_true",
        help="write a [tool.safepickle] table for pyproject.toml instead of safepickle.toml keys",
    )
    parser.add_argument("--include", action="append", metavar="GLOB", help="as for scan")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    add_policy_options(parser)
    parser.set_defaults(run=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    settings = PolicySettings.from_args(args, static=True)
    base = settings.checked_policy()
    paths = list(find_files(args.paths, args.include or DEFAULT_INCLUDE, args.exclude))
    if not paths:
        raise UsageError("no sample files found")
    results = list(scan_files(paths, settings, scanner=Scanner(base, static=True)))
    learned = learn(results)
    text = render(learned, base, pyproject=args.pyproject)
    write_output(text, args.output)
    for line in learned.held_back:
        print(f"held back: {line}", file=sys.stderr)
    for line in learned.errors:
        print(f"not scanned: {line}", file=sys.stderr)
    if learned.errors:
        return 2
    return 1 if learned.held_back else 0
