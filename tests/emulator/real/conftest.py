"""The `real` fixture: an emulator and a fresh project, as each recorded case of the reference was made."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest
from flyteidl.service import (
    admin_pb2_grpc,
    auth_pb2_grpc,
    dataproxy_pb2_grpc,
    identity_pb2_grpc,
    signal_pb2_grpc,
)

from flyteadmin_ops.emulator import Emulator
from tests.emulator.real.support import Real


def project_id() -> str:
    """A fresh project id per test, as the reference used a fresh project per run."""
    return "diff" + uuid.uuid4().hex[:8]


@pytest.fixture
def real() -> Iterator[Real]:
    """An emulator with a fresh project named like the reference's (`<P>`), through raw stubs."""
    with Emulator(port=0) as emu, grpc.insecure_channel(emu.endpoint) as channel:
        project = project_id()
        session = Real(
            emu,
            channel,
            project,
            admin_pb2_grpc.AdminServiceStub(channel),
            dataproxy_pb2_grpc.DataProxyServiceStub(channel),
            signal_pb2_grpc.SignalServiceStub(channel),
            auth_pb2_grpc.AuthMetadataServiceStub(channel),
            identity_pb2_grpc.IdentityServiceStub(channel),
        )
        session.register_project(project, name="diff project", description="differential")
        yield session
