"""The friendly operations both clients share, written once and free of I/O.

Each operation is a generator: it builds requests, yields each as a `Call`, receives the response (or has
the error thrown in at the `yield`), and returns the result. `synchronous(op)` and `asynchronous(op)` turn
it into a method of `SynchronousFlyteClient` and of `AsyncFlyteClient` that drive it with blocking or awaited
raw calls. So the request building, the launch rule (always named; an ALREADY_EXISTS of our own launch is
its id) and the result shaping cannot drift between the two clients.

An operation that only fills in a shared helper's arguments returns the helper's generator (`return
list_request(...)`, `return _create(...)`) rather than delegating with `yield from`: one generator fewer to
resume on every list and create call.

The first parameter of an operation is the client (`self` of the generated method); operations read only
`settings` and `cache` from it.
"""

from __future__ import annotations

import datetime
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable, Mapping
from typing import Any, Concatenate, Generic, NamedTuple, ParamSpec, TypeAlias, TypeVar, overload

import grpc
from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    node_execution_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    project_pb2,
    signal_pb2,
    task_execution_pb2,
    task_pb2,
    version_pb2,
    workflow_attributes_pb2,
    workflow_pb2,
)
from flyteidl.admin.common_pb2 import NamedEntityIdentifier
from flyteidl.core import identifier_pb2, literals_pb2, metrics_pb2, types_pb2
from flyteidl.core.identifier_pb2 import Identifier
from flyteidl.core.identifier_pb2 import NodeExecutionIdentifier as NodeExecutionId
from flyteidl.core.identifier_pb2 import TaskExecutionIdentifier as TaskExecutionId
from flyteidl.core.identifier_pb2 import WorkflowExecutionIdentifier as ExecutionId
from flyteidl.event import event_pb2 as events
from flyteidl.service import dataproxy_pb2
from google.protobuf.message import Message

from flyteadmin_ops.client import execution_names
from flyteadmin_ops.client.coerce import duration, optional_idl, to_idl
from flyteadmin_ops.client.filters import render_filters
from flyteadmin_ops.client.paging import page_of
from flyteadmin_ops.client.rpcs import rpc
from flyteadmin_ops.client.sorting import as_sort
from flyteadmin_ops.errors import FlyteEntityAlreadyExistsException, FlyteEntityNotExistException
from flyteadmin_ops.transport import RpcSpec

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=Message)
Page = tuple[list[Any], str]
_MODES = execution_pb2.ExecutionMetadata.ExecutionMode


class Call(NamedTuple):
    """One raw call an operation asks for: the RPC's spec and its request. With `cache_key`, a client that
    has an entity cache may answer from it. (A tuple: one is made per call, on the fast path.)

    The request is complete as it stands (the operation built the RPC's own protobuf, and a launch carries
    its name already), so a client may hand it to its transport with `spec` directly.
    """

    spec: RpcSpec
    request: Message
    cache_key: Hashable | None = None


Steps = Generator[Call, Any, T]
Operation = Callable[Concatenate[Any, P], Steps[T]]


class Launched(NamedTuple):
    """The outcome of `launch`: the execution's id, and False when it already existed (our own earlier
    attempt, or an identical launch under the same name)."""

    id: ExecutionId
    created: bool


# ------------------------------------------------------------------------------------------------ drivers

S = TypeVar("S")
R = TypeVar("R")


def drive(steps: Generator[S, Any, T], perform: Callable[[S], R]) -> T:
    """Run steps with blocking calls: each step yielded goes to `perform`, its answer is sent back in, and
    every error is thrown back in at the `yield` (so the steps' `except`/`finally` run). Also the driver of
    the Prefect jobs' steps (`flyteadmin_ops.jobs`), whose steps are client calls and pauses."""
    try:
        step = next(steps)
        while True:
            try:
                answer = perform(step)
            except Exception as error:
                step = steps.throw(error)
            else:
                step = steps.send(answer)
    except StopIteration as done:
        return done.value


async def drive_async(steps: Generator[S, Any, T], perform: Callable[[S], Awaitable[R]]) -> T:
    """`drive` with awaited calls."""
    try:
        step = next(steps)
        while True:
            try:
                answer = await perform(step)
            except Exception as error:
                step = steps.throw(error)
            else:
                step = steps.send(answer)
    except StopIteration as done:
        return done.value


class Method(Generic[P, T]):
    """A client method made from an operation. At run time it is the plain function (so `inspect`,
    `help()` and flytekit-compatibility checks see a function with the operation's signature); for type
    checkers it is a descriptor whose bound form has the operation's parameters minus the client."""

    def __init__(self, op: Callable[..., Any], function: Callable[..., Any]) -> None:
        functools.update_wrapper(function, op, assigned=("__module__", "__name__", "__qualname__", "__doc__"))
        del function.__wrapped__  # type: ignore[attr-defined]
        signature = inspect.signature(op)
        params = list(signature.parameters.values())
        function.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[params[0].replace(name="self", annotation=inspect.Parameter.empty), *params[1:]],
            return_annotation=inspect.Signature.empty,
        )
        self._function = function

    def __set_name__(self, owner: type, name: str) -> None:
        self._function.__qualname__ = f"{owner.__name__}.{name}"
        setattr(owner, name, self._function)  # from here on, a plain function in the class

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Callable[Concatenate[Any, P], T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, T]: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Callable[..., Any]:
        return self._function.__get__(obj, owner)


