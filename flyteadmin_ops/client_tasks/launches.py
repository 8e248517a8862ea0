"""Launch tasks named from the Prefect run, so a retried task or flow run finds the execution it launched.

`create_execution`, `relaunch_execution`, `recover_execution` and `launch` given no execution name take one
from `run_names.execution_name_for_run(key, attempt=n)`. The key is the task's name, a digest of the
arguments, and how many identical calls came before it in this flow run attempt (a count that starts again
on every flow run attempt, and that a task retry keeps). So the same call in a retried run computes the
same names, and two different calls (or the same launch made twice on purpose) get different ones.

The names are probed in order, attempt 0, 1, 2, ..., as `flyteadmin_ops.jobs` does for launch plan jobs:
a free name is launched; a queued, running or succeeded execution is re-attached (its id returned, nothing
sent); one that FAILED, was ABORTED or TIMED_OUT is skipped, so a retry can fix a failure. The probe is a
read before the launch, not a launch answered ALREADY_EXISTS: flyteadmin overwrites the stored inputs of
the existing execution before it refuses a duplicate name.

A name the caller gives is used as it is (the client's own rule already makes its resend safe), and outside
a Prefect run the client generates a random name.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from flyteidl.admin import execution_pb2
from flyteidl.core.identifier_pb2 import WorkflowExecutionIdentifier as ExecutionId
from google.protobuf.message import Message
from prefect.context import FlowRunContext, TaskRunContext

from flyteadmin_ops.client import Launched, SynchronousFlyteClient
from flyteadmin_ops.client.coerce import copy_of
from flyteadmin_ops.client_tasks.catalog import ClientOperation
from flyteadmin_ops.errors import FlyteEntityNotExistException
from flyteadmin_ops.jobs import MAX_ATTEMPTS, UNSUCCESSFUL_PHASES, phase_of
from flyteadmin_ops.run_names import execution_name_for_run

Scope = tuple[str, str, str]
"""(project, domain, org) where the new execution will live."""


def launch_once(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> Any:
    """Run a launch operation under a name derived from the Prefect run (module docstring)."""
    method = getattr(client, op.method)
    if _given_name(arguments):
        return method(**arguments)
    scope = _scope(arguments)
    key = call_key(op.name, arguments)
    for attempt in range(MAX_ATTEMPTS):
        name = execution_name_for_run(key, attempt=attempt)
        if name is None:
            return method(**arguments)
        existing = _find(client, scope, name)
        if existing is None:
            result = method(**_with_name(op, arguments, name))
            logger.info("%s: launched %s/%s/%s", op.name, scope[0], scope[1], name)
            return result
        phase = phase_of(existing)
        if phase in UNSUCCESSFUL_PHASES:
            logger.info("%s: %s ended %s; launching attempt %d", op.name, name, phase, attempt + 1)
            continue
        logger.info("%s: re-attached to %s (%s), launched earlier in this run", op.name, name, phase)
        return Launched(existing.id, created=False) if op.returns is Launched else existing.id
    raise RuntimeError(f"{op.name}: {MAX_ATTEMPTS} attempts failed in this run (key {key})")


def call_key(task_name: str, arguments: Mapping[str, Any]) -> str:
    """The task, a digest of what it launches, and how many identical launches came before it in this
    flow run attempt (module docstring)."""
    material = {name: _canonical(value) for name, value in arguments.items() if name != "name"}
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return f"{task_name}#{digest}#{_ordinal(f'{task_name}#{digest}')}"


_COUNTER_PREFIX = "flyteadmin_ops.launch:"
_counter_lock = threading.Lock()


def _ordinal(call: str) -> int:
    """How many task runs of this flow run attempt made the same call before this one (0 outside a flow).

    The count lives in the flow run context's `task_run_dynamic_keys`, Prefect's own per-attempt call
    counter, under keys of our own: a flow run retry starts a new context, so the count starts again at 0
    and the retried flow run computes the same names. It is kept per task run, so a retry of the task run
    keeps its number. (Prefect 3.9 gives each task run a random dynamic key, which would not do.)
    """
    flow_context, task_context = FlowRunContext.get(), TaskRunContext.get()
    if flow_context is None or task_context is None:
        return 0
    counters = flow_context.task_run_dynamic_keys
    mine = f"{_COUNTER_PREFIX}{task_context.task_run.id}:{call}"
    with _counter_lock:  # task runs of one flow run can run on several threads
        if mine not in counters:
            so_far = int(counters.get(_COUNTER_PREFIX + call, 0))
            counters[_COUNTER_PREFIX + call] = so_far + 1
            counters[mine] = so_far
        return int(counters[mine])


def _canonical(value: Any) -> Any:
    """A JSON-able form that is the same in every process (a retried flow run may run elsewhere)."""
    if isinstance(value, Message):
        return [value.DESCRIPTOR.full_name, value.SerializeToString(deterministic=True).hex()]
    if callable(getattr(value, "to_flyte_idl", None)):
        return _canonical(value.to_flyte_idl())
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


LAUNCH_REQUESTS = frozenset(
    message.DESCRIPTOR.full_name
    for message in (
        execution_pb2.ExecutionCreateRequest,
        execution_pb2.ExecutionRelaunchRequest,
        execution_pb2.ExecutionRecoverRequest,
    )
)


def _launch_request(arguments: Mapping[str, Any]) -> tuple[str, Message] | None:
    """The argument that is a whole launch request (`launch(request)`), which carries its own name."""
    for parameter, value in arguments.items():
        if isinstance(value, Message) and value.DESCRIPTOR.full_name in LAUNCH_REQUESTS:
            return parameter, value
    return None


def _given_name(arguments: Mapping[str, Any]) -> bool:
    request = _launch_request(arguments)
    if request is not None:
        return bool(getattr(request[1], "name", ""))
    return bool(arguments.get("name"))


def _with_name(op: ClientOperation, arguments: dict[str, Any], name: str) -> dict[str, Any]:
    request = _launch_request(arguments)
    if request is not None:
        parameter, message = request
        named = copy_of(message)
        setattr(named, "name", name)  # noqa: B010 - every launch request has `name`
        return {**arguments, parameter: named}
    if "name" not in op.signature.parameters:
        raise TypeError(f"{op.name}: found neither a `name` parameter nor a launch request to name")
    return {**arguments, "name": name}


def _scope(arguments: Mapping[str, Any]) -> Scope:
    """Where the execution will live: the arguments' project and domain, or those of the first message
    that has them (an execution id to relaunch, a launch request, a launch plan id)."""
    if arguments.get("project") and arguments.get("domain"):
        return str(arguments["project"]), str(arguments["domain"]), str(arguments.get("org") or "")
    for value in arguments.values():
        scope = _scope_of(value)
        if scope is not None:
            return scope
    raise TypeError("cannot tell the project and domain of this launch from its arguments")


def _scope_of(value: Any) -> Scope | None:
    if callable(getattr(value, "to_flyte_idl", None)):
        value = value.to_flyte_idl()
    if not isinstance(value, Message):
        return None
    wanted = ("project", "domain", "org", "id")
    fields: dict[str, Any] = {
        field.name: getattr(value, field.name) for field in value.DESCRIPTOR.fields if field.name in wanted
    }
    if fields.get("project") and "domain" in fields:
        return fields["project"], fields["domain"], fields.get("org", "")
    if "id" in fields and value.HasField("id"):
        return _scope_of(fields["id"])
    return None


def _find(client: SynchronousFlyteClient, scope: Scope, name: str) -> execution_pb2.Execution | None:
    project, domain, org = scope
    try:
        return client.get_execution(ExecutionId(project=project, domain=domain, name=name, org=org))
    except FlyteEntityNotExistException:
        return None
