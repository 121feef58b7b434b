"""``safepickle scan``: the same verdict as a load, every hostile payload reported, reports.

The central claim (docs/scanning.md): under the same policy, a stream the scanner calls clean
is one ``safepickle.loads`` does not refuse; the only errors such a load can still raise come
from running allowed code (``ExecutionError``: the argument checks of allowed constructors)
and, for a ``--static`` scan, from the checks a load makes on the imported objects.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import strategies
from hostile_payloads import CATALOGUE, MODULES, Payload
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

import safepickle
from safepickle import (
    ExecutionError,
    ForbiddenGlobal,
    LimitExceeded,
    Limits,
    MalformedPickle,
    Policy,
    PolicyError,
    SafePickleError,
    UnsafeOpcode,
)
from safepickle.cli import main
from safepickle.scan import Scanner
from safepickle.scan.model import FileResult
from safepickle.scan.report import exit_code, print_text
from safepickle.scan.walk import find_files
from safepickle.testing import hostile_payload

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
#: rules of refusals a load makes only once it has imported the allowed object
IMPORT_CHECK_RULES = {"floor", "unresolvable", "module", "wildcard", "wildcard-reexport",
                      "shared-instance"}  # fmt: skip


@pytest.fixture
def payload_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The catalogue's helper modules on sys.path (a load of a wildcard payload imports them)."""
    directory = tmp_path / "modules"
    directory.mkdir()
    for name, source in MODULES.items():
        (directory / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(directory))
    yield
    for name in MODULES:
        sys.modules.pop(name, None)


def _policy(entry: Payload) -> Policy:
    policy = Policy(limits=Limits(**dict(entry.limits))) if entry.limits else Policy()
    return policy.allowing(*entry.allow) if entry.allow else policy


def _load_error(data: bytes, policy: Policy) -> BaseException | None:
    try:
        safepickle.loads(data, policy=policy)
    except Exception as exc:
        return exc
    return None


def _scannable(entry: Payload) -> bool:
    try:
        _policy(entry)
    except PolicyError:  # an allow-list naming a floor item cannot even be built
        return False
    return entry.extension is None and entry.fix_imports


# --- the hostile suite --------------------------------------------------------------------


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.id) for e in CATALOGUE if _scannable(e)])
def test_hostile_payload_is_never_clean(
    entry: Payload, canary: Path, payload_modules: None
) -> None:
    """Written to a file and scanned under the policy its load runs under: refused (1) or an
    error (2), never clean; except where the load's own refusal is allowed code raising on its
    arguments (ExecutionError), which only executing can show."""
    path = Path(f"{entry.id}.pkl")
    path.write_bytes(entry.data)
    policy = _policy(entry)
    result = Scanner(policy).scan_file(path)
    load_error = _load_error(entry.data, policy)
    assert load_error is not None
    if result.status == "clean":
        assert type(load_error) is ExecutionError, result
    else:
        assert exit_code([result]) in (1, 2)
        if isinstance(load_error, (ForbiddenGlobal, UnsafeOpcode)):
            assert result.status == "refused", result
    static = Scanner(policy, static=True).scan_file(path)
    if static.status == "clean":
        assert type(load_error) is ExecutionError or (
            isinstance(load_error, ForbiddenGlobal)
            and load_error.decision.rule in IMPORT_CHECK_RULES
        ), static


