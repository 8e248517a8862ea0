"""register's engine (issues 9 and 10): what exists is listed instead of re-created, what was written is
read back, and the outcomes are exactly those a create per entity gives. Against the emulator, with a
proxy in front where a test must see the traffic or make the server's lists lie."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops import existing
from flyteadmin_ops.ops.existing import filterable
from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    Entity,
    Package,
    dependency_waves,
    hydrate,
    load_package,
)
from flyteadmin_ops.ops.register import register_package, register_waves
from flyteadmin_ops.ops.results import Outcome, Status
from flyteadmin_ops.ops.wave_registration import (
    IDENTICAL,
    NOT_ATTEMPTED,
    SERVER_GONE,
    entity_outcome,
    launch_plans_last,
    run_waves,
)
from flyteadmin_ops.settings import AdminSettings
from tests.fixtures.sample import CHANGED_TASK
from tests.ops.admin_proxy import AdminProxy
from tests.ops.large_package import replicated_package

PROJECT, DOMAIN = "flytesnacks", "development"
ENTITY_CREATES = ("CreateTask", "CreateWorkflow", "CreateLaunchPlan")


@pytest.fixture
def proxy(flyte_admin: Emulator) -> Iterator[AdminProxy]:
    with AdminProxy(flyte_admin.endpoint) as server:
        yield server


@pytest.fixture
def client(proxy: AdminProxy) -> Iterator[SynchronousFlyteClient]:
    with SynchronousFlyteClient(endpoint=proxy.endpoint, insecure=True) as c:
        yield c


def _creates(proxy: AdminProxy, since: int = 0) -> Counter[str]:
    return Counter(call.method for call in proxy.calls[since:] if call.method in ENTITY_CREATES)


def _rows(outcomes: list[Outcome]) -> list[tuple[str, str, str, str]]:
    return [(o.kind, o.name, o.status.value, o.detail) for o in outcomes]


def test_rerun_lists_instead_of_creating_tasks_and_launch_plans(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    package = load_package(pyflyte_package)
    first = register_package(client, package, PROJECT, DOMAIN, "v1")
    mark = len(proxy.calls)
    second = register_package(client, package, PROJECT, DOMAIN, "v1")

    assert first.ok and second.ok
    assert [o.name for o in second.outcomes] == [o.name for o in first.outcomes]
    entities = second.outcomes[1:]
    assert {(o.status, o.detail) for o in entities} == {(Status.EXISTS, IDENTICAL)}
    # Workflows cannot be proven identical from a list (a real ListWorkflows returns only the interface).
    assert _creates(proxy, mark) == Counter({"CreateWorkflow": len(package.of_type(WORKFLOW))})


def test_listed_and_created_outcomes_are_the_same(
    client: SynchronousFlyteClient, pyflyte_package: Path
) -> None:
    """With the lists and without them, a re-run reports the very same outcomes in the same order."""
    package = hydrate(load_package(pyflyte_package), PROJECT, DOMAIN, "v1")
    waves = dependency_waves(package)
    register_waves(client, waves)

    listed = register_waves(client, waves)
    created = register_waves(client, waves, check_existing=False, read_back=False)

    assert _rows(listed) == _rows(created)


def _with_more_retries(package: Package, task_name: str) -> Package:
    """The package with one task's retries raised: a different structure under the same identifier."""
    entities = list(package)
    for index, entity in enumerate(entities):
        if entity.resource_type == TASK and entity.name == task_name:
            request = task_pb2.TaskCreateRequest()
            request.CopyFrom(entity.request)
            request.spec.template.metadata.retries.retries += 3
            entities[index] = type(entity).from_request(request, entity.source)
    return Package(tuple(entities), package.fast_archive, package.source)


