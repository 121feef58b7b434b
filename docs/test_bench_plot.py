"""``benchmarks/bench.py --plot DIR`` draws the comparison page's plots and writes its table.

Runs in ``tox -e docs`` (which installs matplotlib), on the smallest payload, without peers: it
checks the plumbing, not the numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_writes_the_pngs_and_the_table_they_came_from(tmp_path: Path) -> None:
    argv = ["--quick", "--only", "nested_list", "--repeat", "1", "--peers", "none", "--plain"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), *argv, "--plot", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in ("loaders.png", "static-passes.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG), name
    table = (tmp_path / "bench-table.md").read_text(encoding="utf-8")
    assert table.startswith("Measured ")
    assert "--only nested_list" in table  # the command that produced it
    assert "| nested_list | 5 |" in table
    assert "| nested_list | 2 |" in table


def test_the_committed_plots_come_with_their_table() -> None:
    bench = ROOT / "docs" / "_static" / "bench"
    for name in ("loaders.png", "static-passes.png"):
        assert (bench / name).read_bytes().startswith(PNG), name
    table = (bench / "bench-table.md").read_text(encoding="utf-8")
    assert table.startswith("Measured ")
    assert "picklescan" in table
    assert "fickling" in table
