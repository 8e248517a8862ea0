"""CPU per call of the emulator's registration handlers (issue 9: the emulator must not be the bottleneck of
the registration benchmark), called directly on an in-memory store: no transport, no client, so what is
measured is the handler alone (the gRPC transport adds about 0.25-0.35 ms a call on top, whatever the RPC).

The workload is the registration benchmark's package (`benchmarks.register_package`: 1,000 tasks, 200
workflows, 400 launch plans), or with `--quick` the bundled sample package hydrated at a few versions:
first creates in dependency order, identical re-creates (ALREADY_EXISTS), then ListTasks / ListWorkflows /
ListLaunchPlans filtered on the version, paged with limits 100, 1,000 and 10,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flyteidl.admin import common_pb2

from flyteadmin_ops.emulator import load_semantics
from flyteadmin_ops.emulator.db import Database
from flyteadmin_ops.emulator.projects import seed_projects
from flyteadmin_ops.emulator.registry import ADMIN, HANDLERS, AdminError, CallInfo
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    Entity,
    dependency_waves,
    hydrate,
    load_package,
)

PROJECT, DOMAIN = "flytesnacks", "development"
CREATE = {TASK: "CreateTask", WORKFLOW: "CreateWorkflow", LAUNCH_PLAN: "CreateLaunchPlan"}
LIST = {"ListTasks": "tasks", "ListWorkflows": "workflows", "ListLaunchPlans": "launch_plans"}
LIMITS = (100, 1000, 10000)


def workload(quick: bool) -> tuple[list[Entity], str]:
    """The entities to register, in dependency order, and what they are (for the figure's note)."""
    if quick:
        from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH

        path: Path = Path(SAMPLE_PACKAGE_PATH)
        versions = [f"v{i}" for i in range(5)]
        label = "sample package at 5 versions"
    else:
        from benchmarks.register_package import package_path

        path, versions, label = package_path(), ["v1"], "the 1,600-object registration package"
    package = load_package(path)
    ordered = [entity for wave in dependency_waves(package) for entity in wave]
    entities = []
    for version in versions:
        hydrated = {(e.resource_type, e.name): e for e in hydrate(package, PROJECT, DOMAIN, version)}
        entities += [hydrated[(e.resource_type, e.name)] for e in ordered]
    return entities, label


def _cpu(run: Callable[[], None]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def handler_cpu(quick: bool) -> tuple[dict[str, float], str]:
    """Microseconds of CPU per call, by scenario."""
    load_semantics()
    entities, label = workload(quick)
    version = entities[0].request.id.version
    state = EmulatorState(db=Database(":memory:"))
    seed_projects(state)
    call = CallInfo()
    spent: dict[str, float] = {}
    calls: dict[str, int] = {}

    def record(scenario: str, seconds: float, count: int = 1) -> None:
        spent[scenario] = spent.get(scenario, 0.0) + seconds
        calls[scenario] = calls.get(scenario, 0) + count

    for again in (False, True):
        for entity in entities:
            rpc = CREATE[entity.resource_type]

            def create(rpc: str = rpc, entity: Entity = entity, again: bool = again) -> None:
                try:
                    HANDLERS[(ADMIN, rpc)](state, entity.request, call)
                except AdminError as error:
                    if not again or error.code.name != "ALREADY_EXISTS":
                        raise

            record(f"{rpc} {'again' if again else 'new'}", _cpu(create))
    for rpc, field in LIST.items():
        for limit in LIMITS:
            pages = 0

            def page_through(rpc: str = rpc, field: str = field, limit: int = limit) -> None:
                nonlocal pages
                token = ""
                while True:
                    request = common_pb2.ResourceListRequest(
                        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
                        limit=limit,
                        token=token,
                        filters=f"eq(version,{version})",
                    )
                    response: Any = HANDLERS[(ADMIN, rpc)](state, request, call)
                    token = response.token
                    pages += 1
                    if not token:
                        return

            seconds = _cpu(page_through)
            record(f"{rpc} eq(version) limit {limit}", seconds, pages)
    state.db.close()
    return {scenario: 1e6 * spent[scenario] / calls[scenario] for scenario in spent}, label