def synchronous(op: Operation[P, T]) -> Method[P, T]:
    """A blocking method running `op` through `drive`; its client must have `_perform(call) -> response`."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return drive(op(self, *args, **kwargs), self._perform)

    return Method(op, method)


def asynchronous(op: Operation[P, T]) -> Method[P, Coroutine[Any, Any, T]]:
    """A coroutine method running `op`; its client must have `async _perform(call) -> response`."""

    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await drive_async(op(self, *args, **kwargs), self._perform)

    return Method(op, method)


# ----------------------------------------------------------------------------------------------- plumbing


def _send(rpc_name: str, request: Message, cache_key: Hashable | None = None) -> Steps[Any]:
    return (yield Call(rpc(rpc_name).spec, request, cache_key))


def _with_fields(rpc_name: str, **fields: Any) -> Steps[Any]:
    """Send `rpc_name`'s request made of `fields` (for requests that are just a few scalars)."""
    return (yield from _send(rpc_name, rpc(rpc_name).spec.request_type(**fields)))


def list_request(
    client: Any,
    rpc_name: str,
    limit: int | None,
    token: str | None,
    filters: Any = None,
    sort_by: Any = None,
    **fields: Any,
) -> Steps[Page]:
    """`rpc_name`'s list request from the common paging arguments plus `fields`; `(items, next_token)`.

    `*_paginated` keep flytekit's `limit=100` default; an explicit None (which would reach flyteadmin as
    limit 0, an error) means the settings' page_size, which the iterators use too.
    """
    limit = client.settings.page_size if limit is None else limit
    entry = rpc(rpc_name)
    request: Any = entry.spec.request_type(limit=limit, token=token or "", **fields)
    if filters is not None:
        request.filters = render_filters(filters)
    if sort_by is not None:
        request.sort_by.CopyFrom(as_sort(sort_by))
    # The Call is yielded here, not through `_send`: every page of every list passes, one generator fewer.
    return page_of((yield Call(entry.spec, request)))


def _named(
    rpc_name: str, op: Callable[..., Any], doc: str, annotations: dict[str, Any] | None = None
) -> None:
    op.__name__ = op.__qualname__ = rpc(rpc_name).python_name
    op.__doc__ = doc
    op.__annotations__.update(annotations or {})


# ------------------------------------------------------------------------- tasks, workflows, launch plans
# The three kinds share flytekit's method shapes; the listing and getting operations are made once by the
# factories below. The creates share `_create`, but stay written out: flytekit spells their parameters
# differently.


def _create(
    rpc_name: str,
    request_type: type[Any],
    spec_type: type[Message],
    ident: Any,
    spec: Any,
    names: tuple[str, str],
) -> Steps[None]:
    """Register one version; `names` are the caller's parameter names, for the errors of bad arguments."""
    request = request_type(id=to_idl(ident, Identifier, names[0]), spec=to_idl(spec, spec_type, names[1]))
    yield from _send(rpc_name, request)


def create_task(client: Any, task_identifer: Any, task_spec: Any) -> Steps[None]:
    """Register a task version. (`task_identifer` keeps flytekit's spelling for keyword callers.)"""
    names = ("task_identifer", "task_spec")
    return _create(
        "CreateTask", task_pb2.TaskCreateRequest, task_pb2.TaskSpec, task_identifer, task_spec, names
    )


def create_workflow(client: Any, workflow_identifier: Any, workflow_spec: Any) -> Steps[None]:
    names = ("workflow_identifier", "workflow_spec")
    request_type, spec_type = workflow_pb2.WorkflowCreateRequest, workflow_pb2.WorkflowSpec
    return _create("CreateWorkflow", request_type, spec_type, workflow_identifier, workflow_spec, names)


def create_launch_plan(client: Any, launch_plan_identifer: Any, launch_plan_spec: Any) -> Steps[None]:
    """Register a launch plan version. (`launch_plan_identifer` keeps flytekit's spelling.)"""
    names = ("launch_plan_identifer", "launch_plan_spec")
    request_type, spec_type = launch_plan_pb2.LaunchPlanCreateRequest, launch_plan_pb2.LaunchPlanSpec
    return _create(
        "CreateLaunchPlan", request_type, spec_type, launch_plan_identifer, launch_plan_spec, names
    )


def _cached_getter(rpc_name: str, resource_type: int, result: type[M]) -> Callable[[Any, Any], Steps[M]]:
    """`get_task`-style operation: one version by id, through the client's entity cache if it has one."""

    spec = rpc(rpc_name).spec

    def get(client: Any, id: Any) -> Steps[M]:
        ident = to_idl(id, Identifier, "id")
        if not ident.resource_type:
            ident = Identifier(resource_type=resource_type, **_identifier_fields(ident))
        # `_send` written out: a get is the commonest call there is, and a generator less is per-call time
        response: M = yield Call(spec, common_pb2.ObjectGetRequest(id=ident), _cache_key(ident))
        return response

    _named(rpc_name, get, f"{rpc_name}, cached per client (a hit is a copy); `id` may lack its type.")
    get.__annotations__["return"] = result  # what help() and IDEs show, instead of the TypeVar
    return get


def _project_domain_lister(rpc_name: str) -> Callable[..., Steps[Page]]:
    """flytekit's `list_*_ids_paginated(project, domain, limit, token, sort_by)` shape."""

    def paginated(
        client: Any,
        project: str,
        domain: str,
        limit: int = 100,
        token: str | None = None,
        sort_by: Any = None,
    ) -> Steps[Page]:
        return list_request(client, rpc_name, limit, token, sort_by=sort_by, project=project, domain=domain)

    _named(rpc_name, paginated, f"{rpc_name} in one project and domain: `(items, next_token)`.")
    return paginated


