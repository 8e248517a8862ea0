"""Client operations as Prefect tasks, used as a Prefect user uses them: inside flows, against an emulator.

The emulator and its echo project come from conftest.py (the simulated engine runs the executions); the
flows run on the session's Prefect test server. What is checked: reads and complete lists (bounded by
`max_items`), a connection given by a saved block's name, creates and updates that can be repeated, and
launches that a retried task or flow run makes once (or anew after a failed execution).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2, project_pb2, task_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.core.execution_pb2 import WorkflowExecution
from flyteidl.event import event_pb2 as engine_events
from google.protobuf.timestamp_pb2 import Timestamp
from prefect import flow

from flyteadmin_ops import tasks
from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client import Launched, SynchronousFlyteClient, launch_plan_id, named_entity_id
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteEntityConflictException
from flyteadmin_ops.tasks import is_retryable

from .conftest import DOMAIN, PROJECT, TASK, echo_project, executions, identifier

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


def _spec(name: str) -> execution_pb2.ExecutionSpec:
    return execution_pb2.ExecutionSpec(
        launch_plan=launch_plan_id(PROJECT, DOMAIN, name, "v1"),
        metadata=execution_pb2.ExecutionMetadata(mode=execution_pb2.ExecutionMetadata.MANUAL),
    )


def _ints(**values: int) -> literals_pb2.LiteralMap:
    literals = literals_pb2.LiteralMap()
    for name, value in values.items():
        literals.literals[name].scalar.primitive.integer = value
    return literals


def _wait_until_idle(emulator: Emulator) -> None:
    assert emulator.wait_idle(30), "the simulated engine did not finish its executions"


# ------------------------------------------------------------------------------------------------ reads


def test_reads_and_complete_lists_bounded_by_max_items(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    for _ in range(3):
        client.create_execution(PROJECT, DOMAIN, None, _spec("prep"))

    @flow
    def look_around() -> dict[str, Any]:
        return {
            "project": tasks.get_project(connection, PROJECT),
            "launch_plans": tasks.list_launch_plan_ids(connection, PROJECT, DOMAIN),
            "two_executions": tasks.list_executions(connection, PROJECT, DOMAIN, max_items=2),
            "all_executions": tasks.list_executions(connection, PROJECT, DOMAIN),
            "page_by_page": tasks.list_executions(connection, PROJECT, DOMAIN, page_size=1),
            "one_page": tasks.list_executions_paginated(connection, PROJECT, DOMAIN, limit=1),
        }

    seen = look_around()
    assert isinstance(seen["project"], project_pb2.Project) and seen["project"].id == PROJECT
    assert [i.name for i in seen["launch_plans"]] == ["nightly", "prep", "train", "train_fails"]
    assert len(seen["two_executions"]) == 2 and len(seen["all_executions"]) == 3
    assert seen["page_by_page"] == seen["all_executions"]  # every page walked
    assert [e.id for e in seen["two_executions"]] == [e.id for e in seen["all_executions"][:2]]
    items, token = seen["one_page"]
    assert len(items) == 1 and token


def test_a_connection_given_by_the_name_of_a_saved_block(connection: FlyteAdminConnection) -> None:
    block_name = f"tasks-{uuid.uuid4().hex[:8]}"
    connection.save(block_name, overwrite=True)

    @flow
    def by_name() -> str:
        return tasks.get_project(block_name, PROJECT).id

    assert by_name() == PROJECT


# ------------------------------------------------------------------------------------- creates, updates


def test_a_create_repeated_succeeds_and_a_different_one_conflicts(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient, caplog: pytest.LogCaptureFixture
) -> None:
    spec = client.get_task(TASK).closure.compiled_task.template
    same = task_pb2.TaskSpec(template=spec)
    different = task_pb2.TaskSpec(template=spec)
    different.template.container.image = "ghcr.io/example/app:2"

    @flow
    def register_twice() -> list[Any]:
        return [tasks.create_task(connection, TASK, same), tasks.create_task(connection, TASK, same)]

    assert register_twice() == [TASK, TASK]
    assert "create_task flytesnacks/development/t.echo@v1: exists" in caplog.text

    @flow
    def register_different() -> Any:
        return tasks.create_task(connection, TASK, different)

    state = register_different(return_state=True)
    assert state.is_failed()
    with pytest.raises(FlyteEntityConflictException):
        state.result()


def test_registering_a_project_again_is_exists_unless_it_differs(connection: FlyteAdminConnection) -> None:
    project = project_pb2.Project(id="ml", name="Machine learning", description="models")

    @flow
    def register(description: str) -> str:
        wanted = project_pb2.Project(id=project.id, name=project.name, description=description)
        return tasks.register_project(connection, wanted)

    assert register("models") == register("models") == "ml"
    state = register("other", return_state=True)  # type: ignore[call-overload]
    with pytest.raises(FlyteEntityConflictException, match="description: 'models' -> 'other'"):
        state.result()


def test_update_launch_plan_is_declarative(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient, caplog: pytest.LogCaptureFixture
) -> None:
    train = identifier(identifier_pb2.LAUNCH_PLAN, "train")
    nightly_v2 = identifier(identifier_pb2.LAUNCH_PLAN, "nightly", "v2")

    @flow
    def declare_active() -> None:
        tasks.update_launch_plan(connection, train, launch_plan_pb2.ACTIVE)  # already active
        tasks.update_launch_plan(connection, nightly_v2, launch_plan_pb2.ACTIVE)  # v1 was

    declare_active()
    assert "update_launch_plan flytesnacks/development/train@v1: unchanged" in caplog.text
    assert (
        "update_launch_plan flytesnacks/development/nightly@v2: updated (INACTIVE -> ACTIVE)" in caplog.text
    )
    assert client.get_active_launch_plan(named_entity_id(PROJECT, DOMAIN, "nightly")).id.version == "v2"


def test_terminating_a_finished_execution_succeeds(
    flyte: Emulator, connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    finished = client.create_execution(PROJECT, DOMAIN, None, _spec("prep"))
    _wait_until_idle(flyte)

    @flow
    def stop_it() -> None:
        tasks.terminate_execution(connection, finished, "no longer needed")

    assert stop_it(return_state=True).is_completed()
    assert client.get_execution(finished).closure.phase == WorkflowExecution.SUCCEEDED


def test_an_event_sent_again_is_success(caplog: pytest.LogCaptureFixture) -> None:
    with Emulator() as idle:  # no engine: the test reports the events, as propeller would
        with SynchronousFlyteClient(endpoint=idle.endpoint, insecure=True) as admin:
            echo_project(admin)
            ident = admin.create_execution(PROJECT, DOMAIN, None, _spec("prep"))
        block = FlyteAdminConnection(endpoint=idle.endpoint, insecure=True)
        occurred = Timestamp()
        occurred.GetCurrentTime()
        running = engine_events.WorkflowExecutionEvent(
            execution_id=ident, phase=WorkflowExecution.RUNNING, occurred_at=occurred, producer_id="propeller"
        )

        @flow
        def report_twice() -> None:
            tasks.create_workflow_event(block, running)
            tasks.create_workflow_event(block, running)

        assert report_twice(return_state=True).is_completed()
        assert "create_workflow_event: already recorded" in caplog.text
        with SynchronousFlyteClient(endpoint=idle.endpoint, insecure=True) as admin:
            assert admin.get_execution(ident).closure.phase == WorkflowExecution.RUNNING


# ------------------------------------------------------------------------------------------- launches


def test_a_flow_retried_after_its_launch_launches_once(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    attempts: list[Any] = []

    @flow(retries=1, retry_delay_seconds=0)
    def launch_then_stumble() -> list[Any]:
        by_spec = tasks.create_execution(connection, PROJECT, DOMAIN, None, _spec("train"), _ints(x=5))
        by_values: Launched = tasks.launch(connection, launch_plan_id(PROJECT, DOMAIN, "prep", ""), {"x": 2})
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT, domain=DOMAIN, spec=_spec("train"), inputs=_ints(x=4)
        )
        by_request: Launched = tasks.launch(connection, request)
        attempts.append((by_spec, by_values, by_request))
        if len(attempts) == 1:
            raise RuntimeError("something after the launches failed")
        return attempts

    first, second = launch_then_stumble()
    assert first[0] == second[0] and first[1].id == second[1].id and first[2].id == second[2].id
    assert [launched.created for launched in (*first[1:], *second[1:])] == [True, True, False, False]
    assert [len(executions(client, name)) for name in ("train", "prep")] == [2, 1]


def test_two_identical_launches_in_one_flow_run_are_two_executions(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    @flow
    def launch_twice() -> list[Any]:
        return [tasks.create_execution(connection, PROJECT, DOMAIN, None, _spec("prep")) for _ in range(2)]

    first, second = launch_twice()
    assert first != second and len(executions(client, "prep")) == 2


def test_concurrent_identical_launches_reattach_as_a_set_on_retry(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    attempts: list[set[str]] = []

    @flow(retries=1, retry_delay_seconds=0)
    def fan_out() -> None:
        futures = [
            tasks.create_execution.submit(connection, PROJECT, DOMAIN, None, _spec("prep")) for _ in range(3)
        ]
        attempts.append({future.result().name for future in futures})
        if len(attempts) == 1:
            raise RuntimeError("retry me")

    fan_out()
    assert len(attempts[0]) == 3 and attempts[0] == attempts[1]
    assert len(executions(client, "prep")) == 3


@pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning")
def test_a_launch_task_called_outside_a_flow_is_named_from_its_task_run(
    connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    launched = tasks.create_execution(connection, PROJECT, DOMAIN, None, _spec("prep"))
    assert launched.name.startswith("p") and launched.name.endswith("-0")  # run_names' rule
    assert [e.id for e in executions(client, "prep")] == [launched]


def test_a_retry_after_a_failed_execution_launches_a_new_attempt(
    flyte: Emulator, connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    launched: list[identifier_pb2.WorkflowExecutionIdentifier] = []

    @flow(retries=1, retry_delay_seconds=0)
    def train_until_it_works() -> None:
        ident = tasks.create_execution(connection, PROJECT, DOMAIN, None, _spec("train_fails"), _ints(x=1))
        launched.append(ident)
        _wait_until_idle(flyte)
        execution = tasks.get_execution(connection, ident)
        raise RuntimeError(f"{ident.name} ended {execution.closure.phase}")

    assert train_until_it_works(return_state=True).is_failed()
    assert len(launched) == 2 and launched[0] != launched[1]
    assert (launched[0].name.endswith("-0"), launched[1].name.endswith("-1")) == (True, True)
    assert len(executions(client, "train_fails")) == 2


def test_relaunch_named_from_the_run_reattaches_on_retry(
    flyte: Emulator, connection: FlyteAdminConnection, client: SynchronousFlyteClient
) -> None:
    failed = client.create_execution(PROJECT, DOMAIN, None, _spec("train_fails"), _ints(x=1))
    _wait_until_idle(flyte)
    relaunched: list[Any] = []

    @flow(retries=1, retry_delay_seconds=0)
    def relaunch_once() -> None:
        relaunched.append(tasks.relaunch_execution(connection, failed))
        if len(relaunched) == 1:
            raise RuntimeError("retry me")

    relaunch_once()
    assert relaunched[0] == relaunched[1]
    modes = [e.spec.metadata.mode for e in executions(client)]
    assert modes.count(execution_pb2.ExecutionMetadata.RELAUNCH) == 1


FAULT_SEED = 22
"""With it, the faulty emulator's draws for the first calls are: none (the task's look-up of the name),
"after" (its CreateExecution is committed and the reply lost), "before" (the retry's look-up fails), none."""


@pytest.fixture
def faulty_flyte(tmp_path: Path) -> Iterator[Emulator]:
    """The echo project in an emulator that fails 30% of the calls with UNAVAILABLE, half of them after the
    write committed. The project is registered first, without faults, in the same database file."""
    database = str(tmp_path / "admin.db")
    with (
        Emulator(db=database) as setup,
        SynchronousFlyteClient(endpoint=setup.endpoint, insecure=True) as admin,
    ):
        echo_project(admin)
    with Emulator(db=database, executor="simulate", fault_rate=0.3, seed=FAULT_SEED) as emulator:
        yield emulator


def test_a_task_retried_after_a_lost_reply_launches_once(faulty_flyte: Emulator) -> None:
    # One attempt per RPC, so the lost reply reaches the task (by default the client's own resend handles it).
    one_shot = FlyteAdminConnection(endpoint=faulty_flyte.endpoint, insecure=True, retry_attempts=1)
    retried: list[str] = []

    def retry_when_retryable(task: Any, task_run: Any, state: Any) -> bool:
        retried.append(state.message or "")
        return is_retryable(task, task_run, state)

    launch_with_retries = tasks.create_execution.with_options(
        retries=10, retry_delay_seconds=0, retry_jitter_factor=None, retry_condition_fn=retry_when_retryable
    )

    @flow
    def launch_through_faults() -> Any:
        return launch_with_retries(one_shot, PROJECT, DOMAIN, None, _spec("train"), _ints(x=3))

    launched = launch_through_faults()
    assert "CreateExecution failed with UNAVAILABLE: injected fault after processing" in retried[0]
    with SynchronousFlyteClient(endpoint=faulty_flyte.endpoint, insecure=True) as admin:
        assert [e.id for e in executions(admin, "train")] == [launched]


# --------------------------------------------------------------------------------------- what users see


def test_the_tasks_signature_and_docstring_describe_the_operation() -> None:
    signature = inspect.signature(tasks.list_executions)
    assert list(signature.parameters)[:3] == ["connection", "project", "domain"]
    assert signature.parameters["max_items"].kind is inspect.Parameter.KEYWORD_ONLY
    assert tasks.list_executions.name == "list_executions"
    assert "name of a saved one" in (tasks.get_execution.fn.__doc__ or "")
