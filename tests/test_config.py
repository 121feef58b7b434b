"""The policy file: safepickle.toml, pyproject.toml's [tool.safepickle], $SAFEPICKLE_CONFIG."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from policy_samples import Point

import safepickle
from safepickle import ForbiddenGlobal, Limits, Policy, PolicyError, load_config
from safepickle.audit import JsonlSink, LoggingSink
from safepickle.config import ENV_VAR

POINT = pickle.dumps(Point(1, 2))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def allows_point(policy: Policy) -> bool:
    try:
        safepickle.loads(POINT, policy=policy)
    except ForbiddenGlobal:
        return False
    return True


# --- where the file is found --------------------------------------------------------------
def test_no_file_anywhere_is_the_default_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = load_config()
    assert policy.fingerprint == Policy().fingerprint
    assert Policy.from_config().fingerprint == Policy().fingerprint


def test_safepickle_toml_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "safepickle.toml", 'allow = ["policy_samples:Point"]\n')
    monkeypatch.chdir(tmp_path)
    assert allows_point(load_config())
    assert allows_point(Policy.from_config())


def test_pyproject_tool_table_found_from_a_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pyproject.toml", '[tool.safepickle]\nallow = ["policy_samples:Point"]\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert allows_point(load_config())


def test_pyproject_without_the_table_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "safepickle.toml", 'allow = ["policy_samples:Point"]\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "safepickle-user"\n')
    write(tmp_path / "sub2" / "pyproject.toml", "not toml at all [[[\n")  # never parsed
    monkeypatch.chdir(tmp_path / "sub")
    assert allows_point(load_config())
    monkeypatch.chdir(tmp_path / "sub2")
    assert allows_point(load_config())


def test_nearest_directory_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "safepickle.toml", 'allow = ["policy_samples:Point"]\n')
    write(tmp_path / "sub" / "pyproject.toml", "[tool.safepickle]\ndefaults = true\n")
    monkeypatch.chdir(tmp_path / "sub")
    assert not allows_point(load_config())


def test_safepickle_toml_beats_pyproject_in_one_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "safepickle.toml", 'allow = ["policy_samples:Point"]\n')
    write(tmp_path / "pyproject.toml", "[tool.safepickle]\ndefaults = true\n")
    monkeypatch.chdir(tmp_path)
    assert allows_point(load_config())


def test_env_var_beats_search_and_path_beats_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "safepickle.toml", "defaults = true\n")
    env = write(tmp_path / "env" / "policy.toml", 'allow = ["policy_samples:Point"]\n')
    explicit = write(tmp_path / "explicit.toml", "defaults = true\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(env))
    assert allows_point(load_config())
    assert not allows_point(load_config(explicit))
    assert not allows_point(Policy.from_config(explicit))


def test_explicit_pyproject_reads_its_tool_table(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[tool.safepickle]\nallow = ["policy_samples:*"]\n')
    assert allows_point(load_config(path))


def test_explicit_pyproject_without_the_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(PolicyError, match=r"no \[tool\.safepickle\] table"):
        load_config(path)


def test_missing_explicit_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(PolicyError, match=r"nope\.toml"):
        load_config(tmp_path / "nope.toml")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone.toml"))
    with pytest.raises(PolicyError, match=r"gone\.toml"):
        load_config()


# --- every key ------------------------------------------------------------------------------
FULL = """\
[project]
name = "myapp"

[tool.safepickle]
allow = [
    "policy_samples:Point",
    "policy_samples:Outer.Inner",
]
deny = ["policy_samples:Outer.Inner"]
plugins = []
defaults = false
audit = "logs/audit.jsonl"