def test_a_changed_task_under_the_same_version_still_gets_its_create_and_the_servers_diff(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    package = load_package(pyflyte_package)
    assert register_package(client, package, PROJECT, DOMAIN, "v1").ok
    mark = len(proxy.calls)
    changed = _with_more_retries(package, CHANGED_TASK)
    result = register_package(client, changed, PROJECT, DOMAIN, "v1", continue_on_error=True)

    conflicts = result.with_status(Status.CONFLICT)
    assert [o.name for o in conflicts] == [f"{PROJECT}:{DOMAIN}:{CHANGED_TASK}:v1"]
    assert conflicts[0].detail == "template.metadata.retries.retries: (none) -> 3"
    assert conflicts[0].server_message
    assert {o.status for o in result.outcomes[1:]} == {Status.EXISTS, Status.CONFLICT}
    assert _creates(proxy, mark)["CreateTask"] == 1  # only the changed task: the others were listed


def _without_an_unbound_input(package: Package) -> tuple[Package, str]:
    """The package with one launch plan whose required inputs are left out of `default_inputs`, as
    flyteadmin allows (it adds them back as required)."""
    entities = list(package)
    for index, entity in enumerate(entities):
        spec = entity.request.spec
        if entity.resource_type != LAUNCH_PLAN:
            continue
        required = [n for n, p in spec.default_inputs.parameters.items() if p.required]
        if not required:
            continue
        request = launch_plan_pb2.LaunchPlanCreateRequest()
        request.CopyFrom(entity.request)
        for name in required:
            del request.spec.default_inputs.parameters[name]
        entities[index] = type(entity).from_request(request, entity.source)
        return Package(tuple(entities), package.fast_archive, package.source), entity.name
    raise AssertionError("the sample package has no launch plan with a required input")


def test_a_launch_plan_the_server_rewrites_is_still_known_and_reads_back(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    package, name = _without_an_unbound_input(load_package(pyflyte_package))
    first = register_package(client, package, PROJECT, DOMAIN, "v1")
    mark = len(proxy.calls)
    second = register_package(client, package, PROJECT, DOMAIN, "v1")

    assert first.ok, first.to_json()  # read back: the added required parameters are the server's rewrite
    assert second.ok
    assert _creates(proxy, mark)["CreateLaunchPlan"] == 0
    stored = client.get_launch_plan(
        identifier_pb2.Identifier(
            resource_type=LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=name, version="v1"
        )
    )
    assert any(p.required for p in stored.spec.default_inputs.parameters.values())


def _rewriting(
    response_type: type, change: Callable[[object], None]
) -> Callable[[bytes, grpc.ServicerContext, Callable[[bytes], bytes]], bytes]:
    def override(request: bytes, context: grpc.ServicerContext, forward: Callable[[bytes], bytes]) -> bytes:
        answer = response_type.FromString(forward(request))
        change(answer)
        return answer.SerializeToString()  # type: ignore[no-any-return]

    return override


def test_a_task_the_server_holds_differently_after_the_create_becomes_failed(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    def tamper(answer: task_pb2.TaskList) -> None:
        for task in answer.tasks:
            if task.id.name == CHANGED_TASK:
                task.closure.compiled_task.template.metadata.retries.retries += 5

    proxy.on("ListTasks", _rewriting(task_pb2.TaskList, tamper))  # type: ignore[arg-type]
    result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")

    failed = result.with_status(Status.FAILED)
    assert [(o.kind, o.name) for o in failed] == [("task", f"{PROJECT}:{DOMAIN}:{CHANGED_TASK}:v1")]
    assert "task template differs" in failed[0].detail
    assert not result.ok
    assert len(result.outcomes) == 1 + len(load_package(pyflyte_package))


def test_a_workflow_missing_after_the_create_becomes_failed(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    def drop_first(answer: workflow_pb2.WorkflowList) -> None:
        if answer.workflows:
            del answer.workflows[0]

    proxy.on("ListWorkflows", _rewriting(workflow_pb2.WorkflowList, drop_first))  # type: ignore[arg-type]
    result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")

    failed = result.with_status(Status.FAILED)
    assert [o.kind for o in failed] == ["workflow"]
    assert failed[0].detail == "read back: not on the server after registering"


@pytest.mark.parametrize("version", ["v1+build.7", "a,b"])
def test_a_version_the_filter_cannot_carry_is_registered_by_creates_alone(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path, version: str
) -> None:
    assert not filterable(version)
    package = load_package(pyflyte_package)
    assert register_package(client, package, PROJECT, DOMAIN, version).ok
    mark = len(proxy.calls)
    second = register_package(client, package, PROJECT, DOMAIN, version)

    assert second.ok and {o.status for o in second.outcomes[1:]} == {Status.EXISTS}
    assert sum(_creates(proxy, mark).values()) == len(package)
    assert not {"ListTasks", "ListLaunchPlans", "ListWorkflows"} & set(proxy.methods())


def test_many_entities_in_few_lists(client: SynchronousFlyteClient, proxy: AdminProxy) -> None:
    """190 entities: one list per kind finds them all (pages of a thousand), nothing sent twice."""
    package = replicated_package(10)
    first = register_package(client, package, PROJECT, DOMAIN, "v1")
    mark = len(proxy.calls)
    second = register_package(client, package, PROJECT, DOMAIN, "v1")

    assert first.totals == {"created": len(package), "uploaded": 1}
    assert second.totals == {"exists": len(package), "uploaded": 1}
    lists = Counter(c.method for c in proxy.calls[mark:] if c.method.startswith("List"))
    assert lists == Counter({"ListTasks": 1, "ListLaunchPlans": 1, "ListWorkflows": 1})


def test_lists_too_large_for_the_client_leave_everything_to_the_creates(proxy: AdminProxy) -> None:
    """A page of templates beyond max_receive_message_bytes: no list can be read (not even pages of 100),
    so every entity gets its create, as without lists, and the result is the same."""
    package = replicated_package(8)  # 56 tasks of about 1 KB of template each
    settings = AdminSettings.isolated(
        endpoint=proxy.endpoint, insecure=True, max_receive_message_bytes=16_384
    )
    with SynchronousFlyteClient(settings) as small:
        first = register_package(small, package, PROJECT, DOMAIN, "v1")
        mark = len(proxy.calls)
        second = register_package(small, package, PROJECT, DOMAIN, "v1")

    assert first.totals == {"created": len(package), "uploaded": 1}
    assert second.totals == {"exists": len(package), "uploaded": 1}
    assert sum(_creates(proxy, mark).values()) == len(package)
    listed = [c for c in proxy.calls[mark:] if c.method == "ListTasks"]
    assert listed and all(
        c.code is grpc.StatusCode.OK for c in listed
    )  # the server answered; the client refused


def test_once_the_server_is_gone_nothing_more_is_attempted_even_when_continuing_on_error(
    pyflyte_package: Path,
) -> None:
    batches = launch_plans_last(
        dependency_waves(hydrate(load_package(pyflyte_package), PROJECT, DOMAIN, "v1"))
    )
    attempted: list[int] = []

    def register(batch: Sequence[Entity]) -> list[Outcome]:
        attempted.append(len(batch))
        return [entity_outcome(e, Status.FAILED, "boom") for e in batch]

    outcomes = run_waves(
        batches, register, continue_on_error=True, halted=lambda: SERVER_GONE if attempted else None
    )

    first = next(len(b) for b in batches if b)
    assert attempted == [first]
    assert [o.detail for o in outcomes[first:]] == [SERVER_GONE] * (len(outcomes) - first)
    assert len(outcomes) == sum(len(b) for b in batches)


def test_a_version_of_exactly_one_page_is_listed_in_one_round_trip(
    client: SynchronousFlyteClient, proxy: AdminProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every task asked about was on the first (full) page: the list stops there instead of asking for an
    empty second page; a name not seen would still page on (see the read-back tests)."""
    package = replicated_package(4)
    tasks = len(package.of_type(TASK))
    monkeypatch.setattr(existing, "PAGE_LIMIT", tasks)
    assert register_package(client, package, PROJECT, DOMAIN, "v1").ok
    mark = len(proxy.calls)
    second = register_package(client, package, PROJECT, DOMAIN, "v1")

    assert second.totals == {"exists": len(package), "uploaded": 1}
    assert Counter(c.method for c in proxy.calls[mark:])["ListTasks"] == 1


def test_paging_goes_on_until_every_name_asked_about_was_seen(
    client: SynchronousFlyteClient, proxy: AdminProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = replicated_package(4)
    monkeypatch.setattr(existing, "PAGE_LIMIT", 5)
    assert register_package(client, package, PROJECT, DOMAIN, "v1").ok
    hydrated = hydrate(package, PROJECT, DOMAIN, "v1")
    tasks = [e for e in hydrated if e.resource_type == TASK]
    names = sorted(e.name for e in tasks)
    last_page = existing.list_registered(
        client, PROJECT, DOMAIN, {(TASK, "v1")}, names={(TASK, "v1"): {names[-1]}}
    )
    first_page = existing.list_registered(
        client, PROJECT, DOMAIN, {(TASK, "v1")}, names={(TASK, "v1"): {names[0]}}
    )
    missing = existing.list_registered(
        client, PROJECT, DOMAIN, {(TASK, "v1")}, names={(TASK, "v1"): {names[0], "not-there"}}
    )

    assert all(last_page.get(e) is not None for e in tasks)  # the name sorted last: every page read
    assert len(first_page.entities) == 5  # the first page held it
    assert len(missing.entities) == len(tasks)  # a name never seen: paged to the end


def test_workflows_sent_ahead_give_the_outcomes_of_creates_sent_in_turn(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    """A re-run sends the workflow creates (which cannot write) as soon as the lists are read; the outcomes,
    their order and what the progress callback hears are those of a register pinned to one batch at a
    time (`max_concurrency` sends nothing ahead)."""
    package = load_package(pyflyte_package)
    assert register_package(client, package, PROJECT, DOMAIN, "v1").ok
    heard: list[Outcome] = []
    ahead = register_package(client, package, PROJECT, DOMAIN, "v1", on_outcome=heard.append)
    in_turn = register_package(client, package, PROJECT, DOMAIN, "v1", max_concurrency=4)

    assert _rows(ahead.outcomes) == _rows(in_turn.outcomes)
    assert _rows(heard) == _rows(ahead.outcomes)


def test_after_a_conflict_the_workflows_sent_ahead_are_reported_not_attempted(
    client: SynchronousFlyteClient, proxy: AdminProxy, pyflyte_package: Path
) -> None:
    package = load_package(pyflyte_package)
    assert register_package(client, package, PROJECT, DOMAIN, "v1").ok
    changed = _with_more_retries(package, CHANGED_TASK)
    ahead = register_package(client, changed, PROJECT, DOMAIN, "v1")
    in_turn = register_package(client, changed, PROJECT, DOMAIN, "v1", max_concurrency=4)

    assert _rows(ahead.outcomes) == _rows(in_turn.outcomes)
    statuses = Counter(o.status for o in ahead.outcomes[1:])
    assert statuses[Status.CONFLICT] == 1 and statuses[Status.SKIPPED] > 0
    assert {o.detail for o in ahead.with_status(Status.SKIPPED)} == {NOT_ATTEMPTED}
