"""The ``safepickle`` command line.

Each subcommand lives in its own module and registers itself in ``SUBCOMMANDS``; this module
only parses arguments, runs the chosen command and turns :class:`UsageError` into
``safepickle: error: ...`` with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from . import __version__, verify
from .errors import SafePickleError

__all__ = ["SUBCOMMANDS", "UsageError", "main", "write_output"]

#: subcommand name -> module with ``add_parser(subparsers)`` returning the parser, whose
#: defaults carry ``run=callable(args) -> int``
SUBCOMMANDS: dict[str, str] = {
    "audit": "safepickle.audit.cli",
    "learn": "safepickle.learn",
    "scan": "safepickle.scan.cli",
    "run": "safepickle.run",
}


class UsageError(SafePickleError):
    """A command-line mistake: printed as ``safepickle: error: ...``, exit status 2.

    .. versionadded:: 0.1
    """


def write_output(text: str, path: str | None) -> None:
    """A command's report: into ``path`` (``--output``), else to standard output."""
    if not path:
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _version() -> str:
    implementation = getattr(verify, "IMPLEMENTATION", "python")
    python = sys.version.split()[0]
    return f"safepickle {__version__} (verifier: {implementation}, Python {python})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="safepickle",
        description="Load, scan and audit pickles without running code your policy did not allow.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return run(args)
    except UsageError as exc:
        print(f"safepickle: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
