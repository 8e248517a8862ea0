"""Token providers against a real OAuth2 token endpoint and a real AuthMetadataService on loopback."""

from __future__ import annotations

import base64
import sys
import threading
import urllib.parse
from collections.abc import Callable

import grpc
import pytest
from flyteidl.admin import project_pb2
from flyteidl.service import auth_pb2
from google.protobuf.message import Message
from pydantic import SecretStr

from flyteadmin_ops import errors
from flyteadmin_ops.transport import ClientCredentialsTokenProvider, Transport
from flyteadmin_ops.transport.auth import CommandTokenProvider, _jwt_lifetime
from tests.client_core.servers import ADMIN, LIST_PROJECTS, ScriptedAdmin, TokenEndpoint, fast_settings, serve

PROJECTS = project_pb2.Projects(projects=[project_pb2.Project(id="flytesnacks")])
SECRET = "s3cret+/=&"  # characters that must be form-encoded in the Basic credentials


def announce(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint, header: str = "flyte-authorization"
) -> None:
    admin.on(
        "GetPublicClientConfig",
        auth_pb2.PublicClientAuthConfigResponse(
            authorization_metadata_key=header, scopes=["all"], audience="aud"
        ),
    )
    admin.on("GetOAuth2Metadata", auth_pb2.OAuth2MetadataResponse(token_endpoint=token_endpoint.url))


def client_credentials(port: int, **values: object) -> Transport:
    return Transport(
        fast_settings(
            port, auth_mode="client_credentials", client_id="ci-bot", client_secret=SECRET, **values
        )
    )


def list_projects(transport: Transport) -> Message:
    return transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())


def test_client_credentials_discovers_the_endpoint_and_header_then_sends_a_bearer_token(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    announce(admin, token_endpoint)
    admin.on("ListProjects", PROJECTS)
    with client_credentials(admin.port) as transport:
        assert list_projects(transport) == PROJECTS
        assert list_projects(transport) == PROJECTS

    assert [c.metadata.get("flyte-authorization") for c in admin.calls("ListProjects")] == [
        "Bearer tok-1"
    ] * 2
    assert len(admin.calls("GetPublicClientConfig")) == 1 and len(admin.calls("GetOAuth2Metadata")) == 1
    assert "flyte-authorization" not in admin.calls("GetOAuth2Metadata")[0].metadata  # discovery goes bare
    [request] = token_endpoint.requests
    assert request["grant_type"] == "client_credentials"
    assert (request["scope"], request["audience"]) == ("all", "aud")  # the server's, as none were configured
    scheme, encoded = request["authorization"].split(" ")
    client_id, secret = base64.b64decode(encoded).decode().split(":")
    assert (scheme, urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)) == (
        "Basic",
        "ci-bot",
        SECRET,
    )


