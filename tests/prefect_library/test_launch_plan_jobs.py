"""Launch plans as Prefect jobs, written as a user writes flows: run them, chain them, fail them, retry them.

Each test starts an emulator whose simulated engine runs the executions (the project is described in
conftest.py) and runs real flows on the session's Prefect test server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from flyteadmin_ops.flows.run_launch_plan import run_launch_plan
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.flow_engine import run_flow
from prefect.states import AwaitingRetry

from flyteadmin_ops.blocks import FlyteAdminConnection, FlyteExecutionRun, FlyteLaunchPlan
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.client.values import InputValueError
from flyteadmin_ops.errors import FlyteExecutionFailed

from .conftest import DOMAIN, PROJECT, activate, executions, phase_name

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

FAST = {"poll_interval_seconds": 0.2}


def test_two_launch_plans_chained_through_their_outputs(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    @flow
    def prepare_then_train() -> dict[str, Any]:
        prepared = run_launch_plan(PROJECT, DOMAIN, "prep", {"x": 7}, connection=connection, **FAST)
        return run_launch_plan(
            PROJECT,
            DOMAIN,
            "train",
            {"x": prepared["x"] * 6, "tag": prepared["tag"] + "+train"},
            connection=connection,
            **FAST,
        )

    assert prepare_then_train() == {"x": 42, "tag": "prep+train"}
    prep, train = executions(client, "prep"), executions(client, "train")
    assert len(prep) == len(train) == 1
    assert client.get_execution_data(train[0].id).full_inputs.literals["x"].scalar.primitive.integer == 42


def test_a_failing_execution_fails_the_flow_with_flytes_error(connection: FlyteAdminConnection) -> None:
    state = run_launch_plan(
        PROJECT, DOMAIN, "train_fails", {"x": 1}, connection=connection, return_state=True, **FAST
    )

    assert state.is_failed()
    with pytest.raises(FlyteExecutionFailed) as failed:
        state.result()
    assert (failed.value.phase, failed.value.error_code) == ("FAILED", "SimulatedFailure")
    assert "simulated failure" in failed.value.error_message
    assert "SimulatedFailure" in (state.message or "")


def test_a_wrong_input_type_is_refused_and_nothing_is_launched(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    with pytest.raises(InputValueError) as refused:
        run_launch_plan(PROJECT, DOMAIN, "train", {"x": "seven"}, connection=connection)

    assert refused.value.input_name == "x"
    assert "int" in str(refused.value) and "'seven'" in str(refused.value)
    assert executions(client) == []


def test_a_flow_retried_after_its_launch_launches_once(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    launches: list[FlyteExecutionRun] = []

    @flow(retries=1, retry_delay_seconds=0)
    def train_and_publish() -> dict[str, Any]:
        run = FlyteLaunchPlan(
            connection=connection, project=PROJECT, domain=DOMAIN, name="train", inputs={"x": 5}, **FAST
        ).trigger_sync()
        launches.append(run)
        if len(launches) == 1:
            raise ConnectionError("the flow run dies right after its launch")
        run.wait_for_completion_sync()
        return run.fetch_result_sync()

    assert train_and_publish() == {"x": 5, "tag": "train"}
    first, retry = launches
    assert (first.created, retry.created) == (True, False)
    assert first.execution_id == retry.execution_id
    assert [e.id.name for e in executions(client)] == [first.execution_id.name]


def test_retrying_after_a_failed_execution_launches_a_new_attempt(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    parameters = {"project": PROJECT, "domain": DOMAIN, "name": "nightly", "inputs": {"x": 3}, **FAST}
    failed = run_launch_plan(connection=connection, return_state=True, **parameters)
    assert failed.is_failed()

    activate(client, "nightly", "v2")  # the fix is released; then "Retry" on the failed flow run
    flow_run_id = failed.state_details.flow_run_id
    assert flow_run_id is not None
    with get_client(sync_client=True) as prefect:
        prefect.set_flow_run_state(flow_run_id, AwaitingRetry(), force=True)
        flow_run = prefect.read_flow_run(flow_run_id)
    retried = run_flow(
        run_launch_plan,
        flow_run=flow_run,
        parameters={"connection": connection, **parameters},
        return_type="state",
    )

    assert retried.is_completed(), retried.message
    assert retried.result() == {"x": 3, "tag": "nightly"}
    first, second = executions(client, "nightly")
    assert (phase_name(first), phase_name(second)) == ("FAILED", "SUCCEEDED")
    assert (first.spec.launch_plan.version, second.spec.launch_plan.version) == ("v1", "v2")
    assert (first.id.name[:-2], first.id.name[-2:], second.id.name[-2:]) == (second.id.name[:-2], "-0", "-1")


def test_the_same_job_from_an_async_flow(connection: FlyteAdminConnection) -> None:
    @flow
    async def prepare() -> dict[str, Any]:
        job = FlyteLaunchPlan(connection=connection, project=PROJECT, domain=DOMAIN, name="prep", **FAST)
        run = await job.trigger()
        await run.wait_for_completion()
        return await run.fetch_result()

    assert asyncio.run(prepare()) == {"x": 1, "tag": "prep"}


def test_a_saved_job_is_loaded_by_name_and_run(connection: FlyteAdminConnection) -> None:
    FlyteLaunchPlan(
        connection=connection, project=PROJECT, domain=DOMAIN, name="train", inputs={"x": 9}, **FAST
    ).save("train-nine", overwrite=True)

    @flow
    def from_the_ui() -> dict[str, Any]:
        job = FlyteLaunchPlan.load("train-nine")
        run = job.trigger_sync()
        run.wait_for_completion_sync()
        return run.fetch_result_sync()

    assert from_the_ui() == {"x": 9, "tag": "train"}
