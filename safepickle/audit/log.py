"""The logging audit sink: one record per event on the ``safepickle.audit`` logger.

The record's message is the event's ECS document as one line of JSON, so a handler with the
default ``%(message)s`` format already writes NDJSON a SIEM can ingest; the document is also
attached as ``record.ecs`` (a dict) for structured formatters. Loads log at INFO, refusals and
errors at WARNING. Nothing is built when the logger is not enabled for the level.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..hookspecs import hookimpl
from .event import LOGGER_NAME

if TYPE_CHECKING:
    from ..context import LoadEvent

__all__ = ["LoggingSink"]


class LoggingSink:
    """Send every audit event to a :mod:`logging` logger (``safepickle.audit`` by default).

    ``Policy(audit=True)`` makes one.

    .. versionadded:: 0.1
    """

    def __init__(self, logger: str | logging.Logger = LOGGER_NAME) -> None:
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)

    @property
    def name(self) -> str:
        """The plugin name this sink is registered under."""
        return f"audit-logging:{self.logger.name}"

    def __repr__(self) -> str:
        return f"LoggingSink({self.logger.name!r})"

    @hookimpl
    def safepickle_audit(self, event: LoadEvent) -> None:
        level = logging.INFO if event.outcome == "loaded" else logging.WARNING
        if not self.logger.isEnabledFor(level):
            return
        self.logger.log(level, "%s", event.ecs_json, extra={"ecs": event.ecs})
