"""Which files a scan reads: the paths given, and folders walked with include/exclude globs."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence

__all__ = ["DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "find_files"]

#: file names a folder walk scans unless ``--include`` says otherwise: pickles, checkpoints,
#: numpy and joblib files, and the compressed and archived forms they come in
DEFAULT_INCLUDE = (
    "*.pkl", "*.pickle", "*.pck", "*.pcl", "*.p", "*.pt", "*.pth", "*.bin", "*.ckpt",
    "*.joblib", "*.jbl", "*.npy", "*.npz", "*.sav", "*.dat", "*.data", "*.gz", "*.bz2",
    "*.xz", "*.lzma", "*.z", "*.zip", "*.lz4",
)  # fmt: skip
#: folders a walk never enters (version control internals)
DEFAULT_EXCLUDE = (".git", ".hg", ".svn")


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    """A pattern matches the path relative to the folder walked, or its last part."""
    name = relative.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern)
        for pattern in patterns
    )


def find_files(
    paths: Sequence[str],
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = (),
) -> Iterator[str]:
    """Every file to scan, in a stable order: each path given (a file is scanned whatever its
    name, unless excluded), and each folder walked recursively in sorted order, keeping files
    that match ``include`` and no ``exclude``. Symbolic links to folders are not followed
    (they could loop); a path that does not exist is yielded so that the scan reports it."""
    excluded = (*DEFAULT_EXCLUDE, *exclude)
    for path in paths:
        if not os.path.isdir(path):
            if not _matches(path.replace(os.sep, "/"), exclude):
                yield path
            continue
        for root, dirs, files in os.walk(path):
            base = os.path.relpath(root, path).replace(os.sep, "/")
            prefix = "" if base == "." else base + "/"
            dirs[:] = sorted(d for d in dirs if not _matches(prefix + d, excluded))
            for name in sorted(files):
                relative = prefix + name
                if _matches(relative, include) and not _matches(relative, excluded):
                    yield os.path.join(root, name)
