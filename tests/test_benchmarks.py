"""Smoke tests of benchmarks/bench.py: it runs, prints its columns and a ratio.

No speed is asserted: the numbers depend on the machine. Only the pure standard-library payloads
run here (the test environment installs neither numpy nor scikit-learn), and the peers only
where they happen to be installed: a peer that is missing or fails must never stop a run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
BENCH = BENCHMARKS / "bench.py"

LOAD_COLUMNS = (
    "payload",
    "proto",
    "size MB",
    "plain ms",
    "safe ms",
    "ratio",
    "py ratio",
    "torch wo",
    "verify ms",
    "v.ratio",
    "IQR%",
    "peak MB plain",
    "peak MB safe",
    "mem ratio",
)
SCAN_COLUMNS = (
    "payload",
    "proto",
    "plain ms",
    "v.ratio",
    "v.c",
    "v.py",
    "picklescan",
    "fickling",
    "v/picklescan",
    "v/fickling",
    "IQR%",
    "picklescan says",
    "fickling says",
)
RATIO = re.compile(r"\d+(\.\d+)?(e-?\d+)?x")
#: what a peer's cell may say instead of a ratio: an exception class, or why it was not timed
NOT_A_RATIO = re.compile(r"n/a|not installed|off|bail|not built|[A-Z]\w*(Error|Exception)")


def _table(lines: list[str], title: str) -> tuple[str, list[list[str]]]:
    """The header and the rows (cells split on the two spaces between columns) of one table."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    header = lines[start + 1]
    rows = []
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        rows.append(re.split(r" {2,}", line.strip()))
    return header, rows


def _ratio_or_reason(cell: str) -> bool:
    return bool(RATIO.fullmatch(cell) or NOT_A_RATIO.fullmatch(cell))


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
    assert any(re.match(r"verifier: (C|pure Python) ", line) for line in lines), lines[:6]
    peers_line = next(line for line in lines if line.startswith("peers: "))
    for peer in ("picklescan", "fickling", "torch"):
        assert f"{peer} " in peers_line, peers_line

    header, rows = _table(lines, "loaders")
    for column in LOAD_COLUMNS:
        assert column in header, column
    assert [row[:2] for row in rows] == [["ints", "5"], ["ints", "2"]]
    for row in rows:
        assert len(row) == len(LOAD_COLUMNS), row
        for column in ("ratio", "py ratio", "v.ratio", "mem ratio"):
            assert RATIO.fullmatch(row[LOAD_COLUMNS.index(column)]), (column, row)
        assert float(row[LOAD_COLUMNS.index("ratio")][:-1]) > 0
        assert _ratio_or_reason(row[LOAD_COLUMNS.index("torch wo")]), row
    # torch's weights-only unpickler reads protocol 2 only
    assert NOT_A_RATIO.fullmatch(rows[0][LOAD_COLUMNS.index("torch wo")]), rows[0]

    header, rows = _table(lines, "static passes")
    for column in SCAN_COLUMNS:
        assert column in header, column
    assert [row[:2] for row in rows] == [["ints", "5"], ["ints", "2"]]
    for row in rows:
        assert len(row) == len(SCAN_COLUMNS), row
        for column in SCAN_COLUMNS[3:10]:
            assert _ratio_or_reason(row[SCAN_COLUMNS.index(column)]), (column, row)
        assert RATIO.fullmatch(row[SCAN_COLUMNS.index("v.py")]), row

    summary = next(line for line in lines if line.startswith("summary:"))
    assert re.search(r"median ratio \d+\.\d+x", summary), summary
    assert re.search(r"worst ratio \d+\.\d+x \(ints/p[25]\)", summary), summary
    assert re.search(r"worst memory ratio \d+\.\d+x", summary), summary
    assert re.search(r"safepickle.loads with the Python verifier: median \d", result.stdout)
    assert "verify-only (" in result.stdout
    assert "/ picklescan scan: " in result.stdout
    assert "/ fickling analysis: " in result.stdout


