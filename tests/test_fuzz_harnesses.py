"""The fuzz harnesses of ``fuzz/`` (atheris), run as plain functions so CI exercises them.

Each harness's ``TestOneInput`` runs over its whole seed corpus (``fuzz/make_corpus.py``: the
hostile catalogue, pickles of many values at every protocol, odd frames and trailing bytes,
examples of ``tests/strategies.py``) without the fuzzing engine, exactly as the fuzzer would
run each seed first. The saved findings of ``fuzz/findings/`` run too; what is not fixed yet
(``fuzz/findings/OPEN``) is an expected failure, not strict, so that the change fixing it is not
failed by this file (it shows as XPASS; then its line goes). Other tests make each harness fail
on purpose, so a harness that checks nothing cannot pass here.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import re
import sys
import types
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
if str(FUZZ) not in sys.path:
    sys.path.insert(0, str(FUZZ))

import fuzz_common  # noqa: E402
import make_corpus  # noqa: E402

import safepickle  # noqa: E402

fuzz_common.INSTRUMENT = False  # no engine here: atheris (if installed) need not instrument
HARNESSES = make_corpus.HARNESSES
#: fuzz/findings/OPEN: what is not fixed yet, (harness, "finding:<file>" or "seed:<name>") -> why
OPEN = make_corpus.open_items()


def harness(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def common_seeds() -> list[tuple[str, bytes]]:
    return make_corpus.common_seeds()


# --- every seed, through every harness ----------------------------------------------------------


@pytest.mark.parametrize("name", HARNESSES)
def test_every_seed_passes(name: str, common_seeds: list[tuple[str, bytes]]) -> None:
    """Every seed and saved finding, except what fuzz/findings/OPEN lists."""
    module = harness(name)
    seeds = make_corpus.seeds(name, common=common_seeds)
    assert len(seeds) > 500, "the seed corpus lost its generators"
    failed = []
    for seed, data in seeds:
        try:
            module.TestOneInput(data)
        except Exception as exc:
            failed.append(f"{seed} ({data[:80].hex()}): {type(exc).__name__}: {exc}")
    assert not failed, f"{name} fails on {len(failed)} seed(s):\n" + "\n".join(failed)


def _open_params() -> list[Any]:
    return [
        pytest.param(
            name, item, id=f"{name}-{item}", marks=pytest.mark.xfail(reason=why, strict=False)
        )
        for (name, item), why in OPEN.items()
    ]


@pytest.mark.parametrize(("name", "item"), _open_params())
def test_open_findings(name: str, item: str, common_seeds: list[tuple[str, bytes]]) -> None:
    """What fuzz/findings/OPEN lists fails its harness (an expected failure, not strict, so
    the change that fixes one is not failed here: it shows as XPASS, then its line goes)."""
    kind, _, what = item.partition(":")
    key = what if kind == "seed" else f"finding-{what}"
    found = dict(make_corpus.seeds(name, common=common_seeds, with_open=True))
    assert key in found, f"fuzz/findings/OPEN lists {item} for {name}, which is not a seed of it"
    harness(name).TestOneInput(found[key])


def test_open_lists_known_harnesses() -> None:
    assert OPEN, "fuzz/findings/OPEN is empty: then this test (and its parsing) can go"
    assert {name for name, _ in OPEN} <= set(HARNESSES)
    assert all(item.partition(":")[0] in ("finding", "seed") for _, item in OPEN)


# --- each harness can fail ----------------------------------------------------------------------

_HOSTILE = b"cos\nsystem\n(S'touch CANARY'\ntR."
_PLAIN = b"\x80\x04]\x94(K\x01\x8c\x01a\x94e."


def test_differential_reports_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    module = harness("verifier_differential")
    real = module.V._verify_with

    def lying(implementation: str, data: Any, start: int = 0, **options: Any) -> Any:
        found = real(implementation, data, start, **options)
        if implementation == "python" and found is not None:
            return dataclasses.replace(found, opcodes=found.opcodes + 1)
        return found

    module.TestOneInput(_PLAIN)
    monkeypatch.setattr(module.V, "_verify_with", lying)
    with pytest.raises(AssertionError, match="verify-vs-python"):
        module.TestOneInput(_PLAIN)


def test_differential_reports_a_foreign_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    module = harness("verifier_differential")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise IndexError("a bug inside the verifier")

    monkeypatch.setattr(module.V, "verify", broken)
    with pytest.raises(IndexError):
        module.TestOneInput(_PLAIN)


def test_options_round_trip() -> None:
    limits = {"max_opcodes": 5, "max_depth": 3}
    data = fuzz_common.encode_options(
        b"N.", limits, fix_imports=False, persistent_ids=True, as_bytearray=True, prefix=b"xy"
    )
    options = fuzz_common.parse_options(data, set(fuzz_common.LIMIT_FIELDS))
    assert options == fuzz_common.Options(bytearray(b"xyN."), 2, limits, False, True)
    assert fuzz_common.parse_options(b"N.", set()) == fuzz_common.Options(b"N.", 0, {})
    short = fuzz_common.parse_options(b"\xfe", set(fuzz_common.LIMIT_FIELDS))
    assert short == fuzz_common.Options(b"", 0, {})


@pytest.mark.parametrize(
    "misbehave",
    ["raise", "canary", "import"],
)
def test_loads_safety_reports(misbehave: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = harness("loads_safety")
    module.TestOneInput(_HOSTILE)

    def bad_loads(data: bytes, **kwargs: Any) -> Any:
        if misbehave == "raise":
            raise KeyError("not a SafePickleError")
        if misbehave == "canary":
            Path("CANARY").touch()
        else:
            sys.modules["safepickle_fuzz_test_module"] = types.ModuleType("x")
        return None

    monkeypatch.setattr(module.safepickle, "loads", bad_loads)
    expected = {"raise": "foreign-exception", "canary": "CANARY", "import": "new-modules"}
    with pytest.raises(AssertionError, match=expected[misbehave]):
        module.TestOneInput(_HOSTILE)
    assert "safepickle_fuzz_test_module" not in sys.modules
    assert not os.listdir(module._SANDBOX.path)


def test_agreement_reports_a_different_value(monkeypatch: pytest.MonkeyPatch) -> None:
    module = harness("loads_agrees_with_pickle")
    module.TestOneInput(_PLAIN)
    monkeypatch.setattr(module.safepickle, "loads", lambda data, **kwargs: [1, "b"])
    with pytest.raises(AssertionError, match="values-differ"):
        module.TestOneInput(_PLAIN)
    monkeypatch.setattr(module.safepickle, "loads", lambda data, **kwargs: "returned")
    with pytest.raises(AssertionError, match="reference-raised"):
        module.TestOneInput(b"\x80\x04K\x01")  # no STOP: pickle.loads raises


def test_scan_agreement_reports_a_load_that_runs_a_refused_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = harness("scan_agrees_with_load")
    module.TestOneInput(_HOSTILE)
    monkeypatch.setattr(module, "_loads", lambda data, policy: ("ok", 0))
    with pytest.raises(AssertionError, match="scan-vs-loads"):
        module.TestOneInput(_HOSTILE)


def test_scan_agreement_reports_a_refusal_of_a_clean_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = harness("scan_agrees_with_load")
    refusal = safepickle.UnsafeOpcode("no", opcode="REDUCE")
    monkeypatch.setattr(module, "_load_all", lambda data, policy: iter([("error", refusal)]))
    with pytest.raises(AssertionError, match="scan-vs-load_all"):
        module.TestOneInput(_PLAIN)


def test_ignored_checks_do_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz_common, "IGNORED", frozenset({"some-check"}))
    fuzz_common.finding("some-check", "ignored")
    with pytest.raises(AssertionError, match=r"\[other\] reported"):
        fuzz_common.finding("other", "reported")


# --- the comparison the agreement harness relies on ---------------------------------------------


def _cycle() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (math.nan, math.nan),
        ([math.nan, {math.nan: 1}], [math.nan, {math.nan: 1}]),
        (_cycle(), _cycle()),
        (fuzz_common.Plain(1, [2]), fuzz_common.Plain(1, [2])),
        (fuzz_common.Slots(1), fuzz_common.Slots(1)),
        ({1, (2, 3)}, {(2, 3), 1}),
        ([[0]] * 3, [[0]] * 3),
        ([[1] * 2000], [[1] * 2000]),
    ],
)
def test_same_values(left: Any, right: Any) -> None:
    assert fuzz_common.first_difference(left, right) is None


def _shared() -> list[Any]:
    item: list[Any] = []
    return [item, item]


def _deep(depth: int, leaf: Any) -> list[Any]:
    value: list[Any] = [leaf]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("left", "right", "why"),
    [
        (0.0, -0.0, "0.0 != -0.0"),
        (1, True, "type int != bool"),
        (fuzz_common.Plain(1, [2]), fuzz_common.Plain(1, [3]), r"\.__dict__\['b'\]\[0\]"),
        (fuzz_common.Slots(1), fuzz_common.Slots(2), r"\.a: 1 != 2"),
        (_shared(), [[], []], "one object on one side"),
        ({1: 2}, {1: 3}, r"\[1\]: 2 != 3"),
        (_deep(50_000, 1), _deep(50_000, 2), "1 != 2"),
        ({math.nan}, {1.0}, "no counterpart"),
    ],
)
def test_different_values(left: Any, right: Any, why: str) -> None:
    found = fuzz_common.first_difference(left, right)
    assert found is not None
    assert re.search(why, found), found
