"""No view of a caller's buffer, or of a load's own, outlives the load (issue 13).

A memoryview keeps its buffer exported: while one is alive, a bytearray or a BytesIO cannot be
resized (BufferError), and CPython 3.12 crashes when the garbage collector frees a traceback
whose frames hold a view of a BytesIO's buffer (3.13 prints an unraisable BufferError).
``multiprocessing``'s ``Connection.recv`` hands ``pickle.loads`` exactly such a view
(``BytesIO.getbuffer()``), so under ``safepickle.patch()`` a refused message crashed the
receiving process at its next collection.

Each test hands a load a ``BytesIO().getbuffer()`` or a ``bytearray``, keeps what the load
raised (its traceback keeps the frames, and the frames their locals), and grows the buffer while
that error is alive: BufferError if any export of it survived. For the entry points that read a
file, the error must not reach any unreleased view (of the load's own read buffer). The real
``Connection.recv`` runs in a subprocess, so that a crash fails the test instead of pytest.
"""

from __future__ import annotations

import datetime
import gc
import io
import pickle
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import pytest

import safepickle
from safepickle import (
    ExecutionError,
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    PluginError,
    TruncatedPickle,
    UnsafeOpcode,
)
from safepickle.scan import Scanner
from safepickle.testing import CANARY, hostile_payload

BENIGN = pickle.dumps({"weights": [0.5, 1.5], "name": "model"}, protocol=4)


class _HoldsViews:
    """Inspects the stream and raises ``error`` while its frame holds a slice of the view and
    an export of it (a PickleBuffer): what a plugin's error must not keep alive."""

    def __init__(self, error: Callable[[str], Exception]) -> None:
        self._error = error

    def safepickle_inspect_stream(self, data: memoryview) -> None:
        head = data[:2]
        export = pickle.PickleBuffer(data)
        raise self._error(f"refused after {bytes(head)!r} ({export.raw().nbytes} bytes)")


class _DecideRaises:
    def safepickle_decide(self, ref: Any) -> None:
        raise RuntimeError(f"cannot decide {ref.dotted}")


def _refusing(message: str) -> Exception:
    return UnsafeOpcode(message, opcode="FRAME")


#: outcome -> (the input, the policy, what the load raises; None: it loads)
OUTCOMES: dict[str, tuple[bytes, safepickle.Policy, type[Exception] | None]] = {
    "loaded": (BENIGN, safepickle.Policy(), None),
    "refused-p2": (hostile_payload(protocol=2), safepickle.Policy(), ForbiddenGlobal),
    "refused-p4": (hostile_payload(protocol=4), safepickle.Policy(), ForbiddenGlobal),
    "malformed": (b"\x80\x04\xff.", safepickle.Policy(), MalformedPickle),
    "truncated": (BENIGN[:-3], safepickle.Policy(), TruncatedPickle),
    "over-a-limit": (
        BENIGN,
        safepickle.Policy(limits=safepickle.Limits(max_opcodes=3)),
        LimitExceeded,
    ),
    "plugin-error-inspecting": (
        BENIGN,
        safepickle.Policy(plugins=[_HoldsViews(ValueError)]),
        PluginError,
    ),
    "plugin-refusal-inspecting": (
        BENIGN,
        safepickle.Policy(plugins=[_HoldsViews(_refusing)]),
        UnsafeOpcode,
    ),
    "plugin-error-deciding": (
        pickle.dumps(datetime.date(2024, 1, 1), protocol=4),  # a global to decide
        safepickle.Policy(plugins=[_DecideRaises()]),
        PluginError,
    ),
}


def _patched(call: Callable[[], Any], policy: safepickle.Policy) -> Any:
    with safepickle.patch(policy):
        return call()


#: entry points given a buffer: (make the buffer, policy) -> the loaded object. The buffer is
#: made inside the call expression, as ``Connection.recv`` does, so that no frame of the test
#: holds it: only the load can keep it alive.
BUFFER_ENTRIES: dict[str, Callable[[Callable[[], Any], safepickle.Policy], Any]] = {
    "safepickle.loads": lambda make, policy: safepickle.loads(make(), policy=policy),
    "patched pickle.loads": lambda make, policy: _patched(lambda: pickle.loads(make()), policy),
    "patched ForkingPickler.loads": lambda make, policy: _patched(
        lambda: ForkingPickler.loads(make()), policy
    ),
}

