"""Code migrating from flytekit can pass what it has: flytekit models, filters, sorts and PlatformConfig."""

from __future__ import annotations

import datetime
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flytekit import task
from flytekit.configuration import AuthType, ImageConfig, PlatformConfig, SerializationSettings
from flytekit.models import common as flytekit_models_common
from flytekit.models import filters as flytekit_filters
from flytekit.models.admin import common as flytekit_common
from flytekit.models.core import identifier as flytekit_identifier
from flytekit.models.task import TaskSpec as FlytekitTaskSpec
from flytekit.tools.translator import get_serializable

from flyteadmin_ops.client import (
    Filters,
    RawSynchronousFlyteClient,
    SynchronousFlyteClient,
    named_entity_id,
)
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import RecordingServer


@task
def add_one(a: int) -> int:
    return a + 1


def flytekit_task_spec() -> FlytekitTaskSpec:
    """A TaskSpec model serialized by flytekit itself from a real @task."""
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(), project="p", domain="d", version="v1"
    )
    spec = get_serializable(OrderedDict(), settings, add_one)
    assert isinstance(spec, FlytekitTaskSpec)
    return spec


def test_create_and_get_task_with_flytekit_models(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    spec = flytekit_task_spec()
    ident = flytekit_identifier.Identifier(flytekit_identifier.ResourceType.TASK, "p", "d", "add", "v1")
    client.create_task(ident, spec)
    sent = server.last("CreateTask")
    assert sent.id == ident.to_flyte_idl()
    assert sent.spec == spec.to_flyte_idl()
    assert sent.spec.template.interface.inputs.variables["a"].type.simple == 1  # INTEGER

    client.get_task(ident)
    assert server.last("GetTask").id == ident.to_flyte_idl()


def test_flytekit_execution_identifier_and_named_entity(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    execution = flytekit_identifier.WorkflowExecutionIdentifier("p", "d", "e1")
    client.terminate_execution(execution, "operator request")
    assert server.last("TerminateExecution").id == execution.to_flyte_idl()

    named = flytekit_models_common.NamedEntityIdentifier("p", "d", "wf")
    client.list_workflows_paginated(named)
    assert server.last("ListWorkflows").id == named_entity_id("p", "d", "wf")


def test_flytekit_filters_and_sort(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    kit_filters = [flytekit_filters.Equal("phase", "FAILED"), flytekit_filters.ValueIn("mode", ["0", "3"])]
    kit_sort = flytekit_common.Sort("created_at", flytekit_common.Sort.Direction.ASCENDING)
    client.list_executions_paginated("p", "d", filters=kit_filters, sort_by=kit_sort)
    sent = server.last("ListExecutions")
    assert sent.filters == "eq(phase,FAILED)+value_in(mode,0;3)"
    assert (sent.sort_by.key, sent.sort_by.direction) == ("created_at", 1)

    kit_list = flytekit_filters.FilterList([flytekit_filters.NotEqual("phase", "SUCCEEDED")])
    client.list_executions_paginated("p", "d", filters=kit_list)
    assert server.last("ListExecutions").filters == "ne(phase,SUCCEEDED)"

    mixed = ["eq(state,0)", Filters.gte("started_at", datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))]
    client.list_executions_paginated("p", "d", filters=mixed)
    assert server.last("ListExecutions").filters == "eq(state,0)+gte(started_at,2024-01-01T00:00:00Z)"


def test_platform_config_builds_a_working_client(server: RecordingServer) -> None:
    config = PlatformConfig(endpoint=f"127.0.0.1:{server.port}", insecure=True)
    with SynchronousFlyteClient(config) as client:
        assert client.url == config.endpoint
        client.get_domains()
    assert server.last("GetDomains") is not None


def test_platform_config_credentials_are_kept(server: RecordingServer) -> None:
    """Code that builds a PlatformConfig with credentials keeps authenticating (a client that dropped them
    would silently send calls without a token)."""
    config = PlatformConfig(
        endpoint=f"127.0.0.1:{server.port}",
        insecure=True,
        client_id="ci-bot",
        client_credentials_secret="s3cr3t",
        scopes=["all"],
        audience="flyte",
    )
    settings = RawSynchronousFlyteClient(config).settings
    assert settings.auth_mode == "client_credentials"  # flytekit's default "standard" is a browser flow
    assert (settings.client_id, settings.scopes, settings.audience) == ("ci-bot", ["all"], "flyte")
    assert settings.client_secret is not None and settings.client_secret.get_secret_value() == "s3cr3t"

    command = PlatformConfig(
        endpoint=f"127.0.0.1:{server.port}",
        insecure=True,
        auth_mode=AuthType.EXTERNAL_PROCESS,
        command=[sys.executable, "-c", "print('tok-from-command')"],
    )
    with SynchronousFlyteClient(command) as client:
        client.get_domains()
    assert server.calls[-1].method == "GetDomains"
    assert server.calls[-1].metadata["authorization"] == "Bearer tok-from-command"


def test_overrides_build_settings(server: RecordingServer) -> None:
    with RawSynchronousFlyteClient(endpoint=f"127.0.0.1:{server.port}", insecure=True, page_size=7) as raw:
        assert raw.settings.page_size == 7
        raw.get_domains()


def test_transport_and_settings_are_exclusive(settings: AdminSettings) -> None:
    with RawSynchronousFlyteClient(settings) as owner, pytest.raises(TypeError, match="either transport"):
        RawSynchronousFlyteClient(settings, transport=owner.transport)


def test_a_shared_transport_is_not_closed_by_the_borrower(
    server: RecordingServer, settings: AdminSettings
) -> None:
    with RawSynchronousFlyteClient(settings) as owner:
        RawSynchronousFlyteClient(transport=owner.transport).close()
        owner.get_domains()  # still open
    with pytest.raises(RuntimeError, match="closed"):
        owner.get_domains()


def test_with_root_certificate_returns_the_class_it_is_called_on(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(_self_signed_ca_pem())
    config = PlatformConfig(endpoint="admin.example.com:443", insecure=False)
    with SynchronousFlyteClient.with_root_certificate(config, str(ca_file)) as client:
        assert type(client) is SynchronousFlyteClient
        assert client.settings.ca_cert_file == ca_file and not client.settings.insecure
    base = AdminSettings.isolated(endpoint="admin.example.com:443")
    with RawSynchronousFlyteClient.with_root_certificate(base, str(ca_file)) as raw:
        assert type(raw) is RawSynchronousFlyteClient and raw.settings.ca_cert_file == ca_file


def test_unusable_settings_object_is_named() -> None:
    with pytest.raises(TypeError, match="settings: expected an endpoint, AdminSettings"):
        RawSynchronousFlyteClient(42)


def _self_signed_ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)
