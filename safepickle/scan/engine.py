"""The scanner: every stream in a file, through the same verifier and decisions as a load.

For each pickle this runs exactly what :mod:`safepickle.api` runs before executing anything:
:func:`~safepickle.verify.verify` with the policy's limits (and persistent ids allowed only if
a plugin of the policy resolves them), then :func:`~safepickle._resolve.decide_all`. So the
verdict on a stream is the load's verdict up to the point where a load starts importing. Then,
unless ``static=True``, it runs :func:`~safepickle._resolve.approve` as a load does, which
imports the modules the policy allowed (never anything else, and nothing from a stream that
was refused) and applies the checks that need the real object. The stream itself is never
executed. See ``docs/scanning.md`` for what each mode can and cannot see.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import stat
import time
from collections.abc import Iterable
from typing import Any

from .._json import JSON_FIRST_BYTES, JsonDocument, scan_json
from .._resolve import approve, decide_all
from .._source import only_whitespace
from .._unpickler import inspect_stream
from ..containers import (
    MAX_DEPTH,
    Buffer,
    ContainerError,
    ContainerStream,
    ExpansionBudget,
    Member,
)
from ..containers import builtin as builtin_openers
from ..containers.sniff import looks_like_pickle
from ..context import LoadEvent
from ..decision import Decision, Verdict
from ..errors import (
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
)
from ..policy import Policy
from ..verify import Verified, verify
from .model import FileResult, GlobalFinding, Problem, Status, StreamResult

__all__ = ["Scanner"]

#: bytes of a member looked at before the whole of it is copied out of the file
_WINDOW = 1 << 12

_FORMAT_DECISION = Decision(
    Verdict.ALLOW,
    "written by the container format around its payload; the container reader parsed and "
    "skipped what it reads",
    rule="container-format",
    plugin="scan",
)


class Scanner:
    """Scans files and bytes under one policy; reusable (decisions are cached per policy).

    :param static: do not resolve the allowed globals. By default they are resolved as a load
        resolves them (importing the modules the policy allows, running no code from the
        stream), so that refusals only the real object reveals (a re-export of a floor item,
        a wildcard re-export, a name that does not exist, a shared enum member the stream
        would change) are reported too. A static scan imports nothing at all and can miss
        exactly those.
    """

    def __init__(self, policy: Policy, *, static: bool = False) -> None:
        self.policy = policy
        self.static = static
        self._max_bytes = policy.limits.max_input_bytes

    # --- entry points -------------------------------------------------------------------
    def scan_file(self, path: str | os.PathLike[str]) -> FileResult:
        """Scan one file (memory-mapped: only the pages the formats need are read)."""
        started = time.perf_counter()
        name = os.fspath(path)
        try:
            if not stat.S_ISREG(os.stat(name).st_mode):
                # a FIFO or device would block the open, or never end
                raise OSError(f"{name} is not a regular file")
            with open(name, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size == 0:
                    data: Any = b""
                else:
                    data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            problem = Problem("unreadable", f"cannot read {name}: {exc}", type(exc).__name__)
            return FileResult(name, None, (StreamResult((), 0, "error", problem=problem),))
        try:
            streams = self._scan(name, data)
        finally:
            if isinstance(data, mmap.mmap):
                # a memoryview of it may still be alive (BufferError): the GC closes it then
                with contextlib.suppress(BufferError):
                    data.close()
        return FileResult(name, size, tuple(streams), time.perf_counter() - started)

    def scan_bytes(self, data: Buffer, name: str = "<bytes>") -> FileResult:
        """Scan bytes as if they were a file called ``name``."""
        started = time.perf_counter()
        streams = self._scan(name, data)
        return FileResult(name, len(data), tuple(streams), time.perf_counter() - started)

    # --- walking containers -------------------------------------------------------------
    def _scan(self, name: str, data: Buffer) -> list[StreamResult]:
        out: list[StreamResult] = []
        # one budget for everything the file's containers produce, at every level
        budget = ExpansionBudget(len(data), self.policy.limits)
        self._stream(name, data, (), (), "file", frozenset(), (), out, budget)
        return out

    def _stream(
        self,
        name: str,
        data: Buffer,
        member: tuple[str, ...],
        formats: tuple[str, ...],
        kind: str,
        format_globals: frozenset[Any],
        notes: tuple[str, ...],
        out: list[StreamResult],
        budget: ExpansionBudget,
    ) -> None:
        depth = len(member)
        stream = ContainerStream(name, data, depth, self._max_bytes, budget)
        try:
            members = None if kind == "pickle" else self._open(stream)
            if members is None:
                self._pickles(name, data, member, formats, kind, format_globals, notes, out)
                return
            if depth >= MAX_DEPTH:
                raise ContainerError(f"containers nested more than {MAX_DEPTH} deep", offset=None)
            count = 0
            for inner in members:
                count += 1
                budget.count_member(f"{name}!{inner.name}")
                child_kind = kind if inner.kind == "same" else inner.kind
                self._stream(
                    f"{name}!{inner.name}",
                    inner.data,
                    (*member, inner.name),
                    (*formats, inner.format),
                    child_kind,
                    inner.format_globals,
                    inner.notes,
                    out,
                    budget,
                )
            if count == 0:
                out.append(
                    StreamResult(member, 0, "skipped", formats, notes=(*notes, "holds no pickle"))
                )
        except SafePickleError as exc:
            out.append(StreamResult(member, 0, _status(exc), formats, problem=_problem(exc)))
        except Exception as exc:  # a third-party opener's bug is an error, never "clean"
            problem = Problem(
                "plugin-error", f"opening the container failed: {exc!r}", type(exc).__name__
            )
            out.append(StreamResult(member, 0, "error", formats, problem=problem))

    def _open(self, stream: ContainerStream) -> Iterable[Member] | None:
        """Plugins of the policy first (through its plugin manager), then the built-ins."""
        result = self.policy.manager.open_container(stream)
        if result is not None:
            return result  # type: ignore[no-any-return]
        return builtin_openers.safepickle_open_container(stream)

    # --- pickles ------------------------------------------------------------------------
    def _pickles(
        self,
        name: str,
        data: Buffer,
        member: tuple[str, ...],
        formats: tuple[str, ...],
        kind: str,
        format_globals: frozenset[Any],
        notes: tuple[str, ...],
        out: list[StreamResult],
    ) -> None:
        """Each pickle of ``data`` in turn (several pickles in one file, as load_all reads)."""
        policy = self.policy
        limits = policy.limits
        persistent = policy.manager.has_persistent_load
        if not isinstance(data, (bytes, bytearray)):
            # a memory map or a slice of one: the verifier wants bytes
            data = _materialize(memoryview(data), limits, persistent)
        pos = 0
        index = 0
        size = len(data)
        while True:
            try:
                verified = _verify(data, pos, limits, persistent)
            except SafePickleError as exc:
                failed_at = None if exc.offset is None else exc.offset - pos
                if (
                    index == 0
                    and kind == "data"
                    and isinstance(exc, MalformedPickle)
                    and not looks_like_pickle(member[-1] if member else "", data, failed_at)
                ):
                    out.append(
                        StreamResult(member, 0, "skipped", formats, notes=(*notes, "not a pickle"))
                    )
                    return
                problem = _problem(exc)
                if index:
                    problem = Problem(
                        problem.rule,
                        f"after {index} pickle(s), at offset {pos}: {problem.message}",
                        problem.error_type,
                        problem.offset,
                    )
                out.append(
                    StreamResult(
                        member,
                        index,
                        _status(exc),
                        formats,
                        start=pos,
                        problem=problem,
                        notes=notes,
                    )
                )
                if policy.manager.has_auditors:
                    self._audit(name, data, pos, None, [], out[-1], exc)
                return
            if index == 0 and kind == "data" and isinstance(verified, JsonDocument):
                # an archive member in JSON (a version number, metadata): no code, no pickle
                out.append(
                    StreamResult(member, 0, "skipped", formats, notes=(*notes, "JSON, no pickle"))
                )
                return
            started = time.perf_counter()
            result, decisions = self._decide(
                data, verified, member, index, formats, format_globals, notes
            )
            out.append(result)
            if policy.manager.has_auditors:
                self._audit(name, data, pos, verified, decisions, result, None, started)
            pos = verified.end
            index += 1
            if pos >= size or only_whitespace(memoryview(data)[pos:size]):
                return  # whitespace after the last stream is the end, as load_all reads it

    def _decide(
        self,
        data: bytes | bytearray,
        verified: Verified,
        member: tuple[str, ...],
        index: int,
        formats: tuple[str, ...],
        format_globals: frozenset[Any],
        notes: tuple[str, ...],
    ) -> tuple[StreamResult, list[tuple[Any, Decision]]]:
        decisions = [
            (use, _FORMAT_DECISION if use.ref in format_globals else decision)
            for use, decision in decide_all(verified, self.policy)
        ]
        problem = None
        if verified.out_of_band_buffers:
            # a load given no buffers= refuses it, as api.py does (a file cannot carry them)
            problem = Problem(
                "malformed",
                f"the stream refers to {verified.out_of_band_buffers} out-of-band buffer(s) "
                "(protocol 5); it loads only with buffers=..., which a file does not carry",
                "MalformedPickle",
                verified.start,
            )
        overrides: dict[Any, Decision] = {}
        if not self.static and all(decision.allowed for _, decision in decisions):
            policy_decisions = [(u, d) for u, d in decisions if d is not _FORMAT_DECISION]
            try:
                approve(verified, self.policy, policy_decisions)
                if self.policy.manager.has_inspectors and problem is None:
                    # as a load inspects: no view outlives the call, whatever a plugin raised
                    inspect_stream(data, verified.start, verified.end, verified, self.policy)
            except (UnsafeOpcode, LimitExceeded, MalformedPickle) as exc:
                problem = _problem(exc)
            except ForbiddenGlobal as exc:
                for refused in exc.refused:
                    overrides[(refused.raw_module, refused.raw_name)] = refused.decision
                    if refused.offset is not None:
                        overrides[refused.offset] = refused.decision
            except Exception as exc:  # an allowed module failing at import time, say
                problem = Problem(
                    "plugin-error",
                    f"resolving the allowed globals failed: {exc!r}",
                    type(exc).__name__,
                )
        findings = []
        for use, decision in decisions:
            final = (
                overrides.get((use.raw_module, use.raw_name))
                or overrides.get(use.offset)
                or decision
            )
            findings.append(
                GlobalFinding(
                    name=use.ref.dotted,
                    module=use.ref.module,
                    qualname=use.ref.qualname,
                    raw=f"{use.raw_module} {use.raw_name}",
                    opcode=use.opcode,
                    offset=use.offset,
                    decision="allow" if final.allowed else "deny",
                    rule=final.rule,
                    plugin=final.plugin,
                    reason=final.reason,
                )
            )
        status: Status = "clean"
        if any(finding.decision == "deny" for finding in findings):
            status = "refused"
        elif problem is not None:
            # an opcode a plugin's inspection refused is a refusal, like the loader's
            status = "refused" if problem.error_type == "UnsafeOpcode" else "error"
        final_decisions = [
            (use, overrides.get((use.raw_module, use.raw_name)) or decision)
            for use, decision in decisions
        ]
        result = StreamResult(
            member,
            index,
            status,
            formats,
            start=verified.start,
            end=verified.end,
            protocol=verified.protocol,
            globals=tuple(findings),
            problem=problem,
            notes=notes,
        )
        return result, final_decisions

    def _audit(
        self,
        name: str,
        data: bytes | bytearray,
        pos: int,
        verified: Verified | None,
        decisions: list[tuple[Any, Decision]],
        result: StreamResult,
        error: SafePickleError | None,
        started: float | None = None,
    ) -> None:
        """One audit event per stream, ``event.action: safepickle-scan``, when the policy has
        audit sinks (as a load sends one per load)."""
        end = verified.end if verified is not None else len(data)
        outcome = {"clean": "loaded", "refused": "refused"}.get(result.status, "error")
        if error is None and result.status == "refused":
            refused = [(u, d) for u, d in decisions if not d.allowed]
            use, decision = refused[0]
            error = ForbiddenGlobal(
                f"global '{use.ref.dotted}' is forbidden: {decision.reason} "
                f"[rule {decision.rule}]",
                module=use.ref.module,
                name=use.ref.qualname,
                raw_module=use.raw_module,
                raw_name=use.raw_name,
                decision=decision,
                offset=use.offset,
            )
        duration = 0.0 if started is None else time.perf_counter() - started
        self.policy.manager.audit(
            LoadEvent(
                policy=self.policy,
                source=name,
                size=end - pos,
                protocol=verified.protocol if verified is not None else None,
                decisions=tuple(decisions),
                outcome=outcome,
                error=error,
                duration_seconds=duration,
                action="scan",
                sha256=hashlib.sha256(memoryview(data)[pos:end]).hexdigest(),
            )
        )


def _verify(data: bytes | bytearray, pos: int, limits: Any, persistent: bool) -> Verified:
    """What a load runs on the stream at ``pos``: JSON when its first byte says so (no valid
    pickle starts like JSON), else the pickle verifier; the same dispatch as ``api.py``."""
    if pos < len(data) and data[pos] in JSON_FIRST_BYTES:
        return scan_json(data, pos, True, limits)
    return verify(data, pos, limits=limits, persistent_ids=persistent)  # type: ignore[arg-type]


def _materialize(data: memoryview, limits: Any, persistent: bool) -> bytes:
    """The bytes of a member sliced out of a memory-mapped file, for the verifier.

    Most such members are not pickles (tensor storages) and fail within a few bytes, so a
    window is tried first: an error inside it is the same error, at the same offset, that the
    whole member gives, and only a member that needs more is copied whole."""
    window = bytes(data[:_WINDOW])
    if len(data) <= _WINDOW:
        return window
    try:
        _verify(window, 0, limits, persistent)
    except TruncatedPickle:
        return bytes(data)
    except SafePickleError:
        return window
    return bytes(data)


def _status(exc: SafePickleError) -> Any:
    """Refused for what the policy or the opcode rules refuse; error for what could not be
    read (malformed, truncated, a limit, a broken container)."""
    return "refused" if isinstance(exc, (ForbiddenGlobal, UnsafeOpcode)) else "error"


def _problem(exc: SafePickleError) -> Problem:
    if isinstance(exc, UnsafeOpcode):
        rule = f"opcode:{exc.opcode}"
    elif isinstance(exc, LimitExceeded):
        rule = f"limit:{exc.limit}"
    elif isinstance(exc, ContainerError):
        rule = "container"
    elif isinstance(exc, MalformedPickle):
        rule = "malformed"
    elif isinstance(exc, ForbiddenGlobal):
        rule = exc.decision.rule
    else:
        rule = "plugin-error"
    return Problem(rule, exc.message, type(exc).__name__, exc.offset)
