"""Running a scan over many files: in this process, or in ``--jobs N`` worker processes,
results always in the order the files were found."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from .._policy_options import PolicySettings
from .engine import Scanner
from .model import FileResult

__all__ = ["PolicySettings", "scan_files"]


_WORKER: Scanner | None = None


def _init_worker(settings: PolicySettings) -> None:
    global _WORKER
    _WORKER = Scanner(settings.policy(), static=settings.static)


def _scan_in_worker(path: str) -> FileResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.scan_file(path)


def scan_files(
    paths: Sequence[str],
    settings: PolicySettings,
    *,
    jobs: int = 1,
    scanner: Scanner | None = None,
    advance: Callable[[FileResult], None] | None = None,
) -> Iterator[FileResult]:
    """Scan ``paths`` in order; ``advance`` is called after each file (for a progress bar)."""
    if jobs <= 1 or len(paths) <= 1:
        own = scanner or Scanner(settings.policy(), static=settings.static)
        for path in paths:
            result = own.scan_file(path)
            if advance is not None:
                advance(result)
            yield result
        return
    workers = min(jobs, len(paths), os.cpu_count() or 1) or 1
    chunk = max(1, min(64, len(paths) // (workers * 8)))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(settings,)) as pool:
        for result in pool.map(_scan_in_worker, paths, chunksize=chunk):
            if advance is not None:
                advance(result)
            yield result
