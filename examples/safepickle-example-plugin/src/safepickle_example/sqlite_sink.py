"""An audit sink that stores every load's event in a SQLite database.

One row per load in ``events`` (outcome, source, SHA-256, size, policy fingerprint, the error)
with the full Elastic Common Schema document beside it, and one row per global the stream named
in ``globals`` (its decision, rule and plugin), so questions such as "which globals were refused
this week, and from which files" are one query. Each event is written in its own transaction on
its own connection: any number of threads and processes can share one database file (SQLite
locks it), and a sink that cannot write makes the load fail (safepickle turns the exception into
a ``PluginError``), so nothing is loaded unaudited.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import safepickle

if TYPE_CHECKING:
    from safepickle.context import LoadEvent

__all__ = ["SCHEMA", "SqliteAuditSink"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,   -- the event's UUID (event.id in the ECS document)
    timestamp   REAL NOT NULL,      -- seconds since the epoch, when the load started
    action      TEXT NOT NULL,      -- 'load' or 'scan'
    outcome     TEXT NOT NULL,      -- 'loaded', 'refused' or 'error'
    source      TEXT,               -- the file, or NULL for bytes
    sha256      TEXT,
    size        INTEGER NOT NULL,
    policy      TEXT NOT NULL,      -- the policy's fingerprint
    error_type  TEXT,
    error       TEXT,
    ecs         TEXT NOT NULL       -- the whole ECS document, one line of JSON
);
CREATE TABLE IF NOT EXISTS globals (
    event_id    TEXT NOT NULL REFERENCES events(id),
    name        TEXT NOT NULL,      -- canonical module.qualname
    decision    TEXT NOT NULL,      -- 'allow' or 'deny'
    rule        TEXT NOT NULL,
    plugin      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS globals_by_name ON globals(name, decision);
"""


class SqliteAuditSink:
    """Store audit events in the SQLite database at ``path`` (created on the first event).

    ``Policy(audit=[SqliteAuditSink("audit.sqlite3")])``; it implements only
    ``safepickle_audit``, as an audit sink must.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        # absolute now: a later chdir must not move the log
        self.path = Path(path).absolute()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SqliteAuditSink({str(self.path)!r})"

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with the schema in place, committed on success, always closed."""
        with closing(sqlite3.connect(self.path, timeout=self.timeout)) as connection:
            with connection:  # one transaction
                connection.executescript(SCHEMA)
            with connection:
                yield connection

    @safepickle.hookimpl
    def safepickle_audit(self, event: LoadEvent) -> None:
        """Insert the event and its globals in one transaction."""
        error = event.error
        with self.connect() as db:
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.event_id,
                    event.timestamp,
                    event.action,
                    event.outcome,
                    event.source,
                    event.sha256,
                    event.size,
                    event.policy.fingerprint,
                    None if error is None else type(error).__name__,
                    None if error is None else str(error),
                    event.ecs_json,
                ),
            )
            db.executemany(
                "INSERT INTO globals VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        event.event_id,
                        use.ref.dotted,
                        decision.verdict.value,
                        decision.rule,
                        decision.plugin,
                    )
                    for use, decision in event.decisions
                ],
            )

    def refused_globals(self) -> list[tuple[str, int]]:
        """Every refused global with how many loads it was refused in, most often first."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT name, COUNT(DISTINCT event_id) AS n FROM globals "
                "WHERE decision = 'deny' GROUP BY name ORDER BY n DESC, name"
            ).fetchall()
        return [(str(name), int(count)) for name, count in rows]
