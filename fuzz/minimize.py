"""Shrink an input a harness fails on, keeping the same failure.

libFuzzer's ``-minimize_crash=1`` re-executes its own command line, which does not work through
atheris (the second step reads its artifact path as a corpus folder and stops), so this does it
in-process: bytes are removed, chunks halving in size, as long as the harness still fails with
the same exception type and, for a finding, the same check (the ``[word]`` its message starts
with). Then each remaining byte is tried at 0 and at ``.`` (STOP), which makes what is left
easier to read.

Usage: ``python fuzz/minimize.py HARNESS FILE [--out FILE]`` (default ``FILE.min``); prints the
result as hex.
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import re
from collections.abc import Callable

import fuzz_common

_CHECK = re.compile(r"\[([\w-]+)\]")


def _signature(exc: BaseException) -> tuple[str, str]:
    found = _CHECK.match(str(exc))
    return type(exc).__name__, found.group(1) if found else ""


def minimize(test_one_input: Callable[[bytes], None], data: bytes) -> bytes:
    """The smallest input found that fails ``test_one_input`` as ``data`` does."""

    def failure(candidate: bytes) -> tuple[str, str] | None:
        try:
            test_one_input(candidate)
        except Exception as exc:
            return _signature(exc)
        return None

    wanted = failure(data)
    if wanted is None:
        raise SystemExit("the harness does not fail on this input")
    chunk = max(len(data) // 2, 1)
    while True:
        changed = False
        at = 0
        while at < len(data):
            candidate = data[:at] + data[at + chunk :]
            if failure(candidate) == wanted:
                data = candidate
                changed = True
            else:
                at += chunk
        if chunk == 1 and not changed:
            break
        if not changed:
            chunk = max(chunk // 2, 1)
    for at in range(len(data)):
        for byte in (0x00, 0x2E):
            if data[at] != byte:
                candidate = data[:at] + bytes((byte,)) + data[at + 1 :]
                if failure(candidate) == wanted:
                    data = candidate
                    break
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("harness", help="verifier_differential, loads_safety, ...")
    parser.add_argument("file", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args(argv)
    fuzz_common.INSTRUMENT = False  # no engine: nothing to instrument for
    module = importlib.import_module(args.harness)
    data = args.file.read_bytes()
    smaller = minimize(module.TestOneInput, data)
    out = args.out or args.file.with_name(args.file.name + ".min")
    out.write_bytes(smaller)
    print(f"{len(data)} -> {len(smaller)} bytes, written to {out}")
    print(smaller.hex())


if __name__ == "__main__":
    main()
