"""End to end with the emulator: a flytectl config alone (TLS + client credentials) is enough to connect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flyteidl.admin import project_pb2

from flyteadmin_ops import errors
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport
from tests.client_core.servers import LIST_PROJECTS, Pki


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("FLYTE", "_FLYTE")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".flyte").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def test_a_flytectl_config_with_tls_and_client_secret_reaches_the_emulator(pki: Pki, user_home: Path) -> None:
    cert, key = pki.issue("emulator", hosts=("localhost",))
    secret_file = user_home / "client_secret"
    secret_file.write_text("s3cret\n")
    with Emulator(oauth_client="ci-bot:s3cret", tls_cert=str(cert), tls_key=str(key)) as emulator:
        port = emulator.endpoint.rsplit(":", 1)[1]
        (user_home / ".flyte" / "config.yaml").write_text(
            "admin:\n"
            f"  endpoint: dns:///localhost:{port}\n"
            f"  caCertFilePath: {pki.ca_file}\n"
            "  authType: ClientSecret\n"
            "  clientId: ci-bot\n"
            f"  clientSecretLocation: {secret_file}\n"
        )
        with Transport(AdminSettings()) as transport:
            projects = transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
        assert isinstance(projects, project_pb2.Projects) and projects.projects

        wrong = AdminSettings().replace(client_secret="not-it")
        with Transport(wrong) as transport, pytest.raises(errors.FlyteAuthenticationException) as raised:
            transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
        assert "HTTP 401" in str(raised.value) and "not-it" not in str(raised.value)

        anonymous = AdminSettings().replace(auth_mode="none")
        with Transport(anonymous) as transport, pytest.raises(errors.FlyteAuthenticationException):
            transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
