"""Policies: allow-list forms, wildcards, the floor, deny wins, caching, limits."""

from __future__ import annotations

import pickle

import policy_samples
import pytest
from policy_samples import Outer, Point, _Private, make_point

import safepickle
from safepickle import Decision, ForbiddenGlobal, GlobalRef, Limits, Policy, PolicyError


def test_default_policy_refuses_user_class_and_says_how_to_allow_it() -> None:
    data = pickle.dumps(Point(1, 2))
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(data)
    err = info.value
    assert (err.module, err.name) == ("policy_samples", "Point")
    assert err.decision.rule == "default-deny"
    assert "allow=['policy_samples:Point']" in str(err)
    assert isinstance(err, pickle.UnpicklingError)


@pytest.mark.parametrize(
    "entry", [Point, "policy_samples.Point", "policy_samples:Point", "policy_samples:*"]
)
@pytest.mark.parametrize("protocol", range(6))
def test_allow_entry_forms(entry: object, protocol: int) -> None:
    data = pickle.dumps(Point(1, 2), protocol)
    assert safepickle.loads(data, allow=[entry]) == Point(1, 2)
    assert safepickle.loads(data, policy=Policy(allow=[entry])) == Point(1, 2)
    assert safepickle.loads(data, policy=safepickle.allowed(entry)) == Point(1, 2)


def test_allow_a_factory_function() -> None:
    class Reduced:
        def __reduce__(self) -> object:
            return (make_point, (3, 4))

    data = pickle.dumps(Reduced())
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(data, allow=[Point])
    assert safepickle.loads(data, allow=[make_point]) == Point(3, 4)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_nested_class_is_decided_by_its_dotted_name(protocol: int) -> None:
    data = pickle.dumps(Outer.Inner(7), protocol)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(data, allow=[Outer])  # allowing the outer class is not enough
    assert safepickle.loads(data, allow=[Outer.Inner]) == Outer.Inner(7)
    assert safepickle.loads(data, allow=["policy_samples:Outer.Inner"]) == Outer.Inner(7)


def test_wildcard_skips_private_names_and_reexports() -> None:
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(pickle.dumps(_Private()), allow=["policy_samples:*"])
    assert info.value.decision.rule == "default-deny"
    # `from subprocess import call` in policy_samples: the wildcard must not admit it, and the
    # resolved object is on the floor by its own name anyway.
    payload = (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x0epolicy_samples\x8c\x04call\x93."
    )
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(payload, allow=["policy_samples:*"])
    assert info.value.decision.rule == "floor"
    assert "subprocess.call" in str(info.value)


def test_exact_allow_of_a_reexported_floor_item_is_refused_after_import() -> None:
    payload = b"\x80\x04\x8c\x0epolicy_samples\x8c\x04call\x93."
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(payload, allow=["policy_samples.call"])
    assert "it is really 'subprocess.call'" in str(info.value)
    assert "allow=" not in str(info.value)


@pytest.mark.parametrize(
    "entry", ["os.system", "builtins:eval", "subprocess:*", "os.path.join", "pickle.loads", eval]
)
def test_floor_items_cannot_be_allowed(entry: object) -> None:
    with pytest.raises(PolicyError, match=r"can never be allowed|floor"):
        Policy(allow=[entry])


@pytest.mark.parametrize("entry", ["", "a..b", "1abc", "pkg.mod:Na me", 42, None])
def test_malformed_entries_are_policy_errors(entry: object) -> None:
    with pytest.raises(PolicyError):
        Policy(allow=[entry])


def test_local_class_cannot_be_allowed() -> None:
    class Local:
        pass

    with pytest.raises(PolicyError, match="inside a function"):
        Policy(allow=[Local])


def test_deny_wins_over_allow() -> None:
    data = pickle.dumps(Point(1, 2))
    policy = Policy(allow=[Point], deny=["policy_samples:*"])
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(data, policy=policy)
    assert info.value.decision.rule == "deny-list"
    assert "allow=" not in str(info.value)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(pickle.dumps({1, 2}, 2), policy=Policy().denying("builtins.set"))


def test_defaults_off_starts_from_nothing() -> None:
    data = pickle.dumps({1, 2}, 2)  # protocol 2 pickles a set as builtins.set
    assert safepickle.loads(data) == {1, 2}
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(data, policy=Policy(defaults=False))
    # plain data needs no global at all
    assert safepickle.loads(pickle.dumps([1, "a"], 2), policy=Policy(defaults=False)) == [1, "a"]


def test_policies_do_not_leak_between_callers() -> None:
    data = pickle.dumps(Point(1, 2))
    assert safepickle.loads(data, allow=[Point]) == Point(1, 2)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(data)
    permissive = Policy(allow=[Point])
    strict = Policy()
    assert safepickle.loads(data, policy=permissive) == Point(1, 2)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(data, policy=strict)


def test_decisions_are_cached_per_policy() -> None:
    calls: list[str] = []

    class Counting:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
            calls.append(ref.dotted)
            return None

    policy = Policy(allow=[Point], plugins=[Counting()])
    data = pickle.dumps([Point(i, i) for i in range(100)])
    for _ in range(5):
        safepickle.loads(data, policy=policy)
    assert calls == ["policy_samples.Point"]


def test_thousands_of_distinct_globals_are_decided_once_each() -> None:
    names = [f"policy_samples.Name{i}" for i in range(3000)]
    calls: list[str] = []

    class Deny:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
            calls.append(ref.dotted)
            return Decision.deny("test")

    payload = (
        b"\x80\x02("
        + b"".join(
            b"c" + b"policy_samples\n" + name.split(".")[1].encode() + b"\n" for name in names
        )
        + b"l."
    )
    policy = Policy(plugins=[Deny()])
    for _ in range(2):
        with pytest.raises(ForbiddenGlobal) as info:
            safepickle.loads(payload, policy=policy)
    assert len(calls) == 3000
    assert len(info.value.refused) == 3000
    assert "and 2994 more" in str(info.value)