#: entry points given a file: (file, policy) -> the loaded object(s)
FILE_ENTRIES: dict[str, Callable[[Any, safepickle.Policy], Any]] = {
    "safepickle.load": lambda f, policy: safepickle.load(f, policy=policy),
    "safepickle.load_all": lambda f, policy: list(safepickle.load_all(f, policy=policy)),
    "safepickle.Unpickler": lambda f, policy: safepickle.Unpickler(f, policy=policy).load(),
    "patched pickle.load": lambda f, policy: _patched(lambda: pickle.load(f), policy),
    "patched pickle.Unpickler": lambda f, policy: _patched(
        lambda: pickle.Unpickler(f).load(), policy
    ),
    "patched pickle._Unpickler": lambda f, policy: _patched(
        lambda: pickle._Unpickler(f).load(),  # type: ignore[attr-defined]
        policy,
    ),
}


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and everything chained to it."""
    found: list[BaseException] = []
    pending = [error]
    while pending:
        item = pending.pop()
        if any(item is seen for seen in found):
            continue
        found.append(item)
        pending.extend(e for e in (item.__cause__, item.__context__) if e is not None)
    return found


def _forget_frames(error: BaseException) -> None:
    """Clear what the error's frames hold once the test has looked: a leak the test found
    must fail that test, not crash a later garbage collection (CPython 3.12)."""
    for item in _chain(error):
        traceback.clear_frames(item.__traceback__)


def _views_kept_by(error: BaseException) -> list[str]:
    """The unreleased memoryviews the error's frames hold, directly or one object down (a
    list, an instance's attributes)."""
    found = []
    for item in _chain(error):
        tb = item.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in list(frame.f_locals.items()):
                for obj in [value, *gc.get_referents(value)]:
                    if isinstance(obj, memoryview) and _unreleased(obj):
                        found.append(f"{frame.f_code.co_name}(): {name}")
            tb = tb.tb_next
    return found


def _unreleased(view: memoryview) -> bool:
    try:
        view.nbytes  # noqa: B018 - raises ValueError once released
    except ValueError:
        return False
    return True


def _raised(load: Callable[[], Any]) -> Exception | None:
    try:
        load()
    except Exception as exc:
        return exc
    return None


def _check_outcome(raised: Exception | None, error: type[Exception] | None) -> None:
    if error is None:
        assert raised is None, f"expected it to load, got {raised!r}"
    else:
        assert isinstance(raised, error), f"expected {error.__name__}, got {raised!r}"


def _load_then_grow(
    load: Callable[[], Any], error: type[Exception] | None, grow: Callable[[], Any]
) -> None:
    """Run ``load``; then, while what it raised is alive, ``grow`` the buffer it was given."""
    raised = _raised(load)
    try:
        _check_outcome(raised, error)
        grow()  # BufferError: an export of the buffer is still alive
    finally:
        if raised is not None:
            _forget_frames(raised)


@pytest.mark.usefixtures("canary")
@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("entry", BUFFER_ENTRIES)
def test_a_bytesio_can_grow_after_loading_from_its_buffer(entry: str, outcome: str) -> None:
    data, policy, error = OUTCOMES[outcome]
    bio = io.BytesIO(data)
    load = BUFFER_ENTRIES[entry]
    _load_then_grow(lambda: load(bio.getbuffer, policy), error, lambda: bio.write(b"more"))


@pytest.mark.usefixtures("canary")
@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("entry", BUFFER_ENTRIES)
def test_a_bytearray_can_grow_after_it_was_loaded(entry: str, outcome: str) -> None:
    data, policy, error = OUTCOMES[outcome]
    buf = bytearray(data)
    load = BUFFER_ENTRIES[entry]
    _load_then_grow(lambda: load(lambda: buf, policy), error, lambda: buf.extend(b"more"))


@pytest.mark.usefixtures("canary")
@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("entry", FILE_ENTRIES)
def test_no_view_outlives_a_load_from_a_file(entry: str, outcome: str) -> None:
    data, policy, error = OUTCOMES[outcome]
    file = io.BytesIO(data)
    raised = _raised(lambda: FILE_ENTRIES[entry](file, policy))
    try:
        _check_outcome(raised, error)
        assert raised is None or _views_kept_by(raised) == []
        file.write(b"more")
    finally:
        if raised is not None:
            _forget_frames(raised)