class Scope(NamedTuple):
    """One leading parameter of a listing operation: what it is called, the request field it fills, and
    the protobuf it is coerced to (None: passed as given)."""

    parameter: str
    field: str
    idl: type[Message] | None = None
    annotation: str = "Any"


_PAGING = [
    inspect.Parameter("limit", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=100, annotation="int"),
    inspect.Parameter(
        "token", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation="str | None"
    ),
    inspect.Parameter("filters", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation="Any"),
    inspect.Parameter("sort_by", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation="Any"),
]


def _lister(rpc_name: str, doc: str, *scope: Scope) -> Callable[..., Steps[Page]]:
    """flytekit's `list_*_paginated(<scope...>, limit=100, token=None, filters=None, sort_by=None)` shape.

    The lists differ only in their leading parameters (flytekit's names) and the request fields those fill,
    so one function serves them all, with the signature flytekit's callers (and `inspect`) expect.
    """
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(s.parameter, positional, annotation=s.annotation) for s in scope]
    signature = inspect.Signature(
        [inspect.Parameter("client", positional, annotation="Any"), *params, *_PAGING],
        return_annotation="Steps[Page]",
    )

    def paginated(client: Any, *args: Any, **kwargs: Any) -> Steps[Page]:
        bound = signature.bind(client, *args, **kwargs)
        bound.apply_defaults()
        given = bound.arguments
        fields: dict[str, Any] = {
            s.field: given[s.parameter] if s.idl is None else to_idl(given[s.parameter], s.idl, s.parameter)
            for s in scope
        }
        limit, token, filters, sort_by = (given[p.name] for p in _PAGING)
        return list_request(client, rpc_name, limit, token, filters, sort_by, **fields)

    paginated.__signature__ = signature  # type: ignore[attr-defined]
    _named(rpc_name, paginated, f"{rpc_name}: {doc}, `(items, next_token)`.")
    return paginated


_ONE_NAME = Scope("identifier", "id", NamedEntityIdentifier)
_RESOURCE_TYPE = Scope("resource_type", "resource_type", annotation="int")
_NODE_EXECUTION = Scope("node_execution_identifier", "node_execution_id", NodeExecutionId)
_TASK_EXECUTION = Scope("task_execution_identifier", "task_execution_id", TaskExecutionId)
_EXECUTION = Scope("workflow_execution_identifier", "workflow_execution_id", ExecutionId)


get_task = _cached_getter("GetTask", identifier_pb2.TASK, task_pb2.Task)
get_workflow = _cached_getter("GetWorkflow", identifier_pb2.WORKFLOW, workflow_pb2.Workflow)
get_launch_plan = _cached_getter("GetLaunchPlan", identifier_pb2.LAUNCH_PLAN, launch_plan_pb2.LaunchPlan)

list_task_ids_paginated = _project_domain_lister("ListTaskIds")
list_workflow_ids_paginated = _project_domain_lister("ListWorkflowIds")
list_launch_plan_ids_paginated = _project_domain_lister("ListLaunchPlanIds")
list_active_launch_plans_paginated = _project_domain_lister("ListActiveLaunchPlans")

list_tasks_paginated = _lister("ListTasks", "versions of one name", _ONE_NAME)
list_workflows_paginated = _lister("ListWorkflows", "versions of one name", _ONE_NAME)
list_launch_plans_paginated = _lister("ListLaunchPlans", "versions of one name", _ONE_NAME)


def get_active_launch_plan(client: Any, identifier: Any) -> Steps[launch_plan_pb2.LaunchPlan]:
    """The ACTIVE version of a launch plan name. Never cached: activation is exactly what changes."""
    return (
        yield from _send(
            "GetActiveLaunchPlan",
            launch_plan_pb2.ActiveLaunchPlanRequest(
                id=to_idl(identifier, NamedEntityIdentifier, "identifier")
            ),
        )
    )


def update_launch_plan(client: Any, id: Any, state: int) -> Steps[None]:
    """Set a launch plan version ACTIVE or INACTIVE.

    Activating one version deactivates the previously active version of the same name, so every cached
    version of that name is dropped, not only `id`.
    """
    ident = to_idl(id, Identifier, "id")
    try:
        yield from _send("UpdateLaunchPlan", launch_plan_pb2.LaunchPlanUpdateRequest(id=ident, state=state))
    finally:  # even a failed update may have been applied before the answer was lost
        if client.cache is not None:
            named = (ident.project, ident.domain, ident.name, ident.org)
            client.cache.invalidate(lambda key: _is_launch_plan_named(key, named))


# --------------------------------------------------------------------------------------------- executions