def test_derived_policies_keep_settings() -> None:
    base = Policy(allow=[Point], limits=Limits(max_opcodes=1000))
    derived = base.allowing(make_point).with_limits(max_stack_depth=50)
    assert derived.limits.max_opcodes == 1000
    assert derived.limits.max_stack_depth == 50
    assert base.limits.max_stack_depth == Limits().max_stack_depth
    assert safepickle.loads(pickle.dumps(Point(1, 1)), policy=derived) == Point(1, 1)
    with pytest.raises(PolicyError):
        base.with_limits(max_bananas=3)
    with pytest.raises(PolicyError):
        Limits(max_opcodes=0)


def test_decide_reports_rule_and_plugin() -> None:
    policy = Policy(allow=[Point])
    allowed = policy.decide(GlobalRef("policy_samples", "Point"))
    assert allowed.allowed and allowed.rule == "allow-list" and allowed.plugin == "allowlist"
    floor = policy.decide(GlobalRef("os", "system"))
    assert not floor.allowed and floor.rule == "floor" and floor.plugin == "core"
    stdlib = policy.decide(GlobalRef("datetime", "datetime"))
    assert stdlib.allowed and stdlib.plugin == "safepickle.builtin.stdlib"
    dunder = policy.decide(GlobalRef("policy_samples", "Point.__init__"))
    assert dunder.rule == "bad-name"


@pytest.mark.parametrize(
    ("qualname", "shape_ok"),
    [
        ("Box[int]", True),  # pydantic's parametrised generic, as pickle names it
        ("Box[int]_", True),  # the same display name taken twice
        ("Box[dict[str, list[int]]]", True),
        ("Box[Literal['a', \"b\"]]", True),
        ("Box[int | None]", True),
        ("Outer.Box[int]", True),
        ("Box[int].attr", False),  # brackets only in the last part
        ("Box[__class__]", False),  # no dunders inside either
        ("Box[os.system]", False),  # no dots inside: the name would be split
        ("Box[int](1)", False),
        ("[int]", False),
        ("__pyx_unpickle_NDArrayBacked", True),  # Cython's rebuild functions
        ("__pyx_unpickle_Foo.__globals__", False),
        ("Outer.__pyx_unpickle_Foo", False),
        ("__pyx_unpickle___", False),
        ("__generator_ctor", True),  # numpy.random._pickle's
        ("__class__", False),
        ("__builtins__", False),
        ("___x", False),
        ("__x.y", False),
    ],
)
def test_generic_and_cython_names_are_decided_by_plugins(qualname: str, shape_ok: bool) -> None:
    decision = Policy().decide(GlobalRef("policy_samples", qualname))
    assert not decision.allowed  # nothing allows them by default
    assert (decision.rule != "bad-name") is shape_ok


def test_stdlib_allow_list_entries_all_resolve() -> None:
    """Every default entry names something that exists (or is a 3.13+ alias)."""
    import importlib

    from safepickle.builtin.stdlib import SAFE_GLOBALS

    missing = []
    for dotted in SAFE_GLOBALS:
        module, _, name = dotted.rpartition(".")
        if module == "zoneinfo.ZoneInfo":
            module, name = "zoneinfo", "ZoneInfo._unpickle"
        try:
            obj = importlib.import_module(module)
            for part in name.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert set(missing) <= {
        "pathlib._local.PurePath",
        "pathlib._local.PurePosixPath",
        "pathlib._local.PureWindowsPath",
    }


def test_policy_repr_names_its_parts() -> None:
    text = repr(Policy(allow=[Point], deny=["x.y"]))
    assert "policy_samples:Point" in text and "x.y" in text
    assert policy_samples.__name__ == "policy_samples"


@pytest.mark.parametrize("protocol", range(6))
def test_doubly_nested_class(protocol: int) -> None:
    from policy_samples import Deep

    data = pickle.dumps(Deep.Mid.Leaf(), protocol)
    assert safepickle.loads(data, allow=[Deep.Mid.Leaf]) == Deep.Mid.Leaf()
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(data, allow=[Deep.Mid])


def test_ranges_are_bounded_by_max_container_items() -> None:
    """A range costs a few bytes whatever its length; anything allowed that iterates one
    (math.fsum here, numpy.mean in a plugin) would materialise it."""
    assert safepickle.loads(pickle.dumps(range(5, 1000, 7))) == range(5, 1000, 7)
    with pytest.raises(safepickle.LimitExceeded, match="max_container_items=2,000,000"):
        safepickle.loads(pickle.dumps(range(10**10)))
    with pytest.raises(safepickle.LimitExceeded, match="max_container_items"):
        safepickle.loads(pickle.dumps(range(-(10**30), 10**30)))  # past a C ssize_t
    # math.fsum(range(10**10)): the call itself is allowed, the range is not
    data = b"\x80\x02cmath\nfsum\nc__builtin__\nrange\nJ\x00\xe4\x0bT\x85R\x85R."
    with pytest.raises(safepickle.LimitExceeded):
        safepickle.loads(data, allow=["math.fsum"])
    small = Policy(limits=Limits(max_container_items=10))
    assert safepickle.loads(pickle.dumps(range(10)), policy=small) == range(10)
    with pytest.raises(safepickle.LimitExceeded, match="max_container_items=10"):
        safepickle.loads(pickle.dumps(range(11)), policy=small)
