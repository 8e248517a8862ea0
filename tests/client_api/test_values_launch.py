"""Launching with Python values, end to end: `client.launch(launch plan or task, inputs={...})` on the
emulator with the simulated engine, the execution waited for by polling, and its outputs read back as
Python values. The launch plan is one flytekit serialized (tests/client_api/typed_entities.py), with an
input of every kind, a default and a fixed input. Its outputs echo its inputs, so what comes back is what
flyteadmin computed from what we sent."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.client import (
    AsyncFlyteClient,
    InputValueError,
    SynchronousFlyteClient,
    launch_plan_id,
    task_id,
    values,
)
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteEntityNotExistException
from flyteadmin_ops.settings import AdminSettings

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
UTC = datetime.timezone.utc
PHASES = core_execution_pb2.WorkflowExecution.Phase
TERMINAL = {PHASES.SUCCEEDED, PHASES.FAILED, PHASES.ABORTED, PHASES.TIMED_OUT}

INPUTS: dict[str, Any] = {
    "count": 3,
    "flag": False,
    "when": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    "span": datetime.timedelta(minutes=90),
    "counts": [1, 2, 3],
    "weights": {"a": 0.5, "b": 2},
    "config": {"depth": 2, "names": ["x", "y"], "on": True},
    "color": "green",
    "choice": "seven",
    "report": "s3://bucket/report.csv",
    "folder": "s3://bucket/folder",
    "frame": "s3://bucket/frame",
    "nested": [{"a": 1, "b": None}],
}
OUTPUTS = {
    **INPUTS,
    "weights": {"a": 0.5, "b": 2.0},
    "config": {"depth": 2.0, "names": ["x", "y"], "on": True},  # a struct's numbers are doubles
    "rate": 0.5,  # the launch plan's default
    "note": None,  # its other default
    "label": "fixed-label",  # its fixed input
}


@pytest.fixture(scope="module")
def typed() -> ModuleType:
    from tests.client_api import typed_entities  # imports flytekit: only when these tests run

    return typed_entities


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0, executor="simulate") as running:
        yield running


@pytest.fixture
def client(emulator: Emulator, typed: ModuleType) -> Iterator[SynchronousFlyteClient]:
    settings = AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True)
    with SynchronousFlyteClient(settings) as connected:
        typed.register(connected, PROJECT, DOMAIN, VERSION)
        yield connected


def finished(
    client: SynchronousFlyteClient, emulator: Emulator, ident: identifier_pb2.WorkflowExecutionIdentifier
) -> execution_pb2.Execution:
    """Poll get_execution until the execution ends, waiting on the engine between polls; 20 s at most."""
    deadline = time.monotonic() + 20
    while True:
        execution = client.get_execution(ident)
        if execution.closure.phase in TERMINAL:
            return execution
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{ident.name} still {PHASES.Name(execution.closure.phase)} after 20 s"
        emulator.wait_idle(remaining)


def test_a_launch_plan_launched_with_python_values_gives_python_outputs(
    client: SynchronousFlyteClient, emulator: Emulator, typed: ModuleType
) -> None:
    plan_id = launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION)
    launched = client.launch(plan_id, INPUTS)
    assert launched.created and (launched.id.project, launched.id.domain) == (PROJECT, DOMAIN)

    execution = finished(client, emulator, launched.id)
    assert execution.closure.phase == PHASES.SUCCEEDED
    assert execution.spec.launch_plan.name == typed.LAUNCH_PLAN

    data = client.get_execution_data(launched.id)
    assert values.to_python_map(data.full_inputs) == OUTPUTS  # flyteadmin added the default and fixed inputs
    plan = client.get_launch_plan(plan_id)
    assert values.to_python_map(data.full_outputs, plan.closure.expected_outputs) == OUTPUTS
    assert values.to_python_map(data.full_outputs) == OUTPUTS


def test_outputs_of_one_launch_feed_the_next(
    client: SynchronousFlyteClient, emulator: Emulator, typed: ModuleType
) -> None:
    plan = client.get_launch_plan(launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION))
    first = client.launch(plan, INPUTS)  # the LaunchPlan itself: no lookup
    finished(client, emulator, first.id)
    outputs = values.to_python_map(client.get_execution_data(first.id).full_outputs)
    given = {name: value for name, value in outputs.items() if name in INPUTS}
    second = client.launch(plan, {**given, "count": outputs["count"] + 1, "note": "second"})
    assert finished(client, emulator, second.id).closure.phase == PHASES.SUCCEEDED
    again = values.to_python_map(client.get_execution_data(second.id).full_outputs)
    assert again == {**OUTPUTS, "count": 4, "note": "second"}


def test_a_wrong_input_is_refused_before_anything_is_launched(
    client: SynchronousFlyteClient, typed: ModuleType
) -> None:
    plan_id = launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION)
    refusals = {
        "wrong type": {**INPUTS, "counts": [1, "2"]},
        "missing": {name: value for name, value in INPUTS.items() if name != "count"},
        "unknown": {**INPUTS, "colour": "red"},
        "fixed": {**INPUTS, "label": "mine"},
    }
    for reason, inputs in refusals.items():
        with pytest.raises(InputValueError) as refused:
            client.launch(plan_id, inputs)
        assert refused.value.reason == reason
    with pytest.raises(InputValueError) as refused:
        client.launch(plan_id, {**INPUTS, "flag": "false"})
    assert str(refused.value) == "input 'flag': expected bool, got str 'false'"
    executions, _ = client.list_executions_paginated(PROJECT, DOMAIN)
    assert executions == []


def test_an_execution_that_fails_on_the_engine_is_reported_failed(
    client: SynchronousFlyteClient, emulator: Emulator, typed: ModuleType
) -> None:
    launched = client.launch(launch_plan_id(PROJECT, DOMAIN, typed.FAILING_LAUNCH_PLAN, VERSION), INPUTS)
    execution = finished(client, emulator, launched.id)
    assert execution.closure.phase == PHASES.FAILED and execution.closure.error.message


def test_a_task_is_launched_directly_with_python_values(
    client: SynchronousFlyteClient, emulator: Emulator, typed: ModuleType
) -> None:
    task_inputs = {**INPUTS, "rate": 1, "note": None, "label": "direct"}
    launched = client.launch(task_id(PROJECT, DOMAIN, typed.TASK_NAME, VERSION), task_inputs)
    execution = finished(client, emulator, launched.id)
    assert execution.closure.phase == PHASES.SUCCEEDED
    outputs = values.to_python_map(client.get_execution_data(launched.id).full_outputs)
    assert outputs == {**OUTPUTS, "rate": 1.0, "label": "direct"}
    with pytest.raises(InputValueError, match="input 'label': missing"):
        client.launch(task_id(PROJECT, DOMAIN, typed.TASK_NAME, VERSION), INPUTS)  # a task has no defaults
    typed.register(client, PROJECT, DOMAIN, "v2")
    newest = client.launch(task_id(PROJECT, DOMAIN, typed.TASK_NAME, ""), task_inputs)
    assert client.get_execution(newest.id).spec.launch_plan.version == "v2"
    finished(client, emulator, newest.id)


def test_a_launch_plan_without_a_version_is_its_active_version_else_the_newest(
    client: SynchronousFlyteClient, emulator: Emulator, typed: ModuleType
) -> None:
    typed.register(client, PROJECT, DOMAIN, "v2")
    unversioned = launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, "")
    newest = client.launch(unversioned, INPUTS)
    assert client.get_execution(newest.id).spec.launch_plan.version == "v2"  # none is active: the newest
    client.update_launch_plan(launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION), 1)  # ACTIVE
    active = client.launch(unversioned, INPUTS)
    assert client.get_execution(active.id).spec.launch_plan.version == VERSION
    with pytest.raises(FlyteEntityNotExistException, match="no launch plan flytesnacks/development/nightly"):
        client.launch(launch_plan_id(PROJECT, DOMAIN, "nightly", ""), {})
    emulator.wait_idle(20)


def test_a_named_launch_is_launched_once(client: SynchronousFlyteClient, typed: ModuleType) -> None:
    plan_id = launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION)
    first = client.launch(plan_id, INPUTS, name="nightly-2026-01-02")
    again = client.launch(plan_id, INPUTS, name="nightly-2026-01-02")
    assert first.created and not again.created and again.id == first.id
    labelled = execution_pb2.ExecutionSpec()
    labelled.labels.values["team"] = "ml"
    other = client.launch(plan_id, INPUTS, spec=labelled)
    assert client.get_execution(other.id).spec.labels.values["team"] == "ml"


def test_a_request_still_launches_as_it_is(client: SynchronousFlyteClient, typed: ModuleType) -> None:
    plan = client.get_launch_plan(launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION))
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        spec=execution_pb2.ExecutionSpec(launch_plan=plan.id),
        inputs=values.inputs_for_launch_plan(plan, INPUTS),
    )
    assert client.launch(request).created
    with pytest.raises(TypeError, match="go into the request itself"):
        client.launch(request, INPUTS)
    with pytest.raises(TypeError, match="expected a launch plan or task"):
        client.launch("values_everything", INPUTS)


def test_the_async_client_launches_with_python_values(
    client: SynchronousFlyteClient, emulator: Emulator, typed: ModuleType
) -> None:
    plan_id = launch_plan_id(PROJECT, DOMAIN, typed.LAUNCH_PLAN, VERSION)

    async def launch_two() -> list[Any]:
        async with AsyncFlyteClient(AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True)) as aio:
            with pytest.raises(InputValueError):
                await aio.launch(plan_id, {**INPUTS, "count": 1.5})
            return list(await asyncio.gather(aio.launch(plan_id, INPUTS), aio.launch(plan_id, INPUTS)))

    for launched in asyncio.run(launch_two()):
        assert finished(client, emulator, launched.id).closure.phase == PHASES.SUCCEEDED
        assert values.to_python_map(client.get_execution_data(launched.id).full_outputs) == OUTPUTS
