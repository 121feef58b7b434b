"""Smoke test of benchmarks/torch_checkpoint.py: it runs and reports the three loaders.

No speed is asserted here (the numbers depend on the machine); the benchmark is run by hand
and its numbers reported (docs/torch.md, "Speed").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "torch_checkpoint.py"


def test_benchmark_runs_and_reports_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "1", "--big-mb", "1", "--small", "20"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    for loader in ("safepickle_torch", "torch_unsafe", "torch_weights_only"):
        assert sum(line.split()[0] == loader for line in lines if line.strip()) == 2
    assert lines[0].startswith("big (") and any(line.startswith("many_small (") for line in lines)
