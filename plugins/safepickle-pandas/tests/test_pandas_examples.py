"""The example the docs page shows runs, in a temporary directory."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

_EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", _EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")


def test_there_is_an_example() -> None:
    assert _EXAMPLES