def test_json_holds_every_number(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = _run(
        "--quick", "--only", "ints", "--repeat", "2", "--peers", "none", "--json", str(out)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["environment"]["python"] == sys.version.split()[0]
    assert document["environment"]["repeat"] == 2
    rows = document["rows"]
    assert [(row["payload"], row["protocol"]) for row in rows] == [("ints", 5), ("ints", 2)]
    for row in rows:
        assert row["error"] is None
        for series in ("plain", "safe", "safe_python", "verify", "verify_python"):
            assert len(row[series]["samples_s"]) == 2
            assert row[series]["median_s"] > 0
        assert row["ratio"] > 0
        assert row["ratios"]["safe_python"] > 0
        for peer in ("picklescan", "fickling", "torch"):
            assert row["untimed"][peer] == "off"
        assert row["peak_safe_bytes"] > 0
    assert document["summary"]["worst_ratio_payload"].startswith("ints/")
    assert document["summary"]["loads_ratio_by_verifier"]["python"]["rows"] == 2
    assert document["environment"]["verifier_implementation"] in ("c", "python")


def test_stdlib_payloads_never_import_numpy() -> None:
    """main(argv) in a fresh interpreter: every payload that needs no third-party package
    runs, and neither numpy nor scikit-learn gets imported (torch's peer is left out: importing
    torch imports numpy; picklescan, when installed, runs)."""
    code = f"""
import sys
sys.path.insert(0, {str(BENCHMARKS)!r})
import bench, payloads
names = [name for name in payloads.NAMES if not payloads.requirements(name)]
argv = ["--quick", "--repeat", "1", "--peers", "picklescan"]
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


def test_a_failing_or_missing_peer_never_stops_the_run() -> None:
    """A peer that raises shows its exception class and is not timed; one that is not
    installed says so in its cells; the row is still measured."""
    code = f"""
import sys
sys.path.insert(0, {str(BENCHMARKS)!r})
import bench, payloads, peers

class Broken(peers.Peer):
    name = title = "broken"
    module = "json"

    def call(self, data, payload):
        def fail():
            raise ZeroDivisionError("boom")
        return fail

class Missing(peers.Peer):
    name = title = "missing"
    module = "no_such_module_for_the_benchmark"

peers.PEERS = (Broken(), Missing())
active, inactive, states = bench.set_up_peers(["broken", "missing"])
assert [peer.name for peer in active] == ["broken"], active
assert inactive == {{"missing": "not installed"}}, inactive
assert states["missing"] == "not installed", states

row = bench.measure(payloads.build("nested_list", quick=True), 2, 1, active, inactive)
assert row.ok, row.error
assert "broken" not in row.series, row.series
assert row.untimed["broken"] == "ZeroDivisionError", row.untimed
assert row.verdicts["broken"] == "error", row.verdicts
assert ("broken", "ZeroDivisionError: boom") in row.notes, row.notes
assert row.untimed["missing"] == "not installed", row.untimed
assert row.series["safe_python"].samples, row.series
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_suite_runs_without_any_peer_installed() -> None:
    """With picklescan, fickling and torch unimportable, every peer cell says so."""
    code = f"""
import sys

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("picklescan", "fickling", "torch"):
            raise ModuleNotFoundError(name)
        return None

sys.meta_path.insert(0, Hide())
sys.path.insert(0, {str(BENCHMARKS)!r})
import bench
sys.exit(bench.main(["--quick", "--only", "nested_list", "--repeat", "1", "--plain"]))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    peers_line = next(line for line in lines if line.startswith("peers: "))
    assert peers_line == (
        "peers: picklescan not installed | fickling not installed | torch not installed"
    )
    _, rows = _table(lines, "loaders")
    assert [row[LOAD_COLUMNS.index("torch wo")] for row in rows] == ["not installed"] * 2
    _, rows = _table(lines, "static passes")
    for row in rows:
        for column in ("picklescan", "fickling", "v/picklescan", "picklescan says"):
            assert row[SCAN_COLUMNS.index(column)] == "not installed", (column, row)
