"""The SQLite audit sink, with real loads and a real database."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import threading
from pathlib import Path

import pytest
from acme_shop.models import Customer
from safepickle_example import OrgAllowList, SqliteAuditSink

import safepickle
from safepickle.testing import hostile_payload


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def test_loads_and_refusals_are_stored(canary: Path) -> None:
    db = canary.parent / "audit.sqlite3"
    sink = SqliteAuditSink(db)
    policy = safepickle.Policy(allow=[Customer], audit=[sink])
    customer = Customer("Ada", "ada@example.com")
    assert safepickle.loads(pickle.dumps(customer), policy=policy) == customer
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(hostile_payload(), policy=policy)
    assert not canary.exists()

    events = rows(db, "SELECT outcome, error_type, policy, ecs FROM events ORDER BY timestamp")
    assert [(outcome, error) for outcome, error, _, _ in events] == [
        ("loaded", None),
        ("refused", "ForbiddenGlobal"),
    ]
    assert {fingerprint for _, _, fingerprint, _ in events} == {policy.fingerprint}
    document = json.loads(str(events[1][3]))
    assert document["safepickle"]["outcome"] == "refused"
    assert document["rule"]["id"] == "floor"
    # os.system pickles under its defining module: posix on POSIX, nt on Windows
    assert sink.refused_globals() == [(f"{os.system.__module__}.system", 1)]
    allowed = rows(db, "SELECT name, rule FROM globals WHERE decision = 'allow'")
    assert ("acme_shop.models.Customer", "allow-list") in allowed


def test_the_allow_lists_reason_is_stored_with_the_event(canary: Path) -> None:
    db = canary.parent / "audit.sqlite3"
    allowlist = OrgAllowList({"acme_shop.models:Customer": "plain fields"}, ["acme_shop"])
    policy = safepickle.Policy(plugins=[allowlist], audit=[SqliteAuditSink(db)])
    safepickle.loads(pickle.dumps(Customer("Ada", "a@example.com")), policy=policy)
    ((ecs,),) = rows(db, "SELECT ecs FROM events")
    (entry,) = json.loads(str(ecs))["safepickle"]["globals"]
    assert entry["reason"] == "reviewed: plain fields"
    assert entry["rule"] == "org-reviewed"


def test_threads_share_one_database(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite3"
    policy = safepickle.Policy(audit=[SqliteAuditSink(db)])
    data = pickle.dumps({"n": 1})
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                safepickle.loads(data, policy=policy)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT id) FROM events") == [(100, 100)]


def test_a_sink_that_cannot_write_fails_the_load(tmp_path: Path) -> None:
    """Fail closed: nothing is loaded unaudited."""
    policy = safepickle.Policy(audit=[SqliteAuditSink(tmp_path / "missing" / "audit.sqlite3")])
    with pytest.raises(safepickle.PluginError, match="unable to open database"):
        safepickle.loads(pickle.dumps([1, 2]), policy=policy)


def test_it_is_accepted_as_an_audit_sink_only() -> None:
    """An audit sink may implement nothing but safepickle_audit: the core checks it."""
    sink = SqliteAuditSink("audit.sqlite3")
    assert [name for name in dir(sink) if name.startswith("safepickle_")] == ["safepickle_audit"]
    assert sink in safepickle.Policy(audit=[sink]).audit_sinks
