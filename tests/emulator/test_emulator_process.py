"""`flyteadmin_ops.testing.emulator_process`: the emulator in its own process, killed and brought back on
the same port and database file, as the chaos tests and benchmarks use it."""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc

from flyteadmin_ops.testing.emulator_process import EmulatorProcess, EmulatorProcessError


def _projects(endpoint: str) -> list[str]:
    with grpc.insecure_channel(endpoint) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        return [p.id for p in stub.ListProjects(project_pb2.ProjectListRequest(), timeout=10).projects]


def test_killed_and_restarted_on_the_same_port_and_database() -> None:
    with EmulatorProcess() as server:
        endpoint = server.endpoint
        with grpc.insecure_channel(endpoint) as channel:
            admin_pb2_grpc.AdminServiceStub(channel).RegisterProject(
                project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="kept", name="kept")),
                timeout=10,
            )
        server.kill()
        assert not server.running
        with pytest.raises(grpc.RpcError):
            _projects(endpoint)
        server.restart()
        assert server.endpoint == endpoint
        assert "kept" in _projects(endpoint)


def test_a_server_that_cannot_start_is_reported_with_its_stderr() -> None:
    with pytest.raises(EmulatorProcessError, match="latency"):
        EmulatorProcess("--latency-ms", "-5").start()
