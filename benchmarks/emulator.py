"""The emulator's latency model under many callers (issue 9): with `--latency-ms 20`, 64 concurrent callers
should each complete one call per 20 ms, i.e. 64 / 20 ms = 3,200 calls/s, because a delayed call holds no
server thread (the old model slept in one of 16 worker threads: at most 800 calls/s).

The emulator runs in a process of its own (`EmulatorProcess("--latency-ms", "20")`), so it never competes
with the callers for an interpreter. The callers are 64 coroutines on grpc.aio stubs in one event loop,
over one channel: the cheapest way to keep 64 calls in flight from Python (64 threads on the sync stubs
would spend more CPU switching threads than the calls cost). The RPC is GetVersion, the cheapest one, so
what is measured is the latency model and the transport, not a handler. The ratio is the calls per second
achieved over the modelled bound; `measured` adds the CPU the emulator process spent per call (from
/proc), which is what would cap the rate on a machine too busy to give the emulator a whole core.

A second figure is the CPU per call of the registration handlers alone (`emulator_support.py`).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import grpc
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc

from benchmarks.common import Figure, Row
from benchmarks.emulator_support import handler_cpu
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

LATENCY_MS = 20
CALLERS = 64


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
        completed, elapsed = asyncio.run(_drive(server.endpoint, CALLERS, seconds))
        cpu_after = _cpu_seconds(server.process.pid)
    achieved = completed / elapsed
    bound = CALLERS / (LATENCY_MS / 1000)
    server_cpu = ""
    if cpu_before is not None and cpu_after is not None:
        server_cpu = f"; emulator CPU {1e6 * (cpu_after - cpu_before) / completed:.0f} us/call"
    per_call, workload = handler_cpu(quick)
    return [
        Row.at_least(
            f"emulator, {CALLERS} concurrent callers, +{LATENCY_MS} ms",
            f"the modelled bound {CALLERS} / {LATENCY_MS} ms",
            achieved / bound,
            0.8,
            f"{completed} GetVersion calls in {elapsed:.2f} s = {achieved:,.0f} calls/s; bound {bound:,.0f}/s"
            + server_cpu,
            note="emulator in its own process; callers: grpc.aio stubs in one event loop",
        ),
        Figure(
            "emulator: handler CPU per call, registration hot paths",
            per_call,
            "us",
            note=f"handlers called directly, in-memory store, {workload}",
        ),
    ]
