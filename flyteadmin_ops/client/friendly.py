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

Every friendly operation is written once, in `client/operations.py`, and only driven here; `AsyncFlyteClient`
drives the same ones. What stays here is flytekit's raw-signature methods (inherited) and the `iter_*` pagers.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from flyteadmin_ops.client import operations
from flyteadmin_ops.client.cache import EntityCache
from flyteadmin_ops.client.operations import Launched, upload_root
from flyteadmin_ops.client.paging import bind_signature, iterator_of
from flyteadmin_ops.client.raw import RawSynchronousFlyteClient
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport


class SynchronousFlyteClient(RawSynchronousFlyteClient):
    """flytekit's `SynchronousFlyteClient` operations with protobuf results; see the module docstring.

    `settings` is an AdminSettings, a flytekit PlatformConfig, an endpoint (`SynchronousFlyteClient(
    "localhost:8089", insecure=True)`, the rest from the settings sources), or None (all from the sources).

    `cache` replaces the entity cache built from settings (cache_size, cache_ttl_seconds), e.g. to inject a
    clock in tests. Safe to share across threads.
    """

    def __init__(
        self,
        settings: AdminSettings | str | Any | None = None,
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
    resolve_launchable = operations.synchronous(operations.resolve_launchable)
    create_execution = operations.synchronous(operations.create_execution)
    relaunch_execution = operations.synchronous(operations.relaunch_execution)
    recover_execution = operations.synchronous(operations.recover_execution)
    get_execution = operations.synchronous(operations.get_execution)
    get_execution_data = operations.synchronous(operations.get_execution_data)
    list_executions_paginated = operations.synchronous(operations.list_executions_paginated)
    terminate_execution = operations.synchronous(operations.terminate_execution)
    list_node_executions = operations.synchronous(operations.list_node_executions)
    update_execution = operations.synchronous(operations.update_execution)
    get_execution_metrics = operations.synchronous(operations.get_execution_metrics)
    get_node_execution = operations.synchronous(operations.get_node_execution)
    get_node_execution_data = operations.synchronous(operations.get_node_execution_data)
    get_dynamic_node_workflow = operations.synchronous(operations.get_dynamic_node_workflow)
    list_node_executions_for_task_paginated = operations.synchronous(
        operations.list_node_executions_for_task_paginated
    )
    get_task_execution = operations.synchronous(operations.get_task_execution)
    get_task_execution_data = operations.synchronous(operations.get_task_execution_data)
    list_task_executions_paginated = operations.synchronous(operations.list_task_executions_paginated)
    update_named_entity = operations.synchronous(operations.update_named_entity)
    get_named_entity = operations.synchronous(operations.get_named_entity)
    list_named_entities_paginated = operations.synchronous(operations.list_named_entities_paginated)
    get_description_entity = operations.synchronous(operations.get_description_entity)
    list_description_entities_paginated = operations.synchronous(
        operations.list_description_entities_paginated
    )
    create_workflow_event = operations.synchronous(operations.create_workflow_event)
    create_node_event = operations.synchronous(operations.create_node_event)
    create_task_event = operations.synchronous(operations.create_task_event)
    get_or_create_signal = operations.synchronous(operations.get_or_create_signal)
    set_signal_value = operations.synchronous(operations.set_signal_value)
    list_signals_paginated = operations.synchronous(operations.list_signals_paginated)
    get_upload_signed_url = operations.synchronous(operations.get_upload_signed_url)
    get_download_signed_url = operations.synchronous(operations.get_download_signed_url)
    get_download_artifact_signed_url = operations.synchronous(operations.get_download_artifact_signed_url)
    get_data = operations.synchronous(operations.get_data)
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
        """One raw call an operation asks for; gets of immutable versions go through the entity cache.

        Straight to the transport: the request is complete (see `operations.Call`), so the raw method's
        coercion and naming would only cost time on every call."""
        send, spec, request = self._transport.call, call.spec, call.request
        if call.cache_key is None or not self._cache.enabled:
            return send(spec, request)
        return self._cache.get_or_load(call.cache_key, lambda: send(spec, request))

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


__all__ = ["Launched", "SynchronousFlyteClient", "upload_root"]
