"""Fuzz harness: the scanner's verdict on bytes is the loader's.

``safepickle.scan.Scanner(policy).scan_bytes(data)`` verifies and decides every pickle in
``data`` without executing it (and, not static, resolves the allowed globals as a load does).
For the same bytes as a file, ``safepickle.load_all`` loads the same pickles one after another,
and for a single pickle ``safepickle.loads`` loads it. Per stream, up to the first one that does
not load:

* scan ``clean``: the load returns, or fails only while executing (an
  :class:`~safepickle.ExecutionError`, a run-time :class:`~safepickle.LimitExceeded`), never
  with a refusal or a malformed-stream error;
* scan ``refused``: the load refuses (:class:`~safepickle.ForbiddenGlobal` naming the same
  refused globals, or the same :class:`~safepickle.UnsafeOpcode`);
* scan ``error``: the load fails too, with the same error class when the scanner names one of
  safepickle's.

Inputs the scanner opened as a container (gzip, zip, ...) are skipped: a load reads pickles
only. Two policies: the default one, and one that also allows ``fuzz_common.HARMLESS_CLASSES``.

Run: ``python fuzz/scan_agrees_with_load.py [libFuzzer flags] [corpus folders]``; see
``docs/fuzzing.md``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import fuzz_common

with fuzz_common.instrument_imports():
    import safepickle
    from safepickle.scan import Scanner, StreamResult

POLICIES = (
    safepickle.Policy(),
    safepickle.Policy(allow=fuzz_common.HARMLESS_CLASSES),
)
SCANNERS = tuple(Scanner(policy) for policy in POLICIES)
_SANDBOX = fuzz_common.Sandbox()
_REFUSALS = (safepickle.ForbiddenGlobal, safepickle.UnsafeOpcode)
#: what a load may fail with after the scanner found its stream clean: only execution
_AFTER_CLEAN = (safepickle.ExecutionError, safepickle.LimitExceeded)
_OWN_ERRORS = {
    cls.__name__
    for cls in (
        safepickle.ForbiddenGlobal,
        safepickle.UnsafeOpcode,
        safepickle.MalformedPickle,
        safepickle.TruncatedPickle,
        safepickle.LimitExceeded,
    )
}

Loaded = tuple[str, Any]  # ("ok", value) or ("error", exception)


def _load_all(data: bytes, policy: safepickle.Policy) -> Iterator[Loaded]:
    """What ``load_all`` does with ``data`` as a file: each value, then the error if any."""
    loader = safepickle.load_all(io.BytesIO(data), policy=policy)
    while True:
        try:
            value = next(loader)
        except StopIteration:
            return
        except safepickle.SafePickleError as exc:
            yield ("error", exc)
            return
        yield ("ok", value)


def _loads(data: bytes, policy: safepickle.Policy) -> Loaded:
    try:
        return ("ok", safepickle.loads(data, policy=policy))
    except safepickle.SafePickleError as exc:
        return ("error", exc)


def _refused_names(exc: safepickle.ForbiddenGlobal) -> set[str]:
    return {f"{refused.module}.{refused.name}" for refused in exc.refused}


def agrees(stream: StreamResult, loaded: Loaded) -> str | None:
    """Why the load of one stream contradicts the scanner's verdict on it, or None."""
    how, what = loaded
    status = stream.status
    if status == "clean":
        if how == "error" and not isinstance(what, _AFTER_CLEAN):
            return f"scan clean, load raised {type(what).__name__}: {what}"
    elif status == "refused":
        if how == "ok" or not isinstance(what, _REFUSALS):
            shown = f"{type(what).__name__}: {what}" if how == "error" else "returned"
            return f"scan refused ({stream.problem or stream.refused_globals}), load {shown}"
        if isinstance(what, safepickle.ForbiddenGlobal):
            scanned = {finding.name for finding in stream.refused_globals}
            if scanned != _refused_names(what):
                return (
                    f"scan refused {sorted(scanned)}, load refused {sorted(_refused_names(what))}"
                )
        elif stream.problem is None or stream.problem.error_type != type(what).__name__:
            return f"scan refused ({stream.problem}), load raised {type(what).__name__}: {what}"
    elif status == "error":
        if how == "ok":
            return f"scan error ({stream.problem}), load returned"
        problem = stream.problem
        if (
            problem is not None
            and problem.error_type in _OWN_ERRORS
            and problem.error_type != type(what).__name__
        ):
            return f"scan error ({problem}), load raised {type(what).__name__}: {what}"
    return None


def check(data: bytes, scanner: Scanner) -> None:
    streams = scanner.scan_bytes(data).streams
    if any(stream.formats or stream.member or stream.status == "skipped" for stream in streams):
        return  # a container the scanner opened: a load does not
    policy = scanner.policy
    if len(streams) == 1 and streams[0].status != "error":
        # a single pickle: loads reads it (and refuses bytes after it, which the scanner
        # reports as a second stream, so there are none here)
        problem = agrees(streams[0], _loads(data, policy))
        if problem is not None:
            fuzz_common.finding("scan-vs-loads", problem)
    loaded_all = list(_load_all(data, policy))
    for index, loaded in enumerate(loaded_all):
        if index >= len(streams):
            fuzz_common.finding(
                "scan-stream-count",
                f"load_all read stream #{index} ({loaded[0]}), the scanner saw {len(streams)}",
            )
            break
        problem = agrees(streams[index], loaded)
        if problem is not None:
            fuzz_common.finding("scan-vs-load_all", f"stream #{index}: {problem}")
    if loaded_all and loaded_all[-1][0] == "error":
        return
    # load_all reached the end of the input: the scanner must have seen nothing more
    if len(streams) > len(loaded_all) and data.strip(b" \t\r\n"):
        extra = streams[len(loaded_all)]
        rest = data[extra.start :] if extra.start is not None else b"?"
        fuzz_common.finding(
            "scan-whitespace-at-end" if not rest.strip(b" \t\r\n") else "scan-stream-count",
            f"load_all read {len(loaded_all)} stream(s) to the end, the scanner saw "
            f"#{extra.index} ({extra.status}: {extra.problem})",
        )


def TestOneInput(data: bytes) -> None:
    with fuzz_common.quiet(), _SANDBOX.inside():
        for scanner in SCANNERS:
            check(data, scanner)


def main() -> None:
    atheris = fuzz_common.atheris
    if atheris is None:
        sys.exit("atheris is not installed: pip install atheris (see docs/fuzzing.md)")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
