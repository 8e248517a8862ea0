"""What a real flyteadmin v1.16.8 with its own authorization server showed the client getting wrong, each
reproduced against the emulator configured like that server: scopes advertised with `offline` (which the
client-credentials client may not ask for), the token endpoint on the HTTP port, certificates made here."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flyteidl.admin import project_pb2

from flyteadmin_ops import errors
from flyteadmin_ops.client import AsyncFlyteClient, SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport
from tests.client_core.servers import LIST_PROJECTS, Pki, new_pki

CLIENT_ID, SECRET = "ci-bot", "s3cret-0xFEED"
REAL_SCOPES = {"oauth_scopes": ("all", "offline"), "oauth_client_scopes": ("all",)}


@contextmanager
def real_like_admin(pki: Pki | None = None, **config: Any) -> Iterator[Emulator]:
    """An emulator with client credentials and flyteadmin's advertised scopes; TLS (gRPC and HTTP, one
    certificate) when `pki` is given."""
    tls: dict[str, str] = {}
    if pki is not None:
        cert, key = pki.issue("admin-127", hosts=("127.0.0.1",))
        tls = {"tls_cert": str(cert), "tls_key": str(key)}
    emulator = Emulator(oauth_client=f"{CLIENT_ID}:{SECRET}", **tls)
    emulator.config = dataclasses.replace(emulator.config, **{**REAL_SCOPES, **config})
    with emulator:
        yield emulator


def client_settings(admin: Emulator, **values: Any) -> AdminSettings:
    return AdminSettings.isolated(
        endpoint=admin.endpoint,
        auth_mode="client_credentials",
        client_id=CLIENT_ID,
        client_secret=SECRET,
        retry_initial_backoff=0.01,
        **values,
    )


def list_projects(settings: AdminSettings) -> project_pb2.Projects:
    with Transport(settings) as transport:
        response = transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert isinstance(response, project_pb2.Projects)
    return response


# --- (a) insecure_skip_verify covers the token request ------------------------------------------------


def test_insecure_skip_verify_also_trusts_the_token_endpoint(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """The client has no CA for the server: gRPC trusts the presented certificate, and so must the https
    token request (it used to fail with CERTIFICATE_VERIFY_FAILED; flytekit succeeds)."""
    caplog.set_level(logging.WARNING, logger="flyteadmin_ops")
    with real_like_admin(pki, http_tls=True) as admin:
        assert admin.http_url.startswith("https://")
        assert list_projects(client_settings(admin, insecure_skip_verify=True, scopes=["all"])).projects
    assert any("token request does not verify" in r.getMessage() for r in caplog.records)


def test_without_skip_verify_an_untrusted_token_endpoint_names_ca_cert_file(pki: Pki) -> None:
    """gRPC verified with the CA file, but the token endpoint presents a certificate of another CA."""
    other = new_pki(pki.directory / "other")
    cert, key = other.issue("token-127", hosts=("127.0.0.1",))
    with real_like_admin(pki) as admin:
        # the HTTP side served with a certificate of a CA the client does not know
        admin._frontend.use_tls(str(cert), str(key))  # type: ignore[union-attr]
        https = admin.http_url.replace("http://", "https://") + "/oauth2/token"
        settings = client_settings(admin, ca_cert_file=pki.ca_file, token_endpoint=https, scopes=["all"])
        with pytest.raises(errors.FlyteTokenEndpointError) as raised:
            list_projects(settings)
    assert "set ca_cert_file to the CA that signed it" in str(raised.value)


# --- (b) plaintext client, TLS server (and back): bad settings at once -------------------------------


def test_a_plaintext_client_meeting_a_tls_server_gets_a_hint_after_one_attempt(pki: Pki) -> None:
    with real_like_admin(pki) as admin:
        settings = AdminSettings.isolated(endpoint=admin.endpoint, insecure=True, retry_initial_backoff=0.01)
        with (
            pytest.raises(errors.FlyteTlsMismatchException) as raised,
            SynchronousFlyteClient(settings) as client,
        ):
            client.get_control_plane_version()
    assert raised.value.attempts == 1 and errors.is_tls_failure(raised.value)
    assert "the server speaks TLS but the client is plaintext" in str(raised.value)


def test_the_async_client_tells_the_same_mismatch_apart(pki: Pki) -> None:
    async def version(endpoint: str) -> None:
        async with AsyncFlyteClient(endpoint, insecure=True, retry_initial_backoff=0.01) as client:
            await client.get_control_plane_version()

    with real_like_admin(pki) as admin, pytest.raises(errors.FlyteTlsMismatchException) as raised:
        asyncio.run(version(admin.endpoint))
    assert raised.value.attempts == 1


def test_a_tls_client_meeting_a_plaintext_server_keeps_its_hint_and_is_not_retried() -> None:
    with Emulator() as admin:
        settings = AdminSettings.isolated(endpoint=admin.endpoint, retry_initial_backoff=0.01)
        with pytest.raises(errors.FlyteSystemUnavailableException) as raised:
            list_projects(settings)
    assert raised.value.attempts == 1 and errors.is_tls_failure(raised.value)
    assert "the server answered without TLS" in str(raised.value)


def test_a_plaintext_server_that_closes_the_socket_is_not_taken_for_tls() -> None:
    """The probe must not turn an outage into a settings error: nothing speaks TLS on a closed port."""
    error = errors.FlyteSystemUnavailableException(
        "AdminService/ListProjects", errors.grpc.StatusCode.UNAVAILABLE, "Socket closed"
    )
    from flyteadmin_ops.transport.channel import explain_failure

    with Emulator() as admin:  # plaintext: a TLS handshake with it fails
        settings = AdminSettings.isolated(endpoint=admin.endpoint, insecure=True)
        assert explain_failure(settings, error) is error


# --- (c) an https token endpoint on a plaintext HTTP port -------------------------------------------


def test_an_https_token_endpoint_on_plain_http_names_token_endpoint_not_insecure() -> None:
    with real_like_admin() as admin:
        https = admin.http_url.replace("http://", "https://") + "/oauth2/token"
        settings = client_settings(admin, insecure=True, token_endpoint=https, scopes=["all"])
        with pytest.raises(errors.FlyteTokenEndpointError) as raised:
            list_projects(settings)
    text = str(raised.value)
    plain = https.replace("https://", "http://")
    assert f"the token endpoint does not speak TLS: set token_endpoint to {plain}" in text
    assert "authorizedUris" in text and "insecure=True" not in text and SECRET not in text


# --- (d) invalid_scope ------------------------------------------------------------------------------


def test_advertised_scopes_refused_are_retried_once_without_the_refused_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="flyteadmin_ops")
    with real_like_admin() as admin:
        settings = client_settings(admin, insecure=True)
        assert list_projects(settings).projects
    warnings = [r.getMessage() for r in caplog.records if "refused the scopes" in r.getMessage()]
    assert warnings == [
        "the token endpoint refused the scopes the server advertised (all offline); requesting all instead. "
        "Set scopes to choose them yourself"
    ]


def test_scopes_from_settings_are_not_second_guessed() -> None:
    with real_like_admin() as admin, pytest.raises(errors.FlyteTokenEndpointError) as raised:
        list_projects(client_settings(admin, insecure=True, scopes=["all", "offline"]))
    text = str(raised.value)
    assert (
        "invalid_scope" in text
        and "set scopes to ones this client may request (it sent: all offline)" in text
    )
    assert "check auth_mode" not in text


def test_when_the_retry_is_refused_too_the_error_lists_the_advertised_scopes() -> None:
    refusing_all = real_like_admin(oauth_client_scopes=("admin",))
    with refusing_all as admin, pytest.raises(errors.FlyteTokenEndpointError) as raised:
        list_projects(client_settings(admin, insecure=True))
    assert "set scopes (the server advertised: all offline)" in str(raised.value)


# --- (f) the endpoint by position --------------------------------------------------------------------


def test_both_clients_take_the_endpoint_by_position() -> None:
    async def version(endpoint: str) -> str:
        async with AsyncFlyteClient(endpoint, insecure=True) as client:
            return await client.get_control_plane_version()

    with Emulator() as admin:
        with SynchronousFlyteClient(admin.endpoint, insecure=True) as client:
            assert client.url == admin.endpoint
            expected = client.get_control_plane_version()
        assert asyncio.run(version(admin.endpoint)) == expected
    with pytest.raises(TypeError, match="the endpoint is given twice"):
        SynchronousFlyteClient("localhost:1", endpoint="localhost:2")
