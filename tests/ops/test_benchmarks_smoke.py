"""`python -m benchmarks --quick` as a smoke run: every benchmark prints a ratio against a baseline measured
in the same run, and the emulator's absolute RPC/s for GetTask and CreateTask (issue 3). No timing is
asserted: speeds belong to the benchmark output, not to tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmarks_print_ratios_and_the_emulator_figure() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    ratios = [line for line in lines if re.search(r"baseline .* -> +\d+\.\d+x", line)]
    assert len(ratios) == 4, proc.stdout  # register waves, GetTask cache, GetTask RPS, CreateTask RPS
    (figure,) = [line for line in lines if "RPC/s for GetTask and CreateTask on loopback" in line]
    assert re.search(r"GetTask [\d,]+ RPC/s, CreateTask [\d,]+ RPC/s", figure), figure
