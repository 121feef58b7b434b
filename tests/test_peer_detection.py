"""Tests of benchmarks/peer_detection.py: its safepickle columns, its isolation, its reports.

The peers (picklescan, fickling, modelscan, torch) are not in the test environment's
dependencies, so nothing here requires one: a contender whose module is missing must be
reported as "not installed". The isolation is tested with contenders defined here: one that
really runs a payload under plain pickle (the canary must be seen), one that hangs (timeout),
one that dies (crash).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "peer_detection.py"
if str(SCRIPT.parent) not in sys.path:
    sys.path.insert(0, str(SCRIPT.parent))

import peer_detection as pd  # noqa: E402 - benchmarks/ is not a package: on sys.path above

HOSTILE = ("os-system-global-reduce-p0", "pkgutil-resolve-name-chain-p4", "ext1-p2")
BENIGN = ("plain-p2", "dataclass-p5")


def _sample(ident: str) -> pd.Sample:
    return next(s for s in pd.hostile_samples() if s.id == ident)


class PlainPickle(pd.Contender):
    """Not a peer: plain ``pickle.loads``, to prove that the canary check sees an exploit."""

    name = "plain pickle"
    module = "pickle"
    distribution = "safepickle-core"

    def check(self, sample: pd.Sample) -> tuple[str, str]:
        pickle.loads(sample.data)  # plain pickle on purpose: the exploit must run
        return "clean", "loaded"


class Hangs(PlainPickle):
    name = "hangs"

    def check(self, sample: pd.Sample) -> tuple[str, str]:
        time.sleep(60)
        return "clean", ""


class Dies(PlainPickle):
    name = "dies"

    def check(self, sample: pd.Sample) -> tuple[str, str]:
        os._exit(3)


class Missing(PlainPickle):
    name = "missing peer"
    module = "no_such_module_for_peer_detection"
    distribution = "no-such-distribution-for-peer-detection"


def test_cli_writes_json_and_markdown(tmp_path: Path, canary: Path) -> None:
    only = [arg for ident in HOSTILE + BENIGN for arg in ("--only", ident)]
    json_path, md_path = tmp_path / "run.json", tmp_path / "run.md"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--peers",
            "safepickle,safepickle.loads",
            *only,
            "--json",
            str(json_path),
            "--markdown",
            str(md_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert md_path.read_text(encoding="utf-8") == done.stdout
    report = json.loads(json_path.read_text(encoding="utf-8"))
    assert [s["id"] for s in report["samples"]] == [*HOSTILE, *BENIGN]
    columns = {c["name"]: c for c in report["contenders"]}
    assert set(columns) == {"safepickle", "safepickle (no allow)", "safepickle.loads"}
    for name, column in columns.items():
        results = column["results"]
        for ident in HOSTILE:
            assert results[ident]["outcome"] == "caught", (name, results[ident])
            assert results[ident]["canary"] is False
        assert results["plain-p2"]["outcome"] == "passed"
    # the dataclass needs the allow a user gives: flagged without it, passed with it
    assert columns["safepickle"]["results"]["dataclass-p5"]["outcome"] == "passed"
    assert columns["safepickle (no allow)"]["results"]["dataclass-p5"]["outcome"] == "flagged"
    assert (
        "payloads.Record" in columns["safepickle (no allow)"]["results"]["dataclass-p5"]["detail"]
    )
    assert f"| safepickle | {report['environment']['versions']['safepickle']} | 3/3 |" in (
        done.stdout
    )
    assert "| safepickle (no allow) |" in done.stdout and "benign flagged (1): `dataclass-p5`" in (
        done.stdout
    )


def test_missing_peer_is_reported_not_installed() -> None:
    samples = [_sample("os-system-global-reduce-p0")]
    columns = pd.run([Missing()], samples, timeout=30, memory=1 << 30)
    env = {"date": "today", "python": "3", "timeout": 30, "skipped": [], "left_out": []}
    assert "| missing peer | not installed |" in pd.render_markdown(columns, samples, env)
    report = pd.to_json(columns, samples, env)
    assert report["contenders"][0]["version"] == "not installed"
    assert report["contenders"][0]["results"] == {}


def test_the_canary_check_sees_a_live_payload(canary: Path) -> None:
    sample = _sample("os-system-global-reduce-p0")
    outcome = pd.run_isolated(PlainPickle(), sample, timeout=30, memory=1 << 30)
    assert outcome.canary is True
    assert outcome.outcome == "missed"
    assert not canary.exists()  # it happened in the child's own directory, not here


def test_a_hang_is_an_error_after_the_timeout() -> None:
    started = time.perf_counter()
    outcome = pd.run_isolated(Hangs(), _sample("ext1-p2"), timeout=0.5, memory=1 << 30)
    assert (outcome.outcome, outcome.verdict) == ("error", "timeout")
    assert time.perf_counter() - started < 10


def test_a_dead_check_is_an_error() -> None:
    outcome = pd.run_isolated(Dies(), _sample("ext1-p2"), timeout=30, memory=1 << 30)
    assert (outcome.outcome, outcome.verdict) == ("error", "crash")
    assert "exit 3" in outcome.detail


def test_every_payload_has_a_catalogue_section() -> None:
    samples = pd.hostile_samples(lowered_limits=True)
    categories = {s.category for s in samples}
    assert "" not in categories and "uncategorised" not in categories
    assert len(categories) >= 10
    by_id = {s.id: s.category for s in samples}
    assert by_id["os-system-global-reduce-p0"] == "Dangerous globals called directly"
    assert by_id["pkgutil-resolve-name-chain-p4"] == "Trampolines"


@pytest.mark.parametrize("lowered", [False, True])
def test_lowered_limit_payloads_are_left_out_unless_asked(lowered: bool) -> None:
    ids = {s.id for s in pd.hostile_samples(lowered_limits=lowered)}
    assert ("opcodes-small-limit" in ids) is lowered
    assert "os-system-global-reduce-p0" in ids
