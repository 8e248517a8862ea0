"""register-all against flytekit, on a 1,600-object package (`benchmarks.register_package`), issue 9.

Every scenario gets a fresh emulator in a process of its own (`EmulatorProcess`), so the server never
shares an interpreter with the client being timed; `--latency-ms` models a remote Admin's round trip.

- Ours is the CLI as a user runs it: `flyteadmin-ops register PKG -p flytesnacks -d development --version V
  -o json` as a subprocess (process start included), configured only by `FLYTEADMIN_ENDPOINT` and
  `FLYTEADMIN_INSECURE`. The in-process library time (`register_package` with a `SynchronousFlyteClient`)
  is measured too and shown in `measured`.
- flytekit is `RawSynchronousFlyteClient` with `PlatformConfig(endpoint, insecure=True)`, creating the
  same hydrated entities one at a time in file order (pyflyte's zero-padded file names are a topological
  order), after uploading the source archive once exactly as ours does (`upload_fast_archive`), then
  hydrating with its URL. ALREADY_EXISTS is caught per entity, as `FlyteRemote.raw_register` does; what
  flytekit's retry interceptor does with it before that (four attempts, no pause) is part of its time.
- First registrations use a fresh version each run; re-registrations repeat a version already there.
- The bound row adds up, over the batches register really runs (each dependency wave split by
  `launch_plans_last`), ceil(n / C) round trips of the added latency, with C the settings' default
  `max_concurrency`; ours is compared with that sum.

`--quick` runs the same rows on the bundled 19-entity sample package, once each: a smoke run, no pyflyte.
`python -m benchmarks.register_profile` shows where the time of one first registration goes.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.common import Row
from benchmarks.register_cpu import BEST_FIXED, CPU_BOUND, cpu_bound_row
from benchmarks.register_runs import (
    DOMAIN,
    PROJECT,
    FlytekitRun,
    Versions,
    Workload,
    cli_register,
    flytekit_register,
    library_register,
    server,
    workload,
)
from flyteadmin_ops.ops import register as register_ops
from flyteadmin_ops.ops.package import Entity, Package, dependency_waves, hydrate
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

FAST_MS, SLOW_MS = 20, 100
FAST_TARGET, SLOW_TARGET = 10.0, 20.0
QUICK_LATENCY_DIVISOR = 10
"""--quick divides the added latencies by this (2 and 10 ms), so that the smoke run takes seconds."""
FLYTEKIT_SEQUENTIAL = "flytekit one at a time"
BOUND = "Σ waves ⌈n/C⌉ × latency at the default C"  # noqa: RUF001 (the issue's own words)
REREGISTER = "re-register, everything exists"
SMOKE = "smoke run: 19-entity sample package, latency / 10, one run each"


# ------------------------------------------------------------------------------------------ the bound


def register_batches(waves: Sequence[Sequence[Entity]]) -> list[int]:
    """Sizes of the batches register runs one after another (launch plans after the rest in each wave)."""
    split: Callable[[Sequence[Sequence[Entity]]], list[list[Entity]]] | None = getattr(
        register_ops, "launch_plans_last", None
    )
    if split is None:  # the engine no longer splits waves: each wave is one batch
        return [len(wave) for wave in waves if wave]
    return [len(batch) for batch in split(waves) if batch]


def default_concurrency() -> int:
    default = AdminSettings.model_fields["max_concurrency"].default
    return int(default)


def wave_bound(package: Package, latency_ms: int, concurrency: int) -> tuple[float, list[int]]:
    """Σ over batches of ceil(n / C) x latency: the least time the batches can take at C calls in flight."""
    batches = register_batches(dependency_waves(hydrate(package, PROJECT, DOMAIN, "bound")))
    rounds = sum(math.ceil(n / concurrency) for n in batches)
    return rounds * latency_ms / 1000, batches


# ------------------------------------------------------------------------------------------ scenarios


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def seconds_list(values: Sequence[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


@dataclass(frozen=True)
class FirstRun:
    cli: list[float]
    library: list[float]
    flytekit: FlytekitRun
    version: str
    flytekit_version: str


def first_registrations(emulator: EmulatorProcess, work: Workload, tag: str) -> FirstRun:
    """flytekit once (minutes at scale), then ours: CLI and library runs alternating, fresh versions."""
    versions = Versions(tag)
    flytekit_version = versions.next()
    baseline = flytekit_register(emulator.endpoint, work.package, flytekit_version)
    if baseline.created != work.size:
        raise RuntimeError(f"flytekit created {baseline.created} of {work.size}")
    cli: list[float] = []
    library: list[float] = []
    cli_version = ""
    for _ in range(work.repeats):
        cli_version = versions.next()
        cli.append(cli_register(emulator.endpoint, work.path, cli_version, "created", work.size))
        library.append(library_register(emulator.endpoint, work.path, versions.next(), "created", work.size))
    return FirstRun(cli, library, baseline, cli_version, flytekit_version)


def latency_rows(work: Workload, latency_ms: int, target: float, scenario: str) -> list[Row]:
    """The first-registration row at this latency; with the lower latency's target also the bound and the
    re-register rows, on the same server."""
    with server(latency_ms) as emulator:
        run = first_registrations(emulator, work, f"first{latency_ms}")
        rows = [speedup_row(work, run, scenario, target)]
        if target == FAST_TARGET:
            rows.append(bound_row(work, run, latency_ms))
            rows += reregister_rows(emulator, work, run, latency_ms)
    return rows


def failed_rows(expected: Sequence[tuple[str, str, str]], error: BaseException) -> list[Row]:
    """The rows of a scenario that raised: printed as not met, with the error, so the table stays whole."""
    text = " ".join(str(error).split())[:300]
    return [
        Row(scenario, compared, math.nan, target, False, f"failed: {type(error).__name__}: {text}")
        for scenario, compared, target in expected
    ]


def guarded(expected: Sequence[tuple[str, str, str]], scenario: Callable[[], list[Row]]) -> list[Row]:
    try:
        return scenario()
    except Exception as exc:  # one broken scenario must not hide the others' rows
        return failed_rows(expected, exc)


def speedup_row(work: Workload, run: FirstRun, scenario: str, target: float) -> Row:
    ours = median(run.cli)
    measured = (
        f"flytekit {run.flytekit.seconds:.1f} s; ours (CLI, process start included) {ours:.2f} s, median of "
        f"{seconds_list(run.cli)}; library {median(run.library):.2f} s ({seconds_list(run.library)})"
    )
    note = SMOKE if work.quick else f"{work.size} objects: {work.describe()}"
    return Row.at_least(scenario, FLYTEKIT_SEQUENTIAL, run.flytekit.seconds / ours, target, measured, note)


def bound_row(work: Workload, run: FirstRun, latency_ms: int) -> Row:
    concurrency = default_concurrency()
    bound, batches = wave_bound(work.package, latency_ms, concurrency)
    library = median(run.library)
    cli = median(run.cli)
    rounds = sum(math.ceil(n / concurrency) for n in batches)
    measured = (
        f"library {library:.2f} s vs bound {bound:.2f} s = {rounds} "
        f"rounds x {latency_ms} ms; CLI {cli:.2f} s = {cli / bound:.2f}x"
    )
    ceiling = AdminSettings.model_fields.get("max_concurrency_ceiling")
    adaptive = f", where register's adaptive limit starts (ceiling {ceiling.default})" if ceiling else ""
    note = (
        f"C = {concurrency}, AdminSettings' default max_concurrency{adaptive}; batches {batches} "
        "(dependency waves, launch plans after the rest); ratio from the in-process library time, "
        "the bound leaves out the upload and the project check"
    )
    if work.quick:
        note = f"{SMOKE}; {note}"
    return Row.at_most(
        f"same run (+{latency_ms} ms per RPC)",
        BOUND,
        library / bound,
        1.3,
        measured,
        note,
    )


def reregister_rows(emulator: EmulatorProcess, work: Workload, run: FirstRun, latency_ms: int) -> list[Row]:
    """Everything exists: ours re-runs the CLI's last version, flytekit re-runs its own."""
    ours = [
        cli_register(emulator.endpoint, work.path, run.version, "exists", work.size)
        for _ in range(work.repeats)
    ]
    library = [
        library_register(emulator.endpoint, work.path, run.version, "exists", work.size)
        for _ in range(work.repeats)
    ]
    baseline = flytekit_register(emulator.endpoint, work.package, run.flytekit_version)
    if baseline.existing != work.size:
        raise RuntimeError(f"flytekit found {baseline.existing} of {work.size} existing")
    ours_median = median(ours)
    first = median(run.cli)
    note = SMOKE if work.quick else f"+{latency_ms} ms per RPC, same server as the first registration"
    per_entity = baseline.seconds / work.size * 1000
    first_per_entity = run.flytekit.seconds / work.size * 1000
    measured = (
        f"flytekit {baseline.seconds:.1f} s, {per_entity:.0f} ms per entity = "
        f"{per_entity / first_per_entity:.1f}x its {first_per_entity:.0f} ms per create on the first run "
        "(its interceptor sends each ALREADY_EXISTS call 4 times, without pause, before it raises); ours "
        f"CLI {ours_median:.2f} s ({seconds_list(ours)}); library {median(library):.2f} s "
        f"({seconds_list(library)})"
    )
    return [
        Row.at_least(REREGISTER, "flytekit", baseline.seconds / ours_median, 50, measured, note),
        Row.at_most(
            REREGISTER,
            "our first registration",
            ours_median / first,
            0.2,
            f"CLI re-register {ours_median:.2f} s / CLI first registration {first:.2f} s",
            note,
        ),
    ]


