"""Where the organisation's allow-list comes from: ``[tool.safepickle-example]`` in the
``pyproject.toml`` that configures safepickle, or the file ``$SAFEPICKLE_EXAMPLE_CONFIG`` names.

safepickle's own table, ``[tool.safepickle]``, refuses keys it does not know (a misspelled key
must never be ignored in a security setting), so a plugin keeps its settings in a table of its
own, in the same file::

    [tool.safepickle]
    plugins = ["example"]

    [tool.safepickle-example]
    owned = ["acme_shop"]
    contact = "#appsec on chat"

    [tool.safepickle-example.allow]
    "acme_shop.models:Order" = "a record of plain fields; no custom reduction"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from safepickle import PolicyError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the backport on 3.10
    import tomli as tomllib

__all__ = ["ENV_VAR", "TABLE", "find_config", "read_table"]

#: names a TOML file whose top level is the plugin's table (the way SAFEPICKLE_CONFIG works)
ENV_VAR = "SAFEPICKLE_EXAMPLE_CONFIG"
#: the table in pyproject.toml
TABLE = ("tool", "safepickle-example")


def find_config(start: Path | None = None) -> tuple[Path, tuple[str, ...]] | None:
    """The file holding the plugin's settings and the table path inside it: the file
    ``$SAFEPICKLE_EXAMPLE_CONFIG`` names (top level), else the nearest ``pyproject.toml`` from
    ``start`` (the current directory) upward that has a ``[tool.safepickle-example]`` table."""
    named = os.environ.get(ENV_VAR)
    if named:
        return Path(named), ()
    here = (start or Path.cwd()).absolute()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        # read only a file that can hold the table: a broken, unrelated one is not ours
        if candidate.is_file() and "safepickle-example" in _text(candidate):
            return candidate, TABLE
    return None


def read_table(path: Path, table: tuple[str, ...]) -> dict[str, Any]:
    """The plugin's table from ``path``; a :class:`~safepickle.PolicyError` naming the file if
    it cannot be read, is not TOML or has no such table."""
    try:
        data: Any = tomllib.loads(_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from exc
    for part in table:
        if not isinstance(data, dict) or part not in data:
            raise PolicyError(f"{path}: no [{'.'.join(table)}] table")
        data = data[part]
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: [{'.'.join(table)}] must be a table")
    return data


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the safepickle-example settings: {exc}") from exc