def launch(
    client: Any,
    target: Any,
    inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
    *,
    name: str | None = None,
    spec: Any = None,
) -> Steps[Launched]:
    """Launch an execution, safely, from a launch plan or a task with Python inputs, or from a request.

    `target` is one of:
    - a launch plan: its Identifier (an empty version means the active version, and when none is active,
      the newest), or the LaunchPlan as get_launch_plan returns it (this saves the lookup);
    - a task: its Identifier with resource type TASK (empty version: the newest), or the Task;
    - an ExecutionCreateRequest, ExecutionRelaunchRequest or ExecutionRecoverRequest, sent as it is
      (then `inputs`, `name` and `spec` must be None).
    `inputs` are Python values (or Literals, or a LiteralMap), converted with the entity's interface by
    `client.values`; a missing, unknown, fixed or wrongly typed input raises InputValueError before the
    launch is sent. The execution goes into the entity's project and domain, named `name` (generated when
    None). `spec` (an ExecutionSpec) carries everything else (labels, annotations, security context,
    overwrite_cache, ...); its launch plan is set from the target.

    A request without a name gets a generated one first, so the transport's resend after UNAVAILABLE
    cannot start a second execution. If the server answers ALREADY_EXISTS, the execution under that name
    is fetched: when it is the launch we asked for (same launch plan, or the same reference execution
    and mode for relaunch/recover) -- e.g. our first attempt was committed but its answer lost -- the
    result is its id with `created=False`; otherwise (a different execution holds the name, or the
    ALREADY_EXISTS meant a concurrency limit) the error is raised.
    """
    if not isinstance(target, Message) and callable(getattr(target, "to_flyte_idl", None)):
        target = target.to_flyte_idl()  # a flytekit model
    if isinstance(target, Message) and type(target).DESCRIPTOR.full_name in _LAUNCH_RPCS:
        if inputs is not None or name is not None or spec is not None:
            raise TypeError(
                "launch: inputs, name and spec go into the request itself when a request is given"
            )
        return (yield from _send_launch(client, target))
    entity = yield from resolve_launchable(client, target)
    request = _create_request(entity, inputs, name, spec)
    return (yield from _send_launch(client, request))


def _send_launch(client: Any, request: Message) -> Steps[Launched]:
    entry = _LAUNCH_RPCS[type(request).DESCRIPTOR.full_name]
    named = execution_names.ensure_named(request, entry.label)
    return (yield from _launch_named(client, entry.spec, named))


def _launch_named(client: Any, spec: RpcSpec, request: Message) -> Steps[Launched]:
    """The launch rule, once the request carries its name: an ALREADY_EXISTS for the very launch it
    describes (our own earlier attempt, whose answer was lost) is that execution, not created now."""
    try:
        response = yield Call(spec, request)
    except FlyteEntityAlreadyExistsException:
        existing = yield from _existing_launch(client, request)
        if existing is None:
            raise
        return Launched(existing.id, created=False)
    return Launched(response.id, created=True)


Launchable: TypeAlias = launch_plan_pb2.LaunchPlan | task_pb2.Task
_NEWEST_FIRST = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.Direction.DESCENDING)


def resolve_launchable(client: Any, target: Any) -> Steps[Launchable]:
    """The launch plan or task a launch target names, fetched when only its identifier is given.

    The rule `launch` and the Prefect jobs share: an Identifier with a version names that version; without
    one, a launch plan's active version, else (none active) its newest; a task's newest version.
    """
    if isinstance(target, (launch_plan_pb2.LaunchPlan, task_pb2.Task)):
        return target
    if not isinstance(target, Identifier):
        raise TypeError(
            "launch: expected a launch plan or task (or its Identifier), or an ExecutionCreateRequest, "
            f"ExecutionRelaunchRequest or ExecutionRecoverRequest, got {type(target).__name__}"
        )
    is_task = target.resource_type == identifier_pb2.TASK
    if target.version:
        return (yield from (get_task if is_task else get_launch_plan)(client, target))
    named = NamedEntityIdentifier(
        project=target.project, domain=target.domain, name=target.name, org=target.org
    )
    if not is_task:
        try:
            return (yield from get_active_launch_plan(client, named))
        except FlyteEntityNotExistException:
            pass
    lister = list_tasks_paginated if is_task else list_launch_plans_paginated
    newest, _ = yield from lister(client, named, limit=1, sort_by=_NEWEST_FIRST)
    if not newest:
        kind = "task" if is_task else "launch plan"
        raise FlyteEntityNotExistException(
            "launch",
            grpc.StatusCode.NOT_FOUND,
            f"no {kind} {target.project}/{target.domain}/{target.name} is registered (found by the client)",
        )
    found: Launchable = newest[0]
    return found


def _create_request(
    entity: Launchable, inputs: Any, name: str | None, spec: Any
) -> execution_pb2.ExecutionCreateRequest:
    """The CreateExecution request for `entity`, with `inputs` converted and checked by its interface."""
    from flyteadmin_ops.client import values  # the literal conversions: only launches need them

    given = {} if inputs is None else inputs
    if isinstance(entity, launch_plan_pb2.LaunchPlan):
        literal_inputs = values.inputs_for_launch_plan(entity, given)
    else:
        literal_inputs = values.inputs_for_task(entity, given)
    execution_spec = execution_pb2.ExecutionSpec()
    if spec is not None:
        execution_spec.CopyFrom(to_idl(spec, execution_pb2.ExecutionSpec, "spec"))
    execution_spec.launch_plan.CopyFrom(entity.id)
    return execution_pb2.ExecutionCreateRequest(
        project=entity.id.project,
        domain=entity.id.domain,
        org=entity.id.org,
        name=name or "",
        spec=execution_spec,
        inputs=literal_inputs,
    )


