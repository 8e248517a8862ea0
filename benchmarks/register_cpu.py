"""register-all against a CPU-bound server (issue 9): no added latency, so the emulator's CPU and not round
trips bounds the run; ours (register's adaptive limit, `ops.concurrency`) against the best of fixed
concurrencies 1, 8, 32 and 64. The library runs in-process on a package read beforehand (the 1,600-object
package of `benchmarks.register_package`), the emulator in a process of its own, a fresh version each run.

How the runs are made comparable, for every contender alike:

- Every timed run registers against a fresh emulator process with a new database, started before the clock
  starts and stopped after it stops. When all runs shared one server, its database grew by 1,600 entities a
  run (40,000 rows by the last) and it slowed as it filled, so run k of one setting met another server than
  run k of the next; interleaving spread that drift but did not remove it.
- One untimed registration comes first, so that what this process does once (first use of code paths and
  imports) is paid by no contender; in a round-robin it fell on whichever setting ran first, ours.
- `ROUNDS` rounds; in each every setting runs once, and the order rotates by one from round to round, so
  each setting runs in each position equally often and a slow change in the machine's load hits all alike.
- Medians per setting. The spread is printed beside them (fastest-slowest and the middle half), with the
  client's and the emulator's CPU per run (medians), which move far less than wall time on a shared machine
  and show where a setting's time went. The adaptive runs' limits (`register: calls in flight went ...`,
  register's own debug line) show where it settled.
- What the numbers can and cannot say: from 8 in flight up the fixed settings keep the emulator equally busy,
  so their medians differ by noise, and the best of four noisy medians is biased low (it picks the luckiest).
  The note also gives the median over rounds of ours / the best setting's run of the same round, which
  cancels load that changes from minute to minute; the ratio itself stays medians over medians.

`python -m benchmarks.register_cpu --scan` runs the finer scan (fixed 1, 2, 4, 8, 16, 32, 64 and ours) and
prints, for ours, every measuring window of `ops.concurrency` (limit, completions per second, the verdict).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import Row
from benchmarks.register_runs import Versions, Workload, library_register, server, workload

CPU_BOUND = "register-all against a CPU-bound server (no added latency)"
BEST_FIXED = "best fixed concurrency of 1, 8, 32, 64"
FIXED_CONCURRENCIES = (1, 8, 32, 64)
SCAN_CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64)
TARGET = 1.1
ROUNDS = 10
"""Rounds of the row: 50 timed runs of ~2 s, each after a ~0.8 s emulator start, about 2.5 minutes. A
multiple of the five settings, so the rotation puts each in each position twice."""
SMOKE = "smoke run: 19-entity sample package, one round"
OURS = None
"""The setting that leaves register's limit adaptive (no max_concurrency)."""

Setting = int | None
LIMIT_LOGGER = "flyteadmin_ops.ops.wave_registration"
WINDOW_LOGGER = "flyteadmin_ops.ops.concurrency"


# ------------------------------------------------------------------------------------------ one run