[tool.safepickle.limits]
max_input_bytes = 8_000_000
max_opcodes = 2_000_000
"""


def test_every_key_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "logs").mkdir()
    write(tmp_path / "pyproject.toml", FULL)
    monkeypatch.chdir(tmp_path / "logs")  # the audit path is relative to the file, not the cwd
    policy = load_config()
    described = policy.describe()
    assert described["allow"] == ["policy_samples:Outer.Inner", "policy_samples:Point"]
    assert described["deny"] == ["policy_samples:Outer.Inner"]
    assert described["plugins"] == []
    assert described["defaults"] is False
    assert policy.limits == Limits(max_input_bytes=8_000_000, max_opcodes=2_000_000)
    (sink,) = policy.audit_sinks
    assert isinstance(sink, JsonlSink)

    assert safepickle.loads(POINT, policy=policy) == Point(1, 2)
    with pytest.raises(ForbiddenGlobal):  # deny wins over allow
        safepickle.loads(pickle.dumps(__import__("policy_samples").Outer.Inner(1)), policy=policy)
    with pytest.raises(ForbiddenGlobal):  # defaults = false: not even a set
        safepickle.loads(pickle.dumps({1}, protocol=2), policy=policy)

    log = tmp_path / "logs" / "audit.jsonl"
    assert not (tmp_path / "logs" / "logs").exists()
    outcomes = [json.loads(line)["safepickle"]["outcome"] for line in log.read_text().splitlines()]
    assert outcomes[0] == "loaded" and len(outcomes) == 3


def test_audit_true_is_the_logging_sink(tmp_path: Path) -> None:
    policy = load_config(write(tmp_path / "safepickle.toml", "audit = true\n"))
    (sink,) = policy.audit_sinks
    assert isinstance(sink, LoggingSink)
    assert load_config(write(tmp_path / "off.toml", "audit = false\n")).audit_sinks == ()


def test_inline_and_dotted_limits(tmp_path: Path) -> None:
    inline = write(tmp_path / "a.toml", "limits = { max_globals = 7 }\n")
    dotted = write(tmp_path / "b.toml", "limits.max_globals = 7\n")
    assert load_config(inline).limits.max_globals == 7
    assert load_config(dotted).limits.max_globals == 7


def test_named_plugin_is_kept(tmp_path: Path) -> None:
    policy = load_config(write(tmp_path / "safepickle.toml", 'plugins = ["points"]\n'))
    assert policy.describe()["plugins"] == ["points"]


# --- mistakes: file, dotted key and line ----------------------------------------------------
def error_for(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_config(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "key", "line", "expected"),
    [
        ("[tool.safepickle]\nallow = []\nalow = []\n", "tool.safepickle.alow", 3, "'allow'"),
        (
            "[tool.safepickle]\n\n[tool.safepickle.limits]\nmax_opcods = 5\n",
            "tool.safepickle.limits.max_opcods",
            4,
            "did you mean 'max_opcodes'",
        ),
        (
            "[tool.safepickle]\nlimits = { max_globals = 0 }\n",
            "tool.safepickle.limits.max_globals",
            2,
            "positive integer",
        ),
        (
            "[tool.safepickle]\nlimits.max_globals = -3\n",
            "tool.safepickle.limits.max_globals",
            2,
            "positive integer",
        ),
        (
            "[tool.safepickle.limits]\nmax_globals = '5'\n",
            "tool.safepickle.limits.max_globals",
            2,
            "positive integer",
        ),
        (
            "[tool.safepickle.limits]\nmax_globals = true\n",
            "tool.safepickle.limits.max_globals",
            2,
            "positive integer",
        ),
        ("[tool.safepickle]\nlimits = 5\n", "tool.safepickle.limits", 2, "table of limits"),
        ("[tool.safepickle]\n\nallow = 'x.y'\n", "tool.safepickle.allow", 3, "list of strings"),
        ("[tool.safepickle]\ndeny = [1]\n", "tool.safepickle.deny", 2, "list of strings"),
        ("[tool.safepickle]\nplugins = 'np'\n", "tool.safepickle.plugins", 2, "list of strings"),
        ("[tool.safepickle]\ndefaults = 'yes'\n", "tool.safepickle.defaults", 2, "true or false"),
        ("[tool.safepickle]\naudit = 3\n", "tool.safepickle.audit", 2, "file path"),
        (
            '[tool.safepickle]\nallow = [\n  "ok.mod:Name",\n  "not a name",\n]\n',
            "tool.safepickle.allow",
            4,
            "bad policy entry 'not a name'",
        ),
        (
            '[tool.safepickle]\ndeny = ["1bad"]\n',
            "tool.safepickle.deny",
            2,
            "bad policy entry '1bad'",
        ),
    ],
)
def test_mistakes_name_file_key_and_line(
    tmp_path: Path, text: str, key: str, line: int, expected: str
) -> None:
    path = write(tmp_path / "pyproject.toml", text)
    message = error_for(path)
    assert f"{path}:{line}: {key}: " in message
    assert expected in message


def test_top_level_keys_in_safepickle_toml(tmp_path: Path) -> None:
    path = write(tmp_path / "safepickle.toml", "# policy\ndefaults = true\nplugin = []\n")
    message = error_for(path)
    assert f"{path}:3: plugin: unknown key 'plugin'; did you mean 'plugins'?" in message


@pytest.mark.parametrize("entry", ["os.system", "subprocess:*", "builtins:eval"])
def test_floor_item_in_allow(tmp_path: Path, entry: str) -> None:
    path = write(tmp_path / "safepickle.toml", f'defaults = true\nallow = [\n  "{entry}",\n]\n')
    message = error_for(path)
    assert f"{path}:3: allow: " in message
    assert "can never be allowed" in message


def test_floor_item_in_deny_is_fine(tmp_path: Path) -> None:
    load_config(write(tmp_path / "safepickle.toml", 'deny = ["os.system"]\n'))


def test_invalid_toml_keeps_tomllib_position(tmp_path: Path) -> None:
    path = write(tmp_path / "safepickle.toml", "allow = [\n]\ndefaults = \n")
    message = error_for(path)
    assert str(path) in message
    assert "invalid TOML" in message
    assert "line 3" in message


def test_invalid_pyproject_that_mentions_safepickle_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "pyproject.toml", "[tool.safepickle\nallow = []\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError, match=r"pyproject\.toml: invalid TOML.*line 1"):
        load_config()
