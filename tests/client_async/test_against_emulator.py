"""AsyncFlyteClient against the emulator with a package flytekit serialized (`pyflyte package`): concurrent
registration and launches, async pagination, the launch rule through lost answers, and the friendly
operations end to end. The emulator never imports the client, so the two cannot agree on a mistake."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2, matchable_resource_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.client import AsyncFlyteClient, SynchronousFlyteClient, named_entity_id
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteEntityAlreadyExistsException, FlyteEntityNotExistException
from flyteadmin_ops.ops import package as packages
from flyteadmin_ops.settings import AdminSettings

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
T = TypeVar("T")
CREATE = {
    identifier_pb2.TASK: "create_task",
    identifier_pb2.WORKFLOW: "create_workflow",
    identifier_pb2.LAUNCH_PLAN: "create_launch_plan",
}


@pytest.fixture(scope="module")
def package(pyflyte_package: Path) -> packages.Package:
    return packages.hydrate(packages.load_package(pyflyte_package), PROJECT, DOMAIN, VERSION)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0) as running:
        yield running


def settings_for(emulator: Emulator, **values: Any) -> AdminSettings:
    return AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True, **values)


def run(emulator: Emulator, work: Callable[[AsyncFlyteClient], Awaitable[T]], **settings: Any) -> T:
    async def main() -> T:
        async with AsyncFlyteClient(settings_for(emulator, **settings)) as client:
            return await work(client)

    return asyncio.run(main())


async def register(client: AsyncFlyteClient, package: packages.Package) -> None:
    """Each dependency wave at once (its entities only depend on earlier waves); an identical entity
    already there (e.g. our own attempt whose answer was lost) counts as registered."""

    async def create(entity: packages.Entity) -> None:
        with contextlib.suppress(FlyteEntityAlreadyExistsException):
            await getattr(client, CREATE[entity.resource_type])(entity.request.id, entity.request.spec)

    for wave in packages.dependency_waves(package):
        await asyncio.gather(*(create(entity) for entity in wave))


def test_async_iterators_walk_every_page_of_a_registered_package(
    emulator: Emulator, package: packages.Package
) -> None:
    async def work(client: AsyncFlyteClient) -> tuple[list[str], list[str], list[str], tuple[list[Any], str]]:
        await register(client, package)
        task_names = [ident.name async for ident in client.iter_task_ids(PROJECT, DOMAIN, page_size=2)]
        named = client.iter_named_entities(identifier_pb2.TASK, PROJECT, DOMAIN, page_size=2)
        assert [entity.id.name async for entity in named] == task_names
        versions = [
            task.id.version
            async for task in client.iter_tasks(
                named_entity_id(PROJECT, DOMAIN, demo.SAMPLE_TASKS[0]), page_size=1
            )
        ]
        projects = [project.id async for project in client.iter_projects(page_size=1)]
        return task_names, versions, projects, await client.list_task_ids_paginated(PROJECT, DOMAIN, limit=2)

    task_names, versions, projects, first_page = run(emulator, work)
    tasks = {entity.name for entity in package.of_type(identifier_pb2.TASK)}
    assert len(tasks) > 2  # more than one page of two
    assert task_names == sorted(tasks)  # every page, once each, in the default order (by name)
    assert versions == [VERSION]
    assert PROJECT in projects
    assert len(first_page[0]) == 2 and first_page[1] == "2"
    # what the async client registered is what the sync client reads
    with SynchronousFlyteClient(settings_for(emulator)) as sync:
        assert sorted(i.name for i in sync.iter_task_ids(PROJECT, DOMAIN)) == sorted(tasks)
        assert len(list(sync.iter_workflow_ids(PROJECT, DOMAIN))) == len(
            package.of_type(identifier_pb2.WORKFLOW)
        )


def test_retried_launches_through_lost_answers_start_each_execution_once(package: packages.Package) -> None:
    """Half of all calls fail with UNAVAILABLE, half of those after the server committed (the answer is lost):
    concurrent launches are retried, and each still starts exactly one execution."""
    lp = package.find(identifier_pb2.LAUNCH_PLAN, demo.SAMPLE_WORKFLOWS[1])
    patient = {"retry_attempts": 30, "retry_initial_backoff": 0.001, "retry_max_backoff": 0.002}
    spec = execution_pb2.ExecutionSpec(launch_plan=lp.id)
    request = execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN, spec=spec)

    async def work(client: AsyncFlyteClient) -> tuple[list[Any], list[Any], list[Any]]:
        await register(client, package)
        launched = await asyncio.gather(*(client.launch(request) for _ in range(8)))
        created = await asyncio.gather(
            *(client.create_execution(PROJECT, DOMAIN, None, spec) for _ in range(4))
        )
        stored = [execution.id async for execution in client.iter_executions(PROJECT, DOMAIN)]
        return list(launched), list(created), stored

    with Emulator(port=0, fault_rate=0.5, seed=11) as emulator:
        launched, created, stored = run(emulator, work, **patient)
    assert any(not launch.created for launch in launched), "no answer was lost: the test proves nothing"
    names = [launch.id.name for launch in launched] + [ident.name for ident in created]
    assert len(set(names)) == 12
    assert sorted(ident.name for ident in stored) == sorted(names)


def test_fifty_coroutines_share_one_client(emulator: Emulator, package: packages.Package) -> None:
    lp = package.find(identifier_pb2.LAUNCH_PLAN, demo.SAMPLE_WORKFLOWS[1])
    spec = execution_pb2.ExecutionSpec(launch_plan=lp.id)

    async def launch_and_read(client: AsyncFlyteClient, number: int) -> tuple[str, str]:
        ident = await client.create_execution(PROJECT, DOMAIN, f"run-{number}", spec)
        execution = await client.get_execution(ident)
        return ident.name, execution.spec.launch_plan.name

    async def work(client: AsyncFlyteClient) -> tuple[list[tuple[str, str]], int]:
        await register(client, package)
        results = await asyncio.gather(*(launch_and_read(client, n) for n in range(50)))
        listed = [e async for e in client.iter_executions(PROJECT, DOMAIN, page_size=7)]
        return list(results), len(listed)

    results, listed = run(emulator, work)
    assert results == [(f"run-{n}", lp.name) for n in range(50)]
    assert listed == 50


def test_friendly_operations_end_to_end(emulator: Emulator, package: packages.Package) -> None:
    lp = package.find(identifier_pb2.LAUNCH_PLAN, demo.REFERENCED_LAUNCH_PLAN)
    workflow = package.find(identifier_pb2.WORKFLOW, demo.SAMPLE_WORKFLOWS[2])
    task = package.find(identifier_pb2.TASK, demo.SAMPLE_TASKS[0])
    attributes = matchable_resource_pb2.MatchingAttributes(
        execution_queue_attributes=matchable_resource_pb2.ExecutionQueueAttributes(tags=["gpu"])
    )
    queue = matchable_resource_pb2.EXECUTION_QUEUE

    async def work(client: AsyncFlyteClient) -> dict[str, Any]:
        await register(client, package)
        seen: dict[str, Any] = {
            "version": await client.get_control_plane_version(),
            "domains": [d.id for d in await client.get_domains()],
            "project": (await client.get_project(PROJECT)).id,
            "task": (await client.get_task(task.id)).id,
            "workflow": (
                await client.get_workflow(workflow.id)
            ).closure.compiled_workflow.primary.template.id,
            "lp state": (await client.get_launch_plan(lp.id)).closure.state,
        }
        await client.update_launch_plan(lp.id, launch_plan_pb2.ACTIVE)
        seen["active"] = (await client.get_active_launch_plan(named_entity_id(PROJECT, DOMAIN, lp.name))).id
        seen["active list"] = [x.id async for x in client.iter_active_launch_plans(PROJECT, DOMAIN)]

        await client.update_project_domain_attributes(PROJECT, DOMAIN, attributes)
        got = await client.get_project_domain_attributes(PROJECT, DOMAIN, queue)
        seen["attributes"] = got.attributes.matching_attributes
        await client.delete_project_domain_attributes(PROJECT, DOMAIN, queue)
        with pytest.raises(FlyteEntityNotExistException):
            await client.get_project_domain_attributes(PROJECT, DOMAIN, queue)

        first = await client.create_execution(
            PROJECT, DOMAIN, "first", execution_pb2.ExecutionSpec(launch_plan=lp.id)
        )
        again = await client.relaunch_execution(first, "again")
        seen["relaunched"] = (await client.get_execution(again)).spec.metadata.reference_execution
        seen["data"] = await client.get_execution_data(first)
        seen["nodes"] = await client.list_node_executions(first)
        await client.terminate_execution(first, "enough")
        seen["terminated"] = (await client.get_execution(first)).closure.abort_metadata.cause
        return seen

    seen = run(emulator, work)
    assert seen["version"] and seen["domains"] == ["development", "staging", "production"]
    assert seen["project"] == PROJECT and seen["task"] == task.id and seen["workflow"] == workflow.id
    assert seen["lp state"] == launch_plan_pb2.INACTIVE
    assert seen["active"] == lp.id and seen["active list"] == [lp.id]
    assert seen["attributes"] == attributes
    assert seen["relaunched"].name == "first"
    assert seen["data"].DESCRIPTOR.name == "WorkflowExecutionGetDataResponse"
    assert isinstance(seen["nodes"], tuple) and seen["nodes"][1] == ""
    assert seen["terminated"] == "enough"
