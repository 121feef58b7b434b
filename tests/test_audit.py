"""Audit logging: ECS records, the logging and JSON Lines sinks, the hash chain and its
verification, concurrent writers, sys.audit events, and ``safepickle audit``."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing
import os
import pickle
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from policy_samples import Point

import safepickle
from safepickle import (
    ExecutionError,
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    PluginError,
    Policy,
    PolicyError,
    UnsafeOpcode,
)
from safepickle.audit import JsonlSink, LoggingSink, digest, jsonl, verify_file
from safepickle.audit.chain import GENESIS, line_digest
from safepickle.audit.event import ECS_VERSION, to_ecs
from safepickle.cli import main
from safepickle.context import LoadEvent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the JSONL sink needs flock")

OS_SYSTEM = b"cos\nsystem\n(S'true'\ntR."
SHA256 = re.compile(r"[0-9a-f]{64}\Z")
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


class Collect:
    """A custom sink: keeps the events."""

    def __init__(self) -> None:
        self.events: list[LoadEvent] = []

    @safepickle.hookimpl
    def safepickle_audit(self, event: LoadEvent) -> None:
        self.events.append(event)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def write_records(path: Path, count: int) -> list[bytes]:
    """``count`` loads audited to ``path``; returns the file's lines."""
    policy = Policy(audit=path)
    for i in range(count):
        safepickle.loads(pickle.dumps({"i": i}), policy=policy)
    return path.read_bytes().splitlines(keepends=True)