def scan_then_grow(outcome: str) -> None:
    """Scan a BytesIO's buffer and a bytearray, then grow both (run in a subprocess: the
    scanner keeps no error to clear, so a leak could crash a later collection)."""
    data, policy, _ = OUTCOMES[outcome]
    bio = io.BytesIO(data)
    buf = bytearray(data)
    scanner = Scanner(policy)
    scanner.scan_bytes(bio.getbuffer())
    scanner.scan_bytes(buf)
    bio.write(b"more")
    buf.extend(b"more")
    gc.collect()


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_scanner_leaves_no_export_of_what_it_scanned(outcome: str, tmp_path: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import {Path(__file__).stem} as t; t.scan_then_grow({outcome!r}); print('grew')"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert "grew" in done.stdout
    assert "Exception ignored" not in done.stderr, done.stderr
    assert not (tmp_path / CANARY).exists(), "a hostile stream ran"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in ``cwd``: a crash is its exit status, not pytest's."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


class _KeepsSlices:
    """A plugin that keeps a slice of every stream it inspects (a bug, but not ours to crash
    on): load_all must still grow its read buffer for the next pickle."""

    def __init__(self) -> None:
        self.kept: list[memoryview] = []

    def safepickle_inspect_stream(self, data: memoryview) -> None:
        self.kept.append(data[1:])


def test_load_all_reads_on_after_a_plugin_kept_a_view_of_a_pickle() -> None:
    plugin = _KeepsSlices()
    many = b"".join(pickle.dumps(list(range(n)), protocol=4) for n in range(300))
    loaded = list(
        safepickle.load_all(io.BytesIO(many), policy=safepickle.Policy(plugins=[plugin]))
    )
    assert loaded == [list(range(n)) for n in range(300)]
    assert len(plugin.kept) == 300


def test_a_view_kept_past_the_inspection_is_a_plugin_error() -> None:
    class KeepsAnExport:
        def __init__(self) -> None:
            self.kept: list[pickle.PickleBuffer] = []

        def safepickle_inspect_stream(self, data: memoryview) -> None:
            self.kept.append(pickle.PickleBuffer(data))

    buf = bytearray(BENIGN)
    with pytest.raises(PluginError, match="kept an export"):
        safepickle.loads(buf, policy=safepickle.Policy(plugins=[KeepsAnExport()]))
    buf.extend(b"more")  # what the plugin keeps is the load's own copy


#: date(<a read-only view of the buffer>) raises; the view is memoized, so the unpickler's memo
#: holds it until the unpickler is gone
_DATE_OF_A_VIEW = b"\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94\x97\x98\x94\x85R."
#: a dict of more than 1,024 ints whose hash the stream chooses: run on the pure-Python
#: GuardedUnpickler instead of the C one
_HASHY_DICT = pickle.dumps({(1 << 70) + i: None for i in range(1100)}, protocol=5)


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(b"\x80\x05" + _DATE_OF_A_VIEW, id="C unpickler"),
        pytest.param(
            # the dict's opcodes without its PROTO, FRAME and STOP; then POP
            b"\x80\x05" + _HASHY_DICT[11:-1] + b"0" + _DATE_OF_A_VIEW,
            id="guarded unpickler",
        ),
    ],
)
def test_an_out_of_band_buffer_can_grow_after_a_failed_execution(stream: bytes) -> None:
    buf = bytearray(b"\x07\xe4\x01\x01")
    _load_then_grow(
        lambda: safepickle.loads(stream, buffers=[buf]), ExecutionError, lambda: buf.extend(b"x")
    )


def test_loads_copies_a_bytearray_before_verifying_it() -> None:
    # the verifier and the unpickler read one immutable copy: nothing can change in between
    class Mutates:
        def safepickle_inspect_stream(self, data: memoryview) -> None:
            buf[-2:] = b"N."  # what a thread changing the caller's buffer could do

    buf = bytearray(pickle.dumps([1, 2], protocol=4))
    assert safepickle.loads(buf, policy=safepickle.Policy(plugins=[Mutates()])) == [1, 2]


def test_loads_refuses_what_is_not_bytes_like() -> None:
    for value in (5, "text", [128, 4, 46]):
        with pytest.raises(TypeError, match="a bytes-like object is required"):
            safepickle.loads(value)  # type: ignore[arg-type]


RECEIVER = """
import gc
import multiprocessing
import pickle
import sys

import safepickle
from safepickle.testing import hostile_payload


def send(connection, messages):
    for message in messages:
        connection.send_bytes(message)
    connection.close()


def main():
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    hostile = [hostile_payload(protocol=p) for p in (0, 2, 4, 5)]
    broken = [b"\\x80\\x04\\xff.", pickle.dumps([1, 2], protocol=4)[:-2]]
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=send, args=(sender, [*hostile, *broken, pickle.dumps([3])]))
    child.start()
    sender.close()
    refused = 0
    with safepickle.patch():
        for _ in [*hostile, *broken]:
            try:
                receiver.recv()
            except safepickle.SafePickleError:
                refused += 1  # the error is dropped at once: collected with what it holds
            else:
                sys.exit("a hostile message loaded")
        assert receiver.recv() == [3]
    child.join()
    gc.collect()  # where 3.12 crashed, and 3.13 reported a BytesIO freed with exports
    print("refused", refused, "and collected")


if __name__ == "__main__":
    main()
"""


def test_a_refused_message_through_a_real_pipe_survives_garbage_collection(
    tmp_path: Path,
) -> None:
    script = tmp_path / "receiver.py"
    script.write_text(textwrap.dedent(RECEIVER))
    done = _python(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')", tmp_path)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert "refused 6 and collected" in done.stdout
    # 3.13 reports a BytesIO freed with exports as an unraisable error, exit status 0
    assert "Exception ignored" not in done.stderr, done.stderr
    assert "BufferError" not in done.stderr, done.stderr
    assert not (tmp_path / CANARY).exists(), "a hostile message ran"