def _existing_launch(client: Any, request: Any) -> Steps[execution_pb2.Execution | None]:
    """The execution under the request's name if it is the one the request describes, else None."""
    if isinstance(request, execution_pb2.ExecutionCreateRequest):
        project, domain, org = request.project, request.domain, request.org
    else:
        project, domain, org = request.id.project, request.id.domain, request.id.org
    ident = ExecutionId(project=project, domain=domain, name=request.name, org=org)
    try:
        existing = yield from get_execution(client, ident)
    except FlyteEntityNotExistException:
        return None
    if isinstance(request, execution_pb2.ExecutionCreateRequest):
        same = _same_launch_target(existing.spec.launch_plan, request.spec.launch_plan)
    else:
        mode = (
            _MODES.RELAUNCH
            if isinstance(request, execution_pb2.ExecutionRelaunchRequest)
            else _MODES.RECOVERED
        )
        metadata = existing.spec.metadata
        same = metadata.mode == mode and _same_entity(metadata.reference_execution, request.id)
    return existing if same else None


def create_execution(
    client: Any,
    project: str,
    domain: str,
    name: str | None,
    execution_spec: Any,
    inputs: Any = None,
    *,
    org: str = "",
) -> Steps[ExecutionId]:
    """Launch an execution and return its id; `name=None` (or "") generates one (see `launch`).

    What `launch` does with a request (`_send_launch`), with less on the way because it is a hot path:
    protobuf arguments are taken as they are without a `to_idl` call, and the request is built here, so a
    generated name is set on it directly (the caller never sees this message: no copy is needed). The
    launch rule itself is `_launch_named`, shared with `launch`.
    """
    if not isinstance(execution_spec, execution_pb2.ExecutionSpec):
        execution_spec = to_idl(execution_spec, execution_pb2.ExecutionSpec, "execution_spec")
    if inputs is not None and not isinstance(inputs, literals_pb2.LiteralMap):
        inputs = to_idl(inputs, literals_pb2.LiteralMap, "inputs")
    request = execution_pb2.ExecutionCreateRequest(
        project=project, domain=domain, name=name or "", org=org, spec=execution_spec, inputs=inputs
    )
    if name:
        execution_names.check(name, _CREATE_EXECUTION_LABEL)
    else:
        request.name = execution_names.generate()
    return (yield from _launch_named(client, _CREATE_EXECUTION_SPEC, request)).id


_CREATE_EXECUTION_SPEC = rpc("CreateExecution").spec
_CREATE_EXECUTION_LABEL = rpc("CreateExecution").label
"""create_execution's `Call` spec and the RPC's label for a rejected name, looked up once."""


def relaunch_execution(
    client: Any, id: Any, name: str | None = None, *, overwrite_cache: bool = False
) -> Steps[ExecutionId]:
    request = execution_pb2.ExecutionRelaunchRequest(
        id=to_idl(id, ExecutionId, "id"), name=name or "", overwrite_cache=overwrite_cache
    )
    return (yield from _send_launch(client, request)).id  # what `launch` does with a request


def recover_execution(
    client: Any, id: Any, name: str | None = None, *, metadata: Any = None
) -> Steps[ExecutionId]:
    request = execution_pb2.ExecutionRecoverRequest(
        id=to_idl(id, ExecutionId, "id"),
        name=name or "",
        metadata=optional_idl(metadata, execution_pb2.ExecutionMetadata, "metadata"),
    )
    return (yield from _send_launch(client, request)).id  # what `launch` does with a request


def get_execution(client: Any, id: Any) -> Steps[execution_pb2.Execution]:
    request = execution_pb2.WorkflowExecutionGetRequest(id=to_idl(id, ExecutionId, "id"))
    return (yield from _send("GetExecution", request))


def get_execution_data(client: Any, id: Any) -> Steps[execution_pb2.WorkflowExecutionGetDataResponse]:
    request = execution_pb2.WorkflowExecutionGetDataRequest(id=to_idl(id, ExecutionId, "id"))
    return (yield from _send("GetExecutionData", request))


def list_executions_paginated(
    client: Any,
    project: str,
    domain: str,
    limit: int = 100,
    token: str | None = None,
    filters: Any = None,
    sort_by: Any = None,
) -> Steps[Page]:
    """Executions of a project/domain; flyteadmin hides archived ones unless a filter names `state`."""
    named = NamedEntityIdentifier(project=project, domain=domain)
    return list_request(client, "ListExecutions", limit, token, filters, sort_by, id=named)


def terminate_execution(client: Any, id: Any, cause: str) -> Steps[None]:
    request = execution_pb2.ExecutionTerminateRequest(id=to_idl(id, ExecutionId, "id"), cause=cause)
    yield from _send("TerminateExecution", request)


def list_node_executions(
    client: Any,
    workflow_execution_identifier: Any,
    limit: int = 100,
    token: str | None = None,
    filters: Any = None,
    sort_by: Any = None,
    unique_parent_id: str | None = None,
) -> Steps[Page]:
    execution = to_idl(workflow_execution_identifier, ExecutionId, "workflow_execution_identifier")
    return list_request(
        client,
        "ListNodeExecutions",
        limit,
        token,
        filters,
        sort_by,
        workflow_execution_id=execution,
        unique_parent_id=unique_parent_id or "",
    )


def update_execution(client: Any, id: Any, state: int) -> Steps[None]:
    """Archive (EXECUTION_ARCHIVED) or un-archive (EXECUTION_ACTIVE) an execution."""
    yield from _with_fields("UpdateExecution", id=to_idl(id, ExecutionId, "id"), state=state)


