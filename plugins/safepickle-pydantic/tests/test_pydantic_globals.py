"""Which globals pydantic objects pickle to, at protocols 0-5, and what the plugin allows."""

from __future__ import annotations

import _compat_pickle
import os
import pickle
import pickletools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic_samples as m
import pytest
import safepickle_pydantic
from safepickle_pydantic import PICKLE_GLOBALS

import safepickle
from safepickle import ForbiddenGlobal, GlobalRef, Policy
from safepickle.testing import hostile_payload

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)

SAMPLES: dict[str, tuple[Callable[[], Any], set[str]]] = {
    "model with nested models and an enum": (
        lambda: m.User(name="a", age=30, role=m.Role.ADMIN, friends=[m.User(name="b", age=4)]),
        {"pydantic_samples.User", "pydantic_samples.Role"},
    ),
    "root model": (lambda: m.Scores([1, 2]), {"pydantic_samples.Scores"}),
    "pydantic dataclass": (lambda: m.Point(1, 2), {"pydantic_samples.Point"}),
    "enum": (lambda: m.Role.ADMIN, {"pydantic_samples.Role"}),
    "extra='allow' and frozen": (
        lambda: [m.Open(a=1, b=2), m.Strict(count=1)],
        {"pydantic_samples.Open", "pydantic_samples.Strict"},
    ),
    "private attribute and alias": (
        lambda: [m.Secretive(visible=1), m.Aliased(userName="x")],
        {"pydantic_samples.Secretive", "pydantic_samples.Aliased"},
    ),
    "models inside models, dict and dataclass": (
        lambda: m.Team(
            lead=m.User(name="a", age=40),
            members={"b": m.User(name="b", age=5)},
            location=m.Point(0, 1),
            scores=m.Scores([3]),
        ),
        {
            "pydantic_samples.Team",
            "pydantic_samples.User",
            "pydantic_samples.Role",
            "pydantic_samples.Point",
            "pydantic_samples.Scores",
        },
    ),
    "generic model": (lambda: m.Box[int](item=1), {"pydantic_samples.Box[int]"}),
    # named where the installed pydantic registered it (test_pydantic_generics.py pins where)
    "pydantic's generic RootModel": (
        lambda: m.IntRoot([1]),
        {f"{m.IntRoot.__module__}.{m.IntRoot.__qualname__}"},
    ),
}

_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


def globals_named(data: bytes) -> set[str]:
    """Every global a stream names, canonical (protocol 0-2 aliases mapped), by walking its
    opcodes with pickletools; STACK_GLOBAL operands are followed through the memo."""
    names: set[str] = set()
    memo: dict[int, Any] = {}
    pushed: list[Any] = []
    protocol = 0
    for opcode, arg, _ in pickletools.genops(data):
        name = opcode.name
        if name == "PROTO":
            protocol = arg
        if name in _STRINGS:
            pushed.append(arg)
        elif name in _GETS:
            pushed.append(memo[arg])
        elif name in _PUTS:
            memo[arg] = pushed[-1] if pushed else None
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("GLOBAL", "INST"):
            module, _, qualname = arg.partition(" ")
            names.add(_canonical(module, qualname, protocol))
        elif name == "STACK_GLOBAL":
            names.add(_canonical(pushed[-2], pushed[-1], protocol))
        else:
            pushed.append(None)
    return names


def _canonical(module: str, name: str, protocol: int) -> str:
    if protocol < 3:
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        )
    return f"{module}.{name}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("sample", SAMPLES)
def test_a_pickle_names_its_classes_and_only_the_pickle_globals(
    sample: str, protocol: int
) -> None:
    make, classes = SAMPLES[sample]
    named = globals_named(pickle.dumps(make(), protocol=protocol))
    assert classes <= named
    assert named - classes <= set(PICKLE_GLOBALS)


def test_every_pickle_global_is_needed() -> None:
    """The plugin's own table is exactly what the samples name beside their classes."""
    needed: set[str] = set()
    for make, classes in SAMPLES.values():
        for protocol in PROTOCOLS:
            needed |= globals_named(pickle.dumps(make(), protocol=protocol)) - classes
    assert needed == set(PICKLE_GLOBALS)


