"""Where one registration of the benchmark package spends its time (issue 9's profile):
`python -m benchmarks.register_profile [--latency-ms 20] [--top 25] [--rerun] [--cpu]`.

The emulator runs in a process of its own (`EmulatorProcess`) with the added latency; the registration
runs here, in-process (`register_package`, settings' defaults), after one untimed warm-up registration
(imports, channel). By default it is a first registration (a fresh version); `--rerun` registers a version
already there (everything exists: the re-register row). `--cpu` profiles each thread's CPU time
(`time.thread_time`) instead of wall time: a re-run's threads mostly wait, and a wall-time profile lists
the waits (lock and queue gets) first, not the work. It prints:

- wall time, our CPU (`time.process_time()`: every thread of this interpreter, the gRPC core included),
  and the emulator's CPU (utime + stime from `/proc/<pid>/stat`, before and after). What neither process
  spent on CPU is waiting: the added latency, or the server queueing calls;
- the bound the register benchmark compares with (the sum over batches of ceil(n/C) x latency);
- cProfile of every Python thread of ours (register's calls run on a pool, which a cProfile of the main
  thread alone would not see), by own time and by cumulative time. cProfile slows pure-Python code
  several fold, so the wall time printed is that of the profiled run and reads high.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks.register import FAST_MS, default_concurrency, wave_bound
from benchmarks.register_runs import DOMAIN, PROJECT, client, library_register, server, workload
from flyteadmin_ops.ops import register as register_ops
from flyteadmin_ops.ops.register import register_package


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ThreadProfiles:
    """cProfile for every thread started while active (register runs its calls on a thread pool, which
    a plain cProfile on the main thread would not see), merged into one `pstats.Stats`."""

    def __init__(self, timer: Callable[[], float] | None = None) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._timer = timer

    def _new(self) -> cProfile.Profile:
        return cProfile.Profile(self._timer) if self._timer is not None else cProfile.Profile()

    def _start_in_thread(self, frame: FrameType, event: str, arg: object) -> None:
        profile = self._new()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()  # replaces this hook for the rest of the thread

    @contextmanager
    def active(self) -> Iterator[None]:
        main = self._new()
        self.profiles.append(main)
        threading.setprofile(self._start_in_thread)
        main.enable()
        try:
            yield
        finally:
            main.disable()
            threading.setprofile(None)

    def stats(self) -> pstats.Stats:
        stream = io.StringIO()
        stats = pstats.Stats(self.profiles[0], stream=stream)
        for profile in self.profiles[1:]:
            stats.add(profile)
        return stats


PHASES = ("load_package", "prepare", "register_waves", "activate_scheduled")
"""register_package's steps, as names it looks up in `ops.register` at call time (timed by wrapping)."""


@contextmanager
def phase_timer(seconds: dict[str, float]) -> Iterator[None]:
    """Wall time per step of `register_package`, by wrapping the module globals it calls: a timer per
    call, nothing else, so the run is not slowed. Names the engine no longer has are left out."""
    originals = {name: getattr(register_ops, name) for name in PHASES if hasattr(register_ops, name)}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    for name, function in originals.items():
        setattr(register_ops, name, timed(name, function))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(register_ops, name, function)


@dataclass(frozen=True)
class Measured:
    wall: float
    client_cpu: float
    server_cpu: float
    phases: dict[str, float]


def measure(
    endpoint: str,
    pid: int,
    path: Path,
    version: str,
    size: int,
    profiles: ThreadProfiles | None,
    expect: str = "created",
) -> Measured:
    """One registration with the clocks around it (and cProfile when `profiles` is given); every entity
    must come out as `expect` ("created" for a first registration, "exists" for a re-run)."""
    phases: dict[str, float] = {}
    with client(endpoint) as ours:
        server_before = process_cpu_seconds(pid)
        cpu_before = time.process_time()
        start = time.perf_counter()
        with phase_timer(phases), profiles.active() if profiles else nullcontext():
            result = register_package(ours, path, PROJECT, DOMAIN, version)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_before
        server_cpu = process_cpu_seconds(pid) - server_before
    if result.totals.get(expect) != size:
        raise RuntimeError(f"run {version}: {result.totals}")
    return Measured(wall, cpu, server_cpu, phases)


def describe(run: Measured) -> str:
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in run.phases.items())
    return (
        f"wall {run.wall:.2f} s; client CPU {run.client_cpu:.2f} s ({run.client_cpu / run.wall:.0%} of wall, "
        f"all threads); emulator CPU {run.server_cpu:.2f} s ({run.server_cpu / run.wall:.0%}); "
        f"steps: {phases}"
    )


def profile(latency_ms: int = FAST_MS, top: int = 25, *, rerun: bool = False, cpu: bool = False) -> str:
    """A warm-up registration, one timed without a profiler, one under cProfile; see the module docstring."""
    work = workload(False)
    profiles = ThreadProfiles(time.thread_time if cpu else None)
    with server(latency_ms) as emulator:
        assert emulator.process is not None
        pid = emulator.process.pid
        library_register(emulator.endpoint, work.path, "warm-up", "created", work.size)
        if rerun:  # the version both timed runs find registered
            library_register(emulator.endpoint, work.path, "again", "created", work.size)
        version = "again" if rerun else "plain"
        expect = "exists" if rerun else "created"
        plain = measure(emulator.endpoint, pid, work.path, version, work.size, None, expect)
        version = "again" if rerun else "profiled"
        profiled = measure(emulator.endpoint, pid, work.path, version, work.size, profiles, expect)
    stream = io.StringIO()
    stats = profiles.stats()
    stats.stream = stream  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    bound, batches = wave_bound(work.package, latency_ms, default_concurrency())
    what = "re-registration (everything exists)" if rerun else "first registration"
    clock = "per-thread CPU time" if cpu else "wall time"
    lines = [
        f"{what} of {work.size} objects at +{latency_ms} ms "
        f"(first-registration bound at C={default_concurrency()}: {bound:.2f} s over batches {batches})",
        f"  without profiler: {describe(plain)}",
        f"  under cProfile ({clock}): {describe(profiled)}; {len(profiles.profiles)} threads profiled",
    ]
    return "\n".join(lines) + "\n" + stream.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.register_profile", description=__doc__)
    parser.add_argument("--latency-ms", type=int, default=FAST_MS, help="added per RPC (default 20)")
    parser.add_argument("--top", type=int, default=25, help="functions listed per ordering")
    parser.add_argument("--rerun", action="store_true", help="re-register a version already there")
    parser.add_argument("--cpu", action="store_true", help="profile per-thread CPU time, not wall time")
    args = parser.parse_args(argv)
    print(profile(args.latency_ms, args.top, rerun=args.rerun, cpu=args.cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
