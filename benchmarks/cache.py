"""GetTask through our client's entity cache against the same client with the cache off (every call an RPC),
for a registration-like pattern: many lookups of a few task versions."""

from __future__ import annotations

from flyteidl.core import identifier_pb2

from benchmarks.common import Comparison, client_for, emulator, rate
from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH, SAMPLE_TASKS
from flyteadmin_ops.ops.register import register_package

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"


def run(quick: bool) -> list[Comparison]:
    calls = 200 if quick else 2000
    ids = [
        identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name=name, version=VERSION
        )
        for name in SAMPLE_TASKS
    ]
    with emulator() as emu:
        with client_for(emu) as setup:
            assert register_package(setup, SAMPLE_PACKAGE_PATH, PROJECT, DOMAIN, VERSION).ok
        with client_for(emu) as cached, client_for(emu, cache_size=0) as uncached:
            ours = rate(lambda i: cached.get_task(ids[i % len(ids)]), calls)
            baseline = rate(lambda i: uncached.get_task(ids[i % len(ids)]), calls)
    note = f"{calls} calls over {len(ids)} task versions, loopback, no added latency"
    return [
        Comparison("GetTask: cache vs no cache", "calls/s", ours, baseline, higher_is_better=True, note=note)
    ]