def get_execution_metrics(client: Any, id: Any, depth: int = 10) -> Steps[metrics_pb2.Span]:
    """The execution's span tree (the response's `span`, as flytekit returns)."""
    response = yield from _with_fields("GetExecutionMetrics", id=to_idl(id, ExecutionId, "id"), depth=depth)
    return response.span


# -------------------------------------------------------------------------- node and task executions


def _node_execution(ident: Any) -> NodeExecutionId:
    return to_idl(ident, NodeExecutionId, "node_execution_identifier")


def get_node_execution(
    client: Any, node_execution_identifier: Any
) -> Steps[node_execution_pb2.NodeExecution]:
    return (yield from _with_fields("GetNodeExecution", id=_node_execution(node_execution_identifier)))


def get_node_execution_data(
    client: Any, node_execution_identifier: Any
) -> Steps[node_execution_pb2.NodeExecutionGetDataResponse]:
    return (yield from _with_fields("GetNodeExecutionData", id=_node_execution(node_execution_identifier)))


def get_dynamic_node_workflow(
    client: Any, node_execution_identifier: Any
) -> Steps[node_execution_pb2.DynamicNodeWorkflowResponse]:
    return (yield from _with_fields("GetDynamicNodeWorkflow", id=_node_execution(node_execution_identifier)))


list_node_executions_for_task_paginated = _lister(
    "ListNodeExecutionsForTask", "the node executions a task execution launched", _TASK_EXECUTION
)


def get_task_execution(client: Any, id: Any) -> Steps[task_execution_pb2.TaskExecution]:
    return (yield from _with_fields("GetTaskExecution", id=to_idl(id, TaskExecutionId, "id")))


def get_task_execution_data(
    client: Any, task_execution_identifier: Any
) -> Steps[task_execution_pb2.TaskExecutionGetDataResponse]:
    ident = to_idl(task_execution_identifier, TaskExecutionId, "task_execution_identifier")
    return (yield from _with_fields("GetTaskExecutionData", id=ident))


list_task_executions_paginated = _lister(
    "ListTaskExecutions", "the attempts of one node execution", _NODE_EXECUTION
)


# ------------------------------------------------------------------- named and description entities


def update_named_entity(client: Any, resource_type: int, id: Any, metadata: Any) -> Steps[None]:
    yield from _with_fields(
        "UpdateNamedEntity",
        resource_type=resource_type,
        id=to_idl(id, NamedEntityIdentifier, "id"),
        metadata=to_idl(metadata, common_pb2.NamedEntityMetadata, "metadata"),
    )


def get_named_entity(client: Any, resource_type: int, id: Any) -> Steps[common_pb2.NamedEntity]:
    named = to_idl(id, NamedEntityIdentifier, "id")
    return (yield from _with_fields("GetNamedEntity", resource_type=resource_type, id=named))


list_named_entities_paginated = _lister(
    "ListNamedEntities",
    "the names of one resource type in a project and domain",
    _RESOURCE_TYPE,
    Scope("project", "project", annotation="str"),
    Scope("domain", "domain", annotation="str"),
)


def get_description_entity(client: Any, id: Any) -> Steps[description_entity_pb2.DescriptionEntity]:
    return (
        yield from _send("GetDescriptionEntity", common_pb2.ObjectGetRequest(id=to_idl(id, Identifier, "id")))
    )


list_description_entities_paginated = _lister(
    "ListDescriptionEntities", "the descriptions of one name", _RESOURCE_TYPE, _ONE_NAME
)


# ------------------------------------------------------------------------------------------------- events


def create_workflow_event(client: Any, event: Any, request_id: str = "") -> Steps[None]:
    event = to_idl(event, events.WorkflowExecutionEvent, "event")
    yield from _with_fields("CreateWorkflowEvent", request_id=request_id, event=event)


def create_node_event(client: Any, event: Any, request_id: str = "") -> Steps[None]:
    event = to_idl(event, events.NodeExecutionEvent, "event")
    yield from _with_fields("CreateNodeEvent", request_id=request_id, event=event)


def create_task_event(client: Any, event: Any, request_id: str = "") -> Steps[None]:
    event = to_idl(event, events.TaskExecutionEvent, "event")
    yield from _with_fields("CreateTaskEvent", request_id=request_id, event=event)


# ------------------------------------------------------------------------------------------------ signals


def get_or_create_signal(client: Any, id: Any, type: Any) -> Steps[signal_pb2.Signal]:
    return (
        yield from _with_fields(
            "GetOrCreateSignal",
            id=to_idl(id, identifier_pb2.SignalIdentifier, "id"),
            type=to_idl(type, types_pb2.LiteralType, "type"),
        )
    )


def set_signal_value(client: Any, id: Any, value: Any) -> Steps[None]:
    """Set a signal. (`set_signal` keeps flytekit's raw signature: it takes a SignalSetRequest.)"""
    yield from _with_fields(
        "SetSignal",
        id=to_idl(id, identifier_pb2.SignalIdentifier, "id"),
        value=to_idl(value, literals_pb2.Literal, "value"),
    )


list_signals_paginated = _lister("ListSignals", "the signals of an execution", _EXECUTION)


# --------------------------------------------------------------------------------------------- data proxy


def upload_root() -> str:
    """A new storage folder for an upload given without an md5 (flyteadmin then needs a `filename_root`)."""
    return "up-" + execution_names.generate()


