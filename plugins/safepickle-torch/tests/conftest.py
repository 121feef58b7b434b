"""Shared fixtures: the canary (safepickle.testing), a policy with the torch plugin, and the
hypothesis profiles the core uses (``HYPOTHESIS_PROFILE=dev`` locally, ``ci`` in CI)."""

from __future__ import annotations

import os

import pytest
import safepickle
from hypothesis import HealthCheck, settings

pytest_plugins = ["safepickle.testing"]

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def torch_policy() -> safepickle.Policy:
    """The plugin loaded the way users load it: by its entry-point name."""
    return safepickle.Policy(plugins=["torch"])
