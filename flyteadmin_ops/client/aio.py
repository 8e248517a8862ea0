# The friendly coroutines keep the sync client's names and signatures, which differ from the raw methods
# they override; `client.raw` keeps the raw signatures reachable.
# mypy: disable-error-code="override,assignment"
"""asyncio clients: `AsyncRawFlyteClient` (one coroutine per RPC) and `AsyncFlyteClient` (friendly).

flytekit has none; its users run the sync client through `run_in_executor`, a thread per call in flight.
These run on `grpc.aio` (`AsyncTransport`), so fifty calls in flight are fifty coroutines on one channel.
Nothing is written twice: the raw coroutines are generated from the same catalog as the sync raw
methods (same names, flytekit's parameter names, the same launch naming), the friendly coroutines run
the same operations as `SynchronousFlyteClient` (`client/operations.py`), and the `iter_*` async
iterators come from the same pager. Type checkers see the raw coroutines through `AsyncRawApi` in the
generated stub `_raw_api.pyi`.

Differences from the sync client: no entity cache (every get reaches the server), and a client belongs to
one event loop (a grpc.aio channel does; it is opened on the first call, so building the client before
`asyncio.run` is fine).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from flyteadmin_ops.client import operations
from flyteadmin_ops.client.paging import bind_signature, iterator_of, walk_async
from flyteadmin_ops.client.raw import (
    ClientSettings,
    describe_rpc_method,
    install_rpc_methods,
    request_for,
    resolve_transport,
)
from flyteadmin_ops.client.rpcs import Rpc
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport.aio import AsyncTransport

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; only type checkers read this

    from flyteadmin_ops.client._raw_api import AsyncRawApi
else:
    AsyncRawApi = object

Metadata = Sequence[tuple[str, str]]


class AsyncRawFlyteClient(ClientSettings, AsyncRawApi):
    """Every RPC of the five Flyte Admin services as a coroutine, named as in `RawSynchronousFlyteClient`.

    Each takes the request protobuf (or a flytekit model of it; none sends an empty request), by position
    or under flytekit's parameter name, and keyword-only `timeout` and `metadata`. Launch requests without
    a name get a generated one, so a resend cannot launch twice. Settings come as for the sync client
    (AdminSettings, a flytekit PlatformConfig, or the environment, plus keyword overrides), or pass
    `transport=` to share one AsyncTransport (it is then yours to close).
    """

    def __init__(
        self,
        settings: AdminSettings | str | Any | None = None,
        *,
        transport: AsyncTransport | None = None,
        **overrides: Any,
    ) -> None:
        self._settings, self._transport, self._owns_transport = resolve_transport(
            settings, transport, overrides, AsyncTransport
        )

    @property
    def transport(self) -> AsyncTransport:
        return self._transport

    async def close(self) -> None:
        """Close the channel, unless the transport was handed in (then its creator closes it)."""
        if self._owns_transport:
            await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _async_raw_method(rpc: Rpc) -> Callable[..., Coroutine[Any, Any, Message]]:
    async def call(
        self: AsyncRawFlyteClient,
        request: Message | None = None,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        **by_name: Message,
    ) -> Message:
        message = request_for(rpc, request, by_name)
        return await self._transport.call(rpc.spec, message, timeout=timeout, metadata=metadata)

    return describe_rpc_method(call, rpc, AsyncRawFlyteClient.__name__)


install_rpc_methods(AsyncRawFlyteClient, _async_raw_method)

_run = operations.asynchronous


class AsyncFlyteClient(AsyncRawFlyteClient):
    """The friendly operations of `SynchronousFlyteClient` as coroutines, with the same names, signatures
    and results (protobufs), and `iter_*` as async iterators over every page:

        async with AsyncFlyteClient(settings) as client:
            async for execution in client.iter_executions("flytesnacks", "development"):
                ...

    Every raw coroutine is here too, except where a friendly one takes its name; `client.raw` has them all.
    """

    def __init__(
        self,
        settings: AdminSettings | str | Any | None = None,
        *,
        transport: AsyncTransport | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(settings, transport=transport, **overrides)
        self._raw = AsyncRawFlyteClient(transport=self._transport)

    @property
    def raw(self) -> AsyncRawFlyteClient:
        """The raw coroutines (request protobuf in, response protobuf out) on this client's channel."""
        return self._raw

    @property
    def cache(self) -> None:
        """No entity cache: see the module docstring."""
        return None

    async def _perform(self, call: operations.Call) -> Message:
        """Straight to the transport, as the sync client does (the request is complete)."""
        return await self._transport.call(call.spec, call.request)

    # The same operations as SynchronousFlyteClient (see client/operations.py).
    create_task = _run(operations.create_task)
    create_workflow = _run(operations.create_workflow)
    create_launch_plan = _run(operations.create_launch_plan)
    get_task = _run(operations.get_task)
    get_workflow = _run(operations.get_workflow)
    get_launch_plan = _run(operations.get_launch_plan)
    list_task_ids_paginated = _run(operations.list_task_ids_paginated)
    list_workflow_ids_paginated = _run(operations.list_workflow_ids_paginated)
    list_launch_plan_ids_paginated = _run(operations.list_launch_plan_ids_paginated)
    list_active_launch_plans_paginated = _run(operations.list_active_launch_plans_paginated)
    list_tasks_paginated = _run(operations.list_tasks_paginated)
    list_workflows_paginated = _run(operations.list_workflows_paginated)
    list_launch_plans_paginated = _run(operations.list_launch_plans_paginated)
    get_active_launch_plan = _run(operations.get_active_launch_plan)
    update_launch_plan = _run(operations.update_launch_plan)
    launch = _run(operations.launch)
    resolve_launchable = _run(operations.resolve_launchable)
    create_execution = _run(operations.create_execution)
    relaunch_execution = _run(operations.relaunch_execution)
    recover_execution = _run(operations.recover_execution)
    get_execution = _run(operations.get_execution)
    get_execution_data = _run(operations.get_execution_data)
    list_executions_paginated = _run(operations.list_executions_paginated)
    terminate_execution = _run(operations.terminate_execution)
    list_node_executions = _run(operations.list_node_executions)
    update_execution = _run(operations.update_execution)
    get_execution_metrics = _run(operations.get_execution_metrics)
    get_node_execution = _run(operations.get_node_execution)
    get_node_execution_data = _run(operations.get_node_execution_data)
    get_dynamic_node_workflow = _run(operations.get_dynamic_node_workflow)
    list_node_executions_for_task_paginated = _run(operations.list_node_executions_for_task_paginated)
    get_task_execution = _run(operations.get_task_execution)
    get_task_execution_data = _run(operations.get_task_execution_data)
    list_task_executions_paginated = _run(operations.list_task_executions_paginated)
    update_named_entity = _run(operations.update_named_entity)
    get_named_entity = _run(operations.get_named_entity)
    list_named_entities_paginated = _run(operations.list_named_entities_paginated)
    get_description_entity = _run(operations.get_description_entity)
    list_description_entities_paginated = _run(operations.list_description_entities_paginated)
    create_workflow_event = _run(operations.create_workflow_event)
    create_node_event = _run(operations.create_node_event)
    create_task_event = _run(operations.create_task_event)
    get_or_create_signal = _run(operations.get_or_create_signal)
    set_signal_value = _run(operations.set_signal_value)
    list_signals_paginated = _run(operations.list_signals_paginated)
    get_upload_signed_url = _run(operations.get_upload_signed_url)
    get_download_signed_url = _run(operations.get_download_signed_url)
    get_download_artifact_signed_url = _run(operations.get_download_artifact_signed_url)
    get_data = _run(operations.get_data)
    register_project = _run(operations.register_project)
    update_project = _run(operations.update_project)
    get_project = _run(operations.get_project)
    list_projects_paginated = _run(operations.list_projects_paginated)
    get_domains = _run(operations.get_domains)
    update_project_domain_attributes = _run(operations.update_project_domain_attributes)
    get_project_domain_attributes = _run(operations.get_project_domain_attributes)
    delete_project_domain_attributes = _run(operations.delete_project_domain_attributes)
    update_project_attributes = _run(operations.update_project_attributes)
    get_project_attributes = _run(operations.get_project_attributes)
    delete_project_attributes = _run(operations.delete_project_attributes)
    update_workflow_attributes = _run(operations.update_workflow_attributes)
    get_workflow_attributes = _run(operations.get_workflow_attributes)
    delete_workflow_attributes = _run(operations.delete_workflow_attributes)
    list_matchable_attributes = _run(operations.list_matchable_attributes)
    get_control_plane_version = _run(operations.get_control_plane_version)

    # `async for` over every page, with the sync iterators' default sorts.
    iter_task_ids = iterator_of("list_task_ids_paginated", "name", walk_async)
    iter_tasks = iterator_of("list_tasks_paginated", "created_at", walk_async)
    iter_workflow_ids = iterator_of("list_workflow_ids_paginated", "name", walk_async)
    iter_workflows = iterator_of("list_workflows_paginated", "created_at", walk_async)
    iter_launch_plan_ids = iterator_of("list_launch_plan_ids_paginated", "name", walk_async)
    iter_launch_plans = iterator_of("list_launch_plans_paginated", "created_at", walk_async)
    iter_active_launch_plans = iterator_of("list_active_launch_plans_paginated", "created_at", walk_async)
    iter_executions = iterator_of("list_executions_paginated", "created_at", walk_async)
    iter_node_executions = iterator_of("list_node_executions", "created_at", walk_async)
    iter_node_executions_for_task = iterator_of(
        "list_node_executions_for_task_paginated", "created_at", walk_async
    )
    iter_task_executions = iterator_of("list_task_executions_paginated", "created_at", walk_async)
    iter_projects = iterator_of("list_projects_paginated", "identifier", walk_async)
    iter_named_entities = iterator_of("list_named_entities_paginated", "name", walk_async)
    iter_description_entities = iterator_of("list_description_entities_paginated", "created_at", walk_async)
    iter_signals = iterator_of("list_signals_paginated", "created_at", walk_async)


for _name, _member in list(vars(AsyncFlyteClient).items()):
    if _name.startswith("iter_"):
        bind_signature(AsyncFlyteClient, _member, "AsyncIterator[Any]")

__all__ = ["AsyncFlyteClient", "AsyncRawFlyteClient"]
