"""Test helpers for plugin authors: ``pytest_plugins = ["safepickle.testing"]`` in a conftest.

The ``canary`` fixture runs a test inside a fresh temporary directory and fails it if a file
named ``CANARY`` appears there. Hostile payloads in tests only ever try to create that file
(``hostile_payload()`` builds one), so a payload that executes shows up as a failing test,
never as damage outside the temporary directory.

This module imports pytest; nothing in safepickle imports it, so pytest stays a test-only
dependency.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["CANARY", "canary", "hostile_payload"]

#: the file name every hostile payload tries to create; tests run with the temp dir as cwd
CANARY = "CANARY"


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test inside a fresh temp dir; yield the canary path that must stay absent."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / CANARY
    yield path
    assert not path.exists(), "a hostile payload left its canary: something executed"


class _TouchCanary:
    """Pickles as ``os.system("touch CANARY")`` (or another call): the classic RCE shape."""

    def __init__(self, func: object, args: tuple[object, ...]) -> None:
        self._func = func
        self._args = args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self._func, self._args


def hostile_payload(
    func: object = os.system, args: tuple[object, ...] | None = None, protocol: int = 2
) -> bytes:
    """A pickle that calls ``func(*args)`` when loaded; by default ``os.system("touch CANARY")``.

    Use it with the ``canary`` fixture: loaded by plain pickle it creates the canary in the
    test's temporary directory; a correct policy refuses it and the canary stays absent.
    """
    call_args = args if args is not None else (f"touch {CANARY}",)
    return pickle.dumps(_TouchCanary(func, call_args), protocol=protocol)
