"""A :class:`~safepickle.context.LoadEvent` as an Elastic Common Schema (ECS) document.

Standard ECS fields carry what ECS has a name for (``@timestamp``, ``message``, ``event.*``,
``file.*``, ``log.*``, ``process.*``, ``user.*``, ``host.*``, ``error.*``, ``rule.*``), so a SIEM
that speaks ECS indexes them without a mapping; what is specific to pickles lives under the
custom ``safepickle.*`` namespace, as ECS recommends for custom fields.
``docs/security-teams.md`` lists every field with a sample.

The document is written as JSON text directly, by :func:`to_json`, from fragments cached per
process (host, user, process, versions) and per policy (fingerprint and description): with the
``json`` module, encoding a whole document cost more than the load of a small pickle. It is the
only definition of the document; :func:`to_ecs` parses it back into a dict.
"""

from __future__ import annotations

import json
import os
import sys
import time
from json.encoder import encode_basestring_ascii as _quote
from typing import TYPE_CHECKING, Any

from ..context import CallSite
from ..errors import LimitExceeded, UnsafeOpcode

if TYPE_CHECKING:
    from types import FrameType

    from ..context import LoadEvent
    from ..decision import Decision
    from ..policy import Policy

__all__ = ["ECS_VERSION", "LOGGER_NAME", "call_site", "to_ecs", "to_json"]

#: the ECS version the documents follow
ECS_VERSION = "8.11.0"
#: the logger the logging sink writes to, also named in every document's ``log.logger``
LOGGER_NAME = "safepickle.audit"

_OUTCOMES = {"loaded": "success", "refused": "failure", "error": "failure"}
_TYPES = {"loaded": "allowed", "refused": "denied", "error": "error"}
_ZEROS = "0" * 64


