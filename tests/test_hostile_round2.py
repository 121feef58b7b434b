"""Round two of the hostile suite: bounded time and memory, never a crash, default policy.

Every payload of ``hostile_round2.py`` is loaded in a child interpreter (``RUNNER`` there) with
a 2 GiB address-space limit and a CPU-time limit, so that a segfault, a runaway allocation or a
hang is a failing test instead of a dead pytest. The child reports, as one JSON line, what the
load did (loaded and equal to what plain pickle loads, or which error), its peak resident
memory, and the modules it imported. A test then asserts:

* the child exited normally: a signal is a crash, the CPU-time limit a hang (the limit is a
  guard against runaways, not a speed assertion: nothing here asserts a duration);
* the outcome is the shape's expectation (``refused`` with its error class, ``loads`` equal to
  pickle, ``bounded`` within ``Limits().result_bound(len(data))`` bytes);
* peak memory under 1.2 GB, no ``CANARY`` in the child's directory, and for the back-door
  import shapes no new entry in ``sys.modules``.

Each payload runs with the verifier as shipped and again with ``SAFEPICKLE_PURE_PYTHON=1``
(skipped when the compiled verifier is not built: the first run already was pure Python). The
depth shapes also run on a thread with a 1 MiB stack, just within ``max_depth`` (they must load
and survive being hashed and freed there) and just beyond it (refused).

Children run two at a time: the first test of this module starts every run the session
selected, in order, on a pool of two workers; each test then waits for its own.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import hostile_round2 as h
import pytest

import safepickle
from safepickle import Limits

#: what "bounded memory" means for one load of these payloads (peak resident, whole child)
MAX_PEAK_BYTES = 1_200_000_000
#: interpreter and verifier overhead allowed above ``result_bound`` for the ``bounded`` shapes
BOUND_SLACK = 48 << 20
#: the thread stack the depth shapes must survive within max_depth
SMALL_STACK = 1 << 20
#: depths just within and just beyond max_depth (a shape may add a level or two around it)
WITHIN = h.MAX_DEPTH - 100
BEYOND = h.MAX_DEPTH + 100

#: whether the children (this checkout, ``-S``) run the compiled verifier
COMPILED = h.child_verifier() == "c"
VERIFIERS = ("shipped", "pure")


@dataclass(frozen=True)
class Run:
    """One child run: a shape, a verifier, and how it is sized (``size`` or a depth mode)."""

    shape: str
    verifier: str
    mode: str = "size"  # size | within | beyond

    def __str__(self) -> str:
        suffix = "" if self.mode == "size" else f"-{self.mode}"
        return f"{self.shape}{suffix}-{self.verifier}"

    @property
    def spec(self) -> h.Shape:
        return h.BY_ID[self.shape]

    def data(self) -> bytes:
        shape = self.spec
        if self.mode == "size":
            return shape.build(shape.test_size)
        assert shape.depth is not None
        return shape.depth(WITHIN if self.mode == "within" else BEYOND)

    def expectation(self) -> tuple[str, str]:
        """(expect, error class) for this run."""
        shape = self.spec
        if self.mode == "within":
            return shape.within, shape.within_error
        if self.mode == "beyond":
            return "refused", "LimitExceeded"
        return shape.expect, shape.error

    def execute(self) -> h.Outcome:
        shape = self.spec
        expect, _ = self.expectation()
        return h.run_payload(
            self.data(),
            modules=shape.modules,
            entry_points=shape.entry_points,
            compare=expect != "refused",
            hash_result=shape.hash_result or self.mode != "size",
            stack_size=SMALL_STACK if self.mode != "size" else 0,
            pure_python=self.verifier == "pure",
            cpu_seconds=h.CPU_SECONDS,
            wall_seconds=180,
        )


SIZE_RUNS = [Run(shape.id, verifier) for shape in h.ALL for verifier in VERIFIERS]
DEPTH_RUNS = [
    Run(shape.id, verifier, mode)
    for shape in h.ALL
    if shape.depth is not None
    for mode in ("within", "beyond")
    for verifier in VERIFIERS
]

# --- running children two at a time --------------------------------------------------------------

_POOL: ThreadPoolExecutor | None = None
_FUTURES: dict[Run, Future[h.Outcome]] = {}
_LOCK = threading.Lock()


def _selected_runs(session: pytest.Session) -> Iterator[Run]:
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or item.module is None or item.module.__name__ != __name__:
            continue
        run = callspec.params.get("run")
        if isinstance(run, Run) and _runnable(run):
            yield run


def _runnable(run: Run) -> bool:
    return run.verifier == "shipped" or COMPILED


def _outcome(request: pytest.FixtureRequest, run: Run) -> h.Outcome:
    """Start every selected run on the pool (once), then wait for ``run``'s."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hostile-round2")
            for selected in _selected_runs(request.session):
                if selected not in _FUTURES:
                    _FUTURES[selected] = _POOL.submit(selected.execute)
        if run not in _FUTURES:
            _FUTURES[run] = _POOL.submit(run.execute)
        future = _FUTURES[run]
    return future.result()


