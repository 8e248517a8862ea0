"""AsyncTransport against real gRPC servers: the sync Transport's rules (retry policy, deadlines, one token
refresh, error mapping, discovery, TLS), observed from the server side. Coroutines run under asyncio.run."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import pytest
from flyteidl.admin import event_pb2, execution_pb2, project_pb2, version_pb2
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2
from pydantic import SecretStr

from flyteadmin_ops import errors
from flyteadmin_ops.transport.aio import AsyncTransport
from flyteadmin_ops.transport.auth import CachedTokenProvider
from tests.client_core.servers import (
    CREATE_EXECUTION,
    GET_VERSION,
    LIST_PROJECTS,
    UNNAMED_CREATE_EXECUTION,
    Pki,
    ScriptedAdmin,
    TokenEndpoint,
    fast_settings,
    serve,
)

T = TypeVar("T")
VERSION = version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(Build="aio"))
PROJECTS = project_pb2.Projects(projects=[project_pb2.Project(id="p")])


def run(make: Callable[[AsyncTransport], Awaitable[T]], transport: AsyncTransport) -> T:
    """Run one coroutine on a fresh loop, closing the transport inside that loop."""

    async def main() -> T:
        async with transport:
            return await make(transport)

    return asyncio.run(main())


def get_version(transport: AsyncTransport) -> Awaitable[Message]:
    return transport.call(GET_VERSION, version_pb2.GetVersionRequest())


class Minting(CachedTokenProvider):
    """tok-1, tok-2, ... with no expiry; counts fetches."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched = 0

    def fetch(self) -> tuple[str, float | None]:
        self.fetched += 1
        return f"tok-{self.fetched}", None


def test_a_call_carries_default_metadata_and_the_per_call_deadline(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", VERSION)
    transport = AsyncTransport(fast_settings(admin.port, default_metadata={"x-team": "ml"}))
    response = run(
        lambda t: t.call(
            GET_VERSION, version_pb2.GetVersionRequest(), timeout=2.0, metadata=[("x-run", "7")]
        ),
        transport,
    )
    assert response == VERSION
    (arrival,) = admin.calls("GetVersion")
    assert arrival.metadata["x-team"] == "ml" and arrival.metadata["x-run"] == "7"
    assert "authorization" not in arrival.metadata
    # the per-call 2 s, not the settings' 5 s (gRPC rounds the propagated deadline up a little)
    assert arrival.time_remaining is not None and 0 < arrival.time_remaining < 3


def test_unavailable_is_retried_with_growing_delays_for_a_retry_safe_rpc(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(errors.FlyteSystemUnavailableException) as raised:
        run(get_version, AsyncTransport(fast_settings(admin.port)))
    assert len(admin.calls("GetVersion")) == 5 and raised.value.attempts == 5
    assert str(raised.value).startswith("AdminService/GetVersion failed with UNAVAILABLE: ")
    gaps = admin.gaps("GetVersion")  # backoff 10, 20, 40, 80 ms without jitter
    for gap, delay in zip(gaps, [0.01, 0.02, 0.04, 0.08], strict=True):
        assert gap >= delay
    assert gaps[3] > gaps[0] + 0.04


def test_a_transient_failure_then_success_returns_the_response(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, VERSION)
    assert run(get_version, AsyncTransport(fast_settings(admin.port))) == VERSION
    assert len(admin.calls("GetVersion")) == 3


def test_an_unsafe_write_is_sent_once_and_a_safe_one_is_retried(admin: ScriptedAdmin) -> None:
    admin.on("CreateExecution", grpc.StatusCode.UNAVAILABLE)
    request = execution_pb2.ExecutionCreateRequest(project="p", domain="d", name="n1")
    with pytest.raises(errors.FlyteSystemUnavailableException):
        run(lambda t: t.call(UNNAMED_CREATE_EXECUTION, request), AsyncTransport(fast_settings(admin.port)))
    assert len(admin.calls("CreateExecution")) == 1
    with pytest.raises(errors.FlyteSystemUnavailableException):
        run(lambda t: t.call(CREATE_EXECUTION, request), AsyncTransport(fast_settings(admin.port)))
    assert len(admin.calls("CreateExecution")) == 1 + 5


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, errors.FlyteInvalidInputException),
        (grpc.StatusCode.NOT_FOUND, errors.FlyteEntityNotExistException),
        (grpc.StatusCode.INTERNAL, errors.FlyteSystemException),
    ],
)
def test_other_codes_fail_at_once_with_their_typed_error(
    admin: ScriptedAdmin, code: grpc.StatusCode, error_class: type[errors.FlyteAdminError]
) -> None:
    admin.on("GetVersion", code)
    with pytest.raises(error_class) as raised:
        run(get_version, AsyncTransport(fast_settings(admin.port)))
    assert raised.value.code is code and raised.value.attempts == 1
    assert len(admin.calls("GetVersion")) == 1


