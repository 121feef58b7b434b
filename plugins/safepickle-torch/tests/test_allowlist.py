"""The allow-list itself: exact names that exist, each with a reason, none on the floor."""

from __future__ import annotations

import importlib
import importlib.metadata

import safepickle
import torch
from safepickle import GlobalRef
from safepickle.floor import floor_reason

import safepickle_torch
from safepickle_torch import plugin
from safepickle_torch.rebuild import StorageTag


def _resolve(dotted: str) -> object:
    """The real object behind a dotted name: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise AssertionError(dotted)


def test_every_entry_exists_and_has_a_reason() -> None:
    for dotted, (substitute, reason) in safepickle_torch.ALLOWED.items():
        assert "*" not in dotted
        assert len(reason) > 20, dotted
        real = _resolve(dotted)
        if substitute is None:
            assert isinstance(real, (type, torch.dtype, torch.qscheme)), dotted
        elif isinstance(substitute, StorageTag):
            assert isinstance(real, type) and "Storage" in dotted
        else:
            assert callable(real) and real.__name__ in dotted  # type: ignore[attr-defined]


def test_nothing_allowed_is_on_the_floor_or_left_out() -> None:
    for dotted in safepickle_torch.ALLOWED:
        module, _, name = dotted.rpartition(".")
        assert floor_reason(GlobalRef(module, name)) is None, dotted
    assert not set(safepickle_torch.ALLOWED) & set(safepickle_torch.LEFT_OUT)
    replaced = set(safepickle_torch.REPLACED)
    assert not replaced & (set(safepickle_torch.ALLOWED) | set(safepickle_torch.LEFT_OUT))


def test_every_name_torch_admits_was_decided() -> None:
    """Each global torch's own weights-only unpickler admits is allowed here, listed as left
    out with a reason, replaced (a floor name), or a plain value the default policy allows. A
    newer torch that admits more fails this test until someone decides the new names."""
    default = safepickle.Policy()
    admitted = set(torch._weights_only_unpickler._get_allowed_globals())
    undecided = {
        name
        for name in admitted
        - set(safepickle_torch.ALLOWED)
        - set(safepickle_torch.LEFT_OUT)
        - set(safepickle_torch.REPLACED)
        if not default.decide(GlobalRef(*name.rsplit(".", 1))).allowed
    }
    assert not undecided


def test_decisions_name_the_plugin_and_reason() -> None:
    policy = safepickle.Policy(plugins=["torch"])
    allowed = policy.decide(GlobalRef("torch._utils", "_rebuild_tensor_v2"))
    assert allowed.allowed and allowed.rule == "torch" and allowed.plugin == "torch"
    refused = policy.decide(GlobalRef("torch._utils", "_rebuild_from_type_v2"))
    assert not refused.allowed and refused.rule == "default-deny"


def test_the_entry_point_is_the_plugin_module() -> None:
    (entry,) = [
        ep for ep in importlib.metadata.entry_points(group="safepickle") if ep.name == "torch"
    ]
    assert entry.load() is plugin


def test_installing_widens_nothing() -> None:
    """The default policy does not load the plugin: it must be named."""
    assert not safepickle.Policy().decide(GlobalRef("torch", "float32")).allowed
    assert safepickle.Policy(plugins=["torch"]).decide(GlobalRef("torch", "float32")).allowed
