"""Shared fixtures: a canary in a temp dir, and hypothesis profiles."""

from __future__ import annotations

import os

import dill  # type: ignore[import-untyped]  # dill ships no type information
from hypothesis import HealthCheck, settings

# Importing dill registers its reducers in the standard library's pure-Python pickler
# (``pickle._Pickler.dispatch``) for the rest of the process, so what ``pickle._dumps`` writes
# would depend on whether an earlier test imported dill. Undo it once, here, before any test
# runs: dill's own ``dill.dumps`` keeps its reducers.
dill.extend(use_dill=False)

pytest_plugins = ["safepickle.testing"]  # the canary fixture, shared with plugin authors

# ci: what tox runs, on four CPythons and the pure-Python verifier, so each property sees
# 500 fresh examples per CI run; thorough: for a long local run before a release
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
