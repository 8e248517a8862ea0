"""Reading back what a flow run recorded on the Prefect server: task runs and artifacts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")


def eventually(read: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 20.0) -> T:
    """Poll `read` until `done` holds: the server records task runs from events, asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def task_runs(flow_run_id: UUID, expected: int) -> list[Any]:
    """The flow run's task runs once `expected` of them are recorded in a final state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    def read() -> list[Any]:
        with get_client(sync_client=True) as client:
            return list(
                client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            )

    def settled(runs: list[Any]) -> bool:
        return len(runs) >= expected and all(r.state is not None and r.state.is_final() for r in runs)

    return eventually(read, settled)


def artifact(key: str) -> Any:
    """The newest artifact with `key`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert found, f"no artifact with key {key!r}"
    return found[0]


def task_name(run: Any) -> str:
    """A task run's name without the random suffix Prefect adds to default names (`plan-...-a1b`)."""
    return re.sub(r"-[0-9a-f]{3}$", "", run.name)


def flow_runs(since: Any, expected: int) -> list[tuple[str, str]]:
    """(flow name, state name) of the flow runs created after `since` (an aware datetime), once `expected`
    of them are in a final state."""
    from prefect.client.orchestration import get_client

    def read() -> list[tuple[str, Any]]:
        with get_client(sync_client=True) as client:
            runs = [run for run in client.read_flow_runs(limit=200) if run.created and run.created >= since]
            names = {flow_id: client.read_flow(flow_id).name for flow_id in {run.flow_id for run in runs}}
        return [(names[run.flow_id], run.state) for run in runs]

    def settled(runs: list[tuple[str, Any]]) -> bool:
        return len(runs) >= expected and all(state is not None and state.is_final() for _, state in runs)

    return [(name, state.name if state else "") for name, state in eventually(read, settled)]
