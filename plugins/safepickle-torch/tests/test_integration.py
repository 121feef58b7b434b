"""The loader with the rest of safepickle: policy files, deny-lists, audit events, threads."""

from __future__ import annotations

import io
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import safepickle
import torch
from checkpoints import assert_same, saved

import safepickle_torch


def test_policy_file_names_the_plugin(tmp_path: Path) -> None:
    config = tmp_path / "safepickle.toml"
    config.write_text('plugins = ["torch"]\n')
    policy = safepickle.Policy.from_config(config)
    data = [torch.Size([1, 2]), torch.bfloat16]
    assert safepickle.loads(pickle.dumps(data, 5), policy=policy) == data
    assert_same(
        safepickle_torch.load(saved({"w": torch.ones(3)}), policy=policy), {"w": torch.ones(3)}
    )


def test_deny_list_wins_over_the_plugin() -> None:
    policy = safepickle.Policy(deny=["torch._utils:_rebuild_parameter"])
    with pytest.raises(safepickle.ForbiddenGlobal, match="deny-list"):
        safepickle_torch.load(saved({"p": torch.nn.Parameter(torch.ones(2))}), policy=policy)
    assert_same(
        safepickle_torch.load(saved({"t": torch.ones(2)}), policy=policy), {"t": torch.ones(2)}
    )


def test_one_audit_event_per_load(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    policy = safepickle.Policy(audit=str(log))
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    safepickle_torch.load(path, policy=policy)
    (line,) = log.read_text().splitlines()
    event = json.loads(line)
    assert str(path) in json.dumps(event)  # the source names the file and its data.pkl
    assert "data.pkl" in json.dumps(event)


def test_concurrent_loads_keep_their_own_storages() -> None:
    """One derived policy serves every thread; each load resolves its own file's storages."""
    files = [saved({"w": torch.full((64,), float(i))}).getvalue() for i in range(8)]

    def load(i: int) -> float:
        return float(safepickle_torch.load(io.BytesIO(files[i]))["w"].sum())

    with ThreadPoolExecutor(4) as pool:
        sums = list(pool.map(load, [i % 8 for i in range(64)]))
    assert sums == [64.0 * (i % 8) for i in range(64)]


def test_derived_policy_is_reused() -> None:
    """Decisions are cached across loads: the same derived policy each time."""
    from safepickle_torch.checkpoint import _policy_for

    policy = safepickle.Policy()
    assert _policy_for(policy, ()) is _policy_for(policy, ())
    assert _policy_for(None, ()) is _policy_for(None, ())