def call_site(depth: int = 1) -> CallSite | None:
    """The innermost frame outside safepickle, starting ``depth`` frames above the caller."""
    try:
        frame: FrameType | None = sys._getframe(depth + 1)
    except ValueError:  # a shallower stack than the caller expected
        return None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (
            isinstance(module, str) and (module == "safepickle" or module[:11] == "safepickle.")
        ):
            code = frame.f_code
            return CallSite(str(module), code.co_name, code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


class _Process:
    """The process-wide fragments of a document, rebuilt when the pid changes (a fork)."""

    pid = -1
    ecs = ""
    identity = ""  # "process", "user" and "host"
    versions = ""  # safepickle and Python versions, inside "safepickle"


_PROCESS = _Process()


def _process() -> _Process:
    pid = os.getpid()
    if _PROCESS.pid != pid:
        import socket  # noqa: PLC0415 - once per process

        from safepickle import __version__  # noqa: PLC0415 - the package imports this module

        hostname = socket.gethostname()
        name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        _PROCESS.ecs = _dumps({"version": ECS_VERSION})
        _PROCESS.identity = (
            f'"process":{_dumps({"pid": pid, "executable": sys.executable, "name": name})},'
            f'"user":{_dumps(_user())},'
            f'"host":{_dumps({"hostname": hostname, "name": hostname})}'
        )
        python = {
            "version": ".".join(map(str, sys.version_info[:3])),
            "implementation": sys.implementation.name,
        }
        _PROCESS.versions = f'"version":{_dumps(__version__)},"python":{_dumps(python)}'
        _PROCESS.pid = pid
    return _PROCESS


def _user() -> dict[str, Any]:
    user: dict[str, Any] = {}
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        user["id"] = str(getuid())
    try:
        import getpass  # noqa: PLC0415 - once per process

        user["name"] = getpass.getuser()
    except Exception:  # no login name (a container user without a passwd entry): keep the id
        pass
    return user


# policy -> its fragment; bounded, keyed by identity with the policy kept alive
_POLICIES: dict[int, tuple[Policy, str]] = {}


def _policy(policy: Policy) -> str:
    hit = _POLICIES.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    fragment = _dumps({"fingerprint": policy.fingerprint, **policy.describe()})
    if len(_POLICIES) >= 256:
        _POLICIES.clear()
    _POLICIES[id(policy)] = (policy, fragment)
    return fragment


_SECOND: tuple[int, str] = (-1, "")  # the last second formatted: strftime costs a microsecond


def _timestamp(seconds: float) -> str:
    global _SECOND
    whole = int(seconds)
    cached, text = _SECOND
    if cached != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _SECOND = (whole, text)
    return f"{text}.{int((seconds - whole) * 1_000_000):06d}Z"


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def to_json(event: LoadEvent, *, chain: bool = False) -> str:
    """The ECS document of ``event`` as one line of ASCII JSON.

    With ``chain``, the document carries the hash-chain fields (``event.sequence``,
    ``event.hash``, ``safepickle.chain.prev``) as placeholders for the JSON Lines sink to fill.

    .. versionadded:: 0.1
    """
    process = _process()
    outcome = event.outcome
    error = event.error
    source = event.source
    caller = event.caller
    origin = f"{caller.module}:{caller.line}" if caller is not None else None
    shown = source if source is not None else origin  # what the input is known by

    refusal: Decision | None = None
    globals_: list[str] = []
    for use, decision in event.decisions:
        ref = use.ref
        verdict = decision.verdict.value
        if refusal is None and verdict == "deny":
            refusal = decision
        globals_.append(
            f'{{"name":{_quote(ref.dotted)},"module":{_quote(ref.module)},'
            f'"qualname":{_quote(ref.qualname)},"raw":{{"module":{_quote(use.raw_module)},'
            f'"name":{_quote(use.raw_name)}}},"opcode":{_quote(use.opcode)},'
            f'"offset":{int(use.offset)},"decision":"{verdict}","rule":{_quote(decision.rule)},'
            f'"plugin":{_quote(decision.plugin)},"reason":{_quote(decision.reason)}}}'
        )

    category = '["api","file"]' if source is not None else '["api"]'
    parts = [
        f'{{"@timestamp":"{_timestamp(event.timestamp)}",'
        f'"message":{_quote(_message(event, shown, refusal))},'
        f'"ecs":{process.ecs},'
        f'"event":{{"kind":"event","category":{category},'
        f'"type":["access","{_TYPES.get(outcome, "info")}"],'
        f'"action":{_quote("safepickle-" + event.action)},'
        f'"outcome":"{_OUTCOMES.get(outcome, "unknown")}",'
        f'"id":{_quote(event.event_id)},"module":"safepickle","dataset":"safepickle.audit",'
        f'"duration":{int(event.duration_seconds * 1_000_000_000)}'
    ]
    if error is not None:
        parts.append(f',"reason":{_quote(str(error).partition(chr(10))[0])}')
    if chain:
        parts.append(f',"sequence":0,"hash":"{_ZEROS}"')
    parts.append(f'}},"file":{{"size":{int(event.size)}')
    if event.sha256 is not None:
        parts.append(f',"hash":{{"sha256":{_quote(event.sha256)}}}')
    if source is not None:
        parts.append(f',"path":{_quote(source)}')
    level = "info" if outcome == "loaded" else "warning"
    parts.append(f'}},"log":{{"logger":"{LOGGER_NAME}","level":"{level}"')
    if caller is not None:
        parts.append(
            f',"origin":{{"file":{{"name":{_quote(caller.filename)},"line":{int(caller.line)}}},'
            f'"function":{_quote(caller.function)}}}'
        )
    parts.append(f"}},{process.identity}")
    if error is not None:
        parts.append(
            f',"error":{{"type":{_quote(type(error).__name__)},"message":{_quote(str(error))}}}'
        )
    policy = _policy(event.policy)
    rule = _rule(refusal, error)
    if rule is not None:
        rule_id, rule_name, description = rule
        parts.append(
            f',"rule":{{"id":{_quote(rule_id)},"name":{_quote(rule_name)},'
            f'"description":{_quote(description)},'
            f'"ruleset":"safepickle-policy:{event.policy.fingerprint}"}}'
        )
    # custom fields last, so the ECS core of a line reads first
    parts.append(
        f',"safepickle":{{"outcome":{_quote(outcome)},"action":{_quote(event.action)},'
        f'"source":{"null" if shown is None else _quote(shown)},'
        f'"format":{_quote(event.format)},"protocol":{_int_or_null(event.protocol)}'
    )
    if error is not None:
        offset = getattr(error, "offset", None)
        if isinstance(offset, int):
            parts.append(f',"offset":{offset}')
        if isinstance(error, LimitExceeded):
            parts.append(
                f',"limit":{{"name":{_quote(error.limit)},"maximum":{int(error.maximum)}}}'
            )
    parts.append(f',"policy":{policy},"globals":[{",".join(globals_)}],{process.versions}')
    if chain:
        parts.append(f',"chain":{{"prev":"{_ZEROS}"}}')
    parts.append("}}")
    return "".join(parts)


def to_ecs(event: LoadEvent) -> dict[str, Any]:
    """The ECS document of ``event`` as a dict (a new one on every call).

    .. versionadded:: 0.1
    """
    document: dict[str, Any] = json.loads(to_json(event))
    return document


def _rule(refusal: Decision | None, error: BaseException | None) -> tuple[str, str, str] | None:
    """(id, name, description) of what refused the load: the first denying decision (named by
    its plugin), the limit, or the opcode rule."""
    if refusal is not None:
        return refusal.rule, refusal.plugin, refusal.reason
    if isinstance(error, LimitExceeded):
        return f"limit:{error.limit}", "core", str(error)
    if isinstance(error, UnsafeOpcode):
        return f"opcode:{error.opcode}", "core", str(error)
    return None


def _message(event: LoadEvent, source: str | None, refusal: Decision | None) -> str:
    where = f" from {source}" if source else ""
    if event.outcome == "loaded":
        protocol = "" if event.protocol is None else f"protocol {event.protocol}, "
        return f"loaded {event.format} ({protocol}{event.size} bytes){where}"
    if refusal is not None:
        denied = [use.ref.dotted for use, d in event.decisions if not d.allowed]
        return f"refused {event.format}{where}: forbidden global(s) {', '.join(denied)}"
    error = event.error
    kind = type(error).__name__ if error is not None else "error"
    return f"{event.outcome} {event.format}{where}: {kind}"
