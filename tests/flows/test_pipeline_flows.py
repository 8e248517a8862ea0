"""register-all, promote-launch-plan and relaunch-failed as Prefect flows, in the order an operator runs them,
against the emulator's simulated executor: task runs per wave and per batch, artifacts, and results."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.executor import wait_idle
from tests.flows.records import artifact, task_name, task_runs
from tests.ops.admin_proxy import AdminProxy

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

PROJECT, VERSION = "flytesnacks", "v1"
NIGHTLY = "ops_demo.nightly"
Phase = core_execution_pb2.WorkflowExecution.Phase


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0, executor="simulate") as emu:
        yield emu


def base_names(runs: list) -> list[tuple[str, str]]:
    return sorted((task_name(r), r.state.name) for r in runs)


def test_register_promote_and_relaunch_flows(emulator: Emulator, pyflyte_package: Path) -> None:
    from flyteadmin_ops.flows.promote import promote_launch_plan
    from flyteadmin_ops.flows.register_all import register_all
    from flyteadmin_ops.flows.relaunch_failed import relaunch_failed

    from flyteadmin_ops.blocks import FlyteAdminConnection
    from flyteadmin_ops.ops.package import dependency_waves, load_package
    from flyteadmin_ops.ops.results import Status

    connection = FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True)
    waves = len(dependency_waves(load_package(pyflyte_package)))

    # register-all: one task run for the upload, one per dependency wave.
    registered = register_all(
        str(pyflyte_package), PROJECT, "staging", VERSION, connection, return_state=True
    )

    assert registered.is_completed(), registered
    result = registered.result()
    assert result.ok and result.totals["uploaded"] == 1 and set(result.totals) == {"uploaded", "created"}
    runs = task_runs(registered.state_details.flow_run_id, expected=1 + waves)
    assert base_names(runs) == sorted(
        [("prepare-registration", "Completed")]
        + [(f"register-wave-{n}", "Completed") for n in range(1, waves + 1)]
    ), "one task run per wave, never one per entity"
    table = artifact("register-all-flytesnacks-staging")
    assert len(json.loads(table.data)) == len(result.outcomes)

    # promote: copy to production, then a verified activation.
    promoted = promote_launch_plan(
        NIGHTLY, VERSION, PROJECT, "production", connection, from_domain="staging", return_state=True
    )

    assert promoted.is_completed(), promoted
    assert promoted.result().with_status(Status.ACTIVATED)
    assert "previously active: none" in promoted.result().notes
    runs = task_runs(promoted.state_details.flow_run_id, expected=2)
    assert base_names(runs) == [
        ("activate-launch-plan", "Completed"),
        ("copy-launch-plan-from-domain", "Completed"),
    ]

    # Promoting again is a no-op: no write RPC, the copy step finds the version already active.
    with AdminProxy(emulator.endpoint) as proxy:
        watched = FlyteAdminConnection(endpoint=proxy.endpoint, insecure=True)
        again = promote_launch_plan(NIGHTLY, VERSION, PROJECT, "production", watched, from_domain="staging")
        assert proxy.writes() == []
    assert [o.status for o in again.outcomes] == [Status.UNCHANGED]

    # Three executions that fail under the simulated executor, then relaunch-failed in batches of two.
    with connection.get_client() as client:
        failed = [launch_failing(client, f"nightly-{i}") for i in range(3)]
        assert wait_idle(emulator.state, timeout=20)
        assert {client.get_execution(i).closure.phase for i in failed} == {Phase.FAILED}

        relaunched = relaunch_failed(
            PROJECT, "production", connection, since="1h", batch_size=2, return_state=True
        )

        assert relaunched.is_completed(), relaunched
        assert {o.name for o in relaunched.result().with_status(Status.LAUNCHED)} == {i.name for i in failed}
        runs = task_runs(relaunched.state_details.flow_run_id, expected=3)
        assert base_names(runs) == [
            ("relaunch-executions", "Completed"),
            ("relaunch-executions", "Completed"),
            ("select-failed-executions", "Completed"),
        ]
        rows = json.loads(artifact("relaunch-failed-flytesnacks-production").data)
        assert sorted(row["status"] for row in rows) == ["launched"] * 3
        recoveries = list(client.iter_executions(PROJECT, "production", filters="eq(mode,5)"))
        assert sorted(r.spec.metadata.reference_execution.name for r in recoveries) == sorted(
            i.name for i in failed
        )


def launch_failing(client: object, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    """An execution of the promoted `ops_demo.nightly` with label "fail" (its `fail` input is fixed to False;
    a string input equal to "fail" is the executor's rule 2)."""
    launch_plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain="production",
        name=NIGHTLY,
        version=VERSION,
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["label"].scalar.primitive.string_value = "fail"
    return client.create_execution(  # type: ignore[attr-defined, no-any-return]
        PROJECT, "production", name, execution_pb2.ExecutionSpec(launch_plan=launch_plan), inputs
    )


def test_register_flow_stops_at_a_conflict_like_the_cli(
    emulator: Emulator, pyflyte_package: Path, pyflyte_variant_package: Path
) -> None:
    from flyteadmin_ops.flows.register_all import register_all

    from flyteadmin_ops.blocks import FlyteAdminConnection
    from flyteadmin_ops.ops.package import TASK, load_package
    from flyteadmin_ops.ops.register import NOT_ATTEMPTED, register_package
    from flyteadmin_ops.ops.results import Status
    from tests.fixtures.sample import CHANGED_TASK

    connection = FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True)
    square = load_package(pyflyte_package).find(TASK, CHANGED_TASK)
    with connection.get_client() as client:
        assert register_package(client, load_package([square.request]), PROJECT, "development", "v2").ok

    state = register_all(
        str(pyflyte_variant_package), PROJECT, "development", "v2", connection, return_state=True
    )

    assert state.is_failed()
    rows = json.loads(artifact("register-all-flytesnacks-development").data)
    assert [r["name"] for r in rows if r["status"] == "conflict"] == [
        f"{PROJECT}:development:{CHANGED_TASK}:v2"
    ]
    skipped = [r for r in rows if r["status"] == Status.SKIPPED.value]
    assert {r["kind"] for r in skipped} == {"workflow", "launch_plan"}
    assert {r["detail"] for r in skipped} == {NOT_ATTEMPTED}
    runs = task_runs(state.state_details.flow_run_id, expected=2)
    assert base_names(runs) == [("prepare-registration", "Completed"), ("register-wave-1", "Completed")]


def test_register_flow_rejects_an_unlaunchable_schedule_before_any_write(
    emulator: Emulator, pyflyte_package_dir: Path, tmp_path: Path
) -> None:
    from flyteadmin_ops.flows.register_all import register_all
    from flyteidl.admin import launch_plan_pb2

    from flyteadmin_ops.blocks import FlyteAdminConnection

    folder = tmp_path / "pkg"
    shutil.copytree(pyflyte_package_dir, folder)
    for path in folder.glob("*_3.pb"):
        plan = launch_plan_pb2.LaunchPlan.FromString(path.read_bytes())
        if plan.id.name == NIGHTLY:
            plan.spec.default_inputs.parameters["label"].required = True  # no default any more
            path.write_bytes(plan.SerializeToString())
    connection = FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True)

    state = register_all(str(folder), PROJECT, "development", VERSION, connection, return_state=True)

    assert state.is_failed()
    assert f"{NIGHTLY} has a schedule, but input(s) label" in state.message
    with connection.get_client() as client:
        assert list(client.iter_task_ids(PROJECT, "development")) == []
