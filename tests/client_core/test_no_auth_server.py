"""The client against a flyteadmin with auth off, which serves neither AuthMetadataService nor IdentityService
(their RPCs answer UNIMPLEMENTED): every auth mode keeps working.

Discovery takes UNIMPLEMENTED as "no auth here": the default header, and for client credentials without a
configured token endpoint no token at all until the server asks for one (as flytectl and flytekit do: they
authenticate only after an UNAUTHENTICATED answer). If such a server does ask, there is nowhere to get a token
from, and the error says what to configure.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from flyteidl.admin import project_pb2

from flyteadmin_ops import SynchronousFlyteClient, errors
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.aio import AsyncTransport
from tests.client_core.servers import LIST_PROJECTS, ScriptedAdmin, TokenEndpoint, fast_settings


@pytest.fixture(scope="module")
def no_auth() -> Iterator[Emulator]:
    with Emulator(port=0) as emulator:
        yield emulator


def _port(emulator: Emulator) -> int:
    return int(emulator.endpoint.rsplit(":", 1)[1])


MODES: dict[str, dict[str, Any]] = {
    "none": {},
    "static": {"auth_mode": "static", "token": "s3cret"},
    "client_credentials": {
        "auth_mode": "client_credentials",
        "client_id": "ci-bot",
        "client_secret": "s3cret",
    },
    "external_command": {"auth_mode": "external_command", "command": [sys.executable, "-c", "print('tok')"]},
}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_auth_mode_reaches_a_server_without_auth(no_auth: Emulator, mode: str) -> None:
    with Transport(fast_settings(_port(no_auth), **MODES[mode])) as transport:
        projects = transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert isinstance(projects, project_pb2.Projects) and [p.id for p in projects.projects] == ["flytesnacks"]


@pytest.mark.parametrize("mode", ["client_credentials", "static"])
def test_the_async_transport_too(no_auth: Emulator, mode: str) -> None:
    async def list_projects() -> Any:
        async with AsyncTransport(fast_settings(_port(no_auth), **MODES[mode])) as transport:
            return await transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())

    assert [p.id for p in asyncio.run(list_projects()).projects] == ["flytesnacks"]


def test_the_auth_rpcs_themselves_are_unimplemented(no_auth: Emulator) -> None:
    settings = fast_settings(_port(no_auth), **MODES["client_credentials"])
    with SynchronousFlyteClient(settings) as client:
        assert client.list_projects_paginated(limit=10)[0][0].id == "flytesnacks"
        for call in (client.get_oauth2_metadata, client.get_public_client_config, client.user_info):
            with pytest.raises(errors.FlyteUnimplementedException) as raised:
                call()
            assert "unknown service flyteidl.service." in str(raised.value)


def test_client_credentials_send_no_token_to_a_server_without_auth(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("GetOAuth2Metadata", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("ListProjects", project_pb2.Projects())
    with Transport(fast_settings(admin.port, **MODES["client_credentials"])) as transport:
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert [call.metadata.get("authorization") for call in admin.calls("ListProjects")] == [None, None]
    assert token_endpoint.requests == []


def test_a_server_that_asks_for_a_token_it_cannot_say_where_to_get(admin: ScriptedAdmin) -> None:
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("GetOAuth2Metadata", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("ListProjects", grpc.StatusCode.UNAUTHENTICATED)
    with (
        Transport(fast_settings(admin.port, **MODES["client_credentials"])) as transport,
        pytest.raises(errors.FlyteAuthenticationException) as raised,
    ):
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert "set token_endpoint" in str(raised.value) and "s3cret" not in str(raised.value)
    assert len(admin.calls("ListProjects")) == 1


def test_a_configured_token_endpoint_is_used_when_the_server_asks(
    admin: ScriptedAdmin, token_endpoint: TokenEndpoint
) -> None:
    """With a token endpoint in the settings nothing is left to discover: the token goes out at once."""
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("ListProjects", project_pb2.Projects())
    settings = fast_settings(admin.port, token_endpoint=token_endpoint.url, **MODES["client_credentials"])
    with Transport(settings) as transport:
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert admin.calls("ListProjects")[0].metadata.get("authorization") == "Bearer tok-1"
