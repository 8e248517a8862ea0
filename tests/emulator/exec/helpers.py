"""Builders and call helpers for the execution-side emulator tests (raw flyteidl stubs, none of our client).

`register(admin)` puts a small but real pipeline into an emulator through the public RPCs: a task `t.double`
(x: int -> o0: int), a workflow `wf.pipeline` of two task nodes (n0 feeds n1) with inputs x: int,
fail: bool, tag: str and output result: int, and launch plans over it: `lp.pipeline` (x defaults to 3),
`lp.pipeline_fails` (the simulate executor's name rule), `lp.fixed` (x fixed to 5) and `lp.required` (x
unbound, so required).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc
from google.protobuf import symbol_database
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import status_pb2

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
RT = identifier_pb2.ResourceType
INT, BOOL, STR = types_pb2.SimpleType.INTEGER, types_pb2.SimpleType.BOOLEAN, types_pb2.SimpleType.STRING


class Clock:
    """An injectable clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def stamp(clock: Clock) -> Timestamp:
    """The clock's current time as a protobuf Timestamp (event `occurred_at`)."""
    moment = Timestamp()
    moment.FromDatetime(clock())
    return moment


@dataclass
class Stubs:
    admin: Any
    data: Any
    signals: Any


def stubs(channel: grpc.Channel) -> Stubs:
    return Stubs(
        admin_pb2_grpc.AdminServiceStub(channel),
        dataproxy_pb2_grpc.DataProxyServiceStub(channel),
        signal_pb2_grpc.SignalServiceStub(channel),
    )


@dataclass
class Refusal:
    """What a failed call told the client: code, message and the decoded `grpc-status-details-bin`."""

    code: grpc.StatusCode
    message: str
    details: list[Message]


def refusal(call: Callable[[Any], Any], request: Message) -> Refusal:
    """Make the call, require it to fail, and decode every detail through the protobuf symbol database."""
    try:
        call(request)
    except grpc.RpcError as error:
        trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
        details: list[Message] = []
        raw = trailers.get("grpc-status-details-bin")
        if raw:
            for packed in status_pb2.Status.FromString(raw).details:
                detail_type = symbol_database.Default().GetSymbol(packed.TypeName())
                details.append(detail_type.FromString(packed.value))
        return Refusal(error.code(), error.details() or "", details)  # type: ignore[attr-defined]
    raise AssertionError(f"{request.DESCRIPTOR.name} succeeded; a refusal was expected")


# --- literals ----------------------------------------------------------------------------------------------


def lit(value: object) -> literals_pb2.Literal:
    primitive = literals_pb2.Primitive()
    if isinstance(value, bool):
        primitive.boolean = value
    elif isinstance(value, int):
        primitive.integer = value
    elif isinstance(value, float):
        primitive.float_value = value
    else:
        primitive.string_value = str(value)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def literal_map(**values: object) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={name: lit(value) for name, value in values.items()})


def plain(literals: literals_pb2.LiteralMap) -> dict[str, object]:
    """A LiteralMap of primitives as a dict, for readable assertions."""
    out: dict[str, object] = {}
    for name, literal in literals.literals.items():
        primitive = literal.scalar.primitive
        kind = primitive.WhichOneof("value")
        out[name] = getattr(primitive, kind) if kind else literal
    return out


# --- entities ----------------------------------------------------------------------------------------------


def ident(kind: int, name: str, version: str = VERSION) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=kind, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def exec_id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)


def _variables(target: interface_pb2.VariableMap, **types: int) -> None:
    for name, simple in types.items():
        target.variables[name].type.simple = simple  # type: ignore[assignment]


TASK = ident(RT.TASK, "t.double")
WORKFLOW = ident(RT.WORKFLOW, "wf.pipeline")
LP = ident(RT.LAUNCH_PLAN, "lp.pipeline")
LP_FAILS = ident(RT.LAUNCH_PLAN, "lp.pipeline_fails")
LP_FIXED = ident(RT.LAUNCH_PLAN, "lp.fixed")
LP_REQUIRED = ident(RT.LAUNCH_PLAN, "lp.required")


def task_request(name: str = TASK.name) -> task_pb2.TaskCreateRequest:
    """A python task (x: int -> o0: int) named `name`."""
    identifier = ident(RT.TASK, name)
    template = tasks_pb2.TaskTemplate(
        id=identifier,
        type="python-task",
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version="1.16.31")
        ),
        container=tasks_pb2.Container(
            image="ghcr.io/example/app:1", args=["pyflyte-execute", "--inputs", "{{.input}}"]
        ),
    )
    _variables(template.interface.inputs, x=INT)
    _variables(template.interface.outputs, o0=INT)
    return task_pb2.TaskCreateRequest(id=identifier, spec=task_pb2.TaskSpec(template=template))


def _workflow() -> workflow_pb2.WorkflowCreateRequest:
    template = core_workflow_pb2.WorkflowTemplate(id=WORKFLOW, metadata=core_workflow_pb2.WorkflowMetadata())
    _variables(template.interface.inputs, x=INT, fail=BOOL, tag=STR)
    _variables(template.interface.outputs, result=INT)
    first = template.nodes.add(id="n0", task_node=core_workflow_pb2.TaskNode(reference_id=TASK))
    first.inputs.add(var="x", binding=_promise("start-node", "x"))
    second = template.nodes.add(id="n1", task_node=core_workflow_pb2.TaskNode(reference_id=TASK))
    second.upstream_node_ids.append("n0")
    second.inputs.add(var="x", binding=_promise("n0", "o0"))
    template.outputs.add(var="result", binding=_promise("n1", "o0"))
    return workflow_pb2.WorkflowCreateRequest(id=WORKFLOW, spec=workflow_pb2.WorkflowSpec(template=template))


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def launch_plan_request(
    identifier: identifier_pb2.Identifier, fixed_x: int | None = None, default_x: bool = True
) -> Any:
    """Defaults fail=False, tag="none", x=3; or x fixed; or x unbound (the server makes it required)."""
    spec = launch_plan_pb2.LaunchPlanSpec(workflow_id=WORKFLOW)
    defaults: dict[str, object] = {"fail": False, "tag": "none"}
    if fixed_x is not None:
        spec.fixed_inputs.literals["x"].CopyFrom(lit(fixed_x))
    elif default_x:
        defaults["x"] = 3
    for name, value in defaults.items():
        parameter = spec.default_inputs.parameters[name]
        parameter.var.type.simple = {bool: BOOL, int: INT, str: STR}[type(value)]  # type: ignore[assignment]
        parameter.default.CopyFrom(lit(value))
    return launch_plan_pb2.LaunchPlanCreateRequest(id=identifier, spec=spec)


def register(admin: Any) -> None:
    """Register the task, the workflow and the three launch plans through the public RPCs."""
    admin.CreateTask(task_request())
    admin.CreateWorkflow(_workflow())
    for identifier in (LP, LP_FAILS):
        admin.CreateLaunchPlan(launch_plan_request(identifier))
    admin.CreateLaunchPlan(launch_plan_request(LP_FIXED, fixed_x=5))
    admin.CreateLaunchPlan(launch_plan_request(LP_REQUIRED, default_x=False))


def create_request(
    name: str = "", launch_plan: identifier_pb2.Identifier = LP, **inputs: object
) -> execution_pb2.ExecutionCreateRequest:
    return execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=launch_plan),
        inputs=literal_map(**inputs),
    )


def list_request(limit: int = 100, **fields: Any) -> common_pb2.ResourceListRequest:
    return common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=limit, **fields
    )
