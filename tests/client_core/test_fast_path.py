"""The per-call fast path (attempt 1 straight to the cached multicallable, the retry machinery only after a
failure) seen from the server: attempt 1 and the resends that follow it must be indistinguishable, for the
sync and the asyncio transport, and for calls the friendly clients send straight to the transport."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Iterator

import grpc
import pytest
from flyteidl.admin import common_pb2, execution_pb2, task_pb2, version_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops import __version__, errors
from flyteadmin_ops.client import AsyncFlyteClient, SynchronousFlyteClient
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.aio import AsyncTransport
from flyteadmin_ops.transport.auth import CachedTokenProvider
from tests.client_core.servers import GET_VERSION, Arrival, ScriptedAdmin, fast_settings, spec_for

VERSION = version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(Build="fast"))
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


class Minting(CachedTokenProvider):
    """tok-1, tok-2, ... with no expiry; counts how often a token is asked for and fetched."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched = 0
        self.asked = 0

    def fetch(self) -> tuple[str, float | None]:
        self.fetched += 1
        return f"tok-{self.fetched}", None

    def token(self) -> str:
        self.asked += 1
        return super().token()


def assert_alike(arrivals: list[Arrival], deadline: float) -> None:
    """Every attempt carried the same headers, and a deadline no longer than its own."""
    assert len(arrivals) == 3
    for arrival in arrivals:
        assert arrival.metadata["x-team"] == "ml"
        assert arrival.metadata["x-request-id"] == "r-1"
        assert arrival.metadata["authorization"] == "Bearer tok-1"
        assert arrival.metadata["user-agent"].startswith(f"flyteadmin-ops/{__version__}")
        # gRPC rounds the deadline it sends up a little: a slack far below the 30 s default it must not be
        assert arrival.time_remaining is not None and 0 < arrival.time_remaining <= deadline + 0.1


def test_attempt_one_and_its_resends_carry_the_same_metadata_and_deadline(admin: ScriptedAdmin) -> None:
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("GetVersion", UNAVAILABLE, UNAVAILABLE, VERSION)
    provider = Minting()
    settings = fast_settings(admin.port, default_metadata={"X-Team": "ml"}, deadline_seconds=4.0)
    with Transport(settings, token_provider=provider) as transport:
        response = transport.call(
            GET_VERSION, version_pb2.GetVersionRequest(), metadata=[("x-request-id", "r-1")]
        )
    assert response == VERSION
    assert_alike(admin.calls("GetVersion"), 4.0)
    assert provider.asked == 3 and provider.fetched == 1  # asked per attempt (it may expire), fetched once


def test_the_asyncio_transport_does_the_same(admin: ScriptedAdmin) -> None:
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("GetVersion", UNAVAILABLE, UNAVAILABLE, VERSION)
    settings = fast_settings(admin.port, default_metadata={"X-Team": "ml"}, deadline_seconds=4.0)

    async def call() -> object:
        async with AsyncTransport(settings, token_provider=Minting()) as transport:
            return await transport.call(
                GET_VERSION, version_pb2.GetVersionRequest(), metadata=[("x-request-id", "r-1")]
            )

    assert asyncio.run(call()) == VERSION
    assert_alike(admin.calls("GetVersion"), 4.0)


def test_the_first_attempt_deadline_is_cut_to_the_overall_deadline(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", VERSION)
    with Transport(fast_settings(admin.port, deadline_seconds=30, retry_deadline_seconds=2)) as transport:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    [arrival] = admin.calls("GetVersion")
    assert arrival.time_remaining is not None and arrival.time_remaining <= 2.1  # not deadline_seconds


TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK, project="p", domain="development", name="t", version="v1"
)


