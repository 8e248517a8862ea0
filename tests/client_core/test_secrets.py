"""No secret (client secret, static token, minted token) in any repr, log record or exception text."""

from __future__ import annotations

import base64
import logging
import traceback
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import project_pb2
from flyteidl.service import auth_pb2
from google.protobuf.message import Message

from flyteadmin_ops import errors
from flyteadmin_ops.settings import AdminSettings, SettingsError
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.auth import (
    ClientCredentialsTokenProvider,
    CommandTokenProvider,
    StaticTokenProvider,
    Token,
)
from tests.client_core.servers import LIST_PROJECTS, ScriptedAdmin, TokenEndpoint, fast_settings

CLIENT_SECRET = "cs-9f8e7d6c5b4a"
STATIC_TOKEN = "st-0a1b2c3d4e5f"
MINTED = ("tok-1", "tok-2")


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (CLIENT_SECRET, STATIC_TOKEN, *secrets):
        assert secret not in text, f"{secret!r} leaked into: {text[:300]}"
    basic = base64.b64encode(f"ci-bot:{CLIENT_SECRET}".encode()).decode()
    assert basic not in text


def full_text(error: BaseException) -> str:
    """The message and the whole traceback, causes included, as a user or a log handler would see it."""
    return str(error) + repr(error) + "".join(traceback.format_exception(error))


def test_settings_repr_str_and_json_hide_secrets() -> None:
    settings = AdminSettings.isolated(
        auth_mode="client_credentials",
        client_id="ci-bot",
        client_secret=CLIENT_SECRET,
        token=STATIC_TOKEN,
        default_metadata={"x-api-key": STATIC_TOKEN},
    )
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert_no_secret(text)


def test_provider_and_token_reprs_hide_secrets() -> None:
    from pydantic import SecretStr

    providers = [
        StaticTokenProvider(SecretStr(STATIC_TOKEN)),
        ClientCredentialsTokenProvider("ci-bot", SecretStr(CLIENT_SECRET), "http://127.0.0.1:1/token"),
        CommandTokenProvider(["print-token", f"--secret={CLIENT_SECRET}"]),
        Token(STATIC_TOKEN, None),
    ]
    for provider in providers:
        assert_no_secret(repr(provider) + str(provider))


def test_settings_errors_never_show_secret_values(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        AdminSettings.isolated(endpoint="no-port", client_secret=CLIENT_SECRET, token=STATIC_TOKEN)
    assert_no_secret(full_text(raised.value))
    with pytest.raises(SettingsError) as raised:
        AdminSettings.isolated(client_secret=[CLIENT_SECRET], token={"t": STATIC_TOKEN})
    assert_no_secret(full_text(raised.value))
    assert "client_secret from argument" in str(raised.value)
    # default_metadata is masked in reprs because it carries API keys: a malformed one must not echo them.
    for malformed in (f"x-api-key:{STATIC_TOKEN}", f'{{"x-api-key": "{STATIC_TOKEN}",}}'):
        with pytest.raises(SettingsError) as raised:
            AdminSettings.isolated(default_metadata=malformed)
        assert_no_secret(full_text(raised.value))
        assert str(raised.value).startswith("default_metadata from argument: ")


def test_a_whole_authenticated_session_logs_no_secret(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Discovery, a token fetch, a rejected token and its refresh, a retry, then a final failure."""
    caplog.set_level(logging.DEBUG)  # every logger, ours and the libraries'
    admin.on(
        "GetPublicClientConfig",
        auth_pb2.PublicClientAuthConfigResponse(authorization_metadata_key="authorization"),
    )
    admin.on("GetOAuth2Metadata", auth_pb2.OAuth2MetadataResponse(token_endpoint=token_endpoint.url))

    def reject_first_token(request: Message, context: grpc.ServicerContext) -> Message:
        if dict(context.invocation_metadata())["authorization"] == "Bearer tok-1":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "expired")
        return project_pb2.Projects()

    admin.on(
        "ListProjects",
        reject_first_token,  # call 1: tok-1 rejected...
        reject_first_token,  # ...tok-2 accepted
        grpc.StatusCode.UNAVAILABLE,  # call 2: retried...
        reject_first_token,  # ...and accepted
        grpc.StatusCode.UNAUTHENTICATED,  # call 3: fails for good
    )
    settings = fast_settings(
        admin.port,
        auth_mode="client_credentials",
        client_id="ci-bot",
        client_secret=CLIENT_SECRET,
        default_metadata={"x-api-key": STATIC_TOKEN},
    )
    with Transport(settings) as transport:
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())  # tok-1 rejected, tok-2 accepted
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())  # UNAVAILABLE, then retried
        with pytest.raises(errors.FlyteAuthenticationException) as raised:
            transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
        assert_no_secret(full_text(raised.value), *MINTED)
        assert_no_secret(repr(transport), *MINTED)

    assert admin.calls("ListProjects")[0].metadata["x-api-key"] == STATIC_TOKEN  # it was really sent
    assert len(caplog.records) > 3
    for record in caplog.records:
        assert_no_secret(record.getMessage() + repr(record.args), *MINTED)


def test_a_rejected_token_request_error_does_not_echo_the_credentials(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.reject = True
    settings = fast_settings(
        admin.port,
        client_id="ci-bot",
        client_secret=CLIENT_SECRET,
        token_endpoint=token_endpoint.url,
        auth_header_key="authorization",
    )
    with Transport(settings) as transport, pytest.raises(errors.FlyteAuthenticationException) as raised:
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert_no_secret(full_text(raised.value))
    assert settings.auth_mode == "client_credentials"  # inferred from client_id + client_secret
