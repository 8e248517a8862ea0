"""Iterators walk every page lazily, in a deterministic order, the way flyteadmin pages (offset tokens,
a next token only after a full page)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, project_pb2, task_pb2

from flyteadmin_ops.client import SynchronousFlyteClient, named_entity_id, sort_by, task_id
from flyteadmin_ops.client.paging import walk
from tests.client_api.servers import RecordingServer


def serve_tasks(server: RecordingServer, count: int) -> None:
    """ListTasks over `count` tasks with flyteadmin's paging rules."""
    tasks = [task_pb2.Task(id=task_id("p", "d", "t", f"v{i}")) for i in range(count)]

    def list_tasks(request: Any, context: grpc.ServicerContext) -> task_pb2.TaskList:
        if request.limit == 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid value for limit")
        offset = int(request.token or 0)
        page = tasks[offset : offset + request.limit]
        token = str(offset + len(page)) if len(page) == request.limit else ""
        return task_pb2.TaskList(tasks=page, token=token)

    server.on("ListTasks", list_tasks)


@pytest.mark.parametrize(
    ("count", "page_size", "calls"),
    [(7, 3, 3), (6, 3, 3), (0, 3, 1), (2, 5, 1), (5, 1, 6)],
    ids=["partial-last-page", "exactly-full-last-page", "empty", "one-page", "page-of-one"],
)
def test_iterator_walks_every_page(
    count: int, page_size: int, calls: int, server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    serve_tasks(server, count)
    versions = [t.id.version for t in client.iter_tasks(named_entity_id("p", "d", "t"), page_size=page_size)]
    assert versions == [f"v{i}" for i in range(count)]
    requests = server.requests("ListTasks")
    assert len(requests) == calls
    assert [r.token for r in requests] == [""] + [str(page_size * i) for i in range(1, calls)]


def test_iterator_is_lazy(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    serve_tasks(server, 10)
    iterator = client.iter_tasks(named_entity_id("p", "d", "t"), page_size=2)
    assert server.requests("ListTasks") == []
    assert next(iterator).id.version == "v0"
    assert len(server.requests("ListTasks")) == 1


def test_iterator_sends_a_deterministic_sort_unless_given(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    list(client.iter_executions("p", "d"))
    list(client.iter_executions("p", "d", sort_by=sort_by("started_at", ascending=False)))
    default, explicit = server.requests("ListExecutions")
    assert (default.sort_by.key, default.sort_by.direction) == ("created_at", common_pb2.Sort.ASCENDING)
    assert (explicit.sort_by.key, explicit.sort_by.direction) == ("started_at", common_pb2.Sort.DESCENDING)
    assert default.limit == client.settings.page_size

    list(client.iter_task_ids("p", "d"))
    list(client.iter_projects())
    assert server.last("ListTaskIds").sort_by.key == "name"  # id lists group by name
    assert server.last("ListProjects").sort_by.key == "identifier"


def test_iterators_share_the_filters_of_their_paginated_method(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    server.on(
        "ListProjects",
        lambda request, context: project_pb2.Projects(projects=[project_pb2.Project(id="a")]),
    )
    assert [p.id for p in client.iter_projects(filters="eq(state,0)")] == ["a"]
    assert server.last("ListProjects").filters == "eq(state,0)"


def test_paginated_returns_items_and_next_token(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    serve_tasks(server, 5)
    items, token = client.list_tasks_paginated(named_entity_id("p", "d", "t"), limit=2, token="2")
    assert [t.id.version for t in items] == ["v2", "v3"] and token == "4"


def test_a_repeated_token_stops_the_walk() -> None:
    pages = iter([([1], "5"), ([2], "5")])
    with pytest.raises(RuntimeError, match="same page token '5' twice"):
        list(walk(lambda token: next(pages)))
