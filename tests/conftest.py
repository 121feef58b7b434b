"""Shared fixtures: a canary in a temp dir, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: the file name every hostile payload tries to create; tests run with the temp dir as cwd
CANARY = "CANARY"


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run the test inside a fresh temp dir; yield the canary path that must stay absent."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / CANARY
    yield path
    assert not path.exists(), "a hostile payload left its canary: something executed"