@pytest.fixture(scope="module", autouse=True)
def _shutdown_pool() -> Iterator[None]:
    yield
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
        _POOL = None
        _FUTURES.clear()


def _skip_duplicate(run: Run) -> None:
    if not _runnable(run):
        pytest.skip("the compiled verifier is not built: the shipped run already is pure Python")


# --- judging one outcome -------------------------------------------------------------------------


def _describe(run: Run, outcome: h.Outcome, entry: str = "loads") -> str:
    shape = run.spec
    return (
        f"{run} [{h.CLASSES[shape.cls]}: {shape.shape}] via {entry}, "
        f"{outcome.size:,} bytes: {outcome.summary(entry)}; plain pickle: {shape.plain}"
        + (f"; stderr: {outcome.stderr.strip()[-600:]}" if outcome.kind(entry) != "loaded" else "")
    )


def _check_entry(run: Run, outcome: h.Outcome, entry: str) -> None:
    expect, error = run.expectation()
    kind = outcome.kind(entry)
    what = _describe(run, outcome, entry)
    assert kind not in ("crash", "hang", "memory", "no-result"), what
    refused_right = kind == "refused" and error in outcome.error_mro(entry)
    loaded_right = kind == "loaded" and (entry == "scan" or outcome.equal_to_plain(entry) is True)
    if expect == "refused":
        assert refused_right, f"expected {error}: {what}"
    elif expect == "loads":
        assert loaded_right, f"expected to load what pickle loads: {what}"
    else:  # bounded, no-crash: either is right
        assert refused_right or loaded_right, f"expected to load or {error}: {what}"


def _log(run: Run, outcome: h.Outcome) -> None:
    """Append the run's outcome to ``$HOSTILE_ROUND2_LOG`` (JSON lines), when it is set."""
    path = os.environ.get("HOSTILE_ROUND2_LOG")
    if not path:
        return
    record = {
        "run": str(run),
        "shape": run.shape,
        "class": run.spec.cls,
        "mode": run.mode,
        "verifier": run.verifier,
        "expect": run.expectation(),
        "size": outcome.size,
        "returncode": outcome.returncode,
        "entries": {
            entry: {"kind": outcome.kind(entry), "summary": outcome.summary(entry)}
            for entry in run.spec.entry_points
        },
        "seconds": outcome.entry(run.spec.entry_points[0]).get("seconds"),
        "cpu": outcome.entry(run.spec.entry_points[0]).get("cpu"),
        "peak": outcome.peak,
        "growth": outcome.growth,
        "new_modules": (outcome.report or {}).get("new_modules"),
        "child_wall": outcome.wall,
    }
    with _LOCK, open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")


def _check(run: Run, outcome: h.Outcome) -> None:
    _log(run, outcome)
    shape = run.spec
    for entry in shape.entry_points:
        _check_entry(run, outcome, entry)
    what = _describe(run, outcome)
    assert outcome.peak < MAX_PEAK_BYTES, f"peak memory past {MAX_PEAK_BYTES:,}: {what}"
    if run.expectation()[0] == "bounded":
        bound = Limits().result_bound(outcome.size)
        assert outcome.growth <= bound + BOUND_SLACK, (
            f"grew {outcome.growth / 1e6:.0f} MB, past result_bound({outcome.size:,}) = "
            f"{bound / 1e6:.0f} MB: {what}"
        )
    assert not outcome.canary, f"CANARY was created: {what}"
    if shape.check_modules and outcome.report is not None:
        assert outcome.report["new_modules"] == [], (
            f"imported {outcome.report['new_modules']}: {what}"
        )


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("run", SIZE_RUNS, ids=str)
def test_hostile_payload(run: Run, request: pytest.FixtureRequest) -> None:
    """The payload at its test size: its expectation, in bounded memory, in a child."""
    _skip_duplicate(run)
    _check(run, _outcome(request, run))


@pytest.mark.parametrize("run", DEPTH_RUNS, ids=str)
def test_depth_on_a_1_mib_thread_stack(run: Run, request: pytest.FixtureRequest) -> None:
    """Depth shapes on a ``threading.stack_size(1 << 20)`` thread: within max_depth they load
    and survive being hashed and freed there; beyond it they are refused."""
    _skip_duplicate(run)
    outcome = _outcome(request, run)
    _check(run, outcome)
    if run.mode == "within" and outcome.kind() == "loaded":
        assert outcome.entry().get("freed") is True, _describe(run, outcome)


