"""Run a tutorial example inside a fresh scratch directory, and prove that nothing ran.

Every example writes files (``data.pkl``, a cache, a session store) with relative names, as
the tutorial does, so it runs in a temporary directory that is removed afterwards. Every
hostile payload in the examples only ever tries to create the file ``CANARY`` in the current
directory; the directory is checked for it before it is removed, so a payload that executed
makes the example fail (exit status 1) instead of vanishing with the directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CANARY", "scratch_directory"]

#: the file every hostile payload of the examples tries to create
CANARY = "CANARY"


@contextlib.contextmanager
def scratch_directory() -> Iterator[Path]:
    """Make a fresh temporary directory the current one; on exit, check it and remove it."""
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="safepickle-tutorial-") as workdir:
        os.chdir(workdir)
        try:
            yield Path(workdir)
        finally:
            # Checked even when the example raised: a payload that ran must never go unnoticed.
            ran = Path(workdir, CANARY).exists()
            os.chdir(home)  # a directory in use cannot be removed everywhere (Windows)
            if ran:
                raise SystemExit("CANARY appeared: a hostile payload executed")
    print("canary absent: nothing ran")
