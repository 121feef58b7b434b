"""Every test the docs name (``tests/test_x.py::test_name[param]``) exists.

The threat model links each promise to the tests that keep it; a renamed or deleted test must
fail here instead of leaving a promise backed by nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# a pytest node id: a file under tests/, then ::names, then an optional [parameter id]
NODE_ID = re.compile(r"\btests/[\w/]+\.py(?:::\w+)+(?:\[[^\]\s`]+\])?")


def linked_node_ids() -> list[tuple[str, str]]:
    """(page, node id) for every test a docs page names."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for node_id in NODE_ID.findall(page.read_text(encoding="utf-8")):
            found.append((page.name, node_id))
    return found


@cache
def collected(test_file: str) -> frozenset[str]:
    """Every node id pytest collects from ``test_file`` (a fresh process, as CI collects)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            test_file,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"collecting {test_file} failed:\n{result.stdout}{result.stderr}"
    )
    return frozenset(line.strip() for line in result.stdout.splitlines() if "::" in line)


def test_the_threat_model_names_tests() -> None:
    """The regex finds what the pages write; otherwise the test below would check nothing."""
    named = [node for page, node in linked_node_ids() if page == "threat-model.md"]
    assert len(named) > 40
    assert "tests/test_hostile.py::test_loads_refuses[memo-bomb-replace]" in named


@pytest.mark.parametrize(("page", "node_id"), linked_node_ids())
def test_every_linked_test_exists(page: str, node_id: str) -> None:
    test_file = node_id.partition("::")[0]
    assert (ROOT / test_file).is_file(), f"{page} names {test_file}, which does not exist"
    ids = collected(test_file)
    # a test named without its parameter stands for all of its parameters
    exists = node_id in ids or any(i.startswith(node_id + "[") for i in ids)
    assert exists, f"{page} names {node_id}, which pytest does not collect"
