"""Shared fixtures: the canary, and policies with the pydantic plugin."""

from __future__ import annotations

import os

from hypothesis import settings

pytest_plugins = ["safepickle.testing"]

settings.register_profile("ci", max_examples=100, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
