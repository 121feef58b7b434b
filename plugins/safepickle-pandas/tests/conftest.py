"""The canary fixture from safepickle.testing, and the pandas policy tests load under."""

from __future__ import annotations

import pytest
import safepickle
from safepickle.testing import canary

__all__ = ["canary"]  # a fixture: pytest finds it by being imported here


@pytest.fixture(scope="session")
def pandas_policy() -> safepickle.Policy:
    """A policy that names the plugin through its entry point, as users do."""
    return safepickle.Policy(plugins=["pandas"])
