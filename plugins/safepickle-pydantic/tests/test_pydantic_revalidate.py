"""Re-validation: every pydantic object a load rebuilt is validated again with its own class."""

from __future__ import annotations

import math
import pickle
import sys
from typing import Any

import pydantic_samples as m
import pytest
import safepickle_pydantic
from hypothesis import given
from hypothesis import strategies as st
from safepickle_pydantic._graph import Graph
from safepickle_pydantic._revalidate import revalidate
from safepickle_pydantic._same import Budget

import safepickle
from safepickle import LimitExceeded, Limits, Policy, ValidationFailed

POLICY = Policy(plugins=[safepickle_pydantic.plugin(models=["pydantic_samples:*"])])
PROTOCOLS = st.integers(0, pickle.HIGHEST_PROTOCOL)


def load(obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL, policy: Policy = POLICY) -> Any:
    return safepickle.loads(pickle.dumps(obj, protocol=protocol), policy=policy)


def refused(obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        load(obj, protocol)
    return info.value


# --- states ---------------------------------------------------------------------------------
names = st.text(min_size=1, max_size=20).filter(lambda name: name != "root")


@st.composite
def user_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(m.Role))
    age = draw(st.integers(18 if role is m.Role.ADMIN else 0, 150))
    return {"name": draw(names), "age": age, "role": role}


users = st.recursive(
    st.builds(lambda kw: m.User(**kw), user_kwargs()),
    lambda children: st.builds(
        lambda kw, friends: m.User(**kw, friends=friends),
        user_kwargs(),
        st.lists(children, max_size=3),
    ),
    max_leaves=10,
)

# Each corruption is invalid for User on its own: a constraint, a type, a field validator or the
# model validator refuses it, or lax validation would have to convert it.
corruptions = st.one_of(
    st.tuples(st.just("age"), st.integers(max_value=-1) | st.integers(min_value=151)),
    st.tuples(st.just("age"), st.text() | st.floats() | st.none() | st.booleans()),
    st.tuples(st.just("name"), st.just("") | st.text(min_size=21) | st.just("root")),
    st.tuples(st.just("name"), st.integers() | st.binary() | st.none()),
    st.tuples(st.just("role"), st.sampled_from(["user", "admin", 1, None])),
    st.tuples(st.just("friends"), st.just([{"name": "dict, not a User", "age": 1}])),
    st.tuples(st.just("friends"), st.just(({"user"},))),
)


def corrupt(kwargs: dict[str, Any], field: str, value: Any) -> m.User:
    """A User whose state was never validated, as a crafted pickle can produce."""
    return m.User.model_construct(**{"friends": [], **kwargs, field: value})


@given(user=users, protocol=PROTOCOLS)
def test_valid_states_load_unchanged(user: m.User, protocol: int) -> None:
    loaded = load(user, protocol)
    assert loaded == user
    assert type(loaded) is m.User
    assert loaded.model_fields_set == user.model_fields_set


@given(kwargs=user_kwargs(), corruption=corruptions, protocol=PROTOCOLS)
def test_invalid_states_are_refused(
    kwargs: dict[str, Any], corruption: tuple[str, Any], protocol: int
) -> None:
    bad = corrupt(kwargs, *corruption)
    error = refused(bad, protocol)
    assert error.path == "result"
    assert "User" in error.message
    assert error.details


@given(
    valid=st.lists(users, max_size=5),
    kwargs=user_kwargs(),
    corruption=corruptions,
    data=st.data(),
)
def test_an_invalid_model_is_found_at_any_depth(
    valid: list[m.User], kwargs: dict[str, Any], corruption: tuple[str, Any], data: st.DataObject
) -> None:
    bad = corrupt(kwargs, *corruption)
    index = data.draw(st.integers(0, len(valid)))
    # built unvalidated: User's model validator runs on friends that are instances too
    holder = m.User.model_construct(name="holder", age=40, role=m.Role.USER, friends=[bad])
    team = [*valid[:index], {"team": (holder,)}, *valid[index:]]
    error = refused(team)
    assert error.path == f"result[{index}]['team'][0].friends[0]"