# --- the record ----------------------------------------------------------------------------
def test_loaded_record_has_every_field(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    policy = Policy(allow=[Point], audit=log)
    data = pickle.dumps([Point(1, 2), {1, 2}], protocol=2)  # protocol 2 spells __builtin__.set
    line_number = sys._getframe().f_lineno + 1
    assert safepickle.loads(data, policy=policy) == [Point(1, 2), {1, 2}]
    (record,) = records(log)

    assert TIMESTAMP.match(record["@timestamp"])
    assert record["ecs"] == {"version": ECS_VERSION}
    event = record["event"]
    assert UUID4.match(event["id"])
    assert event["kind"] == "event"
    assert event["category"] == ["api"]
    assert event["type"] == ["access", "allowed"]
    assert event["action"] == "safepickle-load"
    assert event["outcome"] == "success"
    assert event["dataset"] == "safepickle.audit"
    assert isinstance(event["duration"], int) and event["duration"] > 0
    assert event["sequence"] == 1 and SHA256.match(event["hash"])
    assert record["file"] == {
        "size": len(data),
        "hash": {"sha256": hashlib.sha256(data).hexdigest()},
    }
    assert record["log"]["logger"] == "safepickle.audit"
    assert record["log"]["level"] == "info"
    origin = record["log"]["origin"]
    assert origin["file"] == {"name": __file__, "line": line_number}
    assert origin["function"] == "test_loaded_record_has_every_field"
    assert record["process"]["pid"] == os.getpid()
    assert record["process"]["executable"] == sys.executable
    assert record["user"]["id"] == str(os.getuid())
    assert record["host"]["hostname"] == record["host"]["name"] != ""
    assert "error" not in record and "rule" not in record

    custom = record["safepickle"]
    assert custom["outcome"] == "loaded"
    assert custom["action"] == "load"
    assert custom["source"] == f"{__name__}:{line_number}"  # bytes: the caller's module:line
    assert custom["format"] == "pickle"
    assert custom["protocol"] == 2
    assert custom["version"] == safepickle.__version__
    assert custom["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert custom["chain"] == {"prev": GENESIS}
    assert custom["policy"]["fingerprint"] == policy.fingerprint
    assert custom["policy"]["allow"] == ["policy_samples:Point"]
    assert custom["policy"]["limits"]["max_opcodes"] == policy.limits.max_opcodes
    by_name = {g["name"]: g for g in custom["globals"]}
    point = by_name["policy_samples.Point"]
    assert point["decision"] == "allow"
    assert (point["rule"], point["plugin"]) == ("allow-list", "allowlist")
    assert point["reason"]
    builtin_set = by_name["builtins.set"]  # canonical name, and what the stream spelled
    assert (builtin_set["module"], builtin_set["qualname"]) == ("builtins", "set")
    assert builtin_set["raw"] == {"module": "__builtin__", "name": "set"}
    assert builtin_set["opcode"] == "GLOBAL" and isinstance(builtin_set["offset"], int)
    assert (builtin_set["rule"], builtin_set["plugin"]) == ("stdlib", "safepickle.builtin.stdlib")


@pytest.mark.parametrize("entry", ["loads", "load", "load_all"])
def test_large_input_is_hashed_beside_the_load(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    monkeypatch.setattr(digest, "BACKGROUND_BYTES", 1024)
    collect = Collect()
    policy = Policy(audit=collect)
    data = pickle.dumps(list(range(5000)))
    before = threading.active_count()
    if entry == "loads":
        assert safepickle.loads(data, policy=policy) == list(range(5000))
        with pytest.raises(LimitExceeded):  # refused by the verifier: hashed all the same
            safepickle.loads(data, policy=policy.with_limits(max_container_items=10))
    elif entry == "load":
        assert safepickle.load(io.BytesIO(data + b"more"), policy=policy) == list(range(5000))
    else:
        assert list(safepickle.load_all(io.BytesIO(data * 2), policy=policy))[1][-1] == 4999
    assert threading.active_count() == before  # every hashing thread was joined
    assert {event.sha256 for event in collect.events} == {hashlib.sha256(data).hexdigest()}


def test_hash_of_a_pickle_inside_a_larger_buffer() -> None:
    collect = Collect()
    first, second = pickle.dumps(list(range(5000))), pickle.dumps("two")
    stream = io.BytesIO(first + second)
    assert list(safepickle.load_all(stream, policy=Policy(audit=collect)))[1] == "two"
    digests = [event.sha256 for event in collect.events]
    assert digests == [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()]


def test_file_source_is_its_path(tmp_path: Path) -> None:
    collect = Collect()
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps([1, 2]) + pickle.dumps("two"))
    with open(path, "rb") as file:
        assert list(safepickle.load_all(file, policy=Policy(audit=collect))) == [[1, 2], "two"]
    assert len(collect.events) == 2  # the end of the file is not an event
    document = collect.events[0].ecs
    assert document["file"]["path"] == str(path)
    assert document["safepickle"]["source"] == str(path)
    assert document["event"]["category"] == ["api", "file"]
    assert document["file"]["hash"]["sha256"] == hashlib.sha256(pickle.dumps([1, 2])).hexdigest()


def test_refused_record(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(OS_SYSTEM, policy=Policy(audit=log))
    (record,) = records(log)
    assert record["event"]["outcome"] == "failure"
    assert record["event"]["type"] == ["access", "denied"]
    assert record["log"]["level"] == "warning"
    assert record["error"]["type"] == "ForbiddenGlobal"
    assert "os.system" in record["error"]["message"]
    assert record["rule"]["id"] == "floor" and record["rule"]["name"] == "core"
    assert record["rule"]["ruleset"].endswith(record["safepickle"]["policy"]["fingerprint"])
    custom = record["safepickle"]
    assert custom["outcome"] == "refused"
    assert custom["protocol"] == 0
    assert custom["globals"] == [
        {
            "name": "os.system",
            "module": "os",
            "qualname": "system",
            "raw": {"module": "os", "name": "system"},
            "opcode": "GLOBAL",
            "offset": 0,
            "decision": "deny",
            "rule": "floor",
            "plugin": "core",
            "reason": custom["globals"][0]["reason"],
        }
    ]


def test_limit_hit_is_recorded(tmp_path: Path) -> None:
    collect = Collect()
    policy = Policy(audit=collect).with_limits(max_container_items=10)
    data = pickle.dumps(list(range(100)))
    with pytest.raises(LimitExceeded):
        safepickle.loads(data, policy=policy)
    (event,) = collect.events
    assert event.outcome == "refused"
    document = event.ecs
    assert document["safepickle"]["limit"] == {"name": "max_container_items", "maximum": 10}
    assert document["rule"]["id"] == "limit:max_container_items"
    assert document["file"]["hash"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["safepickle"]["protocol"] == pickle.DEFAULT_PROTOCOL
    assert document["safepickle"]["policy"]["limits"]["max_container_items"] == 10


def test_error_outcomes_are_audited(tmp_path: Path) -> None:
    collect = Collect()
    policy = Policy(audit=collect)
    with pytest.raises(MalformedPickle):
        safepickle.loads(pickle.dumps(1) + b"junk", policy=policy)
    with pytest.raises(ExecutionError):  # allowed code raising: int("x")
        safepickle.loads(b"c__builtin__\nint\n(S'x'\ntR.", policy=policy)
    with pytest.raises(UnsafeOpcode):
        safepickle.loads(b"\x80\x02\x82\x01.", policy=policy)  # EXT1
    outcomes = [(e.outcome, type(e.error).__name__) for e in collect.events]
    assert outcomes == [
        ("error", "MalformedPickle"),
        ("error", "ExecutionError"),
        ("refused", "UnsafeOpcode"),
    ]
    assert collect.events[2].ecs["rule"]["id"] == "opcode:EXT1"
    assert collect.events[1].ecs["safepickle"]["globals"][0]["name"] == "builtins.int"


def test_file_reads_rejected_by_the_verifier_are_audited(tmp_path: Path) -> None:
    collect = Collect()
    policy = Policy(audit=collect).with_limits(max_container_items=10)
    big = pickle.dumps(list(range(100)))
    stream = io.BytesIO(pickle.dumps("ok") + big)
    unpickler = safepickle.Unpickler(stream, policy=policy)
    assert unpickler.load() == "ok"
    with pytest.raises(LimitExceeded):
        unpickler.load()
    assert [e.outcome for e in collect.events] == ["loaded", "refused"]
    refused = collect.events[1]
    assert refused.size == len(big)  # the bytes read for the rejected pickle
    assert refused.sha256 == hashlib.sha256(big).hexdigest()

    collect.events.clear()
    stream = io.BytesIO(pickle.dumps(1) + pickle.dumps(2))
    reader = safepickle.Unpickler(stream, policy=Policy(audit=collect))
    assert [reader.load(), reader.load()] == [1, 2]
    with pytest.raises(EOFError):
        reader.load()
    assert len(collect.events) == 2  # EOF is how pickle.load loops end, not a load


def test_pipe_over_the_size_limit_is_audited_without_a_hash() -> None:
    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

    collect = Collect()
    policy = Policy(audit=collect).with_limits(max_input_bytes=16)
    with pytest.raises(LimitExceeded):
        safepickle.Unpickler(Pipe(pickle.dumps(list(range(100)))), policy=policy).load()
    (event,) = collect.events
    assert (event.outcome, event.size, event.sha256) == ("refused", 0, None)
    assert event.ecs["safepickle"]["limit"]["name"] == "max_input_bytes"
    assert "hash" not in event.ecs["file"]


def test_validator_rejection_is_an_error_event() -> None:
    class Reject:
        @safepickle.hookimpl
        def safepickle_validate_object(self, obj: Any) -> None:
            raise ValueError("no")

    collect = Collect()
    with pytest.raises(PluginError):
        safepickle.loads(pickle.dumps(1), policy=Policy(plugins=[Reject()], audit=collect))
    assert [e.outcome for e in collect.events] == ["error"]


def test_jsonl_record_is_the_same_document_as_ecs(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    collect = Collect()
    policy = Policy(audit=[log, collect])
    safepickle.loads(pickle.dumps([Point(1, 2)]), policy=policy.allowing(Point))
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(OS_SYSTEM, policy=policy)
    for event, record in zip(collect.events, records(log), strict=True):
        chain = (record["event"].pop("sequence"), record["event"].pop("hash"))
        assert chain[0] >= 1
        del record["safepickle"]["chain"]
        assert record == event.ecs == to_ecs(event)


# --- configuration ------------------------------------------------------------------------
def test_audit_setting_forms(tmp_path: Path) -> None:
    collect = Collect()
    assert Policy().audit_sinks == ()
    assert Policy(audit=False).audit_sinks == Policy(audit=None).audit_sinks == ()
    (jsonl,) = Policy(audit=tmp_path / "a.jsonl").audit_sinks
    assert isinstance(jsonl, JsonlSink) and jsonl.path == str(tmp_path / "a.jsonl")
    (logging_sink,) = Policy(audit=True).audit_sinks
    assert isinstance(logging_sink, LoggingSink)
    assert Policy(audit=collect).audit_sinks == (collect,)
    sinks = Policy(audit=[str(tmp_path / "a.jsonl"), tmp_path / "a.jsonl", collect]).audit_sinks
    assert len(sinks) == 2  # one file is one sink
    for bad in (42, [True], b"path"):
        with pytest.raises(PolicyError):
            Policy(audit=bad)


def test_relative_path_is_fixed_at_policy_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = Policy(audit="audit.jsonl")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    safepickle.loads(pickle.dumps(1), policy=policy)
    assert (tmp_path / "audit.jsonl").exists()


def test_a_sink_cannot_widen_the_policy() -> None:
    class Sneaky(Collect):
        @safepickle.hookimpl
        def safepickle_decide(self, ref: Any) -> Any:
            return safepickle.Decision.allow("everything")

    with pytest.raises(PolicyError, match="safepickle_decide"):
        Policy(audit=Sneaky())


def test_audit_is_carried_through_derived_policies(tmp_path: Path) -> None:
    collect = Collect()
    policy = Policy(audit=collect)
    derived = [
        policy.allowing(Point),
        policy.denying("myapp:X"),
        policy.with_limits(max_opcodes=100),
        policy.with_plugins(Collect()),
        safepickle.allowed(Point, policy=policy),
    ]
    for other in derived:
        assert collect in other.audit_sinks
    safepickle.loads(pickle.dumps(Point(1, 2)), policy=policy, allow=[Point])
    assert len(collect.events) == 1
    assert policy.with_audit(False).audit_sinks == ()
    assert not policy.with_audit(None).manager.has_auditors


def test_no_sink_builds_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an audit event was built without a sink")

    monkeypatch.setattr(safepickle.api, "LoadEvent", fail)
    monkeypatch.setattr(safepickle.api, "Digest", fail)
    assert safepickle.loads(pickle.dumps({1: [2]})) == {1: [2]}
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(OS_SYSTEM)
    with pytest.raises(MalformedPickle):
        safepickle.loads(b"\x80\x05junk")


def test_sink_raising_and_wrapper_sinks() -> None:
    class Broken:
        @safepickle.hookimpl
        def safepickle_audit(self) -> None:
            raise OSError("disk full")

    with pytest.raises(PluginError, match="disk full"):
        safepickle.loads(pickle.dumps(1), policy=Policy(audit=Broken()))

    seen: list[str] = []

    class Wrapper:
        @safepickle.hookimpl(wrapper=True)
        def safepickle_audit(self, event: LoadEvent) -> Any:
            seen.append(f"before {event.outcome}")
            yield
            seen.append("after")

    collect = Collect()
    safepickle.loads(pickle.dumps(1), policy=Policy(audit=[collect, Wrapper()]))
    assert seen == ["before loaded", "after"] and len(collect.events) == 1


def test_unwritable_log_fails_the_load(tmp_path: Path) -> None:
    # fail closed: nothing is loaded unaudited
    with pytest.raises(PluginError):
        safepickle.loads(pickle.dumps(1), policy=Policy(audit=tmp_path))  # a directory


# --- fingerprint --------------------------------------------------------------------------
def test_fingerprint_is_stable_and_sensitive() -> None:
    base = Policy(allow=["a.b:C", "d.e:F"], deny=["x.y:*"], plugins=["stdlib"])
    same = Policy(allow=["d.e:F", "a.b:C"], deny=["x.y:*"], plugins=["stdlib"], audit=True)
    assert base.fingerprint == same.fingerprint  # order and audit sinks do not matter
    assert SHA256.match(base.fingerprint)
    different = [
        base.allowing("g.h:I"),
        base.denying("z:*"),
        base.with_limits(max_opcodes=5),
        base.with_plugins(Collect()),
        Policy(allow=["a.b:C", "d.e:F"], deny=["x.y:*"], plugins=["stdlib"], defaults=False),
    ]
    prints = {p.fingerprint for p in different}
    assert len(prints) == len(different) and base.fingerprint not in prints
    code = (
        "import safepickle; print(safepickle.Policy(allow=['a.b:C', 'd.e:F'], "
        "deny=['x.y:*'], plugins=['stdlib']).fingerprint)"
    )
    other_process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert other_process.stdout.strip() == base.fingerprint


# --- the logging sink ---------------------------------------------------------------------
def test_logging_sink(caplog: pytest.LogCaptureFixture) -> None:
    policy = Policy(audit=True)
    with caplog.at_level(logging.INFO, logger="safepickle.audit"):
        safepickle.loads(pickle.dumps(1), policy=policy)
        with pytest.raises(ForbiddenGlobal):
            safepickle.loads(OS_SYSTEM, policy=policy)
    loaded, refused = (r for r in caplog.records if r.name == "safepickle.audit")
    assert (loaded.levelno, refused.levelno) == (logging.INFO, logging.WARNING)
    for record, outcome in ((loaded, "loaded"), (refused, "refused")):
        document = json.loads(record.getMessage())  # one structured record per event
        assert document["safepickle"]["outcome"] == outcome
        assert record.ecs == document  # type: ignore[attr-defined]
    assert json.loads(refused.getMessage())["rule"]["id"] == "floor"


def test_logging_sink_off_costs_no_document(caplog: pytest.LogCaptureFixture) -> None:
    collect = Collect()
    with caplog.at_level(logging.ERROR, logger="safepickle.audit"):
        safepickle.loads(pickle.dumps(1), policy=Policy(audit=[LoggingSink(), collect]))
    assert not [r for r in caplog.records if r.name == "safepickle.audit"]
    assert "ecs" not in collect.events[0].__dict__  # never built


# --- the chain ----------------------------------------------------------------------------
def test_chain_links_every_record(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = write_records(log, 5)
    documents = [json.loads(line) for line in lines]
    assert [d["event"]["sequence"] for d in documents] == [1, 2, 3, 4, 5]
    assert documents[0]["safepickle"]["chain"]["prev"] == GENESIS
    for before, after in zip(lines, documents[1:], strict=False):
        assert after["safepickle"]["chain"]["prev"] == line_digest(before.rstrip(b"\n"))
    report = verify_file(log)
    assert report.intact and report.records == 5
    assert (report.head_sequence, report.head_hash) == (5, documents[-1]["event"]["hash"])


def _tamper(lines: list[bytes], kind: str) -> list[bytes]:
    lines = list(lines)
    if kind == "edit":
        lines[2] = lines[2].replace(b'"outcome":"loaded"', b'"outcome":"refused"', 1)
    elif kind == "edit-and-rehash":
        document = lines[2].replace(b'"outcome":"loaded"', b'"outcome":"refused"', 1)
        claimed = json.loads(document)["event"]["hash"].encode()
        zeroed = document.rstrip(b"\n").replace(claimed, b"0" * 64)
        lines[2] = zeroed.replace(b"0" * 64, hashlib.sha256(zeroed).hexdigest().encode(), 1)
        lines[2] += b"\n"
    elif kind == "delete":
        del lines[2]
    elif kind == "delete-first":
        del lines[0]
    elif kind == "swap":
        lines[2], lines[3] = lines[3], lines[2]
    elif kind == "insert":
        lines.insert(3, lines[1])
    elif kind == "truncate":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    elif kind == "garbage":
        lines.insert(2, b"not a record\n")
    return lines


@pytest.mark.parametrize(
    ("kind", "line", "problem"),
    [
        ("edit", 3, "edited"),
        ("edit-and-rehash", 3, "edited"),
        ("delete", 3, "removed"),
        ("delete-first", 1, "removed"),
        ("swap", 3, "reordered"),
        ("insert", 4, "inserted"),
        ("truncate", 6, "truncated"),
        ("garbage", 3, "malformed"),
    ],
)
def test_verify_names_the_first_bad_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, line: int, problem: str
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = write_records(log, 6)
    assert main(["audit", "verify", str(log)]) == 0
    log.write_bytes(b"".join(_tamper(lines, kind)))
    report = verify_file(log)
    assert not report.intact
    first = report.first_problem
    assert first is not None
    assert (first.line, first.kind) == (line, problem), str(first)
    capsys.readouterr()
    assert main(["audit", "verify", str(log)]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at line {line}: {problem}" in out
    assert main(["audit", "verify", "--format", "json", str(log)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["intact"] is False
    assert result["first_problem"]["line"] == line
    assert result["first_problem"]["kind"] == problem


def test_sink_write_chains_any_document(tmp_path: Path) -> None:
    # a scanner (or any tool) can append its own ECS documents to the same chain
    log = tmp_path / "audit.jsonl"
    sink = JsonlSink(log)
    safepickle.loads(pickle.dumps(1), policy=Policy(audit=sink))
    line = sink.write({"message": 'a "sequence":0, b', "event": {"action": "safepickle-scan"}})
    document = json.loads(line)
    assert document["event"]["sequence"] == 2
    assert document["message"] == 'a "sequence":0, b'
    assert verify_file(log).intact


def test_torn_write_is_detected_and_the_chain_continues(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = write_records(log, 3)
    torn = lines[-1][:100]  # the process died inside its write
    log.write_bytes(b"".join(lines[:-1]) + torn)
    policy = Policy(audit=log)
    safepickle.loads(pickle.dumps("after"), policy=policy)
    safepickle.loads(pickle.dumps("again"), policy=policy)
    after = log.read_bytes().splitlines(keepends=True)
    assert after[2] == torn + b"\n"  # the next writer ended the torn line, wrote nothing in it
    report = verify_file(log)
    assert [(p.line, p.kind) for p in report.problems] == [(3, "malformed")]
    assert report.records == 4  # only the record being written was lost
    fourth = json.loads(after[3])
    assert fourth["safepickle"]["chain"]["prev"] == line_digest(torn)
    # the torn line ended before its sequence number, so the number is free again
    assert fourth["event"]["sequence"] == 3


def test_rotation_by_rename_starts_a_new_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "audit.jsonl"
    policy = Policy(audit=log)
    safepickle.loads(pickle.dumps(1), policy=policy)
    log.rename(tmp_path / "audit.jsonl.1")
    safepickle.loads(pickle.dumps(2), policy=policy)  # within a second: the renamed file
    monkeypatch.setattr(jsonl, "RECHECK_SECONDS", 0.0)
    safepickle.loads(pickle.dumps(3), policy=policy)
    (record,) = records(log)
    assert record["event"]["sequence"] == 1
    assert record["safepickle"]["chain"]["prev"] == GENESIS
    assert verify_file(log).intact
    rotated = verify_file(tmp_path / "audit.jsonl.1")
    assert rotated.intact and rotated.records == 2


def test_a_deleted_log_is_recreated_at_once(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    policy = Policy(audit=log)
    safepickle.loads(pickle.dumps(1), policy=policy)
    log.unlink()
    safepickle.loads(pickle.dumps(2), policy=policy)
    (record,) = records(log)  # not written into the deleted file
    assert record["event"]["sequence"] == 1


def test_empty_and_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert main(["audit", "verify", str(empty)]) == 0
    assert main(["audit", "verify", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["audit", "summary", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


# --- concurrency --------------------------------------------------------------------------
def _writer(path: str, count: int, start: Any) -> None:
    start.wait()
    policy = Policy(audit=path)
    data = pickle.dumps({"pid": os.getpid(), "payload": list(range(20))})
    for _ in range(count):
        safepickle.loads(data, policy=policy)


def test_processes_appending_at_once(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    processes, per_process = 8, 500
    # the parent writes first, so every child inherits an open descriptor it must not reuse
    safepickle.loads(pickle.dumps(0), policy=Policy(audit=log))
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=_writer, args=(str(log), per_process, start))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    report = verify_file(log)
    assert report.intact, str(report.first_problem)
    assert report.records == processes * per_process + 1
    documents = records(log)
    assert [d["event"]["sequence"] for d in documents] == list(range(1, report.records + 1))
    pids = {d["process"]["pid"] for d in documents}
    assert len(pids) == processes + 1


def test_threads_appending_at_once(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    policy = Policy(audit=log)

    def work() -> None:
        for i in range(200):
            safepickle.loads(pickle.dumps(i), policy=policy)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify_file(log)
    assert report.intact and report.records == 800


# --- sys.audit ----------------------------------------------------------------------------
_SEEN: list[tuple[Any, ...]] = []
_LISTENING = threading.Event()


def _hook(name: str, args: tuple[Any, ...]) -> None:
    if _LISTENING.is_set() and name == "safepickle.decide":
        _SEEN.append(args)


def test_sys_audit_sees_canonical_decisions() -> None:
    if not getattr(test_sys_audit_sees_canonical_decisions, "installed", False):
        sys.addaudithook(_hook)  # hooks cannot be removed: it only listens while flagged
        test_sys_audit_sees_canonical_decisions.installed = True  # type: ignore[attr-defined]
    _SEEN.clear()
    _LISTENING.set()
    try:
        safepickle.loads(pickle.dumps({1, 2}, protocol=2))
        with pytest.raises(ForbiddenGlobal):
            safepickle.loads(OS_SYSTEM)
    finally:
        _LISTENING.clear()
    assert _SEEN == [
        ("builtins", "set", "allow", "stdlib", "safepickle.builtin.stdlib"),
        ("os", "system", "deny", "floor", "core"),
    ]


# --- summary ------------------------------------------------------------------------------
def test_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "audit.jsonl"
    policy = Policy(audit=log)
    for _ in range(3):
        safepickle.loads(pickle.dumps(1), policy=policy)
    for _ in range(2):
        with pytest.raises(ForbiddenGlobal):
            safepickle.loads(OS_SYSTEM, policy=policy)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(b"cposix\nsystem\n(S'x'\ntR.", policy=policy)
    with pytest.raises(MalformedPickle):
        safepickle.loads(b"\x80\x05junk", policy=policy)
    assert main(["audit", "summary", "--format", "json", str(log)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 7
    assert summary["outcomes"] == {"loaded": 3, "refused": 3, "error": 1}
    assert summary["top_refused_globals"] == [
        {"name": "os.system", "count": 2},
        {"name": "posix.system", "count": 1},
    ]
    assert sum(s["count"] for s in summary["top_sources"]) == 7
    assert all(s["name"].startswith(f"{__name__}:") for s in summary["top_sources"])
    assert summary["errors"] == {"ForbiddenGlobal": 3, "TruncatedPickle": 1}
    first, last = summary["time_range"]["first"], summary["time_range"]["last"]
    assert TIMESTAMP.match(first) and TIMESTAMP.match(last) and first <= last
    assert summary["chain"]["intact"] is True
    assert summary["policies"] == [{"name": policy.fingerprint, "count": 7}]

    assert main(["audit", "summary", str(log)]) == 0  # not a terminal: plain text
    text = capsys.readouterr().out
    assert "7 record(s)" in text and "os.system" in text and "chain: intact" in text