def test_friendly_calls_keep_coercion_naming_and_errors_without_the_raw_layer(admin: ScriptedAdmin) -> None:
    """The friendly clients hand their requests to the transport directly: a launch still goes out named
    (and resent under the same name), a get still takes an id without its type, errors stay typed."""
    admin.on("CreateExecution", UNAVAILABLE, execution_pb2.ExecutionCreateResponse())
    admin.on("GetTask", grpc.StatusCode.NOT_FOUND)
    spec = execution_pb2.ExecutionSpec(launch_plan=TASK_ID)
    with SynchronousFlyteClient(fast_settings(admin.port, cache_size=0)) as client:
        client.create_execution("p", "development", None, spec)
        untyped = identifier_pb2.Identifier(project="p", domain="development", name="t", version="v1")
        with pytest.raises(errors.FlyteEntityNotExistException) as raised:
            client.get_task(untyped)
    first, resent = (call.request for call in admin.calls("CreateExecution"))
    assert len(first.name) == 20 and first == resent
    [get] = admin.calls("GetTask")
    assert get.request == common_pb2.ObjectGetRequest(id=TASK_ID)
    assert raised.value.rpc == "AdminService/GetTask"


def test_the_asyncio_friendly_client_sends_the_same_requests(admin: ScriptedAdmin) -> None:
    admin.on("GetTask", task_pb2.Task(id=TASK_ID))
    admin.on("CreateExecution", execution_pb2.ExecutionCreateResponse())
    spec = execution_pb2.ExecutionSpec(launch_plan=TASK_ID)

    async def calls() -> task_pb2.Task:
        async with AsyncFlyteClient(fast_settings(admin.port)) as client:
            await client.create_execution("p", "development", "run-1", spec)
            return await client.get_task(TASK_ID)

    assert asyncio.run(calls()).id == TASK_ID
    [launched] = admin.calls("CreateExecution")
    assert launched.request.name == "run-1" and launched.request.spec == spec


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """Runs the block with the garbage collector off: what it frees, reference counting freed."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def raised_by(call: Callable[[], object]) -> list[weakref.ref[BaseException]]:
    """Weak references to the FlyteAdminError `call` raises and to the gRPC error behind it, taken while they
    were caught; the caller then holds neither."""
    try:
        call()
    except errors.FlyteEntityAlreadyExistsException as error:
        assert error.__cause__ is not None
        return [weakref.ref(error), weakref.ref(error.__cause__)]
    raise AssertionError("no ALREADY_EXISTS")


def test_an_error_that_ends_attempt_one_is_freed_without_the_garbage_collector(admin: ScriptedAdmin) -> None:
    """Every create of a re-registration answers ALREADY_EXISTS: once its caller drops the error, the error
    and gRPC's must go at once. The transport's frame holding the error it raised made a reference cycle,
    and collecting those was a quarter of what such a call cost the client. (Asked of these objects, not of
    what a collection finds: other threads of the test process leave cycles of their own.)"""
    admin.on("CreateTask", grpc.StatusCode.ALREADY_EXISTS)
    request = task_pb2.TaskCreateRequest(id=TASK_ID, spec=task_pb2.TaskSpec())
    with SynchronousFlyteClient(fast_settings(admin.port)) as client, collector_off():
        for _ in range(2):  # the first call also settles auth and makes the route
            refs = raised_by(lambda: client.create_task(request.id, request.spec))
            assert [ref() for ref in refs] == [None, None]


def test_the_asyncio_transport_frees_it_alike(admin: ScriptedAdmin) -> None:
    admin.on("CreateTask", grpc.StatusCode.ALREADY_EXISTS)

    async def calls() -> list[object]:
        alive: list[object] = []
        refs: list[weakref.ref[BaseException]] = []
        async with AsyncTransport(fast_settings(admin.port)) as transport:
            for _ in range(2):
                try:
                    await transport.call(spec_for("CreateTask"), task_pb2.TaskCreateRequest())
                except errors.FlyteEntityAlreadyExistsException as error:
                    assert error.__cause__ is not None
                    refs = [weakref.ref(error), weakref.ref(error.__cause__)]
                alive = [ref() for ref in refs]
        return alive

    with collector_off():
        assert asyncio.run(calls()) == [None, None]
