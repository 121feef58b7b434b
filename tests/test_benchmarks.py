"""Smoke tests of benchmarks/bench.py: it runs, prints its columns and a ratio.

No speed is asserted: the numbers depend on the machine. Only the pure standard-library payloads
run here (the test environment installs neither numpy nor scikit-learn).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
BENCH = BENCHMARKS / "bench.py"

COLUMNS = (
    "payload",
    "proto",
    "size MB",
    "plain ms",
    "safe ms",
    "ratio",
    "verify ms",
    "v.ratio",
    "peak MB plain",
    "peak MB safe",
    "mem ratio",
)
RATIO = re.compile(r"\d+(\.\d+)?(e-?\d+)?x")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_quick_ints_prints_the_table_and_a_ratio() -> None:
    result = _run("--quick", "--only", "ints", "--repeat", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("safepickle "), lines[0]
    assert "Python 3." in lines[0]
    assert "numpy " in lines[0]
    assert "scikit-learn " in lines[0]

    header = next(line for line in lines if line.startswith("payload"))
    for column in COLUMNS:
        assert column in header, column

    rows = [line.split() for line in lines if line.startswith("ints ")]
    assert [row[1] for row in rows] == ["5", "2"]
    for row in rows:
        # payload proto size plain safe ratio verify v.ratio spread peak peak mem-ratio
        assert len(row) == 12, row
        assert RATIO.fullmatch(row[5]), row
        assert float(row[5][:-1]) > 0
        assert RATIO.fullmatch(row[7]), row
        assert RATIO.fullmatch(row[11]), row

    summary = next(line for line in lines if line.startswith("summary:"))
    assert re.search(r"median ratio \d+\.\d+x", summary), summary
    assert re.search(r"worst ratio \d+\.\d+x \(ints/p[25]\)", summary), summary
    assert re.search(r"worst memory ratio \d+\.\d+x", summary), summary


def test_json_holds_every_number(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = _run("--quick", "--only", "ints", "--repeat", "2", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["environment"]["python"] == sys.version.split()[0]
    assert document["environment"]["repeat"] == 2
    rows = document["rows"]
    assert [(row["payload"], row["protocol"]) for row in rows] == [("ints", 5), ("ints", 2)]
    for row in rows:
        assert row["error"] is None
        for series in ("plain", "safe", "verify"):
            assert len(row[series]["samples_s"]) == 2
            assert row[series]["median_s"] > 0
        assert row["ratio"] > 0
        assert row["peak_safe_bytes"] > 0
    assert document["summary"]["worst_ratio_payload"].startswith("ints/")


def test_stdlib_payloads_never_import_numpy() -> None:
    """main(argv) in a fresh interpreter: every payload that needs no third-party package
    runs, and neither numpy nor scikit-learn gets imported."""
    code = f"""
import sys
sys.path.insert(0, {str(BENCHMARKS)!r})
import bench, payloads
names = [name for name in payloads.NAMES if not payloads.requirements(name)]
argv = ["--quick", "--repeat", "1"]
for name in names:
    argv += ["--only", name]
status = bench.main(argv)
leaked = sorted(m for m in ("numpy", "sklearn", "scipy") if m in sys.modules)
assert not leaked, leaked
sys.exit(status)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("ints", "str_dict", "dataclasses", "stdlib_values", "nested_list"):
        assert re.search(rf"^{name} +2 ", result.stdout, re.MULTILINE), name
