"""Every file in ``examples/`` runs, prints what it should, and no hostile payload in it ran.

The examples are found by glob, so a new one cannot be forgotten: it runs here, and fails
until ``EXPECTED`` says which lines it must print. Each runs in a subprocess (a fresh
interpreter, as a user runs it) with a temporary directory as its working directory and as its
``TMPDIR``, with warnings as errors; afterwards both must be empty (no ``CANARY``, nothing left
behind). ``docs/migrating.md`` quotes the examples' output; the quotes are checked here too.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safepickle

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
TUTORIAL_DIR = EXAMPLES_DIR / "tutorial"
MIGRATING = ROOT / "docs" / "migrating.md"


def _is_script(path: Path) -> bool:
    """A runnable example: not a helper the examples import (``_scratch.py``), and not a module
    of an example distribution (a folder with its own ``pyproject.toml`` and tests)."""
    if path.name.startswith("_"):
        return False
    folders = path.relative_to(EXAMPLES_DIR).parents
    return not any((EXAMPLES_DIR / folder / "pyproject.toml").exists() for folder in folders)


EXAMPLES = sorted(
    path.relative_to(EXAMPLES_DIR).as_posix()
    for path in EXAMPLES_DIR.rglob("*.py")
    if _is_script(path)
)

SYSTEM = f"{os.system.__module__}.system"  # posix.system, or nt.system on Windows
FLOOR = "It is on safepickle's floor and can never be allowed."
NOTHING_RAN = "canary absent: nothing ran"

# Lines each example must print, in this order (other lines may come between). A string
# matches a line that starts with it; a tuple, a line that starts with its first item and
# contains the others in order. Refusals are matched by the global they name and the rule,
# not by offsets.
Expected = str | tuple[str, ...]
EXPECTED: dict[str, list[Expected]] = {
    "quickstart.py": [
        "plain data: {'users': ['Alice', 'Bob'], 'n': 2}",
        "cache entries: [CacheEntry(key='price', value=Decimal('9.99')",
        (
            "refused: global '__main__.CacheEntry' is forbidden",
            "[rule default-deny]",
            "pass allow=['__main__:CacheEntry']",
        ),
        ("refused: global 'os.system' is forbidden", FLOOR),  # spelled "os" in its stream
        NOTHING_RAN,
    ],
    "tutorial/01_dicts_to_file.py": [
        "Data saved successfully",
        "loaded: {'users': ['Alice', 'Bob', 'Charlie'], 'scores': [95, 87, 92], "
        "'metadata': {'version': 1, 'created': '2024-01-25'}}",
        "pickle.load reads format='pickle': True",
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/02_bytes.py": [
        "<class 'bytes'>",
        "restored: [1, 2, 3, {'key': 'value'}]",
        ("refused: global 'subprocess.check_call' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/03_user_class.py": [
        "User('Alice', 'alice@example.com')",
        "Alice",
        (
            "refused: global '__main__.User' is forbidden",
            "[rule default-deny]",
            "If you trust it, pass allow=['__main__:User'] to the load call",
        ),
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/04_getstate_setstate.py": [
        "Connecting to localhost:5432",
        "Connecting to localhost:5432",
        "localhost",
        "refused: executing the verified pickle failed: ValueError: refusing to connect to "
        "'attacker.example':5432",
        NOTHING_RAN,
    ],
    "tutorial/05_reduce_singleton.py": [
        "True",
        "same instance after loading: True",
        "refused: executing the verified pickle failed: ValueError: Singleton takes no state",
        "shared instance unchanged: True",
        ("refused: global 'copyreg._reconstructor' is forbidden", "[rule deny-list"),
        NOTHING_RAN,
    ],
    "tutorial/06_protocols.py": [
        f"Highest protocol: {pickle.HIGHEST_PROTOCOL}",
        f"Default protocol: {pickle.DEFAULT_PROTOCOL}",
        *(
            f"protocol {protocol}: loaded {{'key': 'value', 'numbers': (1, 2.5, (3+4j)), "
            "'raw': b'\\x00\\xff'}"
            for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
        ),
        "compatible.pkl: protocol 2",
        f"fast.pkl: protocol {pickle.HIGHEST_PROTOCOL}",
        ("refused: global 'builtins.eval' is forbidden", "spelled '__builtin__ eval'", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/07_malicious.py": [
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        f"refused global: {SYSTEM} (rule floor)",
        (f"policy error: cannot allow '{SYSTEM.replace('.', ':')}'", "can never be allowed"),
        NOTHING_RAN,
    ],
    "tutorial/08_caching_decorator.py": [
        "Computing...",
        "Loading from cache...",
        "result: 499999500000",
        "Loading from cache...",
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/09_saving_a_model.py": [
        "Prediction: 1.7",
        ("refused: global 'builtins.exec' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/10_session_manager.py": [
        "Alice",
        "preferences: {'theme': 'dark'}",
        "created is a datetime: True",
        "after damage, user is: None",
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/11_incremental_load_all.py": [
        "{'type': 'user', 'name': 'Alice'}",
        "{'type': 'user', 'name': 'Bob'}",
        "{'type': 'config', 'setting': 'value'}",
        "loaded before the refusal: {'type': 'user', 'name': 'Alice'}",
        "loaded before the refusal: {'type': 'user', 'name': 'Bob'}",
        "loaded before the refusal: {'type': 'config', 'setting': 'value'}",
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
    "tutorial/12_gzip_compression.py": [
        "loaded: 100000 items, the last 99999",
        "Compressed: ",
        (f"refused: global '{SYSTEM}' is forbidden", FLOOR),
        "Bomb: ",
        "refused: the pickle's size exceeds the limit max_input_bytes=16,777,216",
        NOTHING_RAN,
    ],
    "tutorial/13_signed_pickles.py": [
        "loaded: Job(name='resize', args=[640, 480])",
        "refused: signature mismatch: the message was not signed with our key",
        (f"refused despite a valid signature: global '{SYSTEM}' is forbidden", FLOOR),
        NOTHING_RAN,
    ],
}


def _matches(line: str, expected: Expected) -> bool:
    parts = (expected,) if isinstance(expected, str) else expected
    if not line.startswith(parts[0]):
        return False
    position = len(parts[0])
    for part in parts[1:]:
        position = line.find(part, position)
        if position < 0:
            return False
        position += len(part)
    return True


def _missing(lines: list[str], expected: list[Expected]) -> list[Expected]:
    """The expectations not met, in order: each must match a line after the previous one's."""
    remaining = iter(lines)
    return [want for want in expected if not any(_matches(line, want) for line in remaining)]


