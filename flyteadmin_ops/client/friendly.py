# The friendly methods keep flytekit's names and signatures, which differ from the raw methods they
# override (flytekit does the same); `client.raw` keeps the raw signatures reachable.
# mypy: disable-error-code="override"
"""`SynchronousFlyteClient`: flytekit's friendly client operations, over the raw client.

Differences from flytekit, on purpose:
- Results are protobufs, not flytekit models (`flytekit.models.X.from_flyte_idl(pb)` converts if needed).
  Arguments may be protobufs or flytekit models (anything with `to_flyte_idl()`).
- get_task / get_workflow / get_launch_plan use a per-client, bounded, expiring cache that returns copies.
- Every list has a `*_paginated` method returning `(items, next_token)` and an `iter_*` companion that walks
  all pages in a deterministic order.
- Executions are always launched with a name (generated when none is given), so a resent launch cannot start
  twice; an ALREADY_EXISTS for the very launch we asked for returns its id instead of an error.
- get_upload_signed_url keeps the typed Flyte error instead of wrapping everything into RuntimeError.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, TypeVar

from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    event_pb2,
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
from flyteadmin_ops.client.cache import EntityCache
from flyteadmin_ops.client.coerce import duration, optional_idl, to_idl
from flyteadmin_ops.client.filters import render_filters
from flyteadmin_ops.client.paging import bind_signature, iterator_of, page_of
from flyteadmin_ops.client.raw import RawSynchronousFlyteClient
from flyteadmin_ops.client.rpcs import rpc
from flyteadmin_ops.client.sorting import as_sort
from flyteadmin_ops.errors import FlyteEntityAlreadyExistsException, FlyteEntityNotExistException
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport

Page = tuple[list[Any], str]
M = TypeVar("M", bound=Message)
_MODES = execution_pb2.ExecutionMetadata.ExecutionMode


class Launched(NamedTuple):
    """The outcome of `launch`: the execution's id, and False when it already existed (our own earlier
    attempt, or an identical launch under the same name)."""

    id: ExecutionId
    created: bool


def _cache_key(ident: Identifier) -> tuple[int, str, str, str, str, str]:
    return (ident.resource_type, ident.project, ident.domain, ident.name, ident.version, ident.org)


def _named_after(rpc_name: str, method: Callable[..., Any], doc: str) -> None:
    method.__name__ = rpc(rpc_name).python_name
    method.__qualname__ = f"SynchronousFlyteClient.{method.__name__}"
    method.__doc__ = doc


def _cached_getter(rpc_name: str, resource_type: int, result: type[M]) -> Callable[[Any, Any], M]:
    """`get_task`-style method: one version by id, through the client's entity cache (a copy each time)."""

    def get(self: SynchronousFlyteClient, id: Any) -> M:
        return self._cached_get(rpc(rpc_name).python_name, id, resource_type)  # type: ignore[no-any-return]

    _named_after(rpc_name, get, f"{rpc_name}, cached per client (a hit is a copy); `id` may lack its type.")
    get.__annotations__["return"] = result  # what help() and IDEs show, instead of the TypeVar
    return get


def _project_domain_lister(rpc_name: str) -> Callable[..., Page]:
    """flytekit's `list_*_ids_paginated(project, domain, limit, token, sort_by)` shape."""

    def paginated(
        self: SynchronousFlyteClient,
        project: str,
        domain: str,
        limit: int = 100,
        token: str | None = None,
        sort_by: Any = None,
    ) -> Page:
        return self._list_request(rpc_name, limit, token, sort_by=sort_by, project=project, domain=domain)

    _named_after(rpc_name, paginated, f"{rpc_name} in one project and domain: `(items, next_token)`.")
    return paginated


