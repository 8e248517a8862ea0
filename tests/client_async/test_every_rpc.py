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
from flyteidl.service import dataproxy_pb2

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


class _MethodNameRecorder:
    """Stands in for a client to learn which method a row of the FRIENDLY table calls."""

    def __init__(self) -> None:
        self.called: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.called.append(name)
        return lambda *args, **kwargs: None


def _friendly_method(rpc_name: str) -> str:
    recorder = _MethodNameRecorder()
    FRIENDLY[rpc_name][0](recorder)  # type: ignore[arg-type]
    [name] = recorder.called
    return name


SHARED_RPCS = sorted(n for n in FRIENDLY if _friendly_method(n) in operations.SHARED)


def test_every_shared_operation_is_in_the_friendly_table() -> None:
    assert {_friendly_method(n) for n in SHARED_RPCS} == set(operations.SHARED) - {"launch"}


@pytest.mark.parametrize("rpc_name", SHARED_RPCS)
def test_friendly_coroutines_send_what_the_sync_client_sends(
    rpc_name: str, server: RecordingServer, settings: AdminSettings
) -> None:
    """The client-api table of friendly calls, run with the asyncio client: the same request reaches the
    server (both clients run one operation, so this checks the async driving, not a second copy)."""
    call, check = FRIENDLY[rpc_name]

    async def run() -> Any:
        async with AsyncFlyteClient(settings) as client:
            pending = call(client)
            assert inspect.iscoroutine(pending)
            return await pending

    asyncio.run(run())
    assert [c.method for c in server.calls] == [rpc_name]
    assert check(server.last(rpc_name))


def test_friendly_coroutines_have_the_sync_signatures() -> None:
    for name in operations.SHARED:
        ours, theirs = getattr(AsyncFlyteClient, name), getattr(SynchronousFlyteClient, name)
        assert inspect.iscoroutinefunction(ours), name
        assert inspect.signature(ours) == inspect.signature(theirs), name
    pagers = {name for name in dir(SynchronousFlyteClient) if name.startswith("iter_")}
    assert pagers == {name for name in dir(AsyncFlyteClient) if name.startswith("iter_")}
    for name in pagers:
        ours, theirs = (
            inspect.signature(getattr(AsyncFlyteClient, name)),
            inspect.signature(getattr(SynchronousFlyteClient, name)),
        )
        assert ours.parameters == theirs.parameters, name
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


def test_an_upload_without_md5_gets_a_root_per_call_which_its_resend_keeps(server: RecordingServer) -> None:
    """The root is drawn once per call, inside the shared operation: the transport's resend after
    UNAVAILABLE asks for the same location, and the next call for a new one."""
    settings = AdminSettings.isolated(
        endpoint=f"127.0.0.1:{server.port}", insecure=True, deadline_seconds=5, retry_initial_backoff=0
    )
    server.reset()
    answered: list[Any] = []

    def unavailable_first(request: Any, context: Any) -> Any:
        answered.append(request)
        if len(answered) == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        return dataproxy_pb2.CreateUploadLocationResponse()

    server.on("CreateUploadLocation", unavailable_first)

    async def run() -> None:
        async with AsyncFlyteClient(settings) as client:
            for _ in range(2):
                await client.get_upload_signed_url("p", "d", filename="data.csv")
            await client.get_upload_signed_url("p", "d", content_md5=b"\x01", filename="data.csv")

    asyncio.run(run())
    roots = [request.filename_root for request in answered]
    assert len(roots) == 4 and roots[0] == roots[1] and roots[1] != roots[2]
    assert all(root.startswith("up-") for root in roots[:3]) and roots[3] == ""