def _run(script: Path, cwd: Path, tmpdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(tmpdir), "TEMP": str(tmpdir), "TMP": str(tmpdir), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_example_is_run_here() -> None:
    assert "quickstart.py" in EXAMPLES
    assert len([name for name in EXAMPLES if name.startswith("tutorial/")]) >= 13
    assert sorted(EXPECTED) == EXAMPLES, "every example needs its expected output in EXPECTED"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_prints_and_leaves_nothing(name: str, tmp_path: Path) -> None:
    cwd, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmpdir.mkdir()
    result = _run(EXAMPLES_DIR / name, cwd, tmpdir)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _missing(result.stdout.splitlines(), EXPECTED.get(name, [])) == [], result.stdout
    assert not (cwd / "CANARY").exists()
    assert list(cwd.iterdir()) == [], "the example left files in its working directory"
    assert list(tmpdir.iterdir()) == [], "the example left its scratch directory behind"


def test_the_scratch_directory_reports_a_payload_that_ran(tmp_path: Path) -> None:
    # The examples' own canary check is what catches a payload that ran inside their scratch
    # directory (removed afterwards), so it must be able to fail.
    script = tmp_path / "ran.py"
    script.write_text(
        "from pathlib import Path\n"
        "from _scratch import scratch_directory\n"
        "with scratch_directory():\n"
        "    Path('CANARY').touch()\n"
    )
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = _run(script, tmp_path, tmpdir, PYTHONPATH=str(TUTORIAL_DIR))
    assert result.returncode == 1
    assert "CANARY appeared: a hostile payload executed" in result.stderr
    assert NOTHING_RAN not in result.stdout
    assert list(tmpdir.iterdir()) == []


# --- the tutorial's Malicious class --------------------------------------------------------


class Malicious:
    """The tutorial's class, with its ``echo`` replaced by the canary command."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # This runs when unpickled!
        return (os.system, ("touch CANARY",))


PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def _assert_floor_refusal(err: safepickle.ForbiddenGlobal) -> None:
    assert (err.module, err.name) == (os.system.__module__, "system")
    assert err.decision.rule == "floor"
    assert str(err).startswith(f"global '{SYSTEM}' is forbidden")
    assert "allow=" not in str(err)  # never suggests allowing a floor item


def test_the_malicious_payload_is_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Proof that the refusals below refuse something real: plain pickle runs it.
    monkeypatch.chdir(tmp_path)
    pickle.loads(pickle.dumps(Malicious()))  # the tutorial's "DON'T DO THIS"
    assert (tmp_path / "CANARY").exists()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tutorial_malicious_is_refused_by_loads(canary: Path, protocol: int) -> None:
    malicious_data = pickle.dumps(Malicious(), protocol=protocol)
    with pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.loads(malicious_data)
    _assert_floor_refusal(info.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tutorial_malicious_is_refused_by_load(canary: Path, protocol: int) -> None:
    path = canary.parent / "data.pkl"
    with path.open("wb") as f:
        pickle.dump(Malicious(), f, protocol=protocol)
    with path.open("rb") as f, pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.load(f)
    _assert_floor_refusal(info.value)
    with path.open("rb") as f, pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.Unpickler(f).load()
    _assert_floor_refusal(info.value)


def test_tutorial_malicious_is_refused_whatever_is_allowed(canary: Path) -> None:
    malicious_data = pickle.dumps(Malicious())
    # Allowing the class that wrote it changes nothing: the stream names os.system, not it.
    with pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.loads(malicious_data, allow=[Malicious])
    _assert_floor_refusal(info.value)
    with pytest.raises(safepickle.PolicyError, match="can never be allowed"):
        safepickle.loads(malicious_data, allow=[os.system])


def test_tutorial_malicious_after_good_records_stops_load_all(canary: Path) -> None:
    path = canary.parent / "objects.pkl"
    records = [{"type": "user", "name": "Alice"}, {"type": "user", "name": "Bob"}]
    with path.open("wb") as f:
        for record in records:
            safepickle.dump(record, f)
        pickle.dump(Malicious(), f)
    loaded: list[object] = []
    with path.open("rb") as f, pytest.raises(safepickle.ForbiddenGlobal) as info:
        loaded.extend(safepickle.load_all(f))
    assert loaded == records
    _assert_floor_refusal(info.value)


#: the tutorial's records: JSON data (which safepickle.dump stores as JSON) and values only a
#: pickle holds (tuples, bytes, datetimes), so one file mixes both formats
_json_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
_records = _json_data | st.dictionaries(
    st.text(max_size=5),
    st.tuples(st.integers()) | st.binary(max_size=10) | st.datetimes(),
    min_size=1,
    max_size=3,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # cwd + a final check
@given(records=st.lists(_records, max_size=6), data=st.data())
def test_incremental_file_with_an_injected_record_stops_exactly_there(
    canary: Path, records: list[object], data: st.DataObject
) -> None:
    # The tutorial's incremental pickler, as a property: whatever the records and wherever an
    # attacker inserts the Malicious one, load_all yields exactly the records before it.
    position = data.draw(st.integers(0, len(records)), label="position")
    stream = io.BytesIO()
    for record in records[:position]:
        safepickle.dump(record, stream)
    pickle.dump(Malicious(), stream)
    for record in records[position:]:
        safepickle.dump(record, stream)
    stream.seek(0)
    loaded: list[object] = []
    with pytest.raises(safepickle.ForbiddenGlobal) as info:
        loaded.extend(safepickle.load_all(stream))
    assert loaded == records[:position]
    _assert_floor_refusal(info.value)


def test_pickled_functions_of_dill_are_refused(canary: Path) -> None:
    # What docs/migrating.md says about dill: plain data loads, pickled code never does.
    import dill  # type: ignore[import-untyped]  # dill ships no type information

    assert safepickle.loads(dill.dumps({"scores": [95, 87]})) == {"scores": [95, 87]}
    with pytest.raises(safepickle.ForbiddenGlobal) as info:
        safepickle.loads(dill.dumps(lambda: os.system("touch CANARY")))
    assert info.value.module.startswith("dill")
    assert info.value.decision.rule == "floor"


class Singleton:
    """The tutorial's singleton, without the example's guards."""

    _instance: Singleton | None = None

    def __new__(cls) -> Singleton:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> tuple[type[Singleton], tuple[()]]:
        return (self.__class__, ())


class _SecondInstance:
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (copyreg._reconstructor, (Singleton, object, None))  # type: ignore[attr-defined]


class _SetAttributes:
    def __reduce__(self) -> tuple[object, tuple[()], dict[str, bool]]:
        return (Singleton, (), {"is_admin": True})


def test_why_the_singleton_example_guards_itself() -> None:
    # docs/migrating.md, section 5: with only allow=[Singleton], a stream can make a second
    # instance (object.__new__ skips Singleton.__new__), and can set state on the shared one.
    # If the default policy ever stops allowing either, update the guide and the example.
    shared = Singleton()
    second = pickle.dumps(_SecondInstance(), protocol=2)
    assert safepickle.loads(second, allow=[Singleton]) is not shared
    policy = safepickle.Policy(allow=[Singleton], deny=["copyreg._reconstructor"])
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(second, policy=policy)
    assert safepickle.loads(pickle.dumps(_SetAttributes()), allow=[Singleton]) is shared
    assert vars(shared) == {"is_admin": True}


# --- docs/migrating.md quotes the examples' output ------------------------------------------

_QUOTE = re.compile(r"<!-- output of (?P<name>\S+) -->\n```text\n(?P<text>.*?)\n```", re.S)


def _quotes() -> list[tuple[str, str]]:
    return [(m["name"], m["text"]) for m in _QUOTE.finditer(MIGRATING.read_text("utf-8"))]


def test_migrating_guide_covers_every_tutorial_example() -> None:
    text = MIGRATING.read_text("utf-8")
    for name in EXAMPLES:
        if name.startswith("tutorial/"):
            assert f"examples/{name}" in text, f"docs/migrating.md does not include {name}"
    assert len(_quotes()) >= 5


@pytest.mark.parametrize(("name", "quoted"), _quotes())
def test_migrating_guide_quotes_real_output(name: str, quoted: str, tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = _run(EXAMPLES_DIR / name, tmp_path, tmpdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for want in quoted.splitlines():
        # The guide may cut a long line with "..."; the part before it must be printed.
        assert any(line.startswith(want.split("...", 1)[0]) for line in lines), want