def test_frame_desync_is_live_under_plain_file_load() -> None:
    """The frame-crossing payload is a real exploit: ``pickle.load(file)`` creates the canary
    (while ``pickle.loads``, and any linear scanner, see only strings)."""
    shape = h.BY_ID["c8-string-crosses-frame-desync"]
    data = shape.build(shape.test_size)
    outcome = h.run_payload(data, entry_points=("plain-load-file", "plain-loads"))
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.canary, "pickle.load(file) did not create CANARY"
    assert outcome.kind("plain-loads") == "loaded"


# --- the catalogue itself ------------------------------------------------------------------------


def test_every_class_has_three_shapes() -> None:
    ids = [shape.id for shape in h.ALL]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for cls in h.CLASSES:
        refused = [s for s in h.ALL if s.cls == cls and s.expect != "loads"]
        assert len(refused) >= 3, f"class {cls} has {len(refused)} hostile shapes"
    for shape in h.ALL:
        assert shape.expect in ("refused", "loads", "bounded", "no-crash"), shape.id
        assert isinstance(getattr(safepickle, shape.error, None), type), shape.id
        assert shape.id.startswith(f"c{shape.cls}-"), shape.id
        if shape.expect == "refused" and shape.cls == 1:
            assert shape.depth is not None, f"{shape.id}: a depth shape without depth()"


def test_every_class_has_a_benchmark_shape() -> None:
    for cls in h.CLASSES:
        assert any(s.bench for s in h.ALL if s.cls == cls), cls


@pytest.mark.parametrize("shape", [s for s in h.ALL if not s.fixed_size], ids=lambda s: s.id)
def test_builders_scale_with_size(shape: h.Shape) -> None:
    """Each builder makes about the size asked for (frames have a 200 KB floor), so that the
    benchmark's 1 MB and 10 MB rows mean what they say."""
    for size in (300_000, 1_000_000):
        made = len(shape.build(size))
        assert size // 2 <= made <= 2 * size, (shape.id, size, made)


def _nesting_depth(root: Any) -> int:
    """Longest chain of containment in a DAG (containers only; no recursion)."""
    depth: dict[int, int] = {}
    keep: list[Any] = []
    todo: list[tuple[Any, bool]] = [(root, False)]
    while todo:
        obj, done = todo.pop()
        if id(obj) in depth and not done:
            continue
        children = _children(obj)
        if done:
            depth[id(obj)] = 1 + max((depth.get(id(c), 0) for c in children), default=0)
            keep.append(obj)
            continue
        todo.append((obj, True))
        todo.extend((child, False) for child in children if _children(child) is not None)
        depth.setdefault(id(obj), 0)
    return depth[id(root)]


def _children(obj: Any) -> list[Any]:
    children: list[Any] = []
    if isinstance(obj, (tuple, list, set, frozenset)) or type(obj).__name__ == "deque":
        children = list(obj)
    elif isinstance(obj, dict):
        children = [*obj.keys(), *obj.values()]
    elif isinstance(obj, slice):
        children = [obj.start, obj.stop, obj.step]
    if getattr(obj, "__dict__", None) and not isinstance(obj, type):
        children.append(vars(obj))  # a BUILD state
    return children


@pytest.mark.parametrize(
    "shape",
    [s for s in h.ALL if s.depth is not None and s.id != "c1-deque-cycle"],
    ids=lambda s: s.id,
)
def test_depth_builders_build_that_depth(shape: h.Shape) -> None:
    """``depth(n)`` builds something about n deep (so "within" and "beyond" are honest)."""
    import pickle
    import sys

    if shape.id == "c1-slice-chain-dict-key" and sys.version_info < (3, 12):
        pytest.skip("slices are hashable from 3.12")
    for wanted in (50, 300):
        value = pickle.loads(shape.depth(wanted))
        measured = _nesting_depth(value)
        # a dict key or set member adds one level; BUILD states count their __dict__ too
        assert wanted - 2 <= measured <= 2 * wanted + 3, (shape.id, wanted, measured)


def test_the_cycle_builder_builds_one_cycle() -> None:
    import pickle

    first = pickle.loads(h.BY_ID["c1-deque-cycle"].depth(50))
    node, steps = first, 0
    while True:
        (node,) = node
        steps += 1
        if node is first:
            break
    assert steps == 50


def test_colliding_values_collide() -> None:
    """The flood's keys really share one hash value (a silent change would make them moot)."""
    ints = list(h.colliding_ints(100))
    assert len(set(ints)) == 100 and len({hash(i) for i in ints}) == 1
    floats = h.colliding_floats()
    assert len(floats) > 64 and len({hash(f) for f in floats}) == 1
    pairs = list(h.xxhash_pairs(100))
    assert len({hash(p) for p in pairs}) == 1
    assert len({hash(b) for _, b in pairs}) == 100
    complexes = [complex(1000003.0 * t, -float(t)) for t in range(2, 100)]
    assert {hash(c) for c in complexes} == {0}
