"""get_task / get_workflow / get_launch_plan cache: per client, bounded, expiring, copies, invalidated by
update_launch_plan. Time moves through an injected clock, never by sleeping."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

from flyteadmin_ops.client import SynchronousFlyteClient, launch_plan_id, task_id, workflow_id
from flyteadmin_ops.client.cache import EntityCache
from flyteadmin_ops.errors import FlyteEntityNotExistException
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import FakeClock, RecordingServer

T1 = task_id("p", "d", "t", "v1")


def serve_entities(server: RecordingServer) -> None:
    """Get* answers with the requested id and a description that counts the calls so far."""
    counter = {"n": 0}

    def answer(message: Any) -> Any:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            counter["n"] += 1
            if request.id.name == "missing":
                context.abort(grpc.StatusCode.NOT_FOUND, "missing entity")
            return message(id=request.id, short_description=f"call {counter['n']}")

        return handle

    server.on("GetTask", answer(task_pb2.Task))
    server.on("GetWorkflow", answer(workflow_pb2.Workflow))

    def get_launch_plan(request: Any, context: grpc.ServicerContext) -> launch_plan_pb2.LaunchPlan:
        counter["n"] += 1
        return launch_plan_pb2.LaunchPlan(id=request.id)

    server.on("GetLaunchPlan", get_launch_plan)


@pytest.fixture(autouse=True)
def _entities(server: RecordingServer) -> None:
    serve_entities(server)


def test_a_hit_skips_the_server_and_returns_a_copy(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    first = client.get_task(T1)
    second = client.get_task(T1)
    assert len(server.requests("GetTask")) == 1
    assert first == second and first is not second
    first.short_description = "changed by a caller"
    assert client.get_task(T1).short_description == "call 1"


def test_entries_expire_after_the_ttl(
    server: RecordingServer, client: SynchronousFlyteClient, clock: FakeClock
) -> None:
    client.get_workflow(workflow_id("p", "d", "wf", "v1"))
    clock.advance(59.9)
    client.get_workflow(workflow_id("p", "d", "wf", "v1"))
    assert len(server.requests("GetWorkflow")) == 1
    clock.advance(0.2)
    assert client.get_workflow(workflow_id("p", "d", "wf", "v1")).short_description == "call 2"
    assert len(server.requests("GetWorkflow")) == 2


def test_the_cache_is_bounded_least_recently_used_first(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    ids = [task_id("p", "d", "t", f"v{i}") for i in range(5)]  # the fixture's cache holds 4
    for ident in ids:
        client.get_task(ident)
    assert len(client.cache) == 4
    client.get_task(ids[4])  # still cached
    client.get_task(ids[0])  # evicted, fetched again
    assert [r.id.version for r in server.requests("GetTask")] == ["v0", "v1", "v2", "v3", "v4", "v0"]


def test_kinds_do_not_collide(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    client.get_task(task_id("p", "d", "same", "v1"))
    assert isinstance(client.get_workflow(workflow_id("p", "d", "same", "v1")), workflow_pb2.Workflow)


def test_an_id_without_resource_type_shares_the_entry(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    bare = task_id("p", "d", "t", "v1")
    bare.ClearField("resource_type")
    client.get_task(T1)
    client.get_task(bare)
    assert len(server.requests("GetTask")) == 1


def test_errors_are_not_cached(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    missing = task_id("p", "d", "missing", "v1")
    for _ in range(2):
        with pytest.raises(FlyteEntityNotExistException):
            client.get_task(missing)
    assert len(server.requests("GetTask")) == 2


def test_update_launch_plan_drops_every_version_of_that_name(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    v1, v2 = launch_plan_id("p", "d", "lp", "v1"), launch_plan_id("p", "d", "lp", "v2")
    other = launch_plan_id("p", "d", "other", "v1")
    for ident in (v1, v2, other):
        client.get_launch_plan(ident)
    client.update_launch_plan(v2, launch_plan_pb2.ACTIVE)  # activating v2 deactivates v1 on the server
    for ident in (v1, v2, other):
        client.get_launch_plan(ident)
    fetched = [r.id.name + "/" + r.id.version for r in server.requests("GetLaunchPlan")]
    assert fetched == ["lp/v1", "lp/v2", "other/v1", "lp/v1", "lp/v2"]


def test_a_read_racing_update_launch_plan_is_not_cached(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    """A GetLaunchPlan that read the old state before an UpdateLaunchPlan, but whose answer arrives after
    update_launch_plan invalidated the cache, must not be stored: it would be served until the TTL ends."""
    lp = launch_plan_id("p", "d", "lp", "v1")
    state = {"value": launch_plan_pb2.INACTIVE}
    read, updated = threading.Event(), threading.Event()

    def get_launch_plan(request: Any, context: grpc.ServicerContext) -> launch_plan_pb2.LaunchPlan:
        answer = launch_plan_pb2.LaunchPlan(
            id=request.id, closure=launch_plan_pb2.LaunchPlanClosure(state=state["value"])
        )
        if not read.is_set():  # the first reader is slow to answer: the update overtakes it
            read.set()
            assert updated.wait(5)
        return answer

    def update_launch_plan(request: Any, context: grpc.ServicerContext) -> Any:
        state["value"] = request.state
        return launch_plan_pb2.LaunchPlanUpdateResponse()

    server.on("GetLaunchPlan", get_launch_plan)
    server.on("UpdateLaunchPlan", update_launch_plan)
    with ThreadPoolExecutor(max_workers=1) as pool:
        reader = pool.submit(client.get_launch_plan, lp)
        assert read.wait(5)
        client.update_launch_plan(lp, launch_plan_pb2.ACTIVE)
        updated.set()
        assert reader.result().closure.state == launch_plan_pb2.INACTIVE  # it did read before the update
    assert client.get_launch_plan(lp).closure.state == launch_plan_pb2.ACTIVE


def test_two_clients_do_not_share_a_cache(server: RecordingServer, settings: AdminSettings) -> None:
    with SynchronousFlyteClient(settings) as first, SynchronousFlyteClient(settings) as second:
        first.get_task(T1)
        second.get_task(T1)
        first.get_task(T1)
    assert len(server.requests("GetTask")) == 2


def test_settings_size_and_ttl_configure_the_cache(server: RecordingServer, settings: AdminSettings) -> None:
    disabled = AdminSettings.isolated(**{**settings.model_dump(), "cache_size": 0})
    with SynchronousFlyteClient(disabled) as client:
        client.get_task(T1)
        client.get_task(T1)
    assert len(server.requests("GetTask")) == 2
    with SynchronousFlyteClient(settings, cache_ttl_seconds=5) as client:
        assert (client.cache.maxsize, client.cache.ttl_seconds) == (256, 5)


def test_concurrent_gets_are_safe(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    ids = [task_id("p", "d", "t", f"v{i % 3}") for i in range(60)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(client.get_task, ids))
    assert [r.id for r in results] == ids
    assert len(client.cache) == 3


def test_cache_validates_its_limits() -> None:
    with pytest.raises(ValueError, match="cache size and TTL"):
        EntityCache(-1, 10)