def get_upload_signed_url(
    client: Any,
    project: str,
    domain: str,
    content_md5: bytes | None = None,
    filename: str | None = None,
    expires_in: datetime.timedelta | None = None,
    filename_root: str | None = None,
    add_content_md5_metadata: bool = True,
) -> Steps[dataproxy_pb2.CreateUploadLocationResponse]:
    """A signed PUT URL for uploading a file.

    flyteadmin needs `content_md5` or `filename_root` to choose the storage folder. Without either, a
    fresh random root is chosen (`upload_root()`): flyteadmin refuses, with ALREADY_EXISTS, to sign a
    location that holds a file when it has no md5 to compare, so a root derived from the file name would
    make a second upload of any file with that name impossible. The root is chosen once per call, before
    the request is built, so a resent request still asks for the same location. Errors keep their Flyte
    type (flytekit turns them into RuntimeError).
    """
    if not content_md5 and not filename_root:
        filename_root = upload_root()
    return (
        yield from _with_fields(
            "CreateUploadLocation",
            project=project,
            domain=domain,
            content_md5=content_md5 or b"",
            filename=filename or "",
            expires_in=duration(expires_in),
            filename_root=filename_root or "",
            add_content_md5_metadata=add_content_md5_metadata,
        )
    )


def get_download_signed_url(
    client: Any, native_url: str, expires_in: datetime.timedelta | None = None
) -> Steps[dataproxy_pb2.CreateDownloadLocationResponse]:
    return (
        yield from _with_fields(
            "CreateDownloadLocation", native_url=native_url, expires_in=duration(expires_in)
        )
    )


def get_download_artifact_signed_url(
    client: Any,
    node_id: str,
    project: str,
    domain: str,
    name: str,
    artifact_type: int = dataproxy_pb2.ARTIFACT_TYPE_DECK,
    expires_in: datetime.timedelta | None = None,
) -> Steps[dataproxy_pb2.CreateDownloadLinkResponse]:
    execution = ExecutionId(project=project, domain=domain, name=name)
    return (
        yield from _with_fields(
            "CreateDownloadLink",
            artifact_type=artifact_type,
            node_execution_id=NodeExecutionId(node_id=node_id, execution_id=execution),
            expires_in=duration(expires_in),
        )
    )


def get_data(client: Any, flyte_uri: str) -> Steps[dataproxy_pb2.GetDataResponse]:
    return (yield from _with_fields("GetData", flyte_url=flyte_uri))


# ----------------------------------------------------------------------------------- projects and domains


def register_project(client: Any, project: Any) -> Steps[None]:
    project = to_idl(project, project_pb2.Project, "project")
    yield from _send("RegisterProject", project_pb2.ProjectRegisterRequest(project=project))


def update_project(client: Any, project: Any) -> Steps[None]:
    """Replace a project's name, description, labels and state (a full record, not a patch)."""
    yield from _send("UpdateProject", to_idl(project, project_pb2.Project, "project"))


def get_project(client: Any, id: str, org: str = "") -> Steps[project_pb2.Project]:
    return (yield from _send("GetProject", project_pb2.ProjectGetRequest(id=id, org=org)))


def list_projects_paginated(
    client: Any, limit: int = 100, token: str | None = None, filters: Any = None, sort_by: Any = None
) -> Steps[Page]:
    """Projects; flyteadmin hides archived ones unless any filter is given."""
    return list_request(client, "ListProjects", limit, token, filters, sort_by)


def get_domains(client: Any) -> Steps[list[project_pb2.Domain]]:
    response = yield from _send("GetDomains", project_pb2.GetDomainRequest())
    return list(response.domains)


# ----------------------------------------------------------------------------------- matchable attributes


def _update_attributes(
    rpc_name: str, record: type[Message], matching_attributes: Any, **scope: str
) -> Steps[None]:
    """Store a full attributes record (project-domain, project or workflow scope)."""
    attributes = record(matching_attributes=_matching(matching_attributes), **scope)
    yield from _with_fields(rpc_name, attributes=attributes)


def update_project_domain_attributes(
    client: Any, project: str, domain: str, matching_attributes: Any
) -> Steps[None]:
    yield from _update_attributes(
        "UpdateProjectDomainAttributes",
        project_domain_attributes_pb2.ProjectDomainAttributes,
        matching_attributes,
        project=project,
        domain=domain,
    )


def get_project_domain_attributes(
    client: Any, project: str, domain: str, resource_type: int
) -> Steps[project_domain_attributes_pb2.ProjectDomainAttributesGetResponse]:
    return (
        yield from _with_fields(
            "GetProjectDomainAttributes", project=project, domain=domain, resource_type=resource_type
        )
    )


def delete_project_domain_attributes(
    client: Any, project: str, domain: str, resource_type: int
) -> Steps[None]:
    yield from _with_fields(
        "DeleteProjectDomainAttributes", project=project, domain=domain, resource_type=resource_type
    )


def update_project_attributes(
    client: Any, project: str, matching_attributes: Any, org: str = ""
) -> Steps[None]:
    yield from _update_attributes(
        "UpdateProjectAttributes",
        project_attributes_pb2.ProjectAttributes,
        matching_attributes,
        project=project,
        org=org,
    )


def get_project_attributes(
    client: Any, project: str, resource_type: int, org: str = ""
) -> Steps[project_attributes_pb2.ProjectAttributesGetResponse]:
    return (
        yield from _with_fields("GetProjectAttributes", project=project, resource_type=resource_type, org=org)
    )


def delete_project_attributes(client: Any, project: str, resource_type: int, org: str = "") -> Steps[None]:
    yield from _with_fields("DeleteProjectAttributes", project=project, resource_type=resource_type, org=org)