@dataclass(frozen=True)
class Run:
    seconds: float
    client_cpu: float
    server_cpu: float | None
    log: list[str] = field(default_factory=list)
    """What register logged at debug level on the watched loggers during the run (ours only)."""


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of another process so far, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Collect(logging.Handler):
    """Keeps each message, prefixed with the seconds since the handler was made."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.start = time.time()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"+{record.created - self.start:.3f} s {record.getMessage()}")


@contextmanager
def debug_lines(names: Sequence[str]) -> Iterator[list[str]]:
    """The debug messages of these loggers while inside, kept from the process's own log handlers. Used for
    ours only: register writes one such line per run, `ops.concurrency` one per measuring window."""
    collect = _Collect()
    saved = []
    for name in names:
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate))
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.addHandler(collect)
    try:
        yield collect.lines
    finally:
        for log, level, propagate in saved:
            log.removeHandler(collect)
            log.setLevel(level)
            log.propagate = propagate


def timed_run(work: Workload, setting: Setting, version: str, watch: Sequence[str] = ()) -> Run:
    """One registration against a fresh emulator process; only the registration itself is timed."""
    with server(0) as emulator:
        pid = emulator.process.pid if emulator.process else None
        server_before = process_cpu_seconds(pid) if pid else None
        with debug_lines(watch if setting is OURS else ()) as lines:
            cpu_before = time.process_time()
            seconds = library_register(
                emulator.endpoint, work.package, version, "created", work.size, setting
            )
            client_cpu = time.process_time() - cpu_before
        server_after = process_cpu_seconds(pid) if pid else None
    server_cpu = (
        server_after - server_before if server_after is not None and server_before is not None else None
    )
    return Run(seconds, client_cpu, server_cpu, list(lines))


def rounds(
    work: Workload, settings: Sequence[Setting], count: int, watch: Sequence[str] = ()
) -> dict[Setting, list[Run]]:
    """`count` rounds of one run per setting, the order rotated each round, after one untimed warm-up."""
    versions = Versions("cpu")
    timed_run(work, OURS, versions.next())
    runs: dict[Setting, list[Run]] = {setting: [] for setting in settings}
    for index in range(count):
        shift = index % len(settings)
        for setting in [*settings[shift:], *settings[:shift]]:
            runs[setting].append(timed_run(work, setting, versions.next(), watch))
    return runs


# ------------------------------------------------------------------------------------------ the row


def label(setting: Setting) -> str:
    return "ours (adaptive)" if setting is OURS else f"C={setting}"


def spread(runs: Sequence[Run]) -> str:
    """Median, fastest-slowest and the middle half of the wall times; median client and emulator CPU."""
    seconds = sorted(run.seconds for run in runs)
    text = f"{statistics.median(seconds):.2f} s [{seconds[0]:.2f}-{seconds[-1]:.2f}"
    if len(seconds) >= 4:
        low, _, high = statistics.quantiles(seconds, n=4)
        text += f", middle half {low:.2f}-{high:.2f}"
    text += f"; CPU client {statistics.median(run.client_cpu for run in runs):.2f}"
    server_cpu = [run.server_cpu for run in runs if run.server_cpu is not None]
    if server_cpu:
        text += f", emulator {statistics.median(server_cpu):.2f}"
    return text + "]"


def settled_limits(runs: Sequence[Run]) -> str:
    """Where ours ended in each run: the last limit of register's debug line, e.g. 8 of `8 -> 16 -> 8`."""
    ends = [line.rsplit(" ", 1)[-1] for run in runs for line in run.log if "calls in flight went" in line]
    return "/".join(ends) if ends else "not logged"


def paired_ratio(ours: Sequence[Run], best: Sequence[Run]) -> float:
    """Median over rounds of ours / the best fixed setting in the same round (runs minutes apart in a
    slowly changing machine load compare better than medians taken over the whole row)."""
    return statistics.median(o.seconds / b.seconds for o, b in zip(ours, best, strict=True))


def cpu_bound_row(work: Workload) -> Row:
    """The row: ours against the best (by median) of the fixed settings; see the module docstring."""
    count = 1 if work.quick else ROUNDS
    runs = rounds(work, [OURS, *FIXED_CONCURRENCIES], count, watch=[LIMIT_LOGGER])
    medians = {setting: statistics.median(run.seconds for run in found) for setting, found in runs.items()}
    best = min(FIXED_CONCURRENCIES, key=lambda n: medians[n])
    ratio = medians[OURS] / medians[best]
    measured = "; ".join(f"{label(setting)} {spread(found)}" for setting, found in runs.items())
    note = (
        f"best fixed C={best}; medians of {count} runs each, each against a fresh emulator process (start "
        "outside the timing), after one untimed warm-up, order rotated every round; paired per round "
        f"ours/C={best} {paired_ratio(runs[OURS], runs[best]):.2f}x; ours settled at "
        f"{settled_limits(runs[OURS])} in flight"
    )
    if work.quick:
        note = f"{SMOKE}; {note}"
    return Row.at_most(CPU_BOUND, BEST_FIXED, ratio, TARGET, measured, note)


# ------------------------------------------------------------------------------------------ the scan


def scan(work: Workload, count: int) -> None:
    """The finer scan: every setting's spread, then for each run of ours its measuring windows and limits."""
    runs = rounds(work, [OURS, *SCAN_CONCURRENCIES], count, watch=[LIMIT_LOGGER, WINDOW_LOGGER])
    for setting, found in runs.items():
        print(f"{label(setting):>16}  {spread(found)}", flush=True)
    for index, run in enumerate(runs[OURS]):
        print(f"ours, run {index + 1}: {run.seconds:.2f} s")
        for line in run.log:
            print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.register_cpu", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the 19-entity sample package, one round")
    parser.add_argument("--scan", action="store_true", help="the finer scan instead of the row")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of the scan")
    args = parser.parse_args(argv)
    work = workload(args.quick)
    if args.scan:
        scan(work, 1 if args.quick else max(1, args.rounds))
    else:
        print(cpu_bound_row(work).line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
