"""Parametrised generic models: where pydantic registers them (it changed in 2.14), and the
plugin allowing exactly pydantic's own parametrisations of allowed origins, in any version."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import pydantic
import pydantic_elsewhere as e
import pydantic_samples as m
import pytest
import safepickle_pydantic
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from test_pydantic_globals import globals_named

import safepickle
from safepickle import ForbiddenGlobal, GlobalRef, Policy

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
PYDANTIC = tuple(int(part) for part in pydantic.VERSION.split(".")[:2])
# pydantic 2.14 registers a module-scope parametrisation in the module that made it (and sets
# its __module__ to match); earlier versions in the origin's module
WHERE_MADE = PYDANTIC >= (2, 14)


def name_of(cls: type) -> GlobalRef:
    return GlobalRef(cls.__module__, cls.__qualname__)


@pytest.fixture
def box_policy() -> Policy:
    return Policy(plugins=[safepickle_pydantic.plugin(models=[m.Box])])


#: every generic origin of the test modules allowed: what is refused below is refused by the
#: checks of the parametrisation itself
ORIGINS: list[type] = [m.Box, e.Other, e.Renamed]


@pytest.mark.parametrize(
    ("cls", "made_in", "origin_module", "qualname"),
    [
        (m.IntBox, "pydantic_samples", "pydantic_samples", "Box[int]"),
        (e.StrBox, "pydantic_elsewhere", "pydantic_samples", "Box[str]"),
        (m.IntRoot, "pydantic_samples", "pydantic.root_model", "RootModel[list[int]]"),
        (e.StrRoot, "pydantic_elsewhere", "pydantic.root_model", "RootModel[dict[str, int]]"),
    ],
)
def test_where_pydantic_registers_a_parametrisation(
    cls: type[BaseModel], made_in: str, origin_module: str, qualname: str
) -> None:
    """Pins both layouts, so a pydantic that moves them again fails here first."""
    module = made_in if WHERE_MADE else origin_module
    assert name_of(cls) == GlobalRef(module, qualname)
    assert vars(sys.modules[module])[qualname] is cls
    assert f"{module}.{qualname}" in globals_named(pickle.dumps(cls.model_validate(_sample(cls))))


def _sample(cls: type[BaseModel]) -> object:
    return {
        m.IntBox: {"item": 1},
        e.StrBox: {"item": "a"},
        m.IntRoot: [1, 2],
        e.StrRoot: {"a": 1},
    }[cls]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("cls", [m.IntBox, e.StrBox, m.IntRoot, e.StrRoot])
def test_parametrisations_load(box_policy: Policy, cls: type[BaseModel], protocol: int) -> None:
    original = cls.model_validate(_sample(cls))
    loaded = safepickle.loads(pickle.dumps(original, protocol=protocol), policy=box_policy)
    assert type(loaded) is cls
    assert loaded == original
    decision = box_policy.decide(name_of(cls))
    assert decision.rule == "pydantic-generic"
    assert decision.substitute is cls  # handed out as the very class that was checked


def test_a_parametrisation_is_as_trusted_as_its_origin(box_policy: Policy) -> None:
    data = pickle.dumps(e.IntOther(value=1))
    with pytest.raises(ForbiddenGlobal, match=r"Other\[int\]"):
        safepickle.loads(data, policy=box_policy)
    trusting = Policy(plugins=[safepickle_pydantic.plugin(models=[m.Box, e.Other])])
    assert safepickle.loads(data, policy=trusting) == e.IntOther(value=1)


def test_a_parametrisation_of_a_model_allowed_by_the_policy(box_policy: Policy) -> None:
    """The origin may be allowed by the policy's allow= rather than the plugin's models=."""
    policy = Policy(plugins=["pydantic"], allow=[e.Other])
    assert safepickle.loads(pickle.dumps(e.IntOther(value=2)), policy=policy).value == 2


# The spelling of RootModel[list[int]] that the installed pydantic does not write: absent.
_OTHER_LAYOUT = "pydantic.root_model" if WHERE_MADE else "pydantic_samples"


@pytest.mark.parametrize(
    ("module", "qualname"),
    [
        # bracketed keys that exist, but pydantic did not register them there under that name
        ("pydantic_elsewhere", "Box[float]"),  # a model subclassing Box[int]
        ("pydantic_elsewhere", "Box[complex]"),  # Box[bytes] under another name
        ("pydantic_elsewhere", "Box[list[str]]"),  # not a model
        ("pydantic_elsewhere", "Box[int]"),  # pydantic_samples' Box[int] copied here
        ("pydantic_elsewhere", "Other[str]"),  # Other[bytes] under another name
        ("pydantic_elsewhere", "Other[float]"),  # an extra base class
        ("pydantic_elsewhere", "Other[bool]"),  # generic metadata that is not pydantic's
        ("pydantic_elsewhere", "Alias[int]"),  # Renamed[int]: the base is no model's name
    ],
)
def test_bracketed_names_pydantic_did_not_register_are_refused(module: str, qualname: str) -> None:
    assert qualname in vars(sys.modules[module])  # the name resolves: only the checks refuse
    _assert_refused(
        Policy(plugins=[safepickle_pydantic.plugin(models=ORIGINS)]), GlobalRef(module, qualname)
    )


@pytest.mark.parametrize("cls", [m.IntBox, e.StrBox, e.IntOther, e.Other[bytes], m.IntRoot])
def test_what_pydantic_registered_is_allowed_by_the_same_policy(cls: type) -> None:
    """The control for the refusals above."""
    policy = Policy(plugins=[safepickle_pydantic.plugin(models=ORIGINS)])
    assert policy.decide(name_of(cls)).allowed


@pytest.mark.parametrize(
    ("module", "qualname"),
    [
        ("pydantic_samples", "Box[dict[str, float]]"),  # never parametrised
        ("pydantic.root_model", "RootModel[set[bytes]]"),
        (_OTHER_LAYOUT, "RootModel[list[int]]"),
        ("pydantic_samples", "Plain[int]"),
        ("pydantic.main", "BaseModel[int]"),
        ("pydantic_samples", "Box[__class__]"),
        ("pydantic_samples", "Box[int].model_construct"),
        ("pydantic_samples", "Box[int"),
    ],
)
def test_names_no_parametrisation_has_are_refused(module: str, qualname: str) -> None:
    policy = Policy(plugins=[safepickle_pydantic.plugin(models=["pydantic_samples:User"])])
    _assert_refused(policy, GlobalRef(module, qualname))


def _assert_refused(policy: Policy, ref: GlobalRef) -> None:
    plugin = safepickle_pydantic.plugin(models=ORIGINS)
    assert plugin.safepickle_decide(ref, policy) is None
    assert not policy.decide(ref).allowed


def test_a_module_named_by_a_stream_is_never_imported(
    canary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``RootModel[...]`` in a module nobody imported: pydantic made nothing there yet, and
    importing it would run code no policy allowed."""
    (canary.parent / "h10_models_never_imported.py").write_text(
        "from pydantic import RootModel\n"
        "open('CANARY', 'w').close()\n"
        "Numbers = RootModel[list[float]]\n"
    )
    monkeypatch.syspath_prepend(str(canary.parent))
    name = "h10_models_never_imported"
    monkeypatch.delitem(sys.modules, name, raising=False)
    payload = f"c{name}\nRootModel[list[float]]\n.".encode()
    with pytest.raises(ForbiddenGlobal, match=r"RootModel\[list\[float\]\]"):
        safepickle.loads(payload, policy=Policy(plugins=[safepickle_pydantic.plugin()]))
    assert name not in sys.modules
    assert not canary.exists()
    # the payload is live: plain pickle imports the module
    try:
        pickle.loads(payload)
    except AttributeError:  # pydantic < 2.14 registers it in pydantic.root_model instead
        pass
    finally:
        sys.modules.pop(name, None)
    assert canary.exists()
    canary.unlink()


