"""Every ``>>>`` example in these pages runs as a doctest (``pytest --doctest-glob="*.md" docs``).

Each page's examples run in a fresh temporary directory as the current directory, and fail if a
file named ``CANARY`` appears there: the hostile pickles in the pages only ever try to create it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safepickle.testing import canary  # the fixture, registered here by importing it

__all__ = ["canary"]


@pytest.fixture(autouse=True)
def _examples_run_beside_a_canary(canary: Path) -> None:
    """Every doctest runs in the canary's temporary directory."""
