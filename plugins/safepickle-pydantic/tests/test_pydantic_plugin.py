"""The plugin object: entry point, configuration, decisions."""

from __future__ import annotations

import pickle
from pathlib import Path

import pydantic_samples as m
import pytest
import safepickle_pydantic
from safepickle_pydantic import DEFAULT, PydanticPlugin

import safepickle
from safepickle import Policy, PolicyError, ValidationFailed


def test_the_entry_point_is_the_default_plugin() -> None:
    policy = Policy(plugins=["pydantic"], allow=[m.User, m.Role])
    assert "pydantic" in policy.plugin_names
    bad = m.User.model_construct(name="a", age=-1, role=m.Role.USER, friends=[])
    with pytest.raises(ValidationFailed):
        safepickle.loads(pickle.dumps(bad), policy=policy)
    assert isinstance(DEFAULT, PydanticPlugin)
    assert DEFAULT.models == frozenset()


def test_installing_the_plugin_widens_nothing() -> None:
    data = pickle.dumps(m.User(name="a", age=1))
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(data)
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(data, policy=Policy(plugins=["pydantic"]))


def test_models_from_the_policy_file(tmp_path: Path) -> None:
    config = tmp_path / "safepickle.toml"
    config.write_text('plugins = ["pydantic"]\nallow = ["pydantic_samples:*"]\n')
    policy = Policy.from_config(config)
    assert safepickle.loads(pickle.dumps(m.Point(1, 2)), policy=policy) == m.Point(1, 2)


def test_configurations_are_told_apart_in_fingerprints() -> None:
    def fingerprint(**config: object) -> str:
        return Policy(plugins=[safepickle_pydantic.plugin(**config)]).fingerprint  # type: ignore[arg-type]

    assert fingerprint(models=[m.User]) == fingerprint(models=["pydantic_samples:User"])
    assert fingerprint(models=[m.User]) != fingerprint(models=[m.Point])
    assert fingerprint(strict=True) != fingerprint(strict=False)
    assert fingerprint(revalidate=False) != fingerprint()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (m.Plain, "not a pydantic model"),
        ("not a name!", "bad policy entry"),
        ("no_such_module_here:*", "cannot import no_such_module_here"),
    ],
)
def test_bad_model_entries(entry: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        safepickle_pydantic.plugin(models=[entry])


def test_exact_entries_import_nothing() -> None:
    plugin = safepickle_pydantic.plugin(models=["not_imported_anywhere.models:User"])
    assert plugin.models == {"not_imported_anywhere.models.User"}