NON_GENERIC = [name for name in SAMPLES if "generic" not in name.lower()]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("sample", NON_GENERIC)
def test_loads_with_only_the_plugin(sample: str, protocol: int) -> None:
    """No standard-library plugin: the plugin alone allows what pydantic objects need."""
    policy = Policy(
        defaults=False, plugins=[safepickle_pydantic.plugin(models=["pydantic_samples:*"])]
    )
    original = SAMPLES[sample][0]()
    assert safepickle.loads(pickle.dumps(original, protocol=protocol), policy=policy) == original


@pytest.mark.parametrize("sample", ["generic model", "pydantic's generic RootModel"])
def test_generic_models_load(sample: str) -> None:
    policy = Policy(plugins=[safepickle_pydantic.plugin(models=[m.Box])])
    original = SAMPLES[sample][0]()
    assert safepickle.loads(pickle.dumps(original), policy=policy) == original


@pytest.fixture
def wildcard_policy() -> Policy:
    return Policy(plugins=[safepickle_pydantic.plugin(models=["pydantic_samples:*"])])


def test_a_module_wildcard_admits_its_models_and_enums_only(wildcard_policy: Policy) -> None:
    expected = {
        "User", "Node", "Measure", "Strict", "Open", "Secretive", "Aliased", "Scores", "Box",
        "Point", "Team", "Role",
    }  # fmt: skip
    admitted = safepickle_pydantic.plugin(models=["pydantic_samples:*"]).models
    assert admitted == {f"pydantic_samples.{name}" for name in expected}
    # parametrisations (Box[int]; RootModel[list[int]] where pydantic >= 2.14 registers it)
    # are not among them: they are decided through their origin
    for generic in (m.IntBox, m.IntRoot):
        decision = wildcard_policy.decide(GlobalRef(generic.__module__, generic.__qualname__))
        assert decision.allowed, decision
        assert decision.rule == "pydantic-generic"
    for name in ("wipe", "Plain", "touch_canary", "BaseModel", "Field", "T", "dataclass"):
        assert not wildcard_policy.decide(GlobalRef("pydantic_samples", name)).allowed


@pytest.mark.parametrize(
    "dotted",
    [
        "pydantic.main.BaseModel",
        "pydantic.BaseModel",
        "pydantic.root_model.RootModel",
        "pydantic._internal._model_construction.ModelMetaclass",
        "pydantic._internal._validators.import_string",
        "pydantic._internal._generics.create_generic_submodel",
        "pydantic_core._pydantic_core.SchemaValidator",
        "pydantic_core._pydantic_core.SchemaSerializer",
        "pydantic.type_adapter.TypeAdapter",
        "pydantic.fields.FieldInfo",
        "pydantic.main.create_model",
        "pydantic.v1.utils.import_string",
        "pydantic_samples.User.model_construct",
        "pydantic_samples.User.model_validate_json",
        "pydantic_samples.User.__setstate__",
        "copyreg._reconstructor.__globals__",
        "pydantic_samples.__class__[int]",
    ],
)
def test_pydantic_internals_stay_refused(wildcard_policy: Policy, dotted: str) -> None:
    module, _, qualname = dotted.rpartition(".")
    if "[" in dotted:
        module, _, qualname = dotted.partition(".")
    decision = wildcard_policy.decide(GlobalRef(module, qualname))
    assert not decision.allowed, decision


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("func", "args"),
    [
        (os.system, ("touch CANARY",)),
        (m.wipe, ()),  # a function in the models module
        (m.touch_canary, ()),
    ],
)
def test_hostile_payloads_are_refused(
    canary: Path, wildcard_policy: Policy, func: Any, args: tuple[Any, ...], protocol: int
) -> None:
    payload = hostile_payload(func, args, protocol=protocol)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(payload, policy=wildcard_policy)
    assert not canary.exists()


def test_hostile_payload_is_live(canary: Path) -> None:
    """The payload shape really runs under plain pickle (so the refusals above mean something)."""
    pickle.loads(hostile_payload(m.wipe, ()))
    assert canary.exists()
    canary.unlink()
