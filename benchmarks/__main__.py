"""`python -m benchmarks [--quick] [--only NAME ...] [--markdown FILE]`: run the benchmarks.

Each benchmark module exposes `run(quick: bool) -> list[Row | Comparison | Figure]`. A `Row` is one line of
an issue's target table (ratio, target, met or not); `Comparison` and `Figure` are older free-standing
ratios and absolute figures. Every line is printed as soon as its benchmark finishes; at the end the
target rows are printed again as one table, with how many are met. `--markdown FILE` also writes that
table, the machine and the command to FILE (BENCHMARKS.md is written this way).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import logging
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks.common import Row

BENCHMARKS = ("register", "calls", "startup", "emulator", "cache", "rps")


def machine() -> str:
    """CPU model, cores and Python: what the absolute numbers in a record depend on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()} on {platform.system()}"


def markdown(rows: list[Row], others: list[str], command: str, seconds: float) -> str:
    met = sum(row.met for row in rows)
    lines = [
        f"Run on {datetime.date.today().isoformat()}: `{command}` ({seconds:.0f} s)",
        f"Machine: {machine()}",
        "",
        f"{met} of {len(rows)} targets met.",
        "",
        "| scenario | compared with | ratio | target | | measured |",
        "|---|---|---|---|---|---|",
        *(row.markdown() for row in rows),
    ]
    if others:
        lines += ["", "Other figures printed by the same run:", "", *(f"- {line}" for line in others)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small workloads: a smoke run, not a record")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark")
    parser.add_argument("--markdown", type=Path, help="also write the target table to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()
    rows: list[Row] = []
    others: list[str] = []
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        for result in module.run(args.quick):
            print(result.line(), flush=True)
            if isinstance(result, Row):
                rows.append(result)
            else:
                others.append(result.line())
    seconds = time.perf_counter() - start
    print(f"\n{sum(r.met for r in rows)} of {len(rows)} targets met ({seconds:.1f} s)")
    for row in rows:
        print(row.line())
    if args.markdown:
        command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
        args.markdown.write_text(markdown(rows, others, command.strip(), seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
