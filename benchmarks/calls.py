"""Issue 9: what a friendly call costs the client, against a bare flyteidl stub and against flytekit.

Rows: get_task, list_executions (a page of 100) and create_execution through our `SynchronousFlyteClient`
(entity cache off, so every call is an RPC), each against a bare `AdminServiceStub` (target: <= 1.08x its
cost) and against flytekit's `SynchronousFlyteClient` (target: >= 1.2x its calls/s); then walking 50,000
executions with our paging against a `ListExecutions` loop over a bare stub with page tokens (>= 0.9x its
throughput) and the client's memory growth while doing so (< 30 MB).

The metric, the same for every row: the client process's CPU time per call (`time.process_time()` around
a loop of sequential calls, which counts gRPC's own threads in this process too), so a ratio isolates what
the client costs, which is what "overhead" means. The server is an `EmulatorProcess`, so its CPU is not
in ours. Wall-clock calls/s of the same loops are printed next to it in `measured`; they include the
loopback round trip and the server, the same for every contender, so they compress every ratio towards 1
and move with the load of a shared machine. "x the stub" is our CPU per call over the stub's; "x
flytekit's calls/s" is calls per CPU-second, ours over flytekit's (flytekit's CPU per call over ours).
Contenders run in many short interleaved rounds; a ratio is the median over rounds of the ratio within each
round (the load of a shared machine drifts between rounds, much less within one), and the figures in
`measured` are each contender's medians. flytekit's `get_task` is an `lru_cache` around the call, so its
uncached body stands against ours with the entity cache off. For create_execution every contender is
handed the same ExecutionSpec and LiteralMap and a fresh name per call, and builds its request per call;
what ours does beyond the stub (checking the name against flyteadmin's rule, being ready to look up an
ALREADY_EXISTS) is overhead it owns.

For the walk, throughput is executions per client CPU-second too (the wall clock is the emulator's: its
offset paging over 50,000 rows takes minutes per walk, which is also why the full run walks once per
contender), and the memory row is the peak RSS (/proc/self/statm, sampled every page) above its level
before our walks, as a fraction of the 30 MB budget.

The 50,000 executions are seeded quickly: one execution is created through the API, then its row is
copied in SQLite under new names (with distinct creation times) before the emulator process starts on
that database file.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service.admin_pb2_grpc import AdminServiceStub

from benchmarks.common import Row
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
TASK = "ops_demo.tasks.add"
LAUNCH_PLAN = "ops_demo.workflows.greet_wf"
PAGE = 100
OVERHEAD = "friendly call overhead"
STUB = "bare stub"
FLYTEKIT = "flytekit"
ITERATE = "iterate {n:,} executions"
PAGING_STUB = "paging with the bare stub"


@dataclass(frozen=True)
class Sample:
    """One contender's loop: calls made, client CPU seconds and wall seconds they took."""

    calls: int
    cpu: float
    wall: float

    @property
    def cpu_per_call(self) -> float:
        return self.cpu / self.calls

    @property
    def per_second(self) -> float:
        return self.calls / self.wall


def measure(call: Callable[[int], object], calls: int, offset: int) -> Sample:
    """Time `call(offset + i)` for `calls` sequential calls: client CPU and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(calls):
        call(offset + i)
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


class Rounds:
    """Interleaved rounds of every contender: each round runs each contender's loop once (the order
    alternates), so a burst of load on a shared machine hits every contender alike."""

    def __init__(
        self, contenders: dict[str, Callable[[int], object]], calls: int, rounds: int, *, warm_up: int = 50
    ) -> None:
        for call in contenders.values():
            measure(call, warm_up, 0)  # the rounds number their calls from 1,000,000 on: no name repeats
        self.samples: dict[str, list[Sample]] = {name: [] for name in contenders}
        for round_number in range(rounds):
            order = list(contenders)
            if round_number % 2:
                order.reverse()
            for name in order:
                self.samples[name].append(measure(contenders[name], calls, (round_number + 1) * 1_000_000))

    def cost_ratio(self, ours: str, baseline: str) -> float:
        """Median over rounds of ours' CPU per call over the baseline's in the same round: pairing the
        two loops of one round cancels the load of the moment, which drifts over a run."""
        return statistics.median(
            mine.cpu_per_call / theirs.cpu_per_call
            for mine, theirs in zip(self.samples[ours], self.samples[baseline], strict=True)
        )

    def median(self, name: str) -> Sample:
        """One contender's median CPU per call and median wall rate, for `measured`."""
        taken = self.samples[name]
        calls = taken[0].calls
        return Sample(
            calls,
            statistics.median(s.cpu_per_call for s in taken) * calls,
            calls / statistics.median(s.per_second for s in taken),
        )


def describe(rounds: Rounds, *names: str) -> str:
    medians = {name: rounds.median(name) for name in names}
    return "; ".join(
        f"{name} {medians[name].cpu_per_call * 1e6:,.0f} µs CPU/call, {medians[name].per_second:,.0f} calls/s"
        for name in names
    )


def settings_for(endpoint: str) -> AdminSettings:
    return AdminSettings.isolated(endpoint=endpoint, insecure=True, cache_size=0, deadline_seconds=30)


