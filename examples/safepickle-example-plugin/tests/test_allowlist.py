"""The reviewed allow-list, loaded through the entry point the way users enable it."""

from __future__ import annotations

import decimal
import pickle
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from acme_shop.admin import reset_database
from acme_shop.models import Customer, Invoice, Order
from safepickle_example import OrgAllowList

import safepickle
from safepickle.testing import hostile_payload

SETTINGS = """
[tool.safepickle]
plugins = ["example"]

[tool.safepickle-example]
owned = ["acme_shop"]
contact = "#appsec"

[tool.safepickle-example.allow]
"acme_shop.models:Order" = "a record of plain fields; no custom reduction"
"acme_shop.models:Customer" = "a record of plain fields; no custom reduction"
"""

ORDER = Order(7, Customer("Ada", "ada@example.com"), decimal.Decimal("9.99"), ["book"])


def write_settings(directory: Path, text: str = SETTINGS) -> Path:
    path = directory / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_entry_point_is_installed() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="safepickle")}
    assert names["example"] == "safepickle_example.entrypoint"


def test_reviewed_classes_load_through_the_policy_file(canary: Path) -> None:
    write_settings(canary.parent)
    policy = safepickle.Policy.from_config()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert safepickle.loads(pickle.dumps(ORDER, protocol=protocol), policy=policy) == ORDER


def test_an_unreviewed_class_of_the_organisation_is_denied(canary: Path) -> None:
    write_settings(canary.parent)
    data = pickle.dumps(Invoice(ORDER))
    with pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.loads(data, policy=safepickle.Policy.from_config())
    assert "acme_shop.models:Invoice" in str(info.value)
    assert "#appsec" in str(info.value)
    assert "org-unreviewed" in str(info.value)


def test_the_deny_wins_over_a_broader_allow_list(canary: Path) -> None:
    """A developer's wildcard cannot admit organisation code nobody reviewed."""
    write_settings(canary.parent)
    policy = safepickle.Policy.from_config().allowing("acme_shop.admin:*")
    data = hostile_payload(reset_database, ())
    assert pickle.loads(data) is None
    assert canary.exists()  # the payload is live under plain pickle
    canary.unlink()
    with pytest.raises(safepickle.ForbiddenGlobal, match="reset_database"):
        safepickle.loads(data, policy=policy)
    assert not canary.exists()


def test_names_outside_the_owned_packages_are_left_to_other_plugins(canary: Path) -> None:
    write_settings(canary.parent)
    policy = safepickle.Policy.from_config()
    assert safepickle.loads(pickle.dumps(decimal.Decimal("1.5")), policy=policy) == 1.5
    with pytest.raises(safepickle.ForbiddenGlobal, match="default-deny"):
        safepickle.loads(pickle.dumps(Path("x")), policy=policy)


def test_the_floor_stays_refused(canary: Path) -> None:
    write_settings(canary.parent)
    with pytest.raises(safepickle.ForbiddenGlobal, match="floor"):
        safepickle.loads(hostile_payload(), policy=safepickle.Policy.from_config())


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('"os:system" = "needed"', "can never be allowed|floor"),
        ('"acme_shop.models:*" = "all of them"', "no wildcards"),
        ('"acme_shop.models:Order" = " "', "needs the reason"),
    ],
)
def test_bad_entries_are_refused_when_the_policy_is_used(
    canary: Path, entry: str, problem: str
) -> None:
    path = write_settings(
        canary.parent,
        '[tool.safepickle]\nplugins = ["example"]\n[tool.safepickle-example.allow]\n' + entry,
    )
    with pytest.raises(safepickle.PolicyError, match=problem) as info:
        OrgAllowList.from_config(path)
    assert str(path) in str(info.value)
    # through the entry point the same mistake fails the load, never loads anything
    with pytest.raises(safepickle.PluginError, match=problem):
        safepickle.loads(pickle.dumps(ORDER), policy=safepickle.Policy.from_config())


def test_a_misspelled_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text('owend = ["acme_shop"]\n', encoding="utf-8")
    with pytest.raises(safepickle.PolicyError, match="did you mean 'owned'"):
        OrgAllowList.from_config(path)


def test_no_settings_fail_the_load(canary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEPICKLE_EXAMPLE_CONFIG", raising=False)
    policy = safepickle.Policy(plugins=["example"])
    with pytest.raises(safepickle.PluginError, match=r"no \[tool.safepickle-example\] table"):
        safepickle.loads(pickle.dumps(ORDER), policy=policy)


def test_the_environment_variable_names_the_settings(
    canary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = canary.parent / "org" / "acme.toml"
    settings.parent.mkdir()
    settings.write_text(
        'owned = ["acme_shop"]\n[allow]\n"acme_shop.models:Customer" = "plain fields"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SAFEPICKLE_EXAMPLE_CONFIG", str(settings))
    policy = safepickle.Policy(plugins=["example"])
    customer = Customer("Bo", "bo@example.com")
    assert safepickle.loads(pickle.dumps(customer), policy=policy) == customer
    with pytest.raises(safepickle.ForbiddenGlobal, match="org-unreviewed"):
        safepickle.loads(pickle.dumps(ORDER), policy=policy)


def test_an_edited_file_is_read_again_by_the_next_policy(canary: Path) -> None:
    path = write_settings(canary.parent)
    data = pickle.dumps(Invoice(ORDER))
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(data, policy=safepickle.Policy.from_config())
    path.write_text(
        SETTINGS + '"acme_shop.models:Invoice" = "reviewed in ticket SEC-12"\n', encoding="utf-8"
    )
    assert safepickle.loads(data, policy=safepickle.Policy.from_config()) == Invoice(ORDER)


def test_the_reason_reaches_the_decision() -> None:
    allowlist = OrgAllowList({"acme_shop.models:Order": "plain fields"}, ["acme_shop"])
    policy = safepickle.Policy(plugins=[allowlist])
    decision = policy.decide(safepickle.GlobalRef("acme_shop.models", "Order"))
    assert decision.allowed
    assert decision.reason == "reviewed: plain fields"
    assert decision.rule == "org-reviewed"


def test_the_fingerprint_follows_the_reviewed_list() -> None:
    one = OrgAllowList({"acme_shop.models:Order": "plain fields"}, ["acme_shop"])
    same = OrgAllowList({"acme_shop.models:Order": "plain fields"}, ["acme_shop"])
    other = OrgAllowList({"acme_shop.models:Invoice": "plain fields"}, ["acme_shop"])
    fingerprint = safepickle.Policy(plugins=[one]).fingerprint
    assert safepickle.Policy(plugins=[same]).fingerprint == fingerprint
    assert safepickle.Policy(plugins=[other]).fingerprint != fingerprint