def test_configured_endpoint_scopes_and_header_skip_discovery(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    admin.on("ListProjects", PROJECTS)
    settings = {
        "token_endpoint": token_endpoint.url,
        "scopes": ["admin"],
        "auth_header_key": "X-Flyte-Auth",
    }
    with client_credentials(admin.port, **settings) as transport:
        list_projects(transport)
    assert admin.calls("GetPublicClientConfig") == [] and admin.calls("GetOAuth2Metadata") == []
    assert admin.calls("ListProjects")[0].metadata["x-flyte-auth"] == "Bearer tok-1"
    assert token_endpoint.requests[0]["scope"] == "admin"


def test_a_token_is_refreshed_ahead_of_its_expiry(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    announce(admin, token_endpoint)
    admin.on("ListProjects", PROJECTS)
    token_endpoint.expires_in = 100
    now = [0.0]
    provider = ClientCredentialsTokenProvider(
        "ci-bot", SecretStr(SECRET), token_endpoint.url, clock=lambda: now[0]
    )
    with Transport(fast_settings(admin.port), token_provider=provider) as transport:
        list_projects(transport)
        now[0] = 89.0  # 11 s left: more than the 10 % margin
        list_projects(transport)
        now[0] = 91.0  # 9 s left, still valid, but inside the margin: refresh before it lapses
        list_projects(transport)
    tokens = [c.metadata["flyte-authorization"] for c in admin.calls("ListProjects")]
    assert tokens == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert len(token_endpoint.requests) == 2


def test_concurrent_first_calls_share_one_token_fetch(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    announce(admin, token_endpoint)
    admin.on("ListProjects", PROJECTS)
    token_endpoint.delay = threading.Event()  # each fetch takes 0.3 s: every thread arrives during the first
    with client_credentials(admin.port) as transport:
        run_concurrently(lambda: list_projects(transport), threads=12)
    assert len(token_endpoint.requests) == 1
    assert {c.metadata["flyte-authorization"] for c in admin.calls("ListProjects")} == {"Bearer tok-1"}
    assert len(admin.calls("ListProjects")) == 12
    assert len(admin.calls("GetPublicClientConfig")) == 1  # discovery is single-flight too


def test_concurrent_rejections_trigger_a_single_refresh(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    announce(admin, token_endpoint)

    def accept_only_fresh_tokens(request: Message, context: grpc.ServicerContext) -> Message:
        if dict(context.invocation_metadata()).get("flyte-authorization") == "Bearer tok-1":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "token expired")
        return PROJECTS

    admin.on("ListProjects", accept_only_fresh_tokens)
    token_endpoint.delay = threading.Event()  # slow fetches: all threads send tok-1 and are all rejected
    with client_credentials(admin.port) as transport:
        run_concurrently(lambda: list_projects(transport), threads=8)
    assert len(token_endpoint.requests) == 2  # tok-1, then exactly one refresh shared by all eight threads
    tokens = [c.metadata["flyte-authorization"] for c in admin.calls("ListProjects")]
    assert tokens.count("Bearer tok-2") == 8  # every thread succeeded with the one refreshed token
    assert set(tokens) == {"Bearer tok-1", "Bearer tok-2"}  # (a thread scheduled late may skip tok-1)


def run_concurrently(action: Callable[[], object], *, threads: int) -> None:
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def worker() -> None:
        barrier.wait(5)
        try:
            action()
        except BaseException as exc:  # collected and re-raised in the test thread
            failures.append(exc)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert not failures, failures


def test_a_rejected_client_is_an_authentication_error_before_any_admin_call(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    announce(admin, token_endpoint)
    admin.on("ListProjects", PROJECTS)
    token_endpoint.reject = True
    with (
        client_credentials(admin.port) as transport,
        pytest.raises(errors.FlyteAuthenticationException) as raised,
    ):
        list_projects(transport)
    assert "HTTP 401: invalid_client: client authentication failed" in str(raised.value)
    assert admin.calls("ListProjects") == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_an_identity_provider_outage_is_unavailable_not_an_authentication_error(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint, status: int
) -> None:
    """An outage or rate limit at the token endpoint says nothing about our credentials: callers (and the
    CLI's exit code) must see a retryable system failure, not "bad credentials"."""
    announce(admin, token_endpoint)
    admin.on("ListProjects", PROJECTS)
    token_endpoint.outage_status = status
    with (
        client_credentials(admin.port) as transport,
        pytest.raises(errors.FlyteSystemUnavailableException) as raised,
    ):
        list_projects(transport)
    assert f"HTTP {status}" in str(raised.value)
    assert admin.calls("ListProjects") == []


def test_a_server_without_token_endpoint_metadata_needs_token_endpoint_configured(
    admin: ScriptedAdmin,
) -> None:
    admin.on("GetPublicClientConfig", auth_pb2.PublicClientAuthConfigResponse())
    admin.on("GetOAuth2Metadata", auth_pb2.OAuth2MetadataResponse())
    with client_credentials(admin.port) as transport, pytest.raises(ValueError, match="set token_endpoint"):
        list_projects(transport)


def test_external_command_token_with_default_header_when_the_server_has_no_auth_metadata() -> None:
    with serve(services=(ADMIN,)) as admin:  # AuthMetadataService really is unimplemented here
        admin.on("ListProjects", PROJECTS)
        command = [sys.executable, "-c", "print('  tok-from-command  ')"]
        with Transport(fast_settings(admin.port, auth_mode="ExternalCommand", command=command)) as transport:
            list_projects(transport)
        assert admin.calls("ListProjects")[0].metadata["authorization"] == "Bearer tok-from-command"


def test_a_failing_command_names_its_exit_status_but_not_its_stderr() -> None:
    provider = CommandTokenProvider(
        [sys.executable, "-c", "import sys; sys.stderr.write('leaked-secret'); sys.exit(3)"]
    )
    with pytest.raises(errors.FlyteAuthenticationException) as raised:
        provider.token()
    assert "exited with status 3" in str(raised.value)
    assert "leaked-secret" not in str(raised.value)


def test_a_static_token_is_sent_as_bearer_and_none_sends_nothing(admin: ScriptedAdmin) -> None:
    admin.on("GetPublicClientConfig", auth_pb2.PublicClientAuthConfigResponse())
    admin.on("ListProjects", PROJECTS)
    settings = fast_settings(admin.port, token="static-tok")
    assert (settings.auth_mode, settings.source_of("auth_mode")) == (
        "static",
        "inferred from token (argument)",
    )
    with Transport(settings) as transport:
        list_projects(transport)
    with Transport(fast_settings(admin.port, auth_mode="none", token="unused")) as transport:
        list_projects(transport)
    first, second = admin.calls("ListProjects")
    assert first.metadata["authorization"] == "Bearer static-tok"
    assert "authorization" not in second.metadata


def test_jwt_expiry_schedules_the_refresh_of_command_tokens() -> None:
    def jwt(claims: str) -> str:
        encode = lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")  # noqa: E731
        return f"{encode('{}')}.{encode(claims)}.sig"

    import time

    assert _jwt_lifetime(jwt(f'{{"exp": {time.time() + 120}}}')) == pytest.approx(120, abs=5)
    assert _jwt_lifetime(jwt("{}")) is None
    assert _jwt_lifetime("opaque-token") is None


def test_client_credentials_against_a_server_without_auth_metadata_send_no_token() -> None:
    """No AuthMetadataService is a flyteadmin with auth off (it registers the service only with auth on):
    calls go without a token, as flytectl's do until a server asks for one (tests/client_core/
    test_no_auth_server.py has the rest)."""
    with serve(services=(ADMIN,)) as admin:
        admin.on("ListProjects", PROJECTS)
        with client_credentials(admin.port) as transport:
            assert list_projects(transport) == PROJECTS
        assert [call.metadata.get("authorization") for call in admin.calls("ListProjects")] == [None]


def test_client_credentials_against_a_server_naming_no_token_endpoint_asks_for_one(
    admin: ScriptedAdmin,
) -> None:
    admin.on("GetPublicClientConfig", auth_pb2.PublicClientAuthConfigResponse())
    admin.on("GetOAuth2Metadata", auth_pb2.OAuth2MetadataResponse())
    admin.on("ListProjects", PROJECTS)
    with client_credentials(admin.port) as transport, pytest.raises(ValueError, match="set token_endpoint"):
        list_projects(transport)
    assert admin.calls("ListProjects") == []
