"""`python -m benchmarks [--quick] [--only NAME ...]`: run the benchmarks; one ratio line per comparison,
plus the absolute figures an issue asks for (the emulator's RPC/s)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

BENCHMARKS = ("register", "cache", "rps")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small workloads: a smoke run of a few seconds")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        for comparison in module.run(args.quick):
            print(comparison.line(), flush=True)
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
