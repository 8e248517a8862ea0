"""promote against the emulator: verified activation, idempotent re-runs, cross-domain copies, and rollback
when a server (a proxy in front of the emulator that fails on purpose) makes the activation unverifiable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2
from flyteidl.admin.common_pb2 import NamedEntityIdentifier, ObjectGetRequest
from flyteidl.core import identifier_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteEntityNotExistException
from flyteadmin_ops.ops.package import LAUNCH_PLAN, load_package
from flyteadmin_ops.ops.promote import promote_launch_plan
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.results import OperationInputError, Status
from flyteadmin_ops.settings import AdminSettings
from tests.ops.admin_proxy import AdminProxy

PROJECT, STAGING, PRODUCTION = "flytesnacks", "staging", "production"
NIGHTLY = demo.SCHEDULED_LAUNCH_PLAN


def connect(endpoint: str) -> SynchronousFlyteClient:
    return SynchronousFlyteClient(AdminSettings.isolated(endpoint=endpoint, insecure=True))


@pytest.fixture
def client(flyte_admin: Emulator, pyflyte_package: Path) -> Iterator[SynchronousFlyteClient]:
    """A client on an emulator where the sample package is registered in staging at v1 and v2."""
    with connect(flyte_admin.endpoint) as client:
        package = load_package(pyflyte_package)
        for version in ("v1", "v2"):
            assert register_package(client, package, PROJECT, STAGING, version).ok
        yield client


def active(client: SynchronousFlyteClient, domain: str, name: str = NIGHTLY) -> str | None:
    try:
        plan = client.get_active_launch_plan(NamedEntityIdentifier(project=PROJECT, domain=domain, name=name))
    except FlyteEntityNotExistException:
        return None
    return str(plan.id.version)


def state(client: SynchronousFlyteClient, domain: str, version: str, name: str = NIGHTLY) -> int:
    """The stored state, read uncached (other clients in the test change it)."""
    ident = identifier_pb2.Identifier(
        resource_type=LAUNCH_PLAN, project=PROJECT, domain=domain, name=name, version=version
    )
    return int(client.raw.get_launch_plan(ObjectGetRequest(id=ident)).closure.state)


def test_activation_reports_the_previous_version_and_rerun_is_a_no_op(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    first = promote_launch_plan(client, NIGHTLY, "v1", PROJECT, STAGING)
    second = promote_launch_plan(client, NIGHTLY, "v2", PROJECT, STAGING)

    assert [(o.status, o.detail) for o in first.outcomes] == [(Status.ACTIVATED, "previously active: none")]
    assert [(o.status, o.detail) for o in second.outcomes] == [(Status.ACTIVATED, "previously active: v1")]
    assert active(client, STAGING) == "v2"
    assert state(client, STAGING, "v1") == launch_plan_pb2.INACTIVE

    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as watched:
        again = promote_launch_plan(watched, NIGHTLY, "v2", PROJECT, STAGING)
        assert proxy.writes() == []
    assert again.ok
    assert [o.status for o in again.outcomes] == [Status.UNCHANGED]
    assert "previously active: v2" in again.notes


def test_unknown_version_is_an_input_error_naming_it(client: SynchronousFlyteClient) -> None:
    with pytest.raises(
        OperationInputError, match=r"ops_demo\.nightly version v9 does not exist in flytesnacks/staging"
    ):
        promote_launch_plan(client, NIGHTLY, "v9", PROJECT, STAGING)
    with pytest.raises(OperationInputError, match="does not exist in flytesnacks/staging"):
        promote_launch_plan(client, NIGHTLY, "v9", PROJECT, PRODUCTION, from_domain=STAGING)
    assert active(client, STAGING) is None


def names_in(client: SynchronousFlyteClient, domain: str) -> dict[str, set[str]]:
    return {
        "task": {n.name for n in client.iter_task_ids(PROJECT, domain)},
        "workflow": {n.name for n in client.iter_workflow_ids(PROJECT, domain)},
        "launch_plan": {n.name for n in client.iter_launch_plan_ids(PROJECT, domain)},
    }


def test_cross_domain_copies_exactly_what_the_launch_plan_needs_then_activates(
    client: SynchronousFlyteClient,
) -> None:
    assert names_in(client, PRODUCTION) == {"task": set(), "workflow": set(), "launch_plan": set()}

    result = promote_launch_plan(client, NIGHTLY, "v1", PROJECT, PRODUCTION, from_domain=STAGING)

    assert result.ok, result.to_json()
    assert names_in(client, PRODUCTION) == {
        "task": {"ops_demo.tasks.stamp", "ops_demo.tasks.maybe_fail", "ops_demo.tasks.report_failure"},
        "workflow": {"ops_demo.workflows.flaky_wf"},
        "launch_plan": {NIGHTLY},
    }
    assert {o.status for o in result.outcomes[:-1]} == {Status.CREATED}
    assert result.outcomes[-1].status == Status.ACTIVATED
    assert all(":production:" in o.name for o in result.outcomes)
    assert active(client, PRODUCTION) == "v1"
    assert active(client, STAGING) is None  # the source is left alone


def test_cross_domain_rerun_writes_nothing_and_a_partial_copy_is_completed(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    # A first attempt that stopped after copying one task (e.g. interrupted): the re-run completes it.
    stamp = client.get_task(
        identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=PROJECT,
            domain=STAGING,
            name="ops_demo.tasks.stamp",
            version="v1",
        )
    )
    partial = identifier_pb2.Identifier()
    partial.CopyFrom(stamp.id)
    partial.domain = PRODUCTION
    client.create_task(partial, task_pb2.TaskSpec(template=stamp.closure.compiled_task.template))

    completed = promote_launch_plan(client, NIGHTLY, "v1", PROJECT, PRODUCTION, from_domain=STAGING)
    assert completed.ok
    assert [o.status for o in completed.outcomes].count(Status.EXISTS) == 1
    assert completed.outcomes[-1].status == Status.ACTIVATED

    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as watched:
        again = promote_launch_plan(watched, NIGHTLY, "v1", PROJECT, PRODUCTION, from_domain=STAGING)
        assert proxy.writes() == []
    assert [o.status for o in again.outcomes] == [Status.UNCHANGED]


def test_unknown_source_domain_is_an_input_error(client: SynchronousFlyteClient) -> None:
    with pytest.raises(OperationInputError, match="domain 'qa' does not exist"):
        promote_launch_plan(client, NIGHTLY, "v1", PROJECT, PRODUCTION, from_domain="qa")


def test_cross_domain_follows_launch_plan_nodes_and_subworkflows(client: SynchronousFlyteClient) -> None:
    main_lp = "ops_demo.workflows.main_wf"

    result = promote_launch_plan(client, main_lp, "v2", PROJECT, PRODUCTION, from_domain=STAGING)

    assert result.ok, result.to_json()
    copied = names_in(client, PRODUCTION)
    assert copied["launch_plan"] == {main_lp, demo.REFERENCED_LAUNCH_PLAN}
    assert copied["workflow"] == {main_lp, "ops_demo.workflows.greet_wf"}  # sub_wf travels inside main_wf
    assert {"ops_demo.tasks.add", "ops_demo.tasks.square", "ops_demo.tasks.greet"} <= copied["task"]
    # The referenced launch plan is copied at its version but not activated; only the promoted one is.
    assert active(client, PRODUCTION, main_lp) == "v2"
    assert active(client, PRODUCTION, demo.REFERENCED_LAUNCH_PLAN) is None


def fail_verification_once(proxy: AdminProxy) -> None:
    """After the first UpdateLaunchPlan reaches the emulator, the next GetActiveLaunchPlan fails (INTERNAL),
    so the activation cannot be verified; later reads work again."""
    armed = {"update_seen": False, "failed": False}

    def update(request: bytes, context: grpc.ServicerContext, forward):  # type: ignore[no-untyped-def]
        response = forward(request)
        armed["update_seen"] = True
        return response

    def get_active(request: bytes, context: grpc.ServicerContext, forward):  # type: ignore[no-untyped-def]
        if armed["update_seen"] and not armed["failed"]:
            armed["failed"] = True
            context.abort(grpc.StatusCode.INTERNAL, "injected: lost the answer")
        return forward(request)

    proxy.on("UpdateLaunchPlan", update)
    proxy.on("GetActiveLaunchPlan", get_active)


def test_unverifiable_activation_reactivates_the_previous_version(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    promote_launch_plan(client, NIGHTLY, "v1", PROJECT, STAGING)

    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as flaky:
        fail_verification_once(proxy)
        result = promote_launch_plan(flaky, NIGHTLY, "v2", PROJECT, STAGING)
        assert proxy.methods().count("UpdateLaunchPlan") == 2  # the activation, then the rollback

    assert not result.ok
    failed, rolled_back = result.outcomes
    assert failed.status == Status.FAILED and "lost the answer" in failed.detail
    assert (rolled_back.status, rolled_back.detail) == (Status.ROLLED_BACK, "re-activated v1")
    assert rolled_back.name.endswith(":v1")
    assert active(client, STAGING) == "v1"


def test_unverifiable_first_activation_is_undone_by_deactivating(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as flaky:
        fail_verification_once(proxy)
        result = promote_launch_plan(flaky, NIGHTLY, "v2", PROJECT, STAGING)

    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.ROLLED_BACK]
    assert "deactivated v2" in result.outcomes[1].detail
    assert active(client, STAGING) is None
    assert state(client, STAGING, "v2") == launch_plan_pb2.INACTIVE


def test_an_activation_the_server_silently_drops_is_caught(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    promote_launch_plan(client, NIGHTLY, "v1", PROJECT, STAGING)

    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as lying:
        # Answers OK without applying anything: only reading the state back reveals it.
        proxy.on("UpdateLaunchPlan", lambda request, context, forward: b"")
        result = promote_launch_plan(lying, NIGHTLY, "v2", PROJECT, STAGING)

    assert result.outcomes[0].status == Status.FAILED
    assert "active version is v1, expected v2" in result.outcomes[0].detail
    assert active(client, STAGING) == "v1"
