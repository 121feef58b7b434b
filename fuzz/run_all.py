"""Run every fuzz harness for a fixed number of inputs from a fixed seed (``tox -e fuzz``).

Writes fresh seeds (``make_corpus.write``) into ``--corpus``, then runs the harnesses as separate
processes, ``--jobs`` at a time, each with ``-atheris_runs=N -seed=S`` over its corpus folder and
``-artifact_prefix=<crashes>/<harness>-``. Prints the end of each harness's output and exits 1
if any harness failed (its failing input is then in ``--crashes``).

``--runs`` inputs per harness (the seeds included), 20,000 by default: about 100 CPU-seconds
for the four (the differential 30, the scanner's 35, the loads harnesses 15 each), so about a
minute on two idle cores after the seeds are written.

Usage: ``python fuzz/run_all.py [--runs N] [--seed S] [--jobs J] [--corpus DIR] [--crashes DIR]
[harness ...]``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import make_corpus

HERE = pathlib.Path(__file__).resolve().parent
_TAIL = 12  # lines of each harness's output shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("harnesses", nargs="*", help=f"default: all of {make_corpus.HARNESSES}")
    parser.add_argument("--runs", type=int, default=20_000, help="inputs per harness")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--corpus", type=pathlib.Path, help="default: a temporary folder")
    parser.add_argument("--crashes", type=pathlib.Path, default=HERE / "crashes")
    args = parser.parse_args(argv)
    names = tuple(args.harnesses) or make_corpus.HARNESSES
    unknown = set(names) - set(make_corpus.HARNESSES)
    if unknown:
        parser.error(f"unknown harness(es) {sorted(unknown)}; known: {make_corpus.HARNESSES}")
    args.crashes.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="safepickle-fuzz-") as scratch:
        corpus = args.corpus or pathlib.Path(scratch) / "corpus"
        for name, count in make_corpus.write(corpus, names).items():
            print(f"{name}: {count} seeds", flush=True)
        pending = list(names)
        running: dict[str, tuple[subprocess.Popen[bytes], Any, float]] = {}
        failed: list[str] = []
        while pending or running:
            while pending and len(running) < max(args.jobs, 1):
                name = pending.pop(0)
                runs = args.runs
                command = [
                    sys.executable,
                    str(HERE / f"{name}.py"),
                    f"-atheris_runs={runs}",
                    f"-seed={args.seed}",
                    f"-artifact_prefix={args.crashes}{os.sep}{name}-",
                    str(corpus / name),
                ]
                print(f"{name}: {runs} inputs, seed {args.seed}", flush=True)
                # output to a file, not a pipe: libFuzzer prints a lot, and a full pipe would
                # stall a harness while another one is being waited for
                log = open(pathlib.Path(scratch) / f"{name}.log", "w+b")  # noqa: SIM115
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
                running[name] = (process, log, time.monotonic())
            time.sleep(0.2)
            for name, (process, log, started) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[name]
                log.seek(0)
                lines = log.read().decode(errors="replace").splitlines()
                log.close()
                ok = process.returncode == 0
                status = "ok" if ok else f"FAILED (exit {process.returncode})"
                print(f"--- {name}: {status}, {time.monotonic() - started:.0f} s", flush=True)
                print("\n".join(lines[-_TAIL:] if ok else lines[-80:]), flush=True)
                if not ok:
                    failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}; the failing inputs are in {args.crashes}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
