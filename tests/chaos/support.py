"""What the chaos tests of the automations share: an emulator in a process of its own, set up without faults
and then restarted on the same database with the faults switched on, and clients that do or do not ride
them out.

Setting up under faults would test the setup, not the automation; restarting on the same `--db` file keeps
what was set up, as a real Admin keeps its Postgres across restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
FLAKY = "ops_demo.workflows.flaky_wf"  # the sample project's workflow whose input `fail` decides
Phase = core_execution_pb2.WorkflowExecution.Phase
RECOVERED = execution_pb2.ExecutionMetadata.ExecutionMode.RECOVERED

FAULT_RATE = 0.3
"""The share of RPCs the faulty emulator answers UNAVAILABLE (half before, half after processing)."""

OBSERVER_ATTEMPTS = 12
"""The test's own reads ride out the faults: 0.3 ** 12 leaves about one failed read in two million."""


def connect(endpoint: str, *, attempts: int = 5, **settings: object) -> SynchronousFlyteClient:
    """A client from explicit settings only (no environment, no ~/.flyte), with `attempts` per RPC."""
    return SynchronousFlyteClient(
        AdminSettings.isolated(
            endpoint=endpoint,
            insecure=True,
            retry_attempts=attempts,
            retry_initial_backoff=0.01,
            retry_max_backoff=0.05,
            deadline_seconds=10,
            **settings,
        )
    )


def observer(endpoint: str) -> SynchronousFlyteClient:
    """The test's eyes on the server: reads that the injected faults cannot make fail."""
    return connect(endpoint, attempts=OBSERVER_ATTEMPTS)


@contextmanager
def faulty_emulator(
    setup: Callable[[SynchronousFlyteClient], None], *faults: str, seed: int
) -> Iterator[EmulatorProcess]:
    """An emulator process set up by `setup` without faults, then restarted with `faults` (serve options,
    e.g. "--fault-rate", "0.3") and `--seed seed`."""
    with EmulatorProcess() as emulator:
        with connect(emulator.endpoint) as client:
            setup(client)
        emulator.args = [*faults, "--seed", str(seed)]
        emulator.restart()
        yield emulator


def make_failures(client: SynchronousFlyteClient, package: Path, count: int) -> None:
    """Register the sample project and fail `count` executions of FLAKY, `broken-0`, ... (an engine event
    each, as propeller sends)."""
    assert register_package(client, package, PROJECT, DOMAIN, VERSION).ok
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=FLAKY, version=VERSION
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["fail"].scalar.primitive.boolean = True
    occurred = Timestamp()
    occurred.GetCurrentTime()
    for number in range(count):
        ident = client.create_execution(
            PROJECT, DOMAIN, f"broken-{number}", execution_pb2.ExecutionSpec(launch_plan=plan), inputs
        )
        event = event_pb2.WorkflowExecutionEvent(
            execution_id=ident, phase=Phase.FAILED, occurred_at=occurred, producer_id="propeller"
        )
        event.error.message = "failing on purpose"
        client.create_workflow_event(event)


def recoveries(client: SynchronousFlyteClient) -> Counter[str]:
    """How many RECOVERED executions reference each failed execution: the exactly-once measure."""
    found: Counter[str] = Counter()
    for item in client.iter_executions(PROJECT, DOMAIN, filters=f"eq(mode,{int(RECOVERED)})"):
        found[item.spec.metadata.reference_execution.name] += 1
    return found
