"""Helpers for the emulator tests: two independent clients behind one call shape, and protobuf builders.

`Caller.call("CreateTask", request)` goes either through raw flyteidl stubs on a plain channel, or through
flytekit's own RawSynchronousFlyteClient (its retrying, exception-wrapping channel). Failures of both are
normalized to `Failure(code, message, details)`, with the error details decoded from
`grpc-status-details-bin`, so one assertion checks what both clients see.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import grpc
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    launch_plan_pb2,
    project_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from flyteidl.service import admin_pb2_grpc
from google.protobuf.message import Message
from google.rpc import status_pb2

PROJECT, DOMAIN = "flytesnacks", "development"
RT = identifier_pb2.ResourceType
_DETAIL_TYPES = {
    "flyteidl.admin.CreateWorkflowFailureReason": workflow_pb2.CreateWorkflowFailureReason,
    "flyteidl.admin.InactiveProject": project_pb2.InactiveProject,
    "flyteidl.admin.EventFailureReason": event_pb2.EventFailureReason,
}


@dataclass
class Failure(Exception):
    code: grpc.StatusCode
    message: str
    details: list[Message] = field(default_factory=list)
    raised: str = ""  # the exception type the client raised (flytekit wraps RpcError in its own types)


# What flytekit's exception-wrapping channel raises per code (flytekit/clients/grpc_utils): a flytekit-path
# failure that arrives as anything else did not go through flytekit's channel.
FLYTEKIT_RAISES = {
    grpc.StatusCode.ALREADY_EXISTS: "FlyteEntityAlreadyExistsException",
    grpc.StatusCode.NOT_FOUND: "FlyteEntityNotExistException",
    grpc.StatusCode.INVALID_ARGUMENT: "FlyteInvalidInputException",
    grpc.StatusCode.UNAVAILABLE: "FlyteSystemUnavailableException",
}


def decode_details(error: grpc.RpcError) -> list[Message]:
    trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    raw = trailers.get("grpc-status-details-bin")
    if raw is None:
        return []
    status = status_pb2.Status.FromString(raw)
    decoded = []
    for packed in status.details:
        message_type = _DETAIL_TYPES[packed.TypeName()]
        decoded.append(message_type.FromString(packed.value))
    return decoded


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Caller:
    """One client kind ("raw" or "flytekit") pointed at an emulator endpoint."""

    def __init__(self, kind: str, endpoint: str) -> None:
        self.kind = kind
        if kind == "raw":
            self._channel = grpc.insecure_channel(endpoint)
            self._stub: Any = admin_pb2_grpc.AdminServiceStub(self._channel)
            self._client: Any = None
        else:
            from flytekit.clients.raw import RawSynchronousFlyteClient
            from flytekit.configuration import PlatformConfig

            self._client = RawSynchronousFlyteClient(PlatformConfig(endpoint=endpoint, insecure=True))
            self._stub = self._client._stub

    def _method(self, rpc: str) -> Any:
        if self._client is not None:
            # flytekit's own method when it has one (ListTasks -> list_tasks_paginated), else its stub.
            for name in (_snake(rpc), _snake(rpc) + "_paginated"):
                if hasattr(self._client, name):
                    return getattr(self._client, name)
        return getattr(self._stub, rpc)

    def call(self, rpc: str, request: Message) -> Any:
        try:
            method = self._method(rpc)
            takes_request = bool(inspect.signature(method).parameters)
            return method(request) if takes_request else method()  # flytekit's get_domains() takes none
        except grpc.RpcError as error:
            raise Failure(
                error.code(), error.details(), decode_details(error), type(error).__name__
            ) from None
        except Exception as error:  # flytekit wraps the RpcError in its own exception types
            cause = error.__cause__
            if isinstance(cause, grpc.RpcError):
                raise Failure(
                    cause.code(), cause.details(), decode_details(cause), type(error).__name__
                ) from None
            raise

    def fails(self, rpc: str, request: Message, code: grpc.StatusCode, message: str = "") -> Failure:
        """Call and require a failure with `code` whose message contains `message`."""
        try:
            self.call(rpc, request)
        except Failure as failure:
            assert failure.code == code, (failure.code, failure.message)
            assert message in failure.message, failure.message
            if self.kind == "flytekit":
                assert failure.raised == FLYTEKIT_RAISES.get(code, "FlyteSystemException"), failure.raised
            return failure
        raise AssertionError(f"{rpc} succeeded; expected {code}")

    def close(self) -> None:
        if self._client is None:
            self._channel.close()


# --- builders ----------------------------------------------------------------------------------------------


def ident(kind: int, name: str, version: str = "v1", project: str = PROJECT, domain: str = DOMAIN) -> Any:
    return identifier_pb2.Identifier(
        resource_type=kind, project=project, domain=domain, name=name, version=version
    )


def simple(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=kind)


def interface(inputs: dict[str, int] | None = None, outputs: dict[str, int] | None = None) -> Any:
    typed = interface_pb2.TypedInterface()
    for name, kind in (inputs or {}).items():
        typed.inputs.variables[name].type.CopyFrom(simple(kind))
    for name, kind in (outputs or {}).items():
        typed.outputs.variables[name].type.CopyFrom(simple(kind))
    return typed


def task_request(
    name: str = "t",
    version: str = "v1",
    *,
    image: str = "img:1",
    inputs: dict[str, int] | None = None,
    outputs: dict[str, int] | None = None,
    args: tuple[str, ...] = ("pyflyte-execute",),
    **ids: str,
) -> task_pb2.TaskCreateRequest:
    template = tasks_pb2.TaskTemplate(
        type="python-task",
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(type=1, version="1.16", flavor="python")
        ),
        interface=interface(inputs, outputs),
        container=tasks_pb2.Container(image=image, args=list(args)),
    )
    return task_pb2.TaskCreateRequest(
        id=ident(RT.TASK, name, version, **ids), spec=task_pb2.TaskSpec(template=template)
    )


def promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def workflow_request(
    name: str = "wf",
    version: str = "v1",
    *,
    task: Any = None,
    nodes: int = 1,
    inputs: dict[str, int] | None = None,
    **ids: str,
) -> workflow_pb2.WorkflowCreateRequest:
    """A workflow of `nodes` task nodes calling `task` (an identifier), passing its input `x` through."""
    task = task if task is not None else ident(RT.TASK, "t")
    template = core_workflow_pb2.WorkflowTemplate(
        id=ident(RT.WORKFLOW, name, version, **ids), interface=interface(inputs)
    )
    for index in range(nodes):
        node = template.nodes.add(id=f"n{index}", task_node=core_workflow_pb2.TaskNode(reference_id=task))
        for var in inputs or {}:
            node.inputs.add(var=var, binding=promise("start-node", var))
    return workflow_pb2.WorkflowCreateRequest(
        id=template.id, spec=workflow_pb2.WorkflowSpec(template=template)
    )


def launch_plan_request(
    name: str = "lp", version: str = "v1", *, workflow: Any = None, **spec_fields: Any
) -> launch_plan_pb2.LaunchPlanCreateRequest:
    workflow = workflow if workflow is not None else ident(RT.WORKFLOW, "wf")
    spec = launch_plan_pb2.LaunchPlanSpec(workflow_id=workflow, **spec_fields)
    return launch_plan_pb2.LaunchPlanCreateRequest(id=ident(RT.LAUNCH_PLAN, name, version), spec=spec)


def register_basic(caller: Caller, version: str = "v1", inputs: dict[str, int] | None = None) -> None:
    """Task `t`, workflow `wf` calling it, launch plan `lp` of the workflow, all at `version`."""
    caller.call("CreateTask", task_request("t", version, inputs=inputs))
    caller.call(
        "CreateWorkflow", workflow_request("wf", version, task=ident(RT.TASK, "t", version), inputs=inputs)
    )
    caller.call(
        "CreateLaunchPlan", launch_plan_request("lp", version, workflow=ident(RT.WORKFLOW, "wf", version))
    )


def list_request(limit: int = 100, **fields: Any) -> common_pb2.ResourceListRequest:
    return common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name=fields.pop("name", "")),
        limit=limit,
        **fields,
    )


# --- the `flyteadmin-ops emulator serve` process ---------------------------------------------------------


def serve(*args: str) -> subprocess.Popen[str]:
    """Start `flyteadmin-ops emulator serve ARGS` as a real subprocess (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "flyteadmin_ops.cli", "emulator", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started(process: subprocess.Popen[str]) -> tuple[str, str]:
    """The endpoint (first line) and the HTTP base URL (second line) a `serve` process printed."""
    assert process.stdout is not None
    endpoint = process.stdout.readline().strip()
    http = process.stdout.readline().strip()
    if not endpoint.startswith("127.0.0.1:"):
        process.kill()
        raise AssertionError(f"serve did not start: {endpoint!r} {process.communicate()[1]}")
    assert http.startswith("http http://"), http
    return endpoint, http.split(" ", 1)[1]
