"""Every RPC of the five services through AsyncRawFlyteClient, and every friendly coroutine, against the
client-api tests' server whose handlers come from flyteidl's descriptors (not from our catalog)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2, project_pb2

from flyteadmin_ops.client import (
    AsyncFlyteClient,
    AsyncRawFlyteClient,
    RawSynchronousFlyteClient,
    SynchronousFlyteClient,
    execution_id,
    operations,
)
from flyteadmin_ops.client.rpcs import BY_RPC_NAME, CATALOG
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import METHODS, RecordingServer
from tests.client_api.test_every_rpc import FRIENDLY, TASK


@pytest.fixture(scope="module")
def server() -> Iterator[RecordingServer]:
    running = RecordingServer()
    yield running
    running.stop()


@pytest.fixture
def settings(server: RecordingServer) -> AdminSettings:
    server.reset()
    return AdminSettings.isolated(endpoint=f"127.0.0.1:{server.port}", insecure=True, deadline_seconds=5)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_async_raw_client_calls_every_rpc(
    method: Any, server: RecordingServer, settings: AdminSettings
) -> None:
    entry = BY_RPC_NAME[method.name]
    request = entry.spec.request_type()

    async def call() -> Any:
        async with AsyncRawFlyteClient(settings) as raw:
            return await getattr(raw, entry.python_name)(request)

    response = asyncio.run(call())
    assert response.DESCRIPTOR.full_name == method.output_type.full_name
    assert [c.method for c in server.calls] == [method.name]
    sent = server.calls[0].request
    assert sent.DESCRIPTOR.full_name == method.input_type.full_name
    if method.name in ("CreateExecution", "RelaunchExecution", "RecoverExecution"):
        assert len(sent.name) == 20  # launched with a generated name, so a resend cannot launch twice
        assert request.name == ""  # on a copy: the caller's request is left alone


def test_async_raw_methods_mirror_the_sync_ones() -> None:
    for name in CATALOG:
        ours, theirs = getattr(AsyncRawFlyteClient, name), getattr(RawSynchronousFlyteClient, name)
        assert inspect.iscoroutinefunction(ours), name
        assert inspect.signature(ours) == inspect.signature(theirs), name
        assert ours.__doc__ == theirs.__doc__ and ours.__qualname__ == f"AsyncRawFlyteClient.{name}"


def test_a_request_passed_under_flytekits_parameter_name(
    server: RecordingServer, settings: AdminSettings
) -> None:
    request = project_pb2.ProjectListRequest(limit=3)

    async def call() -> None:
        async with AsyncRawFlyteClient(settings) as raw:
            await raw.list_projects(project_list_request=request)
            with pytest.raises(TypeError, match="unexpected keyword argument 'request'"):
                await raw.list_projects(request=request)

    asyncio.run(call())
    assert server.last("ListProjects") == request


@pytest.mark.parametrize(
    "name",
    sorted(
        {BY_RPC_NAME[n].python_name for n in FRIENDLY} & set(operations.SHARED)
        | {"get_control_plane_version"}
    ),
)
def test_friendly_coroutines_send_what_the_sync_client_sends(
    name: str, server: RecordingServer, settings: AdminSettings
) -> None:
    """The client-api table of friendly calls, run with the asyncio client: the same request reaches the
    server (both clients run one operation, so this checks the async driving, not a second copy)."""
    rpc_name = next(n for n, (call, _) in FRIENDLY.items() if _friendly_name(n) == name)
    call, check = FRIENDLY[rpc_name]

    async def run() -> Any:
        async with AsyncFlyteClient(settings) as client:
            pending = call(client)
            assert inspect.iscoroutine(pending)
            return await pending

    asyncio.run(run())
    assert [c.method for c in server.calls] == [rpc_name]
    assert check(server.last(rpc_name))


def _friendly_name(rpc_name: str) -> str:
    return {"GetVersion": "get_control_plane_version"}.get(rpc_name, BY_RPC_NAME[rpc_name].python_name)


def test_friendly_coroutines_have_the_sync_signatures() -> None:
    for name in operations.SHARED:
        ours, theirs = getattr(AsyncFlyteClient, name), getattr(SynchronousFlyteClient, name)
        assert inspect.iscoroutinefunction(ours), name
        assert inspect.signature(ours) == inspect.signature(theirs), name
    assert list(inspect.signature(AsyncFlyteClient.iter_executions).parameters) == [
        "self",
        "project",
        "domain",
        "filters",
        "sort_by",
        "page_size",
    ]


def test_an_error_reaches_the_operation_and_its_launch_rule(
    server: RecordingServer, settings: AdminSettings
) -> None:
    """ALREADY_EXISTS for our own launch (the first answer was lost) is thrown into the shared operation,
    which reads the execution back and returns its id, as the sync client does."""

    def exists(request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.ALREADY_EXISTS, "already exists")

    server.on("CreateExecution", exists)
    server.on(
        "GetExecution",
        lambda request, context: execution_pb2.Execution(
            id=request.id, spec=execution_pb2.ExecutionSpec(launch_plan=TASK)
        ),
    )
    request = execution_pb2.ExecutionCreateRequest(
        project="p", domain="d", name="mine", spec=execution_pb2.ExecutionSpec(launch_plan=TASK)
    )

    async def run() -> operations.Launched:
        async with AsyncFlyteClient(settings) as client:
            return await client.launch(request)

    launched = asyncio.run(run())
    assert launched == operations.Launched(execution_id("p", "d", "mine"), created=False)
    assert [c.method for c in server.calls] == ["CreateExecution", "GetExecution"]