def test_the_example_from_the_issue() -> None:
    """A crafted pickle produces User(role="admin", age=-5); the load fails and says why."""
    bad = m.User.model_construct(name="mallory", age=-5, role=m.Role.ADMIN, friends=[])
    error = refused([bad])
    assert error.path == "result[0]"
    assert error.message.startswith("model User at result[0] fails its own validation")
    assert error.details[0]["type"] == "greater_than_equal"
    assert error.details[0]["loc"] == ("age",)
    assert "plugin(revalidate=False)" in error.message


def test_model_validators_run() -> None:
    minor_admin = m.User.model_construct(name="kid", age=10, role=m.Role.ADMIN, friends=[])
    error = refused(minor_admin)
    assert "an admin must be an adult" in error.message
    root = m.User.model_construct(name="root", age=30, role=m.Role.USER, friends=[])
    assert "'root' is reserved" in refused(root).message


def test_lax_conversions_do_not_slip_through() -> None:
    """Lax mode would accept "5" for an int by converting it; the pickled state keeps a str,
    which no validated User holds, so it is refused."""
    error = refused(m.User.model_construct(name="a", age="5", role=m.Role.USER, friends=[]))
    assert error.details[0]["type"] == "changed_by_validation"
    assert "str '5'" in error.message
    assert "int 5" in error.message


def test_shared_references_and_cycles_survive() -> None:
    shared = m.User(name="shared", age=1)
    root = m.Node(label="root")
    child = m.Node(label="child", parent=root)
    root.children.append(child)
    loaded = load([shared, shared, {"again": shared}, root])
    assert loaded[0] is loaded[1] is loaded[2]["again"]
    node = loaded[3]
    assert node.children[0].parent is node
    assert node.label == "root"


def test_a_self_referencing_container_in_a_model() -> None:
    loop: list[Any] = []
    loop.append(loop)
    loaded = load(m.Node(label="x", parent=loop))
    assert loaded.parent[0] is loaded.parent


def test_deep_model_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    depth = 2_000
    node = m.Node(label="leaf")
    for level in range(depth):
        node = m.Node(label=f"n{level}", children=[node])
    monkeypatch.setattr(sys, "getrecursionlimit", sys.getrecursionlimit)
    sys.setrecursionlimit(20_000)  # only for pickle.dumps, which recurses
    try:
        data = pickle.dumps(node)
        bad = m.Node.model_construct(label=None, children=[], parent=None)
        leaf_parent = node
        for _ in range(depth - 1):
            leaf_parent = leaf_parent.children[0]
        leaf_parent.children[0] = bad
        bad_data = pickle.dumps(node)
    finally:
        sys.setrecursionlimit(1_000)
    assert safepickle.loads(data, policy=POLICY).label == f"n{depth - 1}"
    with pytest.raises(ValidationFailed) as info:
        safepickle.loads(bad_data, policy=POLICY)
    assert info.value.path == "result" + ".children[0]" * depth


def test_the_walk_is_iterative() -> None:
    """100,000 nested lists around an invalid model: no RecursionError, the path is exact."""
    bad = m.User.model_construct(name="", age=1, role=m.Role.USER, friends=[])
    graph: Any = [bad]
    for _ in range(100_000):
        graph = [graph]
    with pytest.raises(ValidationFailed) as info:
        revalidate(graph, strict=None, budget=Budget(10**6))
    assert info.value.path == "result" + "[0]" * 100_001


def test_models_inside_other_objects_are_found() -> None:
    bad = m.Point.__new__(m.Point)
    object.__setattr__(bad, "__dict__", {"x": -1, "y": 0})  # x has ge=0
    holder = m.Plain({"points": [bad]})
    with pytest.raises(ValidationFailed) as info:
        load(holder, policy=POLICY.allowing(m.Plain))
    assert info.value.path == "result.payload['points'][0]"
    assert info.value.message.startswith("pydantic dataclass Point")
    assert Graph(holder).found == [(bad, safepickle_pydantic._graph.Kind.DATACLASS)]


