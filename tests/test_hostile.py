"""Hostile payloads: every entry of the bypass catalogue is refused, by every entry point.

A refusal means: the expected safepickle error (always also a :class:`pickle.UnpicklingError`),
no other exception, no ``CANARY`` file (the ``canary`` fixture), no import of a module the
policy did not allow, and for resource bombs bounded wall time and memory. The liveness test
runs each ``live`` payload under plain pickle in a subprocess and requires the canary there, so
a payload that silently stopped being an exploit cannot make the refusal tests pass vacuously.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hostile_payloads import CATALOGUE, Payload, by_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safepickle
from safepickle import (
    ForbiddenGlobal,
    Limits,
    Policy,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
)
from safepickle.testing import CANARY

#: what "bounded" means for a resource bomb, measured inside the test
MAX_SECONDS = 5.0
MAX_PEAK_BYTES = 64 << 20

Load = Callable[[bytes, dict[str, Any]], object]

ENTRY_POINTS: dict[str, Load] = {
    "loads": lambda data, kwargs: safepickle.loads(data, **kwargs),
    "load": lambda data, kwargs: safepickle.load(io.BytesIO(data), **kwargs),
    "Unpickler": lambda data, kwargs: safepickle.Unpickler(io.BytesIO(data), **kwargs).load(),
}


def _params(entries: Iterator[Payload] | tuple[Payload, ...]) -> list[Any]:
    """Catalogue entries as pytest params, each with its stable id."""
    return [pytest.param(entry, id=entry.id) for entry in entries]


def load_kwargs(entry: Payload) -> dict[str, Any]:
    """The keyword arguments the catalogue entry asks the load to run with."""
    kwargs: dict[str, Any] = {"fix_imports": entry.fix_imports}
    if entry.limits:
        kwargs["policy"] = Policy(limits=Limits(**dict(entry.limits)))
    if entry.allow:
        kwargs["allow"] = list(entry.allow)
    return kwargs


def allowed_modules(entry: Payload) -> set[str]:
    """Modules the entry's allow-list names: importing those is the policy's own choice."""
    return {item.partition(":")[0] for item in entry.allow}


@pytest.fixture
def arrange(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Payload], None]]:
    """Prepare a catalogue entry: write its modules onto sys.path, register its extension.

    Everything is undone afterwards, so that a module one test imported (or that a bug
    imported) never leaks into the next test.
    """
    written: list[str] = []
    registered: list[tuple[str, str, int]] = []

    def setup(entry: Payload) -> None:
        if entry.modules:
            directory = tmp_path / "modules"
            directory.mkdir(exist_ok=True)
            for name, source in entry.modules:
                (directory / f"{name}.py").write_text(source)
                written.append(name)
            monkeypatch.syspath_prepend(str(directory))
        if entry.extension is not None:
            copyreg.add_extension(*entry.extension)
            registered.append(entry.extension)

    yield setup
    for name in written:
        sys.modules.pop(name, None)
    for extension in registered:
        copyreg.remove_extension(*extension)


@pytest.fixture(autouse=True)
def _restore_safeuuid() -> Iterator[None]:
    """``build-shared-singleton-p2`` (and mutations of it) write into the process-wide
    ``uuid.SafeUUID`` members when the bug it documents is present: put them back, so that
    no other test ever sees the change."""
    saved = {member: dict(vars(member)) for member in uuid.SafeUUID}
    yield
    for member, attributes in saved.items():
        vars(member).clear()
        vars(member).update(attributes)


@dataclass
class Outcome:
    """What one load did: the exception it raised (or None), its wall time, its peak memory."""

    error: BaseException | None
    seconds: float
    peak_bytes: int | None = None

    def describe(self) -> str:
        peak = "not measured" if self.peak_bytes is None else f"{self.peak_bytes / 1e6:.1f} MB"
        if self.error is None:
            what = "returned normally"
        else:
            what = f"{type(self.error).__name__}: {str(self.error)[:120]}"
        return f"{self.seconds:.2f} s, peak {peak}, {what}"


def run_once(call: Callable[[], object], *, trace_memory: bool) -> Outcome:
    """Run ``call``, catching what it raises; time it, and trace its allocations if asked."""
    if trace_memory:
        gc.collect()
        tracemalloc.start()
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        call()
    except Exception as exc:  # the caller judges the exception
        error = exc
    seconds = time.perf_counter() - started
    peak = None
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return Outcome(error, seconds, peak)


def measure(call: Callable[[], object], expect: type[BaseException]) -> Outcome:
    """Time ``call`` untraced, then run it again under tracemalloc for its peak memory.

    Tracing makes every allocation look up its line number, which in the verifier's long loop
    costs microseconds: time is only meaningful untraced. The traced run is skipped when the
    first one already failed (wrong outcome or too slow), which keeps failing bombs quick.
    """
    timed = run_once(call, trace_memory=False)
    if not isinstance(timed.error, expect) or timed.seconds >= MAX_SECONDS:
        return timed
    traced = run_once(call, trace_memory=True)
    return Outcome(timed.error, timed.seconds, traced.peak_bytes)


def assert_bounded(outcome: Outcome, expect: type[BaseException], what: str) -> None:
    """Fail unless ``outcome`` is ``expect`` raised within the time and memory budget."""
    if not (
        isinstance(outcome.error, expect)
        and outcome.seconds < MAX_SECONDS
        and outcome.peak_bytes is not None
        and outcome.peak_bytes < MAX_PEAK_BYTES
    ):
        pytest.fail(
            f"{what}: expected {expect.__name__} within {MAX_SECONDS:.0f} s and "
            f"{MAX_PEAK_BYTES >> 20} MB, got: {outcome.describe()}"
        )


def assert_refused(entry: Payload, load: Load, canary: Path) -> SafePickleError:
    """Load ``entry`` and check every part of a correct refusal; return the error."""
    kwargs = load_kwargs(entry)
    if entry.bomb:
        outcome = measure(lambda: load(entry.data, kwargs), entry.expect)
        assert_bounded(outcome, entry.expect, entry.id)
        error = outcome.error
    else:
        with pytest.raises(entry.expect) as info:
            load(entry.data, kwargs)
        error = info.value
    assert isinstance(error, pickle.UnpicklingError)
    assert not canary.exists(), f"{entry.id} executed: {CANARY} was created"
    for name, _source in entry.modules:
        if name not in allowed_modules(entry):
            assert name not in sys.modules, f"{entry.id} imported {name} before refusing"
    return error


# --- the catalogue, through every entry point ---------------------------------------------------


@pytest.mark.parametrize("entry", _params(CATALOGUE))
def test_loads_refuses(entry: Payload, canary: Path, arrange: Callable[[Payload], None]) -> None:
    """``safepickle.loads`` refuses every catalogue entry."""
    arrange(entry)
    assert_refused(entry, ENTRY_POINTS["loads"], canary)


@pytest.mark.parametrize("entry", _params(e for e in CATALOGUE if not (e.bomb or e.loads_only)))
def test_load_from_file_refuses(
    entry: Payload, canary: Path, arrange: Callable[[Payload], None]
) -> None:
    """``safepickle.load`` from a file refuses the catalogue (bombs: see the Unpickler test)."""
    arrange(entry)
    assert_refused(entry, ENTRY_POINTS["load"], canary)


@pytest.mark.parametrize("entry", _params(e for e in CATALOGUE if not (e.heavy or e.loads_only)))
def test_unpickler_refuses(
    entry: Payload, canary: Path, arrange: Callable[[Payload], None]
) -> None:
    """``safepickle.Unpickler(file).load()`` refuses the catalogue, bombs included."""
    arrange(entry)
    assert_refused(entry, ENTRY_POINTS["Unpickler"], canary)


# --- the compiled verifier against the Python one -----------------------------------------------

_VERIFY = importlib.import_module("safepickle.verify")
_verify_with = getattr(_VERIFY, "_verify_with", None)
_COMPILED = _verify_with is not None and getattr(_VERIFY, "_c_fast_verify", None) is not None


def python_verdict(entry: Payload) -> object:
    """What the pure-Python verifier makes of ``entry``: its Verified, or its error class."""
    assert _verify_with is not None
    options = {"limits": Limits(**dict(entry.limits)), "fix_imports": entry.fix_imports}
    try:
        return _verify_with("python", entry.data, **options)
    except SafePickleError as exc:
        return type(exc)


@pytest.mark.skipif(not _COMPILED, reason="the compiled verifier is not built")
@pytest.mark.parametrize("entry", _params(e for e in CATALOGUE if not e.heavy))
def test_compiled_verifier_accepts_only_what_python_accepts(entry: Payload) -> None:
    """The compiled pass may bail on anything, but what it accepts on its own must be exactly
    what the Python pass accepts: otherwise every check only Python makes is bypassed."""
    assert _verify_with is not None
    options = {"limits": Limits(**dict(entry.limits)), "fix_imports": entry.fix_imports}
    try:
        compiled = _verify_with("c", entry.data, **options)
    except SafePickleError:
        compiled = None  # it raised instead of bailing: the Python pass decides either way
    if compiled is not None:
        assert compiled == python_verdict(entry)


# --- the catalogue itself -----------------------------------------------------------------------


def protocol_of(data: bytes) -> int:
    """The protocol a payload is written in: its PROTO, else 1 when it uses binary opcodes."""
    if data[:1] == b"\x80" and len(data) > 1:
        return data[1]
    # Protocol 1 introduced the binary opcodes; protocol 0 is text lines and a few one-byte ops.
    return 1 if any(op in data for op in b"]}q)hjrXBCKJMTUQ\x94\x93") else 0


def test_catalogue_is_large_and_varied() -> None:
    """At least 70 payloads and 60 techniques, every protocol, every entry explained."""
    ids = [entry.id for entry in CATALOGUE]
    assert len(set(ids)) == len(ids), "duplicate payload ids"
    assert len(ids) >= 70
    assert len({entry.technique for entry in CATALOGUE}) >= 60
    assert {protocol_of(entry.data) for entry in CATALOGUE if entry.data} >= set(range(6))
    for entry in CATALOGUE:
        assert isinstance(entry.data, bytes)
        assert issubclass(entry.expect, SafePickleError)
        # a live payload is proved by running it; any other one must say why it cannot be
        assert entry.live != bool(entry.why_not_live), entry.id


# --- liveness: each live payload really is an exploit under plain pickle ------------------------

# Plain pickle, reading every pickle in the file as a naive ``while True: pickle.load(f)`` loop
# does (for a single pickle that is exactly pickle.loads).
_PLAIN_PICKLE = """
import copyreg, io, json, pickle, sys
data = open(sys.argv[1], "rb").read()
for module, name, code in json.loads(sys.argv[2]):
    copyreg.add_extension(module, name, code)