def test_hostile_suite_folder_through_the_command(
    canary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole default-policy part of the catalogue as one folder, through the CLI."""
    folder = Path("payloads")
    folder.mkdir()
    written = {}
    for entry in CATALOGUE:
        if not entry.allow and not entry.limits and _scannable(entry):
            (folder / f"{entry.id}.bin").write_bytes(entry.data)
            written[entry.id] = entry
    code = main(["scan", str(folder), "--format", "json", "--jobs", "2"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["summary"]["files"] == len(written)
    for file in report["files"]:
        entry = written[Path(file["path"]).stem]
        if file["status"] == "clean":
            assert type(_load_error(entry.data, Policy())) is ExecutionError, file
        else:
            assert file["status"] in ("refused", "error")


# --- scan and load agree ------------------------------------------------------------------


def _load_all_error(data: bytes, policy: Policy) -> BaseException | None:
    """What reading ``data`` as a file does: ``load_all`` (a scan reads files, which may hold
    several pickles or JSON documents in a row)."""
    try:
        for _ in safepickle.load_all(io.BytesIO(data), policy=policy):
            pass
    except Exception as exc:
        return exc
    return None


def _agrees(data: bytes, policy: Policy) -> None:
    """The scan's verdict on ``data`` is what loading it as a file does, stream by stream."""
    result = Scanner(policy).scan_bytes(data)
    error = _load_all_error(data, policy)
    first_bad = next((s for s in result.streams if s.status in ("refused", "error")), None)
    if type(error) is ExecutionError:
        # allowed code failed while running a stream the scan could only call clean (a
        # BINUNICODE of invalid UTF-8, say); load_all stops there, before any later stream
        # every stream up to the failing one was verified and allowed: the first is clean
        assert result.streams and result.streams[0].status == "clean", (result, error)
        return
    if first_bad is None:
        assert error is None, (result, error)
    elif first_bad.status == "refused":
        assert isinstance(error, (ForbiddenGlobal, UnsafeOpcode)), (result, error)
    else:
        assert isinstance(error, (MalformedPickle, LimitExceeded)), (result, error)
    static = Scanner(policy, static=True).scan_bytes(data)
    if static.status != result.status:
        # only the checks on imported objects tell the two apart
        assert static.status == "clean" and result.status == "refused"
        assert isinstance(error, ForbiddenGlobal)
        assert error.decision.rule in IMPORT_CHECK_RULES


# The canary stays in one temp dir for all examples: a payload that ran is caught at the end.
_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(suppress_health_check=_FIXTURES)
@given(data=st.one_of(strategies.valid_pickles(), strategies.mutated_pickles()))
def test_scan_verdict_is_the_load_verdict(data: bytes, canary: Path) -> None:
    assume(data)  # an empty file: load_all yields nothing, a scan says "not a pickle"
    _agrees(data, Policy())
    assert not canary.exists()


@settings(suppress_health_check=_FIXTURES)
@given(data=strategies.opcode_soup())
def test_scan_verdict_on_opcode_soup(data: bytes, canary: Path) -> None:
    assume(data)
    _agrees(data, Policy())
    assert not canary.exists()


@pytest.mark.parametrize(
    "entry", [pytest.param(e, id=e.id) for e in CATALOGUE if _scannable(e) and not e.heavy]
)
def test_scan_verdict_is_the_load_verdict_on_hostile(
    entry: Payload, canary: Path, payload_modules: None
) -> None:
    policy = _policy(entry)
    # loads-only entries are refused for bytes after the STOP, which a file may hold; an
    # empty file is "not a pickle" to a scan and simply the end to load_all
    if not entry.loads_only and entry.data:
        _agrees(entry.data, policy)


# --- several pickles, streams, the API ------------------------------------------------------


def test_several_pickles_in_one_file(canary: Path) -> None:
    path = Path("many.pkl")
    path.write_bytes(pickle.dumps([1, 2]) + pickle.dumps({"a": 1}) + hostile_payload())
    result = Scanner(Policy()).scan_file(path)
    assert [s.status for s in result.streams] == ["clean", "clean", "refused"]
    assert [s.index for s in result.streams] == [0, 1, 2]
    refused = result.streams[2].refused_globals
    assert [g.name for g in refused] == ["posix.system"] and refused[0].rule == "floor"
    # offsets are the file's: the third pickle starts where the second ended
    assert result.streams[2].start == result.streams[1].end


def test_garbage_after_a_pickle_is_an_error(canary: Path) -> None:
    result = Scanner(Policy()).scan_bytes(pickle.dumps(1) + b"\xffjunk")
    assert [s.status for s in result.streams] == ["clean", "error"]
    assert exit_code([result]) == 2


@pytest.mark.parametrize("data", [b"", b"hello, world\n", b"\x00\x01\x02"])
def test_not_a_pickle_is_an_error(data: bytes, canary: Path) -> None:
    result = Scanner(Policy()).scan_bytes(data)
    assert result.status == "error"
    assert result.streams[0].problem is not None
    assert result.streams[0].problem.rule == "malformed"


def test_allowed_by_the_policy_is_clean(canary: Path) -> None:
    from policy_samples import Point

    data = pickle.dumps(Point(1, 2))
    assert Scanner(Policy()).scan_bytes(data).status == "refused"
    result = Scanner(Policy(allow=[Point])).scan_bytes(data)
    assert result.status == "clean"
    assert [g.rule for g in result.streams[0].globals] == ["allow-list"]


def test_unresolvable_allowed_name_needs_the_import(canary: Path) -> None:
    data = b"\x80\x02cnot_installed_mod\nThing\n)\x81."
    policy = Policy(allow=["not_installed_mod:Thing"])
    assert Scanner(policy, static=True).scan_bytes(data).status == "clean"
    result = Scanner(policy).scan_bytes(data)
    assert result.status == "refused"
    assert result.streams[0].refused_globals[0].rule == "unresolvable"


def test_limit_is_an_error(canary: Path) -> None:
    policy = Policy(limits=Limits(max_opcodes=5))
    result = Scanner(policy).scan_bytes(pickle.dumps(list(range(100))))
    assert result.status == "error"
    assert result.streams[0].problem is not None
    assert result.streams[0].problem.rule == "limit:max_opcodes"


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    result = Scanner(Policy()).scan_file(tmp_path / "missing.pkl")
    assert result.status == "error"
    assert result.streams[0].problem is not None
    assert result.streams[0].problem.rule == "unreadable"


def test_special_files_are_errors_not_hangs(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pkl"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        result = Scanner(Policy()).scan_file(path)
        assert result.status == "error"
        assert result.streams[0].problem is not None
        assert result.streams[0].problem.rule == "unreadable"


def test_results_cross_processes() -> None:
    result = Scanner(Policy()).scan_bytes(hostile_payload(), "x")
    assert pickle.loads(pickle.dumps(result)) == result


# --- files and folders --------------------------------------------------------------------


def test_walk_include_exclude(tmp_path: Path) -> None:
    for name in ("a.pkl", "b.txt", "sub/c.pt", "sub/skip/d.pkl", ".git/e.pkl", "f.npy"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = [Path(p).relative_to(tmp_path).as_posix() for p in find_files([str(tmp_path)])]
    assert found == ["a.pkl", "f.npy", "sub/c.pt", "sub/skip/d.pkl"]
    found = [
        Path(p).relative_to(tmp_path).as_posix()
        for p in find_files([str(tmp_path)], include=["*.pkl", "*.txt"], exclude=["sub/skip"])
    ]
    assert found == ["a.pkl", "b.txt"]
    # a file named on the command line is scanned whatever its name
    assert list(find_files([str(tmp_path / "b.txt")])) == [str(tmp_path / "b.txt")]


# --- the command --------------------------------------------------------------------------


def _tree(root: Path) -> None:
    (root / "good.pkl").write_bytes(pickle.dumps({"x": [1, 2.5]}))
    (root / "evil.pkl").write_bytes(hostile_payload())
    (root / "broken.pkl").write_bytes(b"\x80\x04garbage")


def test_exit_codes(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(Path("."))
    assert main(["scan", "good.pkl"]) == 0
    assert main(["scan", "good.pkl", "evil.pkl"]) == 1
    assert main(["scan", "good.pkl", "broken.pkl"]) == 2
    assert main(["scan", "."]) == 1  # a refusal outranks an error
    capsys.readouterr()


def test_usage_errors(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(Path("."))
    assert main(["scan", "good.pkl", "--plugin", "no-such-plugin"]) == 2
    assert "no safepickle plugin named 'no-such-plugin'" in capsys.readouterr().err
    assert main(["scan", "good.pkl", "--allow", "os:system"]) == 2
    assert "can never be allowed" in capsys.readouterr().err
    assert main(["scan", "good.pkl", "--jobs", "0"]) == 2


def test_policy_file_and_allow(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("dec.pkl").write_bytes(pickle.dumps(complex(1, 2)))  # builtins.complex
    code = main(["scan", "dec.pkl", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    fingerprint = Policy().fingerprint
    assert report["policy"]["fingerprint"] == fingerprint
    if code == 1:  # complex is not in the default policy: allow it through the policy file
        Path("safepickle.toml").write_text('allow = ["builtins:complex"]\n')
        assert main(["scan", "dec.pkl", "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["policy"]["fingerprint"] != fingerprint
        assert report["policy"]["allow"] == ["builtins:complex"]
        Path("safepickle.toml").unlink()
        assert main(["scan", "dec.pkl", "--allow", "builtins:complex"]) == 0
    else:
        assert code == 0


def test_json_report(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(Path("."))
    assert main(["scan", ".", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert by_name["good.pkl"]["status"] == "clean"
    assert by_name["broken.pkl"]["status"] == "error"
    evil = by_name["evil.pkl"]
    assert evil["status"] == "refused"
    (stream,) = evil["streams"]
    denied = [g for g in stream["globals"] if g["decision"] == "deny"]
    assert denied[0]["name"] == "posix.system" and denied[0]["rule"] == "floor"
    assert report["summary"] == {
        "files": 3,
        "clean": 1,
        "refused": 1,
        "error": 1,
        "streams": 3,
    }
    assert report["exit_code"] == 1 and report["static"] is False


def test_sarif_report_is_valid(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tree(Path("."))
    Path("model.pkl.gz").write_bytes(__import__("gzip").compress(hostile_payload()))
    assert main(["scan", ".", "--format", "sarif", "--output", "out.sarif"]) == 1
    log = json.loads(Path("out.sarif").read_text())
    jsonschema.validate(log, SCHEMA)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len({rule["id"] for rule in rules}) == len(rules)
    results = run["results"]
    by_file = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in results
    }
    assert set(by_file) == {"evil.pkl", "broken.pkl", "model.pkl.gz"}
    evil = by_file["evil.pkl"]
    assert rules[evil["ruleIndex"]]["name"] == "floor" and evil["level"] == "error"
    assert evil["locations"][0]["physicalLocation"]["region"]["byteOffset"] > 0
    gz = by_file["model.pkl.gz"]
    assert gz["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "<gzip>"
    assert rules[by_file["broken.pkl"]["ruleIndex"]]["name"] == "malformed"
    assert run["properties"]["policyFingerprint"] == Policy().fingerprint


def test_text_report_table() -> None:
    results = [
        Scanner(Policy()).scan_bytes(hostile_payload(), "evil.pkl"),
        Scanner(Policy()).scan_bytes(pickle.dumps(1), "good.pkl"),
    ]
    console = Console(record=True, width=140, file=io.StringIO())
    print_text(console, results, Policy(), verbose=True)
    text = console.export_text()
    assert "refused  evil.pkl" in text
    offset = results[0].streams[0].refused_globals[0].offset
    row = next(line for line in text.splitlines() if "posix.system" in line)
    assert "│ floor │" in row and f" {offset} │" in row
    assert "can never be allowed" in text
    assert "clean  good.pkl (1 pickle(s))" in text
    assert f"policy {Policy().fingerprint[:16]}" in text
    assert "2 file(s), 2 pickle(s): 1 clean, 1 refused, 0 error(s)" in text


def test_text_report_hints_how_to_allow(capsys: pytest.CaptureFixture[str]) -> None:
    from policy_samples import Point

    results = [Scanner(Policy()).scan_bytes(pickle.dumps(Point(1, 2)), "p.pkl")]
    console = Console(record=True, width=200, file=io.StringIO())
    print_text(console, results, Policy())
    assert "--allow 'policy_samples:Point'" in console.export_text()


def test_jobs_keep_the_order(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index in range(30):
        data = hostile_payload() if index % 7 == 3 else pickle.dumps(list(range(index)))
        Path(f"f{index:02}.pkl").write_bytes(data)
    assert main(["scan", ".", "--format", "json"]) == 1
    one = json.loads(capsys.readouterr().out)
    assert main(["scan", ".", "--format", "json", "--jobs", "3"]) == 1
    three = json.loads(capsys.readouterr().out)
    strip = [{k: v for k, v in f.items() if k != "seconds"} for f in one["files"]]
    assert strip == [{k: v for k, v in f.items() if k != "seconds"} for f in three["files"]]
    assert [Path(f["path"]).name for f in one["files"]] == sorted(
        f"f{i:02}.pkl" for i in range(30)
    )


def test_progress_bar_on_a_terminal(
    canary: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(25):
        Path(f"f{index:02}.pkl").write_bytes(pickle.dumps(index))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["scan", "."]) == 0
    captured = capsys.readouterr()
    assert "25 file(s), 25 pickle(s): 25 clean" in captured.out
    assert "scanning" in captured.err  # the bar was drawn on stderr
    assert main(["scan", ".", "--no-progress"]) == 0
    assert "scanning" not in capsys.readouterr().err


def test_scan_never_executes(canary: Path) -> None:
    """A scan of a live exploit leaves no canary, in either mode, with every entry point."""
    Path("x.pkl").write_bytes(hostile_payload())
    for static in (False, True):
        assert Scanner(Policy(), static=static).scan_file("x.pkl").status == "refused"
    assert main(["scan", "x.pkl", "--static", "--format", "json"]) == 1


def test_error_results_name_the_problem(canary: Path) -> None:
    result: FileResult = Scanner(Policy()).scan_bytes(b"\x80\x02cos\nsystem\n")
    (stream,) = result.streams
    assert stream.status == "error"
    assert stream.problem is not None and isinstance(stream.problem.message, str)
    assert issubclass(getattr(safepickle, stream.problem.error_type), SafePickleError)


def test_audit_records_for_scans(canary: Path) -> None:
    """With audit sinks, every scanned stream is one record, ``event.action: safepickle-scan``."""
    from safepickle.audit.chain import verify_file

    policy = Policy(audit="audit.jsonl")
    Path("two.pkl").write_bytes(pickle.dumps(1) + hostile_payload())
    Path("bad.pkl").write_bytes(b"\x80\x04junk")
    scanner = Scanner(policy)
    scanner.scan_file("two.pkl")
    scanner.scan_file("bad.pkl")
    records = [json.loads(line) for line in Path("audit.jsonl").read_text().splitlines()]
    assert [r["event"]["action"] for r in records] == ["safepickle-scan"] * 3
    assert [r["safepickle"]["outcome"] for r in records] == ["loaded", "refused", "error"]
    assert records[1]["rule"]["id"] == "floor"
    assert records[1]["file"]["size"] == len(hostile_payload())
    assert records[0]["safepickle"]["policy"]["fingerprint"] == policy.fingerprint
    assert verify_file("audit.jsonl").intact
