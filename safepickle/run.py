"""``safepickle run script.py ARGS`` and ``safepickle run -m module ARGS``: run a program with
:func:`safepickle.patch` on, so every ``pickle.load``/``loads``/``Unpickler`` it makes (its
own, or pandas', joblib's, shelve's ...) goes through safepickle.

The program sees ``sys.argv`` and ``sys.path[0]`` as ``python script.py ARGS`` or
``python -m module ARGS`` would give them, and runs as ``__main__`` (via :mod:`runpy`). Its
exit status is the command's; a load the policy refuses raises
:class:`~safepickle.ForbiddenGlobal` in the program, like any other exception.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import runpy
import sys
import threading
from typing import Any

from ._policy_options import PolicySettings, add_policy_options
from .cli import UsageError
from .patching import Patch, PatchError, patch

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``run`` on the main parser's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a Python program with pickle's loaders routed through safepickle",
        description="Run SCRIPT (or -m MODULE) like python does, with safepickle.patch() on: "
        "every pickle load the program makes is verified and decided by the policy. Options "
        "for safepickle come before SCRIPT or -m; everything after belongs to the program.",
    )
    add_policy_options(parser)
    parser.add_argument(
        "-m",
        dest="module",
        nargs=argparse.REMAINDER,
        metavar="MODULE ARGS",
        help="run a library module as a script, as python -m does",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="SCRIPT ARGS")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the program under the patch; 0 when it returns (its SystemExit passes through)."""
    if args.module is not None:
        if not args.module:
            raise UsageError("-m needs a module name")
        module, *program_args = args.module
        argv = [module, *program_args]  # runpy puts the module's file in argv[0]
        path0 = os.getcwd()
    else:
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            raise UsageError("give a script to run, or -m MODULE")
        script, *program_args = command
        if not os.path.isfile(script):
            raise UsageError(f"cannot run {script!r}: no such file")
        argv = [script, *program_args]
        path0 = os.path.dirname(os.path.abspath(script))
    policy = PolicySettings.from_args(args).checked_policy()
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv[:] = argv
    sys.path[:1] = [path0]
    try:
        if args.module is not None:
            _check_module(argv[0])  # found from the program's sys.path, as python -m does
        threads_before = set(threading.enumerate())
        active = patch(policy)
        try:
            if args.module is not None:
                runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(argv[0], run_name="__main__")
        finally:
            _end(active, threads_before)
    finally:
        sys.argv[:], sys.path[:] = saved_argv, saved_path
    return 0


def _end(active: Patch, threads_before: set[threading.Thread]) -> None:
    """Undo the patch once the program is over: after the threads it started that the
    interpreter would wait for at exit. Daemon threads of the program that are still running
    keep loading until the interpreter stops them, so the patch then stays on."""
    started = set(threading.enumerate()) - threads_before
    for thread in started:
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    if any(thread.is_alive() for thread in started):
        return
    # PatchError: the program left a patch of its own on, inside ours; the process is ending
    with contextlib.suppress(PatchError):
        active.undo()


def _check_module(name: str) -> None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"cannot run module {name!r}: {exc}") from exc
    if spec is None:
        raise UsageError(f"cannot run module {name!r}: no module of that name")
