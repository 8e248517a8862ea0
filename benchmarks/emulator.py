"""The emulator's latency model under many callers (issue 9): with `--latency-ms 20`, 64 concurrent callers
should each complete one call per 20 ms, i.e. 64 / 20 ms = 3,200 calls/s, because a delayed call holds no
server thread (the old model slept in one of 16 worker threads: at most 800 calls/s).

The emulator runs in a process of its own (`EmulatorProcess("--latency-ms", "20")`), so it never competes
with the callers for an interpreter. The callers are 64 coroutines on grpc.aio stubs in one event loop,
over one channel: the cheapest way to keep 64 calls in flight from Python (64 threads on the sync stubs
would spend more CPU switching threads than the calls cost). The RPC is GetVersion, the cheapest one, so
what is measured is the latency model and the transport, not a handler. The ratio is the calls per second
achieved over the modelled bound; `measured` adds the CPU the emulator process spent per call (from
/proc), which is what would cap the rate on a machine too busy to give the emulator a whole core, and the
callers' own CPU per call: on two cores the load generator takes a share of the same CPU, so a row short of
its target says in these two numbers which side ran out.

Both sides are grpc.aio on an event loop, and on two cores the rate is CPU-bound on both: ~300-400 us of
emulator CPU and ~150-200 us of caller CPU a call, most of it grpc.aio's tasks and asyncio's pure-Python
loop (see `flyteadmin_ops/emulator/latency.py`). Where uvloop is installed, the emulator serves on
uvloop's loop, and the callers run on it too: a cheaper caller loop leaves more of the two cores to the
emulator while the emulator sees exactly the same calls; the note says which loop ran.

A second figure is the CPU per call of the registration handlers alone (`emulator_support.py`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc

from benchmarks.common import Figure, Row
from benchmarks.emulator_support import handler_cpu
from flyteadmin_ops.emulator.latency import new_event_loop
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

LATENCY_MS = 20
CALLERS = 64
T = TypeVar("T")


def _uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the callers on the loop the emulator uses too (`emulator.latency.new_event_loop`), on a loop of
    their own, so no event-loop policy leaks into the benchmarks that run after this one."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


async def _drive(endpoint: str, callers: int, seconds: float) -> tuple[int, float]:
    """Keep `callers` calls in flight for `seconds` (after a warm-up); returns (calls completed, elapsed)."""
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        request = version_pb2.GetVersionRequest()
        await asyncio.gather(*(stub.GetVersion(request, timeout=30) for _ in range(callers)))  # warm-up
        completed = 0
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal completed
            while time.perf_counter() < deadline:
                await stub.GetVersion(request, timeout=30)
                completed += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        return completed, time.perf_counter() - started


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc), or None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool) -> list[Row | Figure]:
    seconds = 1.0 if quick else 10.0
    with EmulatorProcess("--latency-ms", str(LATENCY_MS)) as server:
        assert server.process is not None
        cpu_before = _cpu_seconds(server.process.pid)
        callers_before = time.process_time()
        completed, elapsed = _run(_drive(server.endpoint, CALLERS, seconds))
        callers_cpu = time.process_time() - callers_before
        cpu_after = _cpu_seconds(server.process.pid)
    achieved = completed / elapsed
    bound = CALLERS / (LATENCY_MS / 1000)
    cpu = [f"callers' CPU {1e6 * callers_cpu / completed:.0f} us/call"]
    if cpu_before is not None and cpu_after is not None:
        cpu.insert(0, f"emulator CPU {1e6 * (cpu_after - cpu_before) / completed:.0f} us/call")
    loop = "uvloop" if _uvloop_installed() else "asyncio's loop"
    per_call, workload = handler_cpu(quick)
    return [
        Row.at_least(
            f"emulator, {CALLERS} concurrent callers, +{LATENCY_MS} ms",
            f"the modelled bound {CALLERS} / {LATENCY_MS} ms",
            achieved / bound,
            0.8,
            f"{completed} GetVersion calls in {elapsed:.2f} s = {achieved:,.0f} calls/s; bound {bound:,.0f}/s"
            + "; "
            + ", ".join(cpu),
            note=f"emulator in its own process; callers: grpc.aio stubs in one event loop; both on {loop}",
        ),
        Figure(
            "emulator: handler CPU per call, registration hot paths",
            per_call,
            "us",
            note=f"handlers called directly, in-memory store, {workload}",
        ),
    ]