def update_workflow_attributes(
    client: Any, project: str, domain: str, workflow: str, matching_attributes: Any
) -> Steps[None]:
    yield from _update_attributes(
        "UpdateWorkflowAttributes",
        workflow_attributes_pb2.WorkflowAttributes,
        matching_attributes,
        project=project,
        domain=domain,
        workflow=workflow,
    )


def get_workflow_attributes(
    client: Any, project: str, domain: str, workflow: str, resource_type: int
) -> Steps[workflow_attributes_pb2.WorkflowAttributesGetResponse]:
    return (
        yield from _with_fields(
            "GetWorkflowAttributes",
            project=project,
            domain=domain,
            workflow=workflow,
            resource_type=resource_type,
        )
    )


def delete_workflow_attributes(
    client: Any, project: str, domain: str, workflow: str, resource_type: int
) -> Steps[None]:
    yield from _with_fields(
        "DeleteWorkflowAttributes",
        project=project,
        domain=domain,
        workflow=workflow,
        resource_type=resource_type,
    )


def list_matchable_attributes(
    client: Any, resource_type: int
) -> Steps[matchable_resource_pb2.ListMatchableAttributesResponse]:
    return (yield from _with_fields("ListMatchableAttributes", resource_type=resource_type))


# ------------------------------------------------------------------------------------------------- server


def get_control_plane_version(client: Any) -> Steps[str]:
    response = yield from _send("GetVersion", version_pb2.GetVersionRequest())
    return response.control_plane_version.Version


# ------------------------------------------------------------------------------------------------ helpers

_LAUNCH_RPCS = {
    execution_pb2.ExecutionCreateRequest.DESCRIPTOR.full_name: rpc("CreateExecution"),
    execution_pb2.ExecutionRelaunchRequest.DESCRIPTOR.full_name: rpc("RelaunchExecution"),
    execution_pb2.ExecutionRecoverRequest.DESCRIPTOR.full_name: rpc("RecoverExecution"),
}


def _cache_key(ident: Identifier) -> tuple[int, str, str, str, str, str]:
    return (ident.resource_type, ident.project, ident.domain, ident.name, ident.version, ident.org)


def _identifier_fields(ident: Identifier) -> dict[str, str]:
    return {f: getattr(ident, f) for f in ("project", "domain", "name", "version", "org")}


def _is_launch_plan_named(key: Hashable, named: tuple[str, str, str, str]) -> bool:
    if not isinstance(key, tuple) or key[0] != identifier_pb2.LAUNCH_PLAN:
        return False
    return (key[1], key[2], key[3], key[5]) == named


def _same_entity(left: Message, right: Message) -> bool:
    return bool(left.SerializeToString(deterministic=True) == right.SerializeToString(deterministic=True))


def _same_launch_target(stored: Identifier, requested: Identifier) -> bool:
    """Whether a stored execution was launched from what the request names.

    A task launched directly runs through flyteadmin's generated launch plan `.flytegen.<task>` (same
    version), so either spelling of the target counts; the resource type and org may be normalised.
    """
    names = {requested.name, ".flytegen." + requested.name}
    where = (stored.project, stored.domain, stored.version)
    return stored.name in names and where == (requested.project, requested.domain, requested.version)


def _matching(value: Any) -> matchable_resource_pb2.MatchingAttributes:
    return to_idl(value, matchable_resource_pb2.MatchingAttributes, "matching_attributes")


SHARED = (
    "create_task",
    "create_workflow",
    "create_launch_plan",
    "get_task",
    "get_workflow",
    "get_launch_plan",
    "list_task_ids_paginated",
    "list_workflow_ids_paginated",
    "list_launch_plan_ids_paginated",
    "list_active_launch_plans_paginated",
    "list_tasks_paginated",
    "list_workflows_paginated",
    "list_launch_plans_paginated",
    "get_active_launch_plan",
    "update_launch_plan",
    "launch",
    "create_execution",
    "relaunch_execution",
    "recover_execution",
    "get_execution",
    "get_execution_data",
    "list_executions_paginated",
    "terminate_execution",
    "list_node_executions",
    "update_execution",
    "get_execution_metrics",
    "get_node_execution",
    "get_node_execution_data",
    "get_dynamic_node_workflow",
    "list_node_executions_for_task_paginated",
    "get_task_execution",
    "get_task_execution_data",
    "list_task_executions_paginated",
    "update_named_entity",
    "get_named_entity",
    "list_named_entities_paginated",
    "get_description_entity",
    "list_description_entities_paginated",
    "create_workflow_event",
    "create_node_event",
    "create_task_event",
    "get_or_create_signal",
    "set_signal_value",
    "list_signals_paginated",
    "get_upload_signed_url",
    "get_download_signed_url",
    "get_download_artifact_signed_url",
    "get_data",
    "register_project",
    "update_project",
    "get_project",
    "list_projects_paginated",
    "get_domains",
    "update_project_domain_attributes",
    "get_project_domain_attributes",
    "delete_project_domain_attributes",
    "update_project_attributes",
    "get_project_attributes",
    "delete_project_attributes",
    "update_workflow_attributes",
    "get_workflow_attributes",
    "delete_workflow_attributes",
    "list_matchable_attributes",
    "get_control_plane_version",
)
"""The operations both clients have, by method name: every friendly method of the sync client except the
ones that keep flytekit's raw signatures (list_projects, set_signal, ...) and the `iter_*` pagers."""
