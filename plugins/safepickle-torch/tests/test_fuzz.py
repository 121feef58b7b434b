"""Damaged checkpoints: whatever bytes change, the load returns or raises a safepickle error
(never another exception, a crash or a hang), and the canary stays absent."""

from __future__ import annotations

import contextlib
import io
import pickle
from pathlib import Path

import pytest
import safepickle
import torch
from checkpoints import saved
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safepickle_torch

_OBJECT = {
    "w": torch.arange(6.0).reshape(2, 3),
    "p": torch.nn.Parameter(torch.ones(2)),
    "view": torch.arange(6.0)[1:4],
    "meta": {"epoch": 3, "names": ["a", "b"]},
    "sparse": torch.tensor([[0.0, 1.0], [2.0, 0.0]]).to_sparse(),
}
_GOOD = saved(_OBJECT).getvalue()
_LEGACY = saved(_OBJECT, legacy=True).getvalue()
#: plain pickles: every storage is a legacy file inside torch.storage._load_from_bytes
_PLAIN = [pickle.dumps(_OBJECT, protocol) for protocol in (2, 5)]
_POLICY = safepickle.Policy(plugins=["torch"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.sampled_from([_GOOD, _LEGACY]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.none() | st.floats(0, 1),
)
def test_damaged_checkpoints_fail_cleanly(
    good: bytes, edits: list[tuple[float, int]], cut: float | None, canary: Path
) -> None:
    data = bytearray(good)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        del data[int(cut * len(data)) :]
    with contextlib.suppress(safepickle.SafePickleError):
        safepickle_torch.load(io.BytesIO(bytes(data)))


@pytest.mark.parametrize("good", [_GOOD, _LEGACY], ids=["zip", "legacy"])
def test_truncated_checkpoints_fail_cleanly(good: bytes) -> None:
    for cut in range(0, len(good), 7):
        with pytest.raises(safepickle.SafePickleError):
            safepickle_torch.load(io.BytesIO(good[:cut]))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.sampled_from(_PLAIN),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    cut=st.none() | st.floats(0, 1),
)
def test_damaged_plain_pickles_fail_cleanly(
    good: bytes, edits: list[tuple[float, int]], cut: float | None, canary: Path
) -> None:
    """Most of a plain pickle of tensors is the legacy files the plugin's replacement for
    torch.storage._load_from_bytes reads: damage there must fail as cleanly as anywhere."""
    data = bytearray(good)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        del data[int(cut * len(data)) :]
    with contextlib.suppress(safepickle.SafePickleError):
        safepickle.loads(bytes(data), policy=_POLICY)
