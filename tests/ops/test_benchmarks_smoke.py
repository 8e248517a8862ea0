"""`python -m benchmarks --quick` as a smoke run: every target row of issue 9 is printed with its ratio,
its target and met/NOT MET, the closing table counts them, `--markdown` writes the same table, and the older
ratio lines and the emulator's absolute RPC/s (issue 3) are still there. Whether a target is met is not
asserted: speeds belong to the benchmark output (BENCHMARKS.md), not to tests, and a quick run on small
workloads says nothing about them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

TARGET_ROW = re.compile(
    r"^(?P<scenario>.+?) \| vs (?P<baseline>.+?) \| [\d.e+-]+x \(target (<=|>=) [\d.]+x\) (met|NOT MET) \| "
)
EXPECTED_ROWS = {
    "register": 6,  # +20 ms (vs flytekit, vs bound), re-register (x2), +100 ms, CPU-bound server
    "calls": 8,  # get_task, list page, create_execution (x2 baselines), iterate (throughput, memory)
    "startup": 3,  # cold start, --help, register --help
    "emulator": 1,  # 64 concurrent callers
}


def test_quick_benchmarks_print_every_target_row(tmp_path: Path) -> None:
    record = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--markdown", str(record)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    closing = next(i for i, line in enumerate(lines) if re.match(r"^\d+ of \d+ targets met", line))
    printed = [line for line in lines[:closing] if TARGET_ROW.match(line)]
    assert len(printed) == sum(EXPECTED_ROWS.values()), proc.stdout
    assert re.match(rf"^\d+ of {len(printed)} targets met", lines[closing]), lines[closing]
    assert lines[closing + 1 :] == printed  # the closing table repeats every row, in order

    ratios = [line for line in lines if re.search(r"baseline .* -> +\d+\.\d+x", line)]
    assert len(ratios) == 3, proc.stdout  # GetTask cache, GetTask RPS, CreateTask RPS
    (figure,) = [line for line in lines if "RPC/s for GetTask and CreateTask on loopback" in line]
    assert re.search(r"GetTask [\d,]+ RPC/s, CreateTask [\d,]+ RPC/s", figure), figure

    table = record.read_text()
    assert f"of {len(printed)} targets met" in table
    assert table.count("\n| ") == len(printed) + 1  # header + one line per row
