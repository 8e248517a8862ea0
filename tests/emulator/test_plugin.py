"""The pytest plugin as a user meets it: a separate pytest run, outside this repository, that only has
flyteadmin-ops installed. The fixtures must arrive through the `pytest11` entry point (no conftest), be fresh
per test (`flyte_admin`, `admin_client`) or shared (`flyte_admin_session`), and stop their servers after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

USER_TESTS = """
import grpc
import pytest
from flyteidl.admin import project_pb2, version_pb2
from flyteidl.service import admin_pb2_grpc

ENDPOINTS = []


def projects(endpoint):
    with grpc.insecure_channel(endpoint) as channel:
        listed = admin_pb2_grpc.AdminServiceStub(channel).ListProjects(project_pb2.ProjectListRequest())
    return sorted(p.id for p in listed.projects)


@pytest.mark.parametrize("round", [1, 2])
def test_each_test_gets_a_fresh_admin(flyte_admin, admin_client, round):
    assert projects(flyte_admin.endpoint) == ["flytesnacks"]
    admin_client.register_project(project_pb2.Project(id="mine", name="mine"))
    assert admin_client.get_project("mine").name == "mine"
    assert projects(flyte_admin.endpoint) == ["flytesnacks", "mine"]
    ENDPOINTS.append(flyte_admin.endpoint)


@pytest.mark.parametrize("round", [1, 2])
def test_the_session_admin_is_shared(flyte_admin_session, round):
    with grpc.insecure_channel(flyte_admin_session.endpoint) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        stub.RegisterProject(
            project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=f"s{round}", name="s"))
        )
    assert projects(flyte_admin_session.endpoint)[-round:] == [f"s{n}" for n in range(1, round + 1)]


def test_a_finished_test_stopped_its_admin():
    assert len(ENDPOINTS) == 2
    for endpoint in ENDPOINTS:
        with grpc.insecure_channel(endpoint) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                admin_pb2_grpc.AdminServiceStub(channel).GetVersion(
                    version_pb2.GetVersionRequest(), timeout=2
                )
        assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
"""


def _pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_users_suite_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_with_admin.py").write_text(textwrap.dedent(USER_TESTS))
    run = _pytest(tmp_path, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout


def test_the_fixtures_are_listed_with_their_documentation(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "--fixtures")
    assert run.returncode in (0, 5), run.stderr  # 5: no tests collected
    for name, words in (
        ("flyte_admin", "fresh local Flyte Admin"),
        ("flyte_admin_session", "whole session"),
        ("admin_client", "SynchronousFlyteClient"),
    ):
        assert name in run.stdout and words in run.stdout, run.stdout


def test_the_plugin_can_be_switched_off(tmp_path: Path) -> None:
    (tmp_path / "test_off.py").write_text("def test_needs(flyte_admin):\n    pass\n")
    run = _pytest(tmp_path, "-q", "-p", "no:flyteadmin_ops")
    assert run.returncode == 1 and "fixture 'flyte_admin' not found" in run.stdout, run.stdout
