"""safepickle-example-plugin: the plugin of safepickle's "Writing a policy plugin" tutorial.

* :class:`OrgAllowList`: an organisation's reviewed allow-list (a ``safepickle_decide`` plugin),
  read from ``[tool.safepickle-example]`` by the entry point ``example``
  (``Policy(plugins=["example"])``) or built in code;
* :class:`SqliteAuditSink`: an audit sink (``Policy(audit=[SqliteAuditSink(path)])``) that
  stores every load's event in SQLite.
"""

from __future__ import annotations

from .allowlist import OrgAllowList
from .sqlite_sink import SqliteAuditSink

__all__ = ["OrgAllowList", "SqliteAuditSink"]