def _versions_lister(rpc_name: str) -> Callable[..., Page]:
    """flytekit's `list_*s_paginated(identifier, limit, token, filters, sort_by)`: versions of one name."""

    def paginated(
        self: SynchronousFlyteClient,
        identifier: Any,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        named = to_idl(identifier, NamedEntityIdentifier, "identifier")
        return self._list_request(rpc_name, limit, token, filters, sort_by, id=named)

    _named_after(rpc_name, paginated, f"{rpc_name}: versions of one name, `(items, next_token)`.")
    return paginated


class SynchronousFlyteClient(RawSynchronousFlyteClient):
    """flytekit's `SynchronousFlyteClient` operations with protobuf results; see the module docstring.

    `cache` replaces the entity cache built from settings (cache_size, cache_ttl_seconds), e.g. to inject a
    clock in tests. Safe to share across threads.
    """

    def __init__(
        self,
        settings: AdminSettings | Any | None = None,
        *,
        transport: Transport | None = None,
        cache: EntityCache | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(settings, transport=transport, **overrides)
        self._raw = RawSynchronousFlyteClient(transport=self._transport)
        if cache is None:
            cache = EntityCache(self._settings.cache_size, self._settings.cache_ttl_seconds)
        self._cache = cache

    @property
    def raw(self) -> RawSynchronousFlyteClient:
        """The raw methods (request protobuf in, response protobuf out) on this client's channel."""
        return self._raw

    @property
    def cache(self) -> EntityCache:
        return self._cache

    # ---------------------------------------------------------------- shared plumbing

    def _limit(self, limit: int | None) -> int:
        # `*_paginated` keep flytekit's `limit=100` default; an explicit None (which would reach flyteadmin
        # as limit 0, an error) means the settings' page_size, which the iterators use too.
        return self._settings.page_size if limit is None else limit

    def _list_request(
        self,
        rpc_name: str,
        limit: int | None,
        token: str | None,
        filters: Any = None,
        sort_by: Any = None,
        **fields: Any,
    ) -> Page:
        """Build `rpc_name`'s list request from the common paging arguments plus `fields`, and send it."""
        entry = rpc(rpc_name)
        request: Any = entry.spec.request_type(limit=self._limit(limit), token=token or "", **fields)
        if filters is not None:
            request.filters = render_filters(filters)
        sort = as_sort(sort_by)
        if sort is not None:
            request.sort_by.CopyFrom(sort)
        return page_of(getattr(self._raw, entry.python_name)(request))

    def _cached_get(self, python_name: str, ident: Any, resource_type: int) -> Any:
        ident = to_idl(ident, Identifier, "id")
        if not ident.resource_type:
            ident = Identifier(resource_type=resource_type, **_identifier_fields(ident))  # type: ignore[arg-type]
        get = getattr(self._raw, python_name)
        return self._cache.get_or_load(_cache_key(ident), lambda: get(common_pb2.ObjectGetRequest(id=ident)))

    # ---------------------------------------------------------------- tasks, workflows, launch plans
    # The three kinds share flytekit's method shapes; the listing and cached-get methods are made once by
    # the factories below. The creates stay written out: flytekit spells their parameters differently.

    def create_task(self, task_identifer: Any, task_spec: Any) -> None:
        """Register a task version. (`task_identifer` keeps flytekit's spelling for keyword callers.)"""
        self._raw.create_task(
            task_pb2.TaskCreateRequest(
                id=to_idl(task_identifer, Identifier, "task_identifer"),
                spec=to_idl(task_spec, task_pb2.TaskSpec, "task_spec"),
            )
        )

    def create_workflow(self, workflow_identifier: Any, workflow_spec: Any) -> None:
        self._raw.create_workflow(
            workflow_pb2.WorkflowCreateRequest(
                id=to_idl(workflow_identifier, Identifier, "workflow_identifier"),
                spec=to_idl(workflow_spec, workflow_pb2.WorkflowSpec, "workflow_spec"),
            )
        )

    def create_launch_plan(self, launch_plan_identifer: Any, launch_plan_spec: Any) -> None:
        """Register a launch plan version. (`launch_plan_identifer` keeps flytekit's spelling.)"""
        self._raw.create_launch_plan(
            launch_plan_pb2.LaunchPlanCreateRequest(
                id=to_idl(launch_plan_identifer, Identifier, "launch_plan_identifer"),
                spec=to_idl(launch_plan_spec, launch_plan_pb2.LaunchPlanSpec, "launch_plan_spec"),
            )
        )

    # (The raw methods they replace take a request; mypy sees a signature change, as for every override here.)
    get_task = _cached_getter("GetTask", identifier_pb2.TASK, task_pb2.Task)  # type: ignore[assignment]
    get_workflow = _cached_getter("GetWorkflow", identifier_pb2.WORKFLOW, workflow_pb2.Workflow)  # type: ignore[assignment]
    get_launch_plan = _cached_getter(  # type: ignore[assignment]
        "GetLaunchPlan", identifier_pb2.LAUNCH_PLAN, launch_plan_pb2.LaunchPlan
    )

    list_task_ids_paginated = _project_domain_lister("ListTaskIds")
    list_workflow_ids_paginated = _project_domain_lister("ListWorkflowIds")
    list_launch_plan_ids_paginated = _project_domain_lister("ListLaunchPlanIds")
    list_active_launch_plans_paginated = _project_domain_lister("ListActiveLaunchPlans")

    list_tasks_paginated = _versions_lister("ListTasks")
    list_workflows_paginated = _versions_lister("ListWorkflows")
    list_launch_plans_paginated = _versions_lister("ListLaunchPlans")

    def get_active_launch_plan(self, identifier: Any) -> launch_plan_pb2.LaunchPlan:
        """The ACTIVE version of a launch plan name. Never cached: activation is exactly what changes."""
        return self._raw.get_active_launch_plan(
            launch_plan_pb2.ActiveLaunchPlanRequest(
                id=to_idl(identifier, NamedEntityIdentifier, "identifier")
            )
        )

    def update_launch_plan(self, id: Any, state: int) -> None:
        """Set a launch plan version ACTIVE or INACTIVE.

        Activating one version deactivates the previously active version of the same name, so every cached
        version of that name is dropped, not only `id`.
        """
        ident = to_idl(id, Identifier, "id")
        try:
            self._raw.update_launch_plan(launch_plan_pb2.LaunchPlanUpdateRequest(id=ident, state=state))  # type: ignore[arg-type]
        finally:  # even a failed update may have been applied before the answer was lost
            named = (ident.project, ident.domain, ident.name, ident.org)
            self._cache.invalidate(lambda key: _is_launch_plan_named(key, named))

    # ---------------------------------------------------------------- named entities

    def update_named_entity(self, resource_type: int, id: Any, metadata: Any) -> None:
        self._raw.update_named_entity(
            common_pb2.NamedEntityUpdateRequest(
                resource_type=resource_type,  # type: ignore[arg-type]
                id=to_idl(id, NamedEntityIdentifier, "id"),
                metadata=to_idl(metadata, common_pb2.NamedEntityMetadata, "metadata"),
            )
        )

    def get_named_entity(self, resource_type: int, id: Any) -> common_pb2.NamedEntity:
        return self._raw.get_named_entity(
            common_pb2.NamedEntityGetRequest(
                resource_type=resource_type,  # type: ignore[arg-type]
                id=to_idl(id, NamedEntityIdentifier, "id"),
            )
        )

    def list_named_entities_paginated(
        self,
        resource_type: int,
        project: str,
        domain: str,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        return self._list_request(
            "ListNamedEntities",
            limit,
            token,
            filters,
            sort_by,
            resource_type=resource_type,
            project=project,
            domain=domain,
        )

    # ---------------------------------------------------------------- executions

    def launch(self, request: Any) -> Launched:
        """Send a CreateExecution, RelaunchExecution or RecoverExecution request, safely.

        A request without a name gets a generated one first, so the transport's resend after UNAVAILABLE
        cannot start a second execution. If the server answers ALREADY_EXISTS, the execution under that name
        is fetched: when it is the launch we asked for (same launch plan, or the same reference execution
        and mode for relaunch/recover) -- e.g. our first attempt was committed but its answer lost -- the
        result is its id with `created=False`; otherwise (a different execution holds the name, or the
        ALREADY_EXISTS meant a concurrency limit) the error is raised.
        """
        entry = _LAUNCH_RPCS.get(type(request).DESCRIPTOR.full_name) if isinstance(request, Message) else None
        if entry is None:
            raise TypeError(
                "launch: expected ExecutionCreateRequest, ExecutionRelaunchRequest or "
                f"ExecutionRecoverRequest, got {type(request).__name__}"
            )
        named = execution_names.ensure_named(request, entry.label)
        try:
            response = getattr(self._raw, entry.python_name)(named)
        except FlyteEntityAlreadyExistsException:
            existing = self._existing_launch(named)
            if existing is None:
                raise
            return Launched(existing.id, created=False)
        return Launched(response.id, created=True)

    def _existing_launch(self, request: Any) -> execution_pb2.Execution | None:
        """The execution under the request's name if it is the one the request describes, else None."""
        if isinstance(request, execution_pb2.ExecutionCreateRequest):
            project, domain, org = request.project, request.domain, request.org
        else:
            project, domain, org = request.id.project, request.id.domain, request.id.org
        ident = ExecutionId(project=project, domain=domain, name=request.name, org=org)
        try:
            existing = self.get_execution(ident)
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
        self,
        project: str,
        domain: str,
        name: str | None,
        execution_spec: Any,
        inputs: Any = None,
        *,
        org: str = "",
    ) -> ExecutionId:
        """Launch an execution and return its id; `name=None` (or "") generates one (see `launch`)."""
        request = execution_pb2.ExecutionCreateRequest(
            project=project,
            domain=domain,
            name=name or "",
            org=org,
            spec=to_idl(execution_spec, execution_pb2.ExecutionSpec, "execution_spec"),
            inputs=optional_idl(inputs, literals_pb2.LiteralMap, "inputs"),
        )
        return self.launch(request).id

    def relaunch_execution(
        self, id: Any, name: str | None = None, *, overwrite_cache: bool = False
    ) -> ExecutionId:
        return self.launch(
            execution_pb2.ExecutionRelaunchRequest(
                id=to_idl(id, ExecutionId, "id"), name=name or "", overwrite_cache=overwrite_cache
            )
        ).id

    def recover_execution(self, id: Any, name: str | None = None, *, metadata: Any = None) -> ExecutionId:
        return self.launch(
            execution_pb2.ExecutionRecoverRequest(
                id=to_idl(id, ExecutionId, "id"),
                name=name or "",
                metadata=optional_idl(metadata, execution_pb2.ExecutionMetadata, "metadata"),
            )
        ).id

    def get_execution(self, id: Any) -> execution_pb2.Execution:
        return self._raw.get_execution(
            execution_pb2.WorkflowExecutionGetRequest(id=to_idl(id, ExecutionId, "id"))
        )

    def get_execution_data(self, id: Any) -> execution_pb2.WorkflowExecutionGetDataResponse:
        return self._raw.get_execution_data(
            execution_pb2.WorkflowExecutionGetDataRequest(id=to_idl(id, ExecutionId, "id"))
        )

    def get_execution_metrics(self, id: Any, depth: int = 10) -> metrics_pb2.Span:
        """The execution's span tree (the response's `span`, as flytekit returns)."""
        return self._raw.get_execution_metrics(
            execution_pb2.WorkflowExecutionGetMetricsRequest(id=to_idl(id, ExecutionId, "id"), depth=depth)
        ).span

    def list_executions_paginated(
        self,
        project: str,
        domain: str,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        """Executions of a project/domain; flyteadmin hides archived ones unless a filter names `state`."""
        return self._list_request(
            "ListExecutions",
            limit,
            token,
            filters,
            sort_by,
            id=NamedEntityIdentifier(project=project, domain=domain),
        )

    def terminate_execution(self, id: Any, cause: str) -> None:
        self._raw.terminate_execution(
            execution_pb2.ExecutionTerminateRequest(id=to_idl(id, ExecutionId, "id"), cause=cause)
        )

    def update_execution(self, id: Any, state: int) -> None:
        """Archive (EXECUTION_ARCHIVED) or un-archive (EXECUTION_ACTIVE) an execution."""
        self._raw.update_execution(
            execution_pb2.ExecutionUpdateRequest(id=to_idl(id, ExecutionId, "id"), state=state)
        )  # type: ignore[arg-type]

    # ---------------------------------------------------------------- node executions

    def get_node_execution(self, node_execution_identifier: Any) -> node_execution_pb2.NodeExecution:
        return self._raw.get_node_execution(
            node_execution_pb2.NodeExecutionGetRequest(
                id=to_idl(node_execution_identifier, NodeExecutionId, "node_execution_identifier")
            )
        )

    def get_node_execution_data(
        self, node_execution_identifier: Any
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        return self._raw.get_node_execution_data(
            node_execution_pb2.NodeExecutionGetDataRequest(
                id=to_idl(node_execution_identifier, NodeExecutionId, "node_execution_identifier")
            )
        )

    def get_dynamic_node_workflow(
        self, node_execution_identifier: Any
    ) -> node_execution_pb2.DynamicNodeWorkflowResponse:
        return self._raw.get_dynamic_node_workflow(
            node_execution_pb2.GetDynamicNodeWorkflowRequest(
                id=to_idl(node_execution_identifier, NodeExecutionId, "node_execution_identifier")
            )
        )

    def list_node_executions(
        self,
        workflow_execution_identifier: Any,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
        unique_parent_id: str | None = None,
    ) -> Page:
        return self._list_request(
            "ListNodeExecutions",
            limit,
            token,
            filters,
            sort_by,
            workflow_execution_id=to_idl(
                workflow_execution_identifier, ExecutionId, "workflow_execution_identifier"
            ),
            unique_parent_id=unique_parent_id or "",
        )

    def list_node_executions_for_task_paginated(
        self,
        task_execution_identifier: Any,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        return self._list_request(
            "ListNodeExecutionsForTask",
            limit,
            token,
            filters,
            sort_by,
            task_execution_id=to_idl(task_execution_identifier, TaskExecutionId, "task_execution_identifier"),
        )

    # ---------------------------------------------------------------- task executions

    def get_task_execution(self, id: Any) -> task_execution_pb2.TaskExecution:
        return self._raw.get_task_execution(
            task_execution_pb2.TaskExecutionGetRequest(id=to_idl(id, TaskExecutionId, "id"))
        )

    def get_task_execution_data(
        self, task_execution_identifier: Any
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        return self._raw.get_task_execution_data(
            task_execution_pb2.TaskExecutionGetDataRequest(
                id=to_idl(task_execution_identifier, TaskExecutionId, "task_execution_identifier")
            )
        )

    def list_task_executions_paginated(
        self,
        node_execution_identifier: Any,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        return self._list_request(
            "ListTaskExecutions",
            limit,
            token,
            filters,
            sort_by,
            node_execution_id=to_idl(node_execution_identifier, NodeExecutionId, "node_execution_identifier"),
        )

    # ---------------------------------------------------------------- projects and domains

    def register_project(self, project: Any) -> None:
        self._raw.register_project(
            project_pb2.ProjectRegisterRequest(project=to_idl(project, project_pb2.Project, "project"))
        )

    def update_project(self, project: Any) -> None:
        """Replace a project's name, description, labels and state (a full record, not a patch)."""
        self._raw.update_project(to_idl(project, project_pb2.Project, "project"))

    def get_project(self, id: str, org: str = "") -> project_pb2.Project:
        return self._raw.get_project(project_pb2.ProjectGetRequest(id=id, org=org))

    def list_projects_paginated(
        self, limit: int = 100, token: str | None = None, filters: Any = None, sort_by: Any = None
    ) -> Page:
        """Projects; flyteadmin hides archived ones unless any filter is given."""
        return self._list_request("ListProjects", limit, token, filters, sort_by)

    def get_domains(self) -> list[project_pb2.Domain]:
        return list(self._raw.get_domains().domains)

    # ---------------------------------------------------------------- matchable attributes

    def update_project_domain_attributes(self, project: str, domain: str, matching_attributes: Any) -> None:
        self._raw.update_project_domain_attributes(
            project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(
                attributes=project_domain_attributes_pb2.ProjectDomainAttributes(
                    project=project, domain=domain, matching_attributes=_matching(matching_attributes)
                )
            )
        )

    def get_project_domain_attributes(
        self, project: str, domain: str, resource_type: int
    ) -> project_domain_attributes_pb2.ProjectDomainAttributesGetResponse:
        return self._raw.get_project_domain_attributes(
            project_domain_attributes_pb2.ProjectDomainAttributesGetRequest(
                project=project,
                domain=domain,
                resource_type=resource_type,  # type: ignore[arg-type]
            )
        )

    def delete_project_domain_attributes(self, project: str, domain: str, resource_type: int) -> None:
        self._raw.delete_project_domain_attributes(
            project_domain_attributes_pb2.ProjectDomainAttributesDeleteRequest(
                project=project,
                domain=domain,
                resource_type=resource_type,  # type: ignore[arg-type]
            )
        )

    def update_project_attributes(self, project: str, matching_attributes: Any, org: str = "") -> None:
        self._raw.update_project_attributes(
            project_attributes_pb2.ProjectAttributesUpdateRequest(
                attributes=project_attributes_pb2.ProjectAttributes(
                    project=project, org=org, matching_attributes=_matching(matching_attributes)
                )
            )
        )

    def get_project_attributes(
        self, project: str, resource_type: int, org: str = ""
    ) -> project_attributes_pb2.ProjectAttributesGetResponse:
        return self._raw.get_project_attributes(
            project_attributes_pb2.ProjectAttributesGetRequest(
                project=project, resource_type=resource_type, org=org
            )  # type: ignore[arg-type]
        )

    def delete_project_attributes(self, project: str, resource_type: int, org: str = "") -> None:
        self._raw.delete_project_attributes(
            project_attributes_pb2.ProjectAttributesDeleteRequest(
                project=project, resource_type=resource_type, org=org
            )  # type: ignore[arg-type]
        )

    def update_workflow_attributes(
        self, project: str, domain: str, workflow: str, matching_attributes: Any
    ) -> None:
        self._raw.update_workflow_attributes(
            workflow_attributes_pb2.WorkflowAttributesUpdateRequest(
                attributes=workflow_attributes_pb2.WorkflowAttributes(
                    project=project,
                    domain=domain,
                    workflow=workflow,
                    matching_attributes=_matching(matching_attributes),
                )
            )
        )

    def get_workflow_attributes(
        self, project: str, domain: str, workflow: str, resource_type: int
    ) -> workflow_attributes_pb2.WorkflowAttributesGetResponse:
        return self._raw.get_workflow_attributes(
            workflow_attributes_pb2.WorkflowAttributesGetRequest(
                project=project,
                domain=domain,
                workflow=workflow,
                resource_type=resource_type,  # type: ignore[arg-type]
            )
        )

    def delete_workflow_attributes(
        self, project: str, domain: str, workflow: str, resource_type: int
    ) -> None:
        self._raw.delete_workflow_attributes(
            workflow_attributes_pb2.WorkflowAttributesDeleteRequest(
                project=project,
                domain=domain,
                workflow=workflow,
                resource_type=resource_type,  # type: ignore[arg-type]
            )
        )

    def list_matchable_attributes(
        self, resource_type: int
    ) -> matchable_resource_pb2.ListMatchableAttributesResponse:
        return self._raw.list_matchable_attributes(
            matchable_resource_pb2.ListMatchableAttributesRequest(resource_type=resource_type)  # type: ignore[arg-type]
        )

    # ---------------------------------------------------------------- description entities

    def get_description_entity(self, id: Any) -> description_entity_pb2.DescriptionEntity:
        return self._raw.get_description_entity(common_pb2.ObjectGetRequest(id=to_idl(id, Identifier, "id")))

    def list_description_entities_paginated(
        self,
        resource_type: int,
        identifier: Any,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        return self._list_request(
            "ListDescriptionEntities",
            limit,
            token,
            filters,
            sort_by,
            resource_type=resource_type,
            id=to_idl(identifier, NamedEntityIdentifier, "identifier"),
        )

    # ---------------------------------------------------------------- events

    def create_workflow_event(self, event: Any, request_id: str = "") -> None:
        self._raw.create_workflow_event(
            event_pb2.WorkflowExecutionEventRequest(
                request_id=request_id, event=to_idl(event, events.WorkflowExecutionEvent, "event")
            )
        )

    def create_node_event(self, event: Any, request_id: str = "") -> None:
        self._raw.create_node_event(
            event_pb2.NodeExecutionEventRequest(
                request_id=request_id, event=to_idl(event, events.NodeExecutionEvent, "event")
            )
        )

    def create_task_event(self, event: Any, request_id: str = "") -> None:
        self._raw.create_task_event(
            event_pb2.TaskExecutionEventRequest(
                request_id=request_id, event=to_idl(event, events.TaskExecutionEvent, "event")
            )
        )

    # ---------------------------------------------------------------- signals

    def get_or_create_signal(self, id: Any, type: Any) -> signal_pb2.Signal:
        return self._raw.get_or_create_signal(
            signal_pb2.SignalGetOrCreateRequest(
                id=to_idl(id, identifier_pb2.SignalIdentifier, "id"),
                type=to_idl(type, types_pb2.LiteralType, "type"),
            )
        )

    def set_signal_value(self, id: Any, value: Any) -> None:
        """Set a signal. (`set_signal` keeps flytekit's raw signature: it takes a SignalSetRequest.)"""
        self._raw.set_signal(
            signal_pb2.SignalSetRequest(
                id=to_idl(id, identifier_pb2.SignalIdentifier, "id"),
                value=to_idl(value, literals_pb2.Literal, "value"),
            )
        )

    def list_signals_paginated(
        self,
        workflow_execution_identifier: Any,
        limit: int = 100,
        token: str | None = None,
        filters: Any = None,
        sort_by: Any = None,
    ) -> Page:
        return self._list_request(
            "ListSignals",
            limit,
            token,
            filters,
            sort_by,
            workflow_execution_id=to_idl(
                workflow_execution_identifier, ExecutionId, "workflow_execution_identifier"
            ),
        )

    # ---------------------------------------------------------------- data proxy

    def get_upload_signed_url(
        self,
        project: str,
        domain: str,
        content_md5: bytes | None = None,
        filename: str | None = None,
        expires_in: datetime.timedelta | None = None,
        filename_root: str | None = None,
        add_content_md5_metadata: bool = True,
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        """A signed PUT URL for uploading a file.

        flyteadmin needs `content_md5` or `filename_root` to choose the storage folder. Without either, a
        fresh random root is chosen (`upload_root()`): flyteadmin refuses, with ALREADY_EXISTS, to sign a
        location that holds a file when it has no md5 to compare, so a root derived from the file name would
        make a second upload of any file with that name impossible. The root is chosen once per call, so a
        resent request still asks for the same location. Errors keep their Flyte type (flytekit turns them
        into RuntimeError).
        """
        if not content_md5 and not filename_root:
            filename_root = upload_root()
        return self._raw.create_upload_location(
            dataproxy_pb2.CreateUploadLocationRequest(
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
        self, native_url: str, expires_in: datetime.timedelta | None = None
    ) -> dataproxy_pb2.CreateDownloadLocationResponse:
        return self._raw.create_download_location(
            dataproxy_pb2.CreateDownloadLocationRequest(
                native_url=native_url, expires_in=duration(expires_in)
            )
        )

    def get_download_artifact_signed_url(
        self,
        node_id: str,
        project: str,
        domain: str,
        name: str,
        artifact_type: int = dataproxy_pb2.ARTIFACT_TYPE_DECK,
        expires_in: datetime.timedelta | None = None,
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        return self._raw.create_download_link(
            dataproxy_pb2.CreateDownloadLinkRequest(
                artifact_type=artifact_type,  # type: ignore[arg-type]
                node_execution_id=NodeExecutionId(
                    node_id=node_id, execution_id=ExecutionId(project=project, domain=domain, name=name)
                ),
                expires_in=duration(expires_in),
            )
        )

    def get_data(self, flyte_uri: str) -> dataproxy_pb2.GetDataResponse:
        return self._raw.get_data(dataproxy_pb2.GetDataRequest(flyte_url=flyte_uri))

    # ---------------------------------------------------------------- server

    def get_control_plane_version(self) -> str:
        return self._raw.get_version().control_plane_version.Version  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- iterators over every page

    iter_task_ids = iterator_of("list_task_ids_paginated", "name")
    iter_tasks = iterator_of("list_tasks_paginated", "created_at")
    iter_workflow_ids = iterator_of("list_workflow_ids_paginated", "name")
    iter_workflows = iterator_of("list_workflows_paginated", "created_at")
    iter_launch_plan_ids = iterator_of("list_launch_plan_ids_paginated", "name")
    iter_launch_plans = iterator_of("list_launch_plans_paginated", "created_at")
    iter_active_launch_plans = iterator_of("list_active_launch_plans_paginated", "created_at")
    iter_executions = iterator_of("list_executions_paginated", "created_at")
    iter_node_executions = iterator_of("list_node_executions", "created_at")
    iter_node_executions_for_task = iterator_of("list_node_executions_for_task_paginated", "created_at")
    iter_task_executions = iterator_of("list_task_executions_paginated", "created_at")
    iter_projects = iterator_of("list_projects_paginated", "identifier")
    iter_named_entities = iterator_of("list_named_entities_paginated", "name")
    iter_description_entities = iterator_of("list_description_entities_paginated", "created_at")
    iter_signals = iterator_of("list_signals_paginated", "created_at")


for _name, _member in list(vars(SynchronousFlyteClient).items()):
    if _name.startswith("iter_"):
        bind_signature(SynchronousFlyteClient, _member)

_LAUNCH_RPCS = {
    execution_pb2.ExecutionCreateRequest.DESCRIPTOR.full_name: rpc("CreateExecution"),
    execution_pb2.ExecutionRelaunchRequest.DESCRIPTOR.full_name: rpc("RelaunchExecution"),
    execution_pb2.ExecutionRecoverRequest.DESCRIPTOR.full_name: rpc("RecoverExecution"),
}


def upload_root() -> str:
    """A new storage folder for an upload given without an md5 (flyteadmin then needs a `filename_root`)."""
    return "up-" + execution_names.generate()


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


__all__ = ["Launched", "SynchronousFlyteClient", "upload_root"]