def test_names_go_through_the_core_too(box_policy: Policy) -> None:
    """A real stream spelling a refused bracketed name fails as a whole."""
    payload = b"cpydantic_elsewhere\nBox[float]\n."
    with pytest.raises(ForbiddenGlobal, match=r"Box\[float\]"):
        safepickle.loads(payload, policy=box_policy)
    good = f"c{m.IntBox.__module__}\n{m.IntBox.__qualname__}\n.".encode()
    assert safepickle.loads(good, policy=box_policy) is m.IntBox


def test_a_parametrisation_in_a_floor_module_stays_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plugin hands out the checked class as a substitute, and a substitute can stand in
    for a floor name: none is offered there. (From pydantic 2.14 this module holds a real
    RootModel parametrisation; before, pydantic puts it in pydantic.root_model.)"""
    name = "webbrowser.h10_models"  # on the floor with its package
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    code = "from pydantic import RootModel\nNested = RootModel[list[frozenset[bytes]]]\n"
    exec(compile(code, name, "exec"), vars(module))  # module scope, as pydantic needs
    qualname = "RootModel[list[frozenset[bytes]]]"
    assert (qualname in vars(module)) is WHERE_MADE
    decision = Policy(plugins=[safepickle_pydantic.plugin()]).decide(GlobalRef(name, qualname))
    assert not decision.allowed
    assert decision.rule == "floor"


_ANY_ORIGIN_POLICY = Policy(plugins=[safepickle_pydantic.plugin(models=ORIGINS)])


@given(
    module=st.sampled_from(
        ["pydantic_samples", "pydantic_elsewhere", "pydantic.root_model", "json", "h10_absent"]
    ),
    qualname=st.from_regex(
        r"(Box|Other|RootModel|Alias)\[[a-z\[\], ]{0,24}\]_{0,2}", fullmatch=True
    )
    | st.sampled_from(["Box[int]", "Box[str]", "Other[int]", "RootModel[list[int]]"]),
)
def test_only_what_pydantic_registered_is_ever_allowed(module: str, qualname: str) -> None:
    decision = _ANY_ORIGIN_POLICY.decide(GlobalRef(module, qualname))
    if decision.allowed:
        cls = vars(sys.modules[module])[qualname]
        assert decision.substitute is cls
        assert cls.__module__ == module
        assert cls.__name__ == qualname.rstrip("_")
        assert cls.__pydantic_generic_metadata__["origin"] in (*ORIGINS, pydantic.RootModel)
    assert "h10_absent" not in sys.modules