stream = io.BytesIO(data)
while stream.tell() < len(data):
    pickle.load(stream)
"""


def wait_for(path: Path, seconds: float) -> bool:
    """Whether ``path`` exists within ``seconds`` (shell commands may finish after Python)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("entry", _params(e for e in CATALOGUE if e.live))
def test_payload_is_live_under_plain_pickle(entry: Payload, tmp_path: Path) -> None:
    """Plain pickle in a subprocess creates the canary: the payload is a real exploit."""
    missing = [name for name in entry.needs if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to prove the exploit")
    for name, source in entry.modules:
        (tmp_path / f"{name}.py").write_text(source)  # the subprocess imports from its cwd
    payload = tmp_path / "payload.pickle"
    payload.write_bytes(entry.data)
    extensions = [list(entry.extension)] if entry.extension else []
    result = subprocess.run(
        [sys.executable, "-c", _PLAIN_PICKLE, str(payload), json.dumps(extensions)],
        cwd=tmp_path,
        timeout=30,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wait_for(tmp_path / CANARY, 10), (
        f"{entry.id} did not create {CANARY} under plain pickle "
        f"(exit {result.returncode}): {result.stderr[-2000:]}"
    )


# --- several pickles in one file -----------------------------------------------------------------


def test_load_all_refuses_the_second_pickle_before_running_it(canary: Path) -> None:
    """The first pickle is yielded; the hostile second one is refused, never run."""
    entry = by_id("second-pickle-hostile-p0")
    pickles = safepickle.load_all(io.BytesIO(entry.data))
    assert next(pickles) is None
    with pytest.raises(ForbiddenGlobal) as info:
        next(pickles)
    assert info.value.module == "os" and info.value.name == "system"
    assert not canary.exists()


def test_load_twice_refuses_the_second_pickle(canary: Path) -> None:
    """``load`` stops at the first STOP like pickle; the next ``load`` refuses the rest."""
    stream = io.BytesIO(by_id("second-pickle-hostile-p0").data)
    assert safepickle.load(stream) is None
    with pytest.raises(ForbiddenGlobal):
        safepickle.load(stream)
    assert not canary.exists()


# --- state and resources that the catalogue cannot express -------------------------------------


def test_build_never_changes_a_shared_singleton() -> None:
    """An allowed constructor may hand back a process-wide object (``SafeUUID(0)`` is the
    ``SafeUUID.safe`` member itself); BUILD must not be able to write into it."""
    member = uuid.SafeUUID.safe
    before = dict(vars(member))
    with contextlib.suppress(SafePickleError):
        safepickle.loads(by_id("build-shared-singleton-p2").data)
    assert vars(member) == before, "BUILD changed uuid.SafeUUID.safe for the whole process"


def test_reading_a_pipe_allocates_what_arrives_not_what_is_claimed(canary: Path) -> None:
    """A 13-byte stream claiming a 2 GB BINBYTES8 through a pipe: the reader must not ask the
    file for (and so allocate) the claimed size before the bytes exist."""
    claim = (0x7FFF0000).to_bytes(8, "little")

    def load_from_pipe() -> object:
        read_end, write_end = os.pipe()  # a fresh pipe per run: a pipe cannot be re-read
        os.write(write_end, b"\x80\x04\x8e" + claim + b"xx")
        os.close(write_end)
        with open(read_end, "rb") as pipe:
            return safepickle.load(pipe)

    assert_bounded(measure(load_from_pipe, TruncatedPickle), TruncatedPickle, "pipe")


# Peak resident memory of one load of 2.1 million MARKs (past the default max_stack_depth of
# two million), measured in a fresh process: tracing two million opcodes with tracemalloc would
# take minutes (see measure), and every MARK's memory is touched, so peak RSS sees all of it.
_MARKS_AT_DEFAULT_LIMITS = """
import resource, sys
import safepickle
data = b"(" * 2_100_000 + b"."
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    safepickle.loads(data)
except safepickle.LimitExceeded:
    outcome = "LimitExceeded"
else:
    outcome = "loaded"
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(outcome, grown * (1 if sys.platform == "darwin" else 1024))
"""


def test_default_limits_bound_memory_for_marks(tmp_path: Path) -> None:
    """Millions of MARKs under the default limits: refused, within the memory budget."""
    pytest.importorskip("resource")
    root = Path(safepickle.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH")))),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _MARKS_AT_DEFAULT_LIMITS],
        cwd=tmp_path,
        env=env,
        timeout=60,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    outcome, grown = result.stdout.split()
    assert outcome == "LimitExceeded"
    assert seconds < MAX_SECONDS
    assert int(grown) < MAX_PEAK_BYTES, (
        f"2.1 MB of MARKs grew the verifying process by {int(grown) / 1e6:.0f} MB"
    )


def _refused_names_stream(tag: str, count: int) -> bytes:
    """``count`` GLOBALs of distinct, never-allowed names, each POPped; then None."""
    return b"".join(b"c%s_%d\nX\n0" % (tag.encode(), i) for i in range(count)) + b"N."


def test_refusals_do_not_accumulate_in_the_default_policy() -> None:
    """Hostile streams with ever new names must not grow memory that outlives the call.

    The default policy is shared by every caller in the process; whatever it remembers about a
    refused stream is memory an attacker can grow by sending more streams.
    """
    tag = f"hostile{uuid.uuid4().hex[:8]}"
    with pytest.raises(ForbiddenGlobal):  # warm up what is legitimately built once
        safepickle.loads(_refused_names_stream(tag + "w", 10))
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for round_ in range(5):
            with pytest.raises(ForbiddenGlobal):
                safepickle.loads(_refused_names_stream(f"{tag}r{round_}", 5_000))
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert retained < 4 << 20, (
        f"{retained / 1e6:.1f} MB outlived 5 refused loads of 5,000 names each "
        "(about 500 KB of input)"
    )


# --- error messages ------------------------------------------------------------------------------

FLOOR_IDS = (
    "os-system-global-reduce-p0",
    "builtin-eval-alias-p2",
    "subprocess-call-reduce-p2",
    "pickle-loads-p3",
    "builtins-exec-framed-p4",
    "reexport-exact-allow-p2",
    "getattr-in-list-p3",
)


@pytest.mark.parametrize("payload_id", FLOOR_IDS)
def test_floor_refusals_never_suggest_allowing(
    payload_id: str, canary: Path, arrange: Callable[[Payload], None]
) -> None:
    """A refusal by the floor says so and never offers an ``allow=`` that could lift it."""
    entry = by_id(payload_id)
    arrange(entry)
    error = assert_refused(entry, ENTRY_POINTS["loads"], canary)
    assert isinstance(error, ForbiddenGlobal)
    for refusal in error.refused:
        assert "allow=" not in refusal.message
    assert "floor" in str(error)


def test_a_walk_through_a_module_never_suggests_allowing(canary: Path) -> None:
    """``fnmatch.os.system`` is ``os.system`` reached through a module attribute: the message
    must not offer ``allow=['fnmatch:os.system']`` (following it could never load anyway)."""
    error = assert_refused(
        by_id("pathlib-os-system-dotted-global-p4"), ENTRY_POINTS["loads"], canary
    )
    assert "allow=" not in str(error), str(error)


_USER_MODULE = "class Point:\n    class Inner:\n        pass\n"
# userapp_models.Point.Inner() by NEWOBJ, the name spelled by STACK_GLOBAL.
_USER_PAYLOAD = b"\x80\x04\x8c\x0euserapp_models\x8c\x0bPoint.Inner\x93)\x81."


def test_default_deny_suggests_the_exact_allow_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: Path
) -> None:
    """Refusing a harmless user class names the exact ``allow=[...]`` entry, and that entry
    then loads it; the refusal itself imported nothing."""
    (tmp_path / "userapp_models.py").write_text(_USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ForbiddenGlobal) as info:
            safepickle.loads(_USER_PAYLOAD)
        assert "userapp_models" not in sys.modules
        message = str(info.value)
        assert "allow=['userapp_models:Point.Inner']" in message
        assert "offset 31" in message  # where the STACK_GLOBAL opcode sits
        loaded = safepickle.loads(_USER_PAYLOAD, allow=["userapp_models:Point.Inner"])
        assert type(loaded).__qualname__ == "Point.Inner"
    finally:
        sys.modules.pop("userapp_models", None)
    assert not canary.exists()


def test_messages_name_the_canonical_global_and_the_offset(canary: Path) -> None:
    """A protocol-2 alias is reported by its canonical name, with its spelling and offset."""
    error = assert_refused(by_id("builtin-eval-alias-p2"), ENTRY_POINTS["loads"], canary)
    assert isinstance(error, ForbiddenGlobal)
    assert (error.module, error.name) == ("builtins", "eval")
    assert (error.raw_module, error.raw_name) == ("__builtin__", "eval")
    assert error.offset == 2
    message = str(error)
    assert "'builtins.eval'" in message
    assert "offset 2" in message
    assert "__builtin__ eval" in message


def test_opcode_refusals_name_the_opcode_and_offset(canary: Path) -> None:
    """An EXT2 refusal names the opcode and where it is."""
    error = assert_refused(by_id("ext2-p2"), ENTRY_POINTS["loads"], canary)
    assert isinstance(error, UnsafeOpcode)
    assert error.opcode == "EXT2"
    assert error.offset == 2
    assert "offset 2" in str(error)


# --- mutated payloads ----------------------------------------------------------------------------

_SEEDS = tuple(e.data for e in CATALOGUE if not (e.bomb or e.modules or e.extension) and e.data)


@contextlib.contextmanager
def _inside_fresh_directory() -> Iterator[Path]:
    """A fresh temporary cwd for one example (hypothesis reruns the test body many times)."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        try:
            yield Path(directory)
        finally:
            os.chdir(previous)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> bytes:
    """A catalogue payload with a few bytes flipped, inserted, deleted or cut off."""
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("flip", "insert", "delete", "truncate")))
        if action == "insert" or not data:
            data[where:where] = bytes([draw(st.integers(0, 255))])
        elif action == "flip":
            data[min(where, len(data) - 1)] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[min(where, len(data) - 1)]
        else:
            del data[where:]
    return bytes(data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_payloads())
def test_mutated_payloads_only_ever_raise_safepickle_errors(data: bytes) -> None:
    """Whatever a mutation makes of a hostile payload: a safepickle error or a plain value,
    never another exception and never the canary."""
    with _inside_fresh_directory() as directory:
        with contextlib.suppress(SafePickleError):
            safepickle.loads(data)
        assert not (directory / CANARY).exists()