def flytekit_client(endpoint: str) -> object:
    from flytekit.clients.friendly import SynchronousFlyteClient as FlytekitClient
    from flytekit.configuration import PlatformConfig

    return FlytekitClient(PlatformConfig(endpoint=endpoint, insecure=True))


def uncached_get_task(client: object, task: object) -> object:
    """flytekit's `SynchronousFlyteClient.get_task` without the `functools.lru_cache` around it."""
    from flytekit.clients.friendly import SynchronousFlyteClient as FlytekitClient

    return FlytekitClient.get_task.__wrapped__(client, task)


# ------------------------------------------------------------------------------------ per-call overhead


def call_rows(quick: bool) -> list[Row]:
    calls, rounds = (40, 2) if quick else (60, 40)
    from flytekit.models import execution as fk_execution
    from flytekit.models import literals as fk_literals
    from flytekit.models.core import identifier as fk_identifier

    with EmulatorProcess() as admin:
        ours = SynchronousFlyteClient(settings_for(admin.endpoint))
        assert register_package(ours, SAMPLE_PACKAGE_PATH, PROJECT, DOMAIN, VERSION).ok
        channel = grpc.insecure_channel(admin.endpoint)
        stub = AdminServiceStub(channel)
        theirs: object = flytekit_client(admin.endpoint)
        task = identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name=TASK, version=VERSION
        )
        launch_plan = launch_plan_id()
        spec = execution_pb2.ExecutionSpec(
            launch_plan=launch_plan,
            metadata=execution_pb2.ExecutionMetadata(mode=execution_pb2.ExecutionMetadata.MANUAL),
        )
        inputs = literals_pb2.LiteralMap(
            literals={
                "name": literals_pb2.Literal(
                    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="bench"))
                )
            }
        )
        for i in range(3 * PAGE):  # so that a page of executions is full
            ours.create_execution(PROJECT, DOMAIN, f"seed{i}", spec, inputs)
        fk_task = fk_identifier.Identifier.from_flyte_idl(task)
        fk_spec = fk_execution.ExecutionSpec.from_flyte_idl(spec)
        fk_inputs = fk_literals.LiteralMap.from_flyte_idl(inputs)
        named = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)

        def full_page(items: list[object]) -> None:
            assert len(items) == PAGE, len(items)

        scenarios: dict[str, dict[str, Callable[[int], object]]] = {
            "get_task": {
                "ours": lambda i: ours.get_task(task),
                STUB: lambda i: stub.GetTask(common_pb2.ObjectGetRequest(id=task), timeout=30),
                # flytekit's get_task is an lru_cache around the call: compared with our cache off, its
                # uncached body (what it does on every miss) is the fair counterpart.
                FLYTEKIT: lambda i: uncached_get_task(theirs, fk_task),
            },
            f"list_executions page of {PAGE}": {
                "ours": lambda i: full_page(ours.list_executions_paginated(PROJECT, DOMAIN, limit=PAGE)[0]),
                STUB: lambda i: full_page(
                    list(
                        stub.ListExecutions(
                            common_pb2.ResourceListRequest(id=named, limit=PAGE), timeout=30
                        ).executions
                    )
                ),
                FLYTEKIT: lambda i: full_page(
                    theirs.list_executions_paginated(PROJECT, DOMAIN, limit=PAGE)[0]  # type: ignore[attr-defined]
                ),
            },
            "create_execution": {
                "ours": lambda i: ours.create_execution(PROJECT, DOMAIN, f"o{i}", spec, inputs),
                STUB: lambda i: stub.CreateExecution(
                    execution_pb2.ExecutionCreateRequest(
                        project=PROJECT, domain=DOMAIN, name=f"s{i}", spec=spec, inputs=inputs
                    ),
                    timeout=30,
                ),
                FLYTEKIT: lambda i: theirs.create_execution(  # type: ignore[attr-defined]
                    PROJECT, DOMAIN, f"f{i}", fk_spec, fk_inputs
                ),
            },
        }
        rows = []
        try:
            for call_name, contenders in scenarios.items():
                taken = Rounds(contenders, calls, rounds)
                measured = describe(taken, "ours", STUB, FLYTEKIT)
                scenario = f"{OVERHEAD}: {call_name}"
                note = f"{calls} sequential calls x {rounds} rounds, emulator in its own process, cache off"
                rows.append(Row.at_most(scenario, STUB, taken.cost_ratio("ours", STUB), 1.08, measured, note))
                rows.append(
                    Row.at_least(
                        scenario,
                        f"{FLYTEKIT}'s calls/s",
                        taken.cost_ratio(FLYTEKIT, "ours"),
                        1.2,
                        measured,
                        note,
                    )
                )
        finally:
            ours.close()
            channel.close()
    return rows


# ---------------------------------------------------------------------------------- paging 50,000 rows


SHIFTED_CREATED_AT = "strftime('%Y-%m-%dT%H:%M:%S', created_at, printf('+%d seconds', n)) || '.000000Z'"
"""Copy number n is created n seconds after the original, in the emulator's format: a distinct sort key."""


