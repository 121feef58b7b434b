"""What the entry point ``example`` loads: ``Policy(plugins=["example"])`` or
``plugins = ["example"]`` in ``[tool.safepickle]``.

pluggy registers this module as the plugin. It reads the settings (see :mod:`.config`) at the
first decision, not at import, and reads them again when the file changes, so a policy built
after an edit sees the new list (each policy caches its own decisions).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import safepickle
from safepickle import Decision, GlobalRef, PolicyError

from .allowlist import OrgAllowList
from .config import ENV_VAR, find_config, read_table

__all__ = ["safepickle_decide"]

_lock = threading.Lock()
_cache: dict[tuple[str, tuple[str, ...], int, int], OrgAllowList] = {}


@safepickle.hookimpl
def safepickle_decide(ref: GlobalRef) -> Decision | None:
    """Decide with the allow-list the settings file describes."""
    return _configured().safepickle_decide(ref)


def _configured() -> OrgAllowList:
    found = find_config()
    if found is None:
        raise PolicyError(
            "the 'example' plugin found no [tool.safepickle-example] table in a pyproject.toml "
            f"from {Path.cwd()} upward, and {ENV_VAR} is not set"
        )
    path, table = found
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the safepickle-example settings: {exc}") from exc
    key = (str(path.absolute()), table, stat.st_mtime_ns, stat.st_size)
    with _lock:
        allowlist = _cache.get(key)
        if allowlist is None:
            allowlist = OrgAllowList.from_table(read_table(path, table), where=str(path))
            _cache.clear()  # one settings file is in use at a time; keep only the newest
            _cache[key] = allowlist
    return allowlist