def test_status_details_are_decoded_from_an_aio_error(admin: ScriptedAdmin) -> None:
    """from_rpc_error reads grpc.aio's AioRpcError (its trailers are grpc.aio.Metadata) like a sync error."""
    reason = event_pb2.EventFailureReason(
        already_in_terminal_state=event_pb2.EventErrorAlreadyInTerminalState(current_phase="SUCCEEDED")
    )
    detail = any_pb2.Any()
    detail.Pack(reason)
    admin.on(
        "GetVersion",
        status_pb2.Status(
            code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message="done", details=[detail]
        ),
    )
    with pytest.raises(errors.FlyteFailedPreconditionException) as raised:
        run(get_version, AsyncTransport(fast_settings(admin.port)))
    assert raised.value.current_phase == "SUCCEEDED" and raised.value.server_message == "done"


def test_each_attempt_has_its_deadline_and_a_read_is_retried_after_it(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", admin.hang, VERSION)
    assert (
        run(
            lambda t: t.call(GET_VERSION, version_pb2.GetVersionRequest(), timeout=0.2),
            AsyncTransport(fast_settings(admin.port)),
        )
        == VERSION
    )
    assert len(admin.calls("GetVersion")) == 2


def test_the_overall_deadline_bounds_all_attempts(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE)
    settings = fast_settings(admin.port, retry_attempts=50, retry_deadline_seconds=0.3)
    with pytest.raises(errors.FlyteAdminError) as raised:
        run(get_version, AsyncTransport(settings))
    assert 1 < len(admin.calls("GetVersion")) < 50
    assert raised.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_a_rejected_token_is_refreshed_once_and_the_call_resent(admin: ScriptedAdmin) -> None:
    admin.on("ListProjects", grpc.StatusCode.UNAUTHENTICATED, PROJECTS)
    provider = Minting()
    transport = AsyncTransport(fast_settings(admin.port), token_provider=provider)
    assert run(lambda t: t.call(LIST_PROJECTS, project_pb2.ProjectListRequest()), transport) == PROJECTS
    tokens = [arrival.metadata["authorization"] for arrival in admin.calls("ListProjects")]
    assert tokens == ["Bearer tok-1", "Bearer tok-2"]


def test_a_token_rejected_again_is_not_refreshed_twice(admin: ScriptedAdmin) -> None:
    admin.on("ListProjects", grpc.StatusCode.UNAUTHENTICATED)
    provider = Minting()
    transport = AsyncTransport(fast_settings(admin.port), token_provider=provider)
    with pytest.raises(errors.FlyteAuthenticationException) as raised:
        run(lambda t: t.call(LIST_PROJECTS, project_pb2.ProjectListRequest()), transport)
    assert len(admin.calls("ListProjects")) == 2 and provider.fetched == 2
    assert "tok-" not in str(raised.value)


def test_a_static_token_is_not_resent(admin: ScriptedAdmin) -> None:
    admin.on("ListProjects", grpc.StatusCode.UNAUTHENTICATED)
    settings = fast_settings(
        admin.port, auth_mode="static", token=SecretStr("s3cr3t"), auth_header_key="x-auth"
    )
    with pytest.raises(errors.FlyteAuthenticationException) as raised:
        run(lambda t: t.call(LIST_PROJECTS, project_pb2.ProjectListRequest()), AsyncTransport(settings))
    assert [a.metadata["x-auth"] for a in admin.calls("ListProjects")] == ["Bearer s3cr3t"]
    assert "s3cr3t" not in str(raised.value) and "s3cr3t" not in repr(AsyncTransport(settings))


def test_client_credentials_are_discovered_from_the_server_once_for_concurrent_calls(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    """Discovery (the sync `settle_auth`, run in a thread) sends its RPCs on the transport's own loop."""
    from flyteidl.service import auth_pb2

    admin.on(
        "GetPublicClientConfig",
        auth_pb2.PublicClientAuthConfigResponse(
            authorization_metadata_key="flyte-authorization", scopes=["all"]
        ),
    )
    admin.on("GetOAuth2Metadata", auth_pb2.OAuth2MetadataResponse(token_endpoint=token_endpoint.url))
    admin.on("ListProjects", PROJECTS)
    settings = fast_settings(
        admin.port, auth_mode="client_credentials", client_id="ci-bot", client_secret=SecretStr("cs")
    )

    async def twelve(transport: AsyncTransport) -> list[Message]:
        request = project_pb2.ProjectListRequest()
        return await asyncio.gather(*(transport.call(LIST_PROJECTS, request) for _ in range(12)))

    assert run(twelve, AsyncTransport(settings)) == [PROJECTS] * 12
    assert len(admin.calls("GetPublicClientConfig")) == 1 and len(token_endpoint.requests) == 1
    assert {a.metadata["flyte-authorization"] for a in admin.calls("ListProjects")} == {"Bearer tok-1"}
    assert token_endpoint.requests[0]["scope"] == "all"


def test_calls_share_the_channel_concurrently(admin: ScriptedAdmin) -> None:
    """16 calls are in the server's handlers at the same time (its pool size): none waits for another."""
    in_flight = threading.Condition()
    arrived = [0]

    def gather_then_answer(request: Message, context: Any) -> Message:
        with in_flight:
            arrived[0] += 1
            in_flight.notify_all()
            all_there = in_flight.wait_for(lambda: arrived[0] >= 16, timeout=5)
        if not all_there:
            context.abort(grpc.StatusCode.INTERNAL, "calls were serialized")
        return VERSION

    admin.on("GetVersion", gather_then_answer)

    async def sixteen(transport: AsyncTransport) -> list[Message]:
        return await asyncio.gather(*(get_version(transport) for _ in range(16)))

    assert run(sixteen, AsyncTransport(fast_settings(admin.port))) == [VERSION] * 16


def test_tls_with_the_configured_ca(pki: Pki) -> None:
    """The asyncio channel is opened from the same recipe (credentials, options) as the sync one."""
    cert, key = pki.issue("server-localhost", hosts=("localhost",))
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    with serve(credentials) as admin:
        admin.on("GetVersion", VERSION)
        settings = fast_settings(
            admin.port, endpoint=f"localhost:{admin.port}", insecure=False, ca_cert_file=pki.ca_file
        )
        assert run(get_version, AsyncTransport(settings)) == VERSION
        with pytest.raises(errors.FlyteSystemUnavailableException) as raised:
            run(
                get_version,
                AsyncTransport(fast_settings(admin.port, endpoint=f"localhost:{admin.port}", insecure=False)),
            )
    assert errors.is_tls_failure(raised.value) and raised.value.attempts == 1


def test_a_closed_transport_refuses_calls(admin: ScriptedAdmin) -> None:
    async def closed_then_call(transport: AsyncTransport) -> Message:
        await transport.close()
        await transport.close()  # twice is fine
        return await get_version(transport)

    with pytest.raises(RuntimeError, match="closed"):
        run(closed_then_call, AsyncTransport(fast_settings(admin.port)))