def run(quick: bool) -> list[Row]:
    work = workload(quick)
    fast, slow = (FAST_MS, SLOW_MS)
    if quick:
        fast, slow = fast // QUICK_LATENCY_DIVISOR, slow // QUICK_LATENCY_DIVISOR
    first_fast = f"register-all, {work.size:,}-object package, +{fast} ms per RPC"
    first_slow = f"the same, +{slow} ms per RPC"
    fast_rows = guarded(
        [
            (first_fast, FLYTEKIT_SEQUENTIAL, f">= {FAST_TARGET:g}x"),
            (f"same run (+{fast} ms per RPC)", BOUND, "<= 1.3x"),
            (REREGISTER, "flytekit", ">= 50x"),
            (REREGISTER, "our first registration", "<= 0.2x"),
        ],
        lambda: latency_rows(work, fast, FAST_TARGET, first_fast),
    )
    slow_rows = guarded(
        [(first_slow, FLYTEKIT_SEQUENTIAL, f">= {SLOW_TARGET:g}x")],
        lambda: latency_rows(work, slow, SLOW_TARGET, first_slow),
    )
    cpu_rows = guarded([(CPU_BOUND, BEST_FIXED, "<= 1.1x")], lambda: [cpu_bound_row(work)])
    return [*fast_rows, *slow_rows, *cpu_rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.register", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the smoke run of the rows")
    args = parser.parse_args(argv)
    for row in run(args.quick):
        print(row.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
