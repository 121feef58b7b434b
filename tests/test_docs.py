"""The docs cannot drift from the code: every example in them runs.

``>>>`` sessions in the pages run as doctests (``pytest --doctest-glob="*.md" docs``, in
``tox -e docs``); longer code is included from files that tests run. This module checks what
those two mechanisms cannot: that no page holds a Python example outside them, that every
policy file a page shows is one safepickle reads, and that everything the API reference promises
to list has the docstring autodoc needs to list it.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

import safepickle
from safepickle.config import load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the backport on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
# a fenced block: its fence, its language (or {directive}), its body
FENCE = re.compile(
    r"^(?P<fence>```+|~~~+)(?P<lang>[^\n]*)\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S
)


def blocks(language: str) -> list[tuple[str, int, str]]:
    """(page, line, body) of every fenced block in ``language``."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match["lang"].strip() == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append((page.name, line, match["body"]))
    return found


def test_the_pages_are_found() -> None:
    names = {page.name for page in PAGES}
    assert {"index.md", "quickstart.md", "policies.md", "threat-model.md"} <= names
    assert blocks("pycon"), "no doctest sessions found: the fence pattern is wrong"


@pytest.mark.parametrize("language", ["python", "py", "python3"])
def test_python_examples_are_doctests(language: str) -> None:
    """A ``python`` block runs only if it is a ``>>>`` session; longer code belongs in a file
    that a test runs, shown with ``literalinclude``."""
    untested = [f"{page}:{line}" for page, line, body in blocks(language) if ">>>" not in body]
    assert not untested, (
        f"{language} blocks that no test runs (make them >>> sessions, or literalinclude a "
        f"tested file): {', '.join(untested)}"
    )


TOML = [(page, line, body) for page, line, body in blocks("toml") if "safepickle" in body]


@pytest.mark.parametrize(("page", "line", "body"), TOML, ids=[f"{p}:{n}" for p, n, _ in TOML])
def test_policy_files_shown_are_read_by_safepickle(
    page: str, line: int, body: str, tmp_path: Path
) -> None:
    data = tomllib.loads(body)  # a TOML block that does not parse fails here
    path = tmp_path / ("pyproject.toml" if "tool" in data else "safepickle.toml")
    if "safepickle" not in data.get("tool", {}) and path.name == "pyproject.toml":
        return  # another tool's table only (a plugin's settings): its own tests read it
    path.write_text(body, encoding="utf-8")
    policy = load_config(path)
    assert isinstance(policy, safepickle.Policy)


def test_there_are_policy_files_to_check() -> None:
    assert any(page == "policies.md" for page, _, _ in TOML)


@pytest.mark.parametrize("name", sorted(set(safepickle.__all__) - {"__version__"}))
def test_every_public_name_has_a_docstring(name: str) -> None:
    """autodoc's ``:members:`` silently leaves out a member without a docstring: the API
    reference would then miss it."""
    obj = getattr(safepickle, name)
    doc = obj.__doc__ if inspect.isclass(obj) or inspect.isroutine(obj) else "data"
    if name == "hookimpl":
        doc = "documented in docs/hooks.md"
    assert doc and doc.strip(), f"safepickle.{name} has no docstring"
