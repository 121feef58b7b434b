"""The example the docs include (docs/pydantic.md) runs and prints what the page says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_cache_example() -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "cache.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert run.stdout.splitlines() == [
        "loaded: ['ada', 'alan']",
        "refused: result[0] ['greater_than_equal']",
        "from JSON: [User(name='grace', age=85, role=<Role.USER: 'user'>)]",
    ]
    assert run.stderr == ""
