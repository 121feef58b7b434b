"""``schema=``: the whole result validated by pydantic, from pickle and JSON alike."""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

import pydantic_samples as m
import pytest
import safepickle_pydantic
from hypothesis import given
from hypothesis import strategies as st

import safepickle
from safepickle import Policy, PolicyError, ValidationFailed

POLICY = Policy(plugins=[safepickle_pydantic.plugin(models=["pydantic_samples:*"])])
STRICT = Policy(plugins=[safepickle_pydantic.plugin(strict=True, models=["pydantic_samples:*"])])


def test_a_pickled_list_of_models() -> None:
    alice = m.User(name="alice", age=30)
    loaded = safepickle.loads(pickle.dumps([alice, alice]), policy=POLICY, schema=list[m.User])
    assert loaded == [alice, alice]
    assert loaded[0] is loaded[1]


def test_an_unchanged_result_is_the_loaded_object_itself() -> None:
    """Validation rebuilds containers; when nothing changed the caller gets what the pickle
    rebuilt, with its shared references."""
    row = [1, 2]
    loaded = safepickle.loads(pickle.dumps([row, row]), policy=POLICY, schema=list[list[int]])
    assert loaded[0] is loaded[1]


def test_json_builds_models() -> None:
    document = json.dumps([{"name": "a", "age": 3, "friends": [{"name": "b", "age": 4}]}])
    loaded = safepickle.loads(document.encode(), policy=POLICY, schema=list[m.User])
    assert loaded == [m.User(name="a", age=3, friends=[m.User(name="b", age=4)])]


@given(ages=st.lists(st.integers(-1000, 1000), min_size=1, max_size=8))
def test_json_and_pickle_agree(ages: list[int]) -> None:
    """The same data, as JSON or as pickled dicts: the same verdict and the same result."""
    rows = [{"name": "n", "age": age} for age in ages]
    results: list[Any] = []
    for data in (json.dumps(rows).encode(), pickle.dumps(rows)):
        try:
            results.append(safepickle.loads(data, policy=POLICY, schema=list[m.User]))
        except ValidationFailed as exc:
            results.append(("refused", exc.path))
    assert results[0] == results[1]
    if all(0 <= age <= 150 for age in ages):
        assert results[0] == [m.User(name="n", age=age) for age in ages]
    else:
        first = next(i for i, age in enumerate(ages) if not 0 <= age <= 150)
        assert results[0] == ("refused", f"result[{first}].age")


def test_an_invalid_result_names_the_path_and_carries_pydantic_details() -> None:
    document = b'{"lead": {"name": "a", "age": 1}, "members": {"b": {"name": "", "age": 2}}}'
    with pytest.raises(ValidationFailed) as info:
        safepickle.loads(document, policy=POLICY, schema=m.Team)
    error = info.value
    assert error.path == "result.members.b.name"
    assert error.details[0]["type"] == "string_too_short"
    assert "schema=Team" in error.message


def test_a_pickled_model_of_another_type_is_refused() -> None:
    data = pickle.dumps([m.Point(1, 2)])
    with pytest.raises(ValidationFailed) as info:
        safepickle.loads(data, policy=POLICY, schema=list[m.User])
    assert info.value.path == "result[0]"


def test_from_attributes_stays_off() -> None:
    """An object whose attributes look like a User's is not turned into one."""
    data = pickle.dumps(m.Impostor())
    with pytest.raises(ValidationFailed) as info:
        safepickle.loads(data, policy=POLICY.allowing(m.Impostor), schema=m.User)
    assert info.value.details[0]["type"] == "model_type"


def test_strict_mode() -> None:
    assert safepickle.loads(b'["1", 2]', policy=POLICY, schema=list[int]) == [1, 2]
    with pytest.raises(ValidationFailed) as info:
        safepickle.loads(b'["1", 2]', policy=STRICT, schema=list[int])
    assert info.value.details[0]["type"] == "int_type"


def test_lax_conversions_of_pickled_values_are_returned() -> None:
    assert safepickle.loads(pickle.dumps(("1", 2)), policy=POLICY, schema=list[int]) == [1, 2]


def test_load_and_load_all_take_a_schema() -> None:
    buffer = io.BytesIO()
    pickle.dump([m.User(name="a", age=1)], buffer)
    pickle.dump([m.User(name="b", age=2)], buffer)
    pickle.dump(["not a user"], buffer)
    buffer.seek(0)
    first = safepickle.load(buffer, policy=POLICY, schema=list[m.User])
    assert first[0].name == "a"
    loads = safepickle.load_all(buffer, policy=POLICY, schema=list[m.User])
    assert next(loads)[0].name == "b"
    with pytest.raises(ValidationFailed):
        next(loads)
    buffer.seek(0)
    unpickler = safepickle.Unpickler(buffer, policy=POLICY, schema=list[m.User])
    assert unpickler.load()[0].name == "a"


def test_a_schema_pydantic_cannot_validate() -> None:
    with pytest.raises(PolicyError) as info:
        safepickle.loads(pickle.dumps(1), policy=POLICY, schema=m.Plain)
    assert "schema=Plain is not a type pydantic can validate" in str(info.value)


def test_re_validation_runs_before_the_schema() -> None:
    bad = m.User.model_construct(name="a", age=-1, role=m.Role.USER, friends=[])
    with pytest.raises(ValidationFailed) as info:
        safepickle.loads(pickle.dumps([bad]), policy=POLICY, schema=list[m.User])
    assert info.value.message.startswith("model User at result[0]")
