"""A small Flyte project in an emulator, for tests written as a Prefect user writes flows.

`echo_project(client)` registers, through our client's public calls, a task `t.echo` (x: int, tag: str ->
x: int, tag: str: the simulated engine passes inputs through to outputs of the same name), a workflow
`wf.echo` running it (inputs x, tag, fail; outputs x, tag), and launch plans over it:

- `prep`: every input has a default (x=1, tag="prep", fail=False); left inactive (runs as "the newest");
- `train`: x required (tag="train", fail=False); active;
- `train_fails`: as `train`, and fails (the simulated engine's `_fails` rule);
- `nightly`: v1 defaults fail=True (a broken release, active), v2 defaults fail=False (the fix, inactive).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
INT, BOOL, STR = types_pb2.SimpleType.INTEGER, types_pb2.SimpleType.BOOLEAN, types_pb2.SimpleType.STRING
TYPES = {"x": INT, "tag": STR, "fail": BOOL}


def identifier(kind: int, name: str, version: str = VERSION) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=kind, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


TASK = identifier(identifier_pb2.TASK, "t.echo")
WORKFLOW = identifier(identifier_pb2.WORKFLOW, "wf.echo")


def _variables(target: interface_pb2.VariableMap, *names: str) -> None:
    for name in names:
        target.variables[name].type.simple = TYPES[name]  # type: ignore[assignment]


def _literal(value: object) -> literals_pb2.Literal:
    primitive = literals_pb2.Primitive()
    if isinstance(value, bool):
        primitive.boolean = value
    elif isinstance(value, int):
        primitive.integer = value
    else:
        primitive.string_value = str(value)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def _task_spec() -> task_pb2.TaskSpec:
    template = tasks_pb2.TaskTemplate(
        id=TASK,
        type="python-task",
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version="1.16.31")
        ),
        container=tasks_pb2.Container(image="ghcr.io/example/app:1", args=["pyflyte-execute"]),
    )
    _variables(template.interface.inputs, "x", "tag")
    _variables(template.interface.outputs, "x", "tag")
    return task_pb2.TaskSpec(template=template)


def _workflow_spec() -> workflow_pb2.WorkflowSpec:
    template = core_workflow_pb2.WorkflowTemplate(id=WORKFLOW, metadata=core_workflow_pb2.WorkflowMetadata())
    _variables(template.interface.inputs, "x", "tag", "fail")
    _variables(template.interface.outputs, "x", "tag")
    node = template.nodes.add(id="n0", task_node=core_workflow_pb2.TaskNode(reference_id=TASK))
    for var in ("x", "tag"):
        node.inputs.add(var=var, binding=_promise("start-node", var))
        template.outputs.add(var=var, binding=_promise("n0", var))
    return workflow_pb2.WorkflowSpec(template=template)


def _launch_plan_spec(**defaults: object) -> launch_plan_pb2.LaunchPlanSpec:
    spec = launch_plan_pb2.LaunchPlanSpec(workflow_id=WORKFLOW)
    for name, value in defaults.items():
        parameter = spec.default_inputs.parameters[name]
        parameter.var.type.simple = TYPES[name]  # type: ignore[assignment]
        parameter.default.CopyFrom(_literal(value))
    return spec


def echo_project(client: SynchronousFlyteClient) -> None:
    """Register the project of the module docstring."""
    client.create_task(TASK, _task_spec())
    client.create_workflow(WORKFLOW, _workflow_spec())
    plans: list[tuple[str, str, dict[str, object], bool]] = [
        ("prep", VERSION, {"x": 1, "tag": "prep", "fail": False}, False),
        ("train", VERSION, {"tag": "train", "fail": False}, True),
        ("train_fails", VERSION, {"tag": "train", "fail": False}, True),
        ("nightly", "v1", {"x": 1, "tag": "nightly", "fail": True}, True),
        ("nightly", "v2", {"x": 1, "tag": "nightly", "fail": False}, False),
    ]
    for name, version, defaults, active in plans:
        lp_id = identifier(identifier_pb2.LAUNCH_PLAN, name, version)
        client.create_launch_plan(lp_id, _launch_plan_spec(**defaults))
        if active:
            client.update_launch_plan(lp_id, launch_plan_pb2.ACTIVE)


def activate(client: SynchronousFlyteClient, name: str, version: str) -> None:
    client.update_launch_plan(identifier(identifier_pb2.LAUNCH_PLAN, name, version), launch_plan_pb2.ACTIVE)


def executions(client: SynchronousFlyteClient, launch_plan: str | None = None) -> list[Any]:
    """Every execution in the project, oldest first (optionally of one launch plan)."""
    found = list(client.iter_executions(PROJECT, DOMAIN))
    return [e for e in found if launch_plan is None or e.spec.launch_plan.name == launch_plan]


def phase_name(execution: Any) -> str:
    return str(core_execution_pb2.WorkflowExecution.Phase.Name(execution.closure.phase))


@pytest.fixture
def flyte() -> Iterator[Emulator]:
    """An emulator whose simulated engine runs executions, with the echo project registered."""
    with Emulator(executor="simulate") as emulator:
        with SynchronousFlyteClient(endpoint=emulator.endpoint, insecure=True) as client:
            echo_project(client)
        yield emulator


@pytest.fixture
def connection(flyte: Emulator) -> FlyteAdminConnection:
    return FlyteAdminConnection(endpoint=flyte.endpoint, insecure=True, console_url="http://console.test")


@pytest.fixture
def client(flyte: Emulator) -> Iterator[SynchronousFlyteClient]:
    with SynchronousFlyteClient(endpoint=flyte.endpoint, insecure=True) as admin:
        yield admin
