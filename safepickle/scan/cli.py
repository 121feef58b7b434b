"""``safepickle scan PATH...``: report, without executing anything, what the policy refuses.

Exit status: 0 nothing refused, 1 something refused, 2 something could not be scanned (and
nothing was refused): unreadable, not a pickle, a limit hit, a container that cannot be read.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .._policy_options import PolicySettings, add_policy_options
from ..cli import UsageError, write_output
from .engine import Scanner
from .model import FileResult
from .report import exit_code, print_text, to_json
from .runner import scan_files
from .sarif import to_sarif
from .walk import DEFAULT_INCLUDE, find_files

__all__ = ["add_parser", "add_policy_options"]

#: a progress bar is drawn for scans of at least this many files, on a terminal
PROGRESS_FROM = 20


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``scan`` on the main parser's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scan",
        help="report which pickles the policy refuses, executing nothing",
        description="Scan files and folders (recursively) for pickles, including inside "
        "gzip/bz2/xz/lzma/zlib/lz4 files, zip archives and PyTorch checkpoints, .npy/.npz "
        "object arrays and joblib files, and report every global and opcode the policy "
        "refuses. Nothing in the files is executed; only modules the policy allows are "
        "imported, as a load imports them (none with --static). Exit status: 0 nothing "
        "refused, 1 something refused, 2 something could not be scanned.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    parser.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="in folders, scan files matching GLOB (repeatable; default: "
        + " ".join(DEFAULT_INCLUDE)
        + "); '*' scans every file",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files and folders matching GLOB (by relative path or name); repeatable",
    )
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    add_policy_options(parser)
    parser.add_argument(
        "--static",
        action="store_true",
        help="import nothing at all: skip the checks a load makes on the allowed objects "
        "themselves (by default the modules the policy allows are imported, as a load "
        "imports them; nothing from the scanned files is executed)",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="N", help="scan with N processes"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list clean files too (text format)"
    )
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    settings = PolicySettings.from_args(args, static=args.static)
    policy = settings.checked_policy()
    paths = list(find_files(args.paths, args.include or DEFAULT_INCLUDE, args.exclude))
    scanner = Scanner(policy, static=args.static)
    results = _run(paths, settings, args, scanner)
    text = _render(results, policy, args)
    write_output(text, args.output)
    return exit_code(results)


def _run(
    paths: list[str], settings: PolicySettings, args: argparse.Namespace, scanner: Scanner
) -> list[FileResult]:
    show = not args.no_progress and len(paths) >= PROGRESS_FROM and sys.stderr.isatty()
    if not show:
        return list(scan_files(paths, settings, jobs=args.jobs, scanner=scanner))
    progress = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[refused]} refused"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("scan", total=len(paths), refused=0)
        refused = 0

        def advance(result: FileResult) -> None:
            nonlocal refused
            refused += result.status == "refused"
            progress.update(task, advance=1, refused=refused)

        return list(scan_files(paths, settings, jobs=args.jobs, scanner=scanner, advance=advance))


def _render(results: list[FileResult], policy: Any, args: argparse.Namespace) -> str:
    if args.format == "json":
        return json.dumps(to_json(results, policy, static=args.static), indent=2) + "\n"
    if args.format == "sarif":
        return json.dumps(to_sarif(results, policy, static=args.static), indent=2) + "\n"
    terminal = args.output is None and sys.stdout.isatty()
    console = Console(
        record=True,
        file=io.StringIO(),  # only the recording is kept
        force_terminal=terminal,
        width=None if terminal else 120,
    )
    print_text(console, results, policy, static=args.static, verbose=args.verbose)
    return console.export_text(styles=terminal)
