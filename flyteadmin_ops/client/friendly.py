# The friendly methods keep flytekit's names and signatures, which differ from the raw methods they
# override (flytekit does the same); `client.raw` keeps the raw signatures reachable.
# mypy: disable-error-code="override,assignment"
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

The operations `AsyncFlyteClient` has too (tasks, workflows, launch plans, executions, projects, matchable
attributes) are written once in `client/operations.py` and only driven here.
"""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    event_pb2,
    execution_pb2,
    node_execution_pb2,
    signal_pb2,
    task_execution_pb2,
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

from flyteadmin_ops.client import execution_names, operations
from flyteadmin_ops.client.cache import EntityCache
from flyteadmin_ops.client.coerce import duration, to_idl
from flyteadmin_ops.client.operations import Launched
from flyteadmin_ops.client.paging import bind_signature, iterator_of
from flyteadmin_ops.client.raw import RawSynchronousFlyteClient
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport

Page = tuple[list[Any], str]
M = TypeVar("M", bound=Message)


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

    # ---------------------------------------------------------------- shared with AsyncFlyteClient
    # Written once, as I/O-free operations in client/operations.py, and driven here with blocking calls.
    # (The raw methods several of them replace take a request: mypy sees a signature change, as for every
    # override here.)

    create_task = operations.synchronous(operations.create_task)
    create_workflow = operations.synchronous(operations.create_workflow)
    create_launch_plan = operations.synchronous(operations.create_launch_plan)
    get_task = operations.synchronous(operations.get_task)
    get_workflow = operations.synchronous(operations.get_workflow)
    get_launch_plan = operations.synchronous(operations.get_launch_plan)
    list_task_ids_paginated = operations.synchronous(operations.list_task_ids_paginated)
    list_workflow_ids_paginated = operations.synchronous(operations.list_workflow_ids_paginated)
    list_launch_plan_ids_paginated = operations.synchronous(operations.list_launch_plan_ids_paginated)
    list_active_launch_plans_paginated = operations.synchronous(operations.list_active_launch_plans_paginated)
    list_tasks_paginated = operations.synchronous(operations.list_tasks_paginated)
    list_workflows_paginated = operations.synchronous(operations.list_workflows_paginated)
    list_launch_plans_paginated = operations.synchronous(operations.list_launch_plans_paginated)
    get_active_launch_plan = operations.synchronous(operations.get_active_launch_plan)
    update_launch_plan = operations.synchronous(operations.update_launch_plan)
    launch = operations.synchronous(operations.launch)
    create_execution = operations.synchronous(operations.create_execution)
    relaunch_execution = operations.synchronous(operations.relaunch_execution)
    recover_execution = operations.synchronous(operations.recover_execution)
    get_execution = operations.synchronous(operations.get_execution)
    get_execution_data = operations.synchronous(operations.get_execution_data)
    list_executions_paginated = operations.synchronous(operations.list_executions_paginated)
    terminate_execution = operations.synchronous(operations.terminate_execution)
    list_node_executions = operations.synchronous(operations.list_node_executions)
    register_project = operations.synchronous(operations.register_project)
    update_project = operations.synchronous(operations.update_project)
    get_project = operations.synchronous(operations.get_project)
    list_projects_paginated = operations.synchronous(operations.list_projects_paginated)
    get_domains = operations.synchronous(operations.get_domains)
    update_project_domain_attributes = operations.synchronous(operations.update_project_domain_attributes)
    get_project_domain_attributes = operations.synchronous(operations.get_project_domain_attributes)
    delete_project_domain_attributes = operations.synchronous(operations.delete_project_domain_attributes)
    update_project_attributes = operations.synchronous(operations.update_project_attributes)
    get_project_attributes = operations.synchronous(operations.get_project_attributes)
    delete_project_attributes = operations.synchronous(operations.delete_project_attributes)
    update_workflow_attributes = operations.synchronous(operations.update_workflow_attributes)
    get_workflow_attributes = operations.synchronous(operations.get_workflow_attributes)
    delete_workflow_attributes = operations.synchronous(operations.delete_workflow_attributes)
    list_matchable_attributes = operations.synchronous(operations.list_matchable_attributes)
    get_control_plane_version = operations.synchronous(operations.get_control_plane_version)

    def _perform(self, call: operations.Call) -> Message:
        """One raw call an operation asks for; gets of immutable versions go through the entity cache."""
        send = getattr(self._raw, call.method)
        if call.cache_key is None:
            return send(call.request)
        return self._cache.get_or_load(call.cache_key, lambda: send(call.request))

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
        steps = operations.list_request(self, rpc_name, limit, token, filters, sort_by, **fields)
        return operations.drive(steps, self._perform)

    # ---------------------------------------------------------------- named entities

    def update_named_entity(self, resource_type: int, id: Any, metadata: Any) -> None:
        self._raw.update_named_entity(
            common_pb2.NamedEntityUpdateRequest(
                resource_type=resource_type,
                id=to_idl(id, NamedEntityIdentifier, "id"),
                metadata=to_idl(metadata, common_pb2.NamedEntityMetadata, "metadata"),
            )
        )

    def get_named_entity(self, resource_type: int, id: Any) -> common_pb2.NamedEntity:
        return self._raw.get_named_entity(
            common_pb2.NamedEntityGetRequest(
                resource_type=resource_type,
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

    def get_execution_metrics(self, id: Any, depth: int = 10) -> metrics_pb2.Span:
        """The execution's span tree (the response's `span`, as flytekit returns)."""
        return self._raw.get_execution_metrics(
            execution_pb2.WorkflowExecutionGetMetricsRequest(id=to_idl(id, ExecutionId, "id"), depth=depth)
        ).span

    def update_execution(self, id: Any, state: int) -> None:
        """Archive (EXECUTION_ARCHIVED) or un-archive (EXECUTION_ACTIVE) an execution."""
        self._raw.update_execution(
            execution_pb2.ExecutionUpdateRequest(id=to_idl(id, ExecutionId, "id"), state=state)
        )

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
                artifact_type=artifact_type,
                node_execution_id=NodeExecutionId(
                    node_id=node_id, execution_id=ExecutionId(project=project, domain=domain, name=name)
                ),
                expires_in=duration(expires_in),
            )
        )

    def get_data(self, flyte_uri: str) -> dataproxy_pb2.GetDataResponse:
        return self._raw.get_data(dataproxy_pb2.GetDataRequest(flyte_url=flyte_uri))

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


def upload_root() -> str:
    """A new storage folder for an upload given without an md5 (flyteadmin then needs a `filename_root`)."""
    return "up-" + execution_names.generate()


__all__ = ["Launched", "SynchronousFlyteClient", "upload_root"]