def launch_plan_id() -> identifier_pb2.Identifier:
    """The sample launch plan every create_execution of this benchmark launches."""
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name=LAUNCH_PLAN,
        version=VERSION,
    )


def seed_executions(db: Path, count: int) -> None:
    """`count` executions in the emulator database `db`: one created through the API, copied in SQLite."""
    with EmulatorProcess(db=db) as admin, SynchronousFlyteClient(settings_for(admin.endpoint)) as client:
        assert register_package(client, SAMPLE_PACKAGE_PATH, PROJECT, DOMAIN, VERSION).ok
        launch_plan = launch_plan_id()
        client.launch(launch_plan, {"name": "bench"}, name="seed")
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(executions)") if row[1] != "id"]
        copied = ", ".join(
            {
                "execution_name": "printf('x%07d', n)",
                "created_at": SHIFTED_CREATED_AT,
            }.get(column, column)
            for column in columns
        )
        conn.execute(
            f"""
            WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < ?)
            INSERT INTO executions ({", ".join(columns)})
            SELECT {copied} FROM numbers, executions WHERE execution_name = 'seed'
            """,
            (count - 1,),
        )
        (total,) = conn.execute("SELECT count(*) FROM executions").fetchone()
    assert total == count, f"seeded {total} executions, not {count}"


def resident_bytes() -> int:
    """This process's resident set size, from /proc/self/statm (pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """The highest RSS seen by `sample()` since construction, above the RSS at construction."""

    def __init__(self) -> None:
        self.start = resident_bytes()
        self.peak = self.start

    def sample(self) -> None:
        self.peak = max(self.peak, resident_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


SORT = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.Direction.ASCENDING)


def walk_ours(client: SynchronousFlyteClient, memory: PeakMemory) -> int:
    count = 0
    for _execution in client.iter_executions(PROJECT, DOMAIN, sort_by=SORT, page_size=PAGE):
        count += 1
        if count % PAGE == 0:
            memory.sample()
    return count


def walk_stub(stub: AdminServiceStub, memory: PeakMemory) -> int:
    count, token = 0, ""
    named = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)
    while True:
        request = common_pb2.ResourceListRequest(id=named, limit=PAGE, token=token, sort_by=SORT)
        page = stub.ListExecutions(request, timeout=30)
        for _execution in page.executions:
            count += 1
        memory.sample()
        if not page.token:
            return count
        token = page.token


@contextmanager
def seeded_admin(count: int) -> Iterator[EmulatorProcess]:
    with tempfile.TemporaryDirectory(prefix="bench-calls-") as folder:
        db = Path(folder) / "admin.db"
        seed_executions(db, count)
        with EmulatorProcess(db=db) as admin:
            yield admin


def paging_rows(quick: bool) -> list[Row]:
    # A walk of 50,000 takes the emulator most of a minute (its pages cost more the deeper the offset), so
    # two rounds, not more, the contenders' order flipped between them. One round (ours always first) let a
    # single pair decide the row: one walk's figures vary by 10-15 % run to run (two records: the stub at
    # 1,292 and 1,405 executions/s, ours at 1,269 and 1,217).
    count, rounds = (2_000, 3) if quick else (50_000, 2)
    with seeded_admin(count) as admin:
        client = SynchronousFlyteClient(settings_for(admin.endpoint))
        channel = grpc.insecure_channel(admin.endpoint)
        stub = AdminServiceStub(channel)
        try:
            memory = PeakMemory()
            walks: dict[str, Callable[[int], object]] = {
                "ours": lambda i: _expect(walk_ours(client, memory), count),
                STUB: lambda i: _expect(walk_stub(stub, PeakMemory()), count),
            }
            taken = Rounds(walks, 1, rounds, warm_up=0)
        finally:
            client.close()
            channel.close()
    ours, theirs = (per_execution(taken.median(name), count) for name in ("ours", STUB))
    measured = (
        f"ours {ours.cpu_per_call * 1e6:,.1f} µs CPU/execution, {ours.per_second:,.0f} executions/s; "
        f"{STUB} {theirs.cpu_per_call * 1e6:,.1f} µs CPU/execution, {theirs.per_second:,.0f} executions/s"
    )
    scenario = ITERATE.format(n=count)
    note = f"pages of {PAGE}, sorted by created_at, {rounds} rounds, emulator in its own process"
    return [
        Row.at_least(scenario, PAGING_STUB, taken.cost_ratio(STUB, "ours"), 0.9, measured, note),
        Row.at_most(
            f"{scenario}: client memory growth",
            "a 30 MB budget (flat)",
            memory.growth_mb / 30,
            1.0,
            f"peak RSS {memory.growth_mb:.1f} MB above the start of {rounds} walks of ours",
        ),
    ]


def per_execution(walk: Sample, count: int) -> Sample:
    """A walk's figures (one "call" of `count` executions) per execution."""
    return Sample(count, walk.cpu, walk.wall)


def _expect(got: int, count: int) -> None:
    assert got == count, f"walked {got} executions, not {count}"


def run(quick: bool) -> list[Row]:
    return call_rows(quick) + paging_rows(quick)
