"""The canary fixture from safepickle.testing, and the numpy policy every test loads under."""

from __future__ import annotations

import os

import pytest
import safepickle
from hypothesis import HealthCheck, settings
from safepickle.testing import canary

__all__ = ["canary"]  # a fixture: pytest finds it by being imported here

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def numpy_policy() -> safepickle.Policy:
    """A policy that names the plugin through its entry point, as users do."""
    return safepickle.Policy(plugins=["numpy"])
