"""TLS, custom CA and mTLS against a real gRPC server with certificates made for the test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import version_pb2

from flyteadmin_ops import errors
from flyteadmin_ops.settings import AdminSettings, SettingsError
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.channel import create_channel
from tests.client_core.servers import GET_VERSION, Pki, ScriptedAdmin, serve

VERSION = version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(Build="tls"))


@contextmanager
def tls_admin(
    pki: Pki, *, hosts: tuple[str, ...] = ("localhost",), require_client_cert: bool = False
) -> Iterator[ScriptedAdmin]:
    cert, key = pki.issue("server-" + "-".join(hosts), hosts=hosts)
    credentials = grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=pki.ca_file.read_bytes() if require_client_cert else None,
        require_client_auth=require_client_cert,
    )
    with serve(credentials) as admin:
        admin.on("GetVersion", VERSION)
        yield admin


def tls_settings(port: int, **values: Any) -> AdminSettings:
    return AdminSettings.isolated(
        endpoint=f"localhost:{port}", retry_attempts=2, retry_initial_backoff=0.01, **values
    )


def get_version(settings: AdminSettings) -> version_pb2.GetVersionResponse:
    with Transport(settings) as transport:
        response = transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    assert isinstance(response, version_pb2.GetVersionResponse)
    return response


def test_a_server_signed_by_the_configured_ca_is_accepted(pki: Pki) -> None:
    with tls_admin(pki) as admin:
        assert get_version(tls_settings(admin.port, ca_cert_file=pki.ca_file)) == VERSION


def test_a_server_signed_by_an_unknown_ca_is_rejected_with_a_tls_hint(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flyteadmin_ops")
    with tls_admin(pki) as admin, pytest.raises(errors.FlyteSystemUnavailableException) as raised:
        get_version(tls_settings(admin.port))  # system roots only
    assert "TLS verification failed" in str(raised.value)
    assert not [r for r in caplog.records if r.getMessage().startswith("retrying")]  # no retry can fix it
    assert admin.calls("GetVersion") == []


def test_a_missing_ca_file_is_rejected_at_construction_naming_file_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope" / "ca.pem"
    monkeypatch.setenv("FLYTE_PLATFORM_CA_CERT_FILE_PATH", str(missing))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SettingsError) as raised:
        AdminSettings(endpoint="localhost:443")
    assert str(raised.value) == (
        f"ca_cert_file '{missing}' from FLYTE_PLATFORM_CA_CERT_FILE_PATH: does not exist or is not a file"
    )


def test_a_ca_file_removed_after_construction_is_named_when_the_channel_is_made(
    pki: Pki, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca_file.read_bytes())
    settings = AdminSettings.isolated(endpoint="localhost:443", ca_cert_file=ca)
    ca.unlink()
    with pytest.raises(SettingsError, match=rf"ca_cert_file '{ca}' from argument cannot be read"):
        create_channel(settings)


def test_mtls_needs_the_client_certificate(pki: Pki) -> None:
    client_cert, client_key = pki.issue("client", hosts=(), client=True)
    with tls_admin(pki, require_client_cert=True) as admin:
        with pytest.raises(errors.FlyteSystemUnavailableException):
            get_version(tls_settings(admin.port, ca_cert_file=pki.ca_file))
        assert admin.calls("GetVersion") == []

        settings = tls_settings(
            admin.port, ca_cert_file=pki.ca_file, client_cert_file=client_cert, client_key_file=client_key
        )
        assert get_version(settings) == VERSION
        assert len(admin.calls("GetVersion")) == 1


def test_a_client_certificate_without_its_key_is_a_settings_error(pki: Pki) -> None:
    client_cert, _ = pki.issue("lonely-client", hosts=(), client=True)
    with pytest.raises(
        SettingsError, match=r"client_cert_file and client_key_file go together.*from argument"
    ):
        AdminSettings.isolated(endpoint="localhost:443", client_cert_file=client_cert)


def test_a_certificate_for_another_host_name_is_rejected(pki: Pki) -> None:
    with tls_admin(pki, hosts=("admin.other.example",)) as admin:
        with pytest.raises(errors.FlyteSystemUnavailableException) as raised:
            get_version(tls_settings(admin.port, ca_cert_file=pki.ca_file))
        assert "TLS verification failed" in str(raised.value)
        assert "host name" in str(raised.value)
        assert admin.calls("GetVersion") == []


def test_tls_server_name_verifies_against_the_name_in_the_certificate(pki: Pki) -> None:
    with tls_admin(pki, hosts=("admin.internal",)) as admin:
        settings = tls_settings(admin.port, ca_cert_file=pki.ca_file, tls_server_name="admin.internal")
        assert get_version(settings) == VERSION


def test_insecure_skip_verify_trusts_the_presented_certificate(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="flyteadmin_ops")
    with tls_admin(pki) as admin:
        assert get_version(tls_settings(admin.port, insecure_skip_verify=True)) == VERSION
    assert any("insecure_skip_verify" in r.getMessage() for r in caplog.records)


def test_a_plaintext_client_against_a_tls_server_fails_clearly(pki: Pki) -> None:
    with tls_admin(pki) as admin, pytest.raises(errors.FlyteSystemUnavailableException) as raised:
        get_version(tls_settings(admin.port, insecure=True))
    assert raised.value.rpc == "AdminService/GetVersion"