# --- the model's config decides extras, private attributes, strictness -----------------------
def with_state(model: Any, **slots: Any) -> Any:
    for name, value in slots.items():
        object.__setattr__(model, name, value)
    return model


def test_undeclared_attributes_are_refused() -> None:
    user = m.User(name="a", age=1)
    user.__dict__["is_admin"] = True
    assert "undeclared: ['is_admin']" in refused(user).message


def test_missing_fields_are_refused() -> None:
    user = m.User(name="a", age=1)
    del user.__dict__["role"]
    assert "missing: ['role']" in refused(user).message


def test_extras_only_where_the_config_allows_them() -> None:
    sneaky = with_state(m.User(name="a", age=1), __pydantic_extra__={"is_admin": True})
    assert "does not say extra='allow'" in refused(sneaky).message
    forbidden = with_state(m.Strict(count=1), __pydantic_extra__={"x": 1})
    assert "does not say extra='allow'" in refused(forbidden).message
    assert load(m.Open(a=1, b=2)) == m.Open(a=1, b=2)
    typed = m.Open(a=1, b=2)
    typed.__pydantic_extra__["b"] = "two"  # extras are dict[str, int]
    assert refused(typed).details[0]["loc"] == ("b",)


def test_private_attributes_as_declared() -> None:
    loaded = load(m.Secretive(visible=1))
    assert loaded._token == "t"
    undeclared = with_state(m.Secretive(visible=1), __pydantic_private__={"_token": "t", "_x": 1})
    assert "undeclared private attributes: ['_x']" in refused(undeclared).message


def test_fields_set_names_fields() -> None:
    odd = with_state(m.User(name="a", age=1), __pydantic_fields_set__={"name", "password"})
    assert "names fields it does not have: ['password']" in refused(odd).message
    not_a_set = with_state(m.User(name="a", age=1), __pydantic_fields_set__=["name"])
    assert "not a set of field names" in refused(not_a_set).message


def test_aliases_frozen_and_root_models() -> None:
    assert load(m.Aliased(userName="x")).user_name == "x"
    assert load(m.Strict(count=3)) == m.Strict(count=3)
    assert load(m.Scores([1, 2])).root == [1, 2]
    assert refused(m.Scores.model_construct(["1"])).details[0]["type"] == "changed_by_validation"
    assert refused(m.Scores.model_construct("abc")).details[0]["type"] == "list_type"


def test_nan_is_unchanged_by_validation() -> None:
    """NaN is not equal to itself; validation may hand back a new NaN, which is no change."""
    loaded = load(m.Measure(value=math.nan, values=[math.nan, 1.0]))
    assert math.isnan(loaded.value)
    assert math.isnan(loaded.values[0])


def test_dataclasses() -> None:
    assert load(m.Point(1, 2)) == m.Point(1, 2)
    extra = m.Point(1, 2)
    extra.__dict__["z"] = 3
    assert "undeclared: ['z']" in refused(extra).message


def test_revalidate_off_loads_the_state_as_it_is() -> None:
    bad = m.User.model_construct(name="a", age=-5, role=m.Role.USER, friends=[])
    trusting = Policy(
        plugins=[safepickle_pydantic.plugin(models=[m.User, m.Role], revalidate=False)]
    )
    assert load(bad, policy=trusting).age == -5


# --- bounded work ---------------------------------------------------------------------------
def test_shared_data_revalidated_by_many_models_is_bounded() -> None:
    shared = list(range(1_000))
    models = [m.Scores.model_construct(shared) for _ in range(200)]  # 200,000 comparisons
    data = pickle.dumps(models)
    assert safepickle.loads(data, policy=POLICY)[0].root == shared
    tight = POLICY.with_limits(max_opcodes=50_000)
    assert tight.limits.max_opcodes == 50_000 < Limits().max_opcodes
    with pytest.raises(LimitExceeded) as info:
        safepickle.loads(data, policy=tight)
    assert info.value.limit == "max_opcodes"
