"""The policy file: a :class:`~safepickle.Policy` read from ``safepickle.toml`` or
``pyproject.toml``'s ``[tool.safepickle]`` table.

Where it is read from, first match wins: the ``path`` argument; the file the environment
variable ``SAFEPICKLE_CONFIG`` names; the nearest directory from the current one upward holding
``safepickle.toml`` (top-level keys) or a ``pyproject.toml`` with a ``[tool.safepickle]`` table
(``safepickle.toml`` first). With none of these, the default policy. Every mistake in the file
is a :class:`~safepickle.PolicyError` naming the file, the line and the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._tomlpos import key_line
from .builtin.allowlist import AllowList
from .errors import PolicyError
from .limits import Limits
from .policy import Policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the stdlib backport on 3.10
    import tomli as tomllib

__all__ = ["ENV_VAR", "load_config"]

#: the environment variable naming a policy file
ENV_VAR = "SAFEPICKLE_CONFIG"
_KEYS = ("allow", "deny", "plugins", "defaults", "audit", "limits")
_LIMITS = tuple(field.name for field in dataclasses.fields(Limits))
_TOOL = ("tool", "safepickle")


def load_config(path: str | os.PathLike[str] | None = None) -> Policy:
    """The policy a policy file describes; the default policy when no file is found.

    :param path: the file to read (``safepickle.toml``, or a ``pyproject.toml`` read from its
        ``[tool.safepickle]`` table); when None, ``$SAFEPICKLE_CONFIG``, then a search from the
        current directory upward.
    :raises PolicyError: the file is missing, is not TOML, or holds a bad key or value.

    .. versionadded:: 0.2
    """
    if path is None and os.environ.get(ENV_VAR):
        path = os.environ[ENV_VAR]
    if path is not None:
        file = Path(path)
        prefix = _TOOL if file.name == "pyproject.toml" else ()
        return _ConfigFile(file, _read(file), prefix).policy()
    found = _search(Path.cwd())
    return found.policy() if found is not None else Policy()


def _search(start: Path) -> _ConfigFile | None:
    for directory in (start, *start.parents):
        own = directory / "safepickle.toml"
        if own.is_file():
            return _ConfigFile(own, _read(own), ())
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            text = _read(pyproject)
            # parse only a file that can hold the table: a broken unrelated one is not ours
            if "safepickle" in text:
                config = _ConfigFile(pyproject, text, _TOOL)
                if config.has_table():
                    return config
    return None


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{file}: cannot read the safepickle policy file: {exc}") from exc


class _ConfigFile:
    """One policy file: its text, parsed, and where in it the policy's table is."""

    def __init__(self, file: Path, text: str, prefix: tuple[str, ...]) -> None:
        self.file = file
        self.text = text
        self.prefix = prefix
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{file}: invalid TOML: {exc}") from exc

    def has_table(self) -> bool:
        table: Any = self.data
        for part in self.prefix:
            if not isinstance(table, dict) or part not in table:
                return False
            table = table[part]
        return True

    def error(self, key: Sequence[str], problem: str, needle: str | None = None) -> PolicyError:
        path = (*self.prefix, *key)
        line = key_line(self.text, path, needle)
        return PolicyError(f"{self.file}:{line}: {'.'.join(path)}: {problem}")

    def policy(self) -> Policy:
        if not self.has_table():
            header = "[" + ".".join(self.prefix) + "]"
            raise PolicyError(f"{self.file}: no {header} table: nothing configures safepickle")
        table: Any = self.data
        for part in self.prefix:
            table = table[part]
        if not isinstance(table, dict):
            raise self.error((), f"expected a table, got {_kind(table)}")
        for key in table:
            if key not in _KEYS:
                raise self.error((key,), _unknown("key", key, _KEYS))
        settings: dict[str, Any] = {
            "allow": self.entries(table, "allow"),
            "deny": self.entries(table, "deny"),
            "plugins": self.strings(table, "plugins"),
        }
        if "defaults" in table:
            if not isinstance(table["defaults"], bool):
                raise self.error(
                    ("defaults",), f"expected true or false, got {_kind(table['defaults'])}"
                )
            settings["defaults"] = table["defaults"]
        if "audit" in table:
            settings["audit"] = self.audit(table["audit"])
        if "limits" in table:
            settings["limits"] = self.limits(table["limits"])
        try:
            return Policy(**settings)
        except PolicyError as exc:  # anything the checks above did not foresee
            raise PolicyError(f"{self.file}: {exc}") from exc

    def strings(self, table: dict[str, Any], key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error((key,), f"expected a list of strings, got {value!r}")
        return value

    def entries(self, table: dict[str, Any], key: str) -> list[str]:
        entries = self.strings(table, key)
        for entry in entries:
            try:
                AllowList(**{key: [entry]})
            except PolicyError as exc:
                problem = str(exc)  # it names the entry
                if problem.startswith("cannot allow") and "never be allowed" not in problem:
                    problem += "; it can never be allowed"
                raise self.error((key,), problem, needle=entry) from exc
        return entries

    def audit(self, value: object) -> str | bool:
        if isinstance(value, bool):
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                ("audit",),
                f"expected a file path (relative to {self.file.name}'s directory), true "
                f"(the safepickle.audit logger) or false, got {value!r}",
            )
        return os.fspath(self.file.absolute().parent / value)

    def limits(self, value: object) -> Limits:
        if not isinstance(value, dict):
            raise self.error(("limits",), f"expected a table of limits, got {_kind(value)}")
        for name, limit in value.items():
            if name not in _LIMITS:
                raise self.error(("limits", name), _unknown("limit", name, _LIMITS))
            if type(limit) is not int or limit < 1:
                raise self.error(("limits", name), f"expected a positive integer, got {limit!r}")
        return Limits(**value)


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (expected one of: {', '.join(known)})"


def _kind(value: object) -> str:
    return f"{type(value).__name__} {value!r}"
