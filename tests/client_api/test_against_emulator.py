"""Our client against a real Admin (the emulator) with entities flytekit serialized (`pyflyte package`).

The other client-api tests script a recording server; this one checks that what the client sends is what a
flyteadmin-like server accepts, and that the friendly layer (paging, cache, conflicts, named launches) holds
up against real answers. The emulator never imports the client, so the two cannot agree on a mistake.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.client import Launched, SynchronousFlyteClient, named_entity_id
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteEntityAlreadyExistsException, FlyteEntityConflictException
from flyteadmin_ops.ops import package as packages
from flyteadmin_ops.settings import AdminSettings

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
CREATE = {
    identifier_pb2.TASK: "create_task",
    identifier_pb2.WORKFLOW: "create_workflow",
    identifier_pb2.LAUNCH_PLAN: "create_launch_plan",
}


def register(client: SynchronousFlyteClient, package: packages.Package) -> None:
    """Every entity through the friendly create_* methods, in dependency order; ALREADY_EXISTS (an identical
    entity, e.g. our own attempt whose answer was lost) counts as registered, as flytectl counts it."""
    for wave in packages.dependency_waves(package):
        for entity in wave:
            with contextlib.suppress(FlyteEntityAlreadyExistsException):
                getattr(client, CREATE[entity.resource_type])(entity.request.id, entity.request.spec)


@pytest.fixture(scope="module")
def package(pyflyte_package: Path) -> packages.Package:
    return packages.hydrate(packages.load_package(pyflyte_package), PROJECT, DOMAIN, VERSION)


def connect(emulator: Emulator, **settings: object) -> SynchronousFlyteClient:
    # isolated: a developer's own ~/.flyte/config.yaml or FLYTE_* variables must not redirect the test
    return SynchronousFlyteClient(
        AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True, **settings)
    )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0) as running:
        yield running


def test_register_list_and_read_back_a_real_package(emulator: Emulator, package: packages.Package) -> None:
    with connect(emulator) as client:
        assert PROJECT in [project.id for project in client.iter_projects()]
        assert [domain.id for domain in client.get_domains()] == ["development", "staging", "production"]
        register(client, package)

        tasks = {entity.name for entity in package.of_type(identifier_pb2.TASK)}
        listed = [ident.name for ident in client.iter_task_ids(PROJECT, DOMAIN, page_size=2)]
        assert sorted(listed) == sorted(tasks) and len(listed) == len(set(listed))
        first_page, token = client.list_task_ids_paginated(PROJECT, DOMAIN, limit=2)
        assert len(first_page) == 2 and token == "2"  # flyteadmin's offset token

        workflow = package.find(identifier_pb2.WORKFLOW, demo.SAMPLE_WORKFLOWS[2])
        fetched = client.get_workflow(workflow.id)
        assert fetched.id == workflow.id
        assert fetched.closure.compiled_workflow.primary.template.id == workflow.id
        fetched.id.version = "changed by the caller"
        assert client.get_workflow(workflow.id).id == workflow.id  # the cache hands out copies

        launch_plans = list(
            client.iter_launch_plans(named_entity_id(PROJECT, DOMAIN, demo.SAMPLE_LAUNCH_PLANS[0]))
        )
        assert [lp.id.version for lp in launch_plans] == [VERSION]


def test_identical_again_is_already_exists_and_a_changed_task_is_a_conflict_with_the_servers_diff(
    emulator: Emulator, package: packages.Package
) -> None:
    task = package.find(identifier_pb2.TASK, demo.SAMPLE_TASKS[0])
    with connect(emulator) as client:
        client.create_task(task.request.id, task.request.spec)
        with pytest.raises(FlyteEntityAlreadyExistsException):
            client.create_task(task.request.id, task.request.spec)
        changed = type(task.request.spec)()
        changed.CopyFrom(task.request.spec)
        changed.template.metadata.retries.retries += 3
        with pytest.raises(FlyteEntityConflictException) as raised:
            client.create_task(task.request.id, changed)
    conflict = raised.value
    assert conflict.entity_id == task.request.id
    assert "retries" in conflict.diff
    assert str(conflict).startswith("AdminService/CreateTask failed with INVALID_ARGUMENT: ")
    assert "different structure" in str(conflict)


def test_activation_is_seen_at_once_through_the_cache(emulator: Emulator, package: packages.Package) -> None:
    lp = package.find(identifier_pb2.LAUNCH_PLAN, demo.REFERENCED_LAUNCH_PLAN)
    with connect(emulator) as client:
        register(client, package)
        assert client.get_launch_plan(lp.id).closure.state == launch_plan_pb2.INACTIVE  # now cached
        client.update_launch_plan(lp.id, launch_plan_pb2.ACTIVE)
        assert client.get_launch_plan(lp.id).closure.state == launch_plan_pb2.ACTIVE
        named = named_entity_id(PROJECT, DOMAIN, lp.name)
        assert client.get_active_launch_plan(named).id == lp.id
        assert [active.id for active in client.iter_active_launch_plans(PROJECT, DOMAIN)] == [lp.id]


def test_launches_through_lost_answers_start_each_execution_once(package: packages.Package) -> None:
    """Half of all calls fail with UNAVAILABLE, half of those after the server committed (the answer is
    lost): registration and launches are retried, and every launch still starts exactly one execution."""
    lp = package.find(identifier_pb2.LAUNCH_PLAN, demo.SAMPLE_WORKFLOWS[1])
    patient = {"retry_attempts": 30, "retry_initial_backoff": 0.001, "retry_max_backoff": 0.002}
    with Emulator(port=0, fault_rate=0.5, seed=7) as emulator, connect(emulator, **patient) as client:
        register(client, package)
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT, domain=DOMAIN, spec=execution_pb2.ExecutionSpec(launch_plan=lp.id)
        )
        launched = [client.launch(request) for _ in range(6)]
        launched.append(Launched(client.create_execution(PROJECT, DOMAIN, None, request.spec), True))
        stored = [execution.id for execution in client.iter_executions(PROJECT, DOMAIN)]
    # A launch whose first attempt was committed but answered with UNAVAILABLE comes back created=False.
    assert any(not launch.created for launch in launched), "no answer was lost: the test proves nothing"
    names = [launch.id.name for launch in launched]
    assert len(set(names)) == 7
    assert sorted(ident.name for ident in stored) == sorted(names)


def test_the_same_file_name_can_be_uploaded_twice_without_an_md5(emulator: Emulator) -> None:
    """Without content_md5 flyteadmin needs a filename_root, and refuses to sign a location that already
    holds a file it cannot compare; each call therefore gets its own root."""
    with connect(emulator) as client:
        locations = []
        for content in (b"a,b\n1,2\n", b"a,b\n3,4\n"):
            location = client.get_upload_signed_url(PROJECT, DOMAIN, filename="data.csv")
            put = urllib.request.Request(location.signed_url, data=content, method="PUT")
            with urllib.request.urlopen(put, timeout=5) as response:
                assert response.status in (200, 201)
            locations.append(location.native_url)
    assert len(set(locations)) == 2 and all(url.endswith("/data.csv") for url in locations)
