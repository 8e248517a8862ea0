"""Each automation reads back what it wrote, and a mismatch is a failed outcome naming the thing.

A proxy in front of the emulator (tests/ops/admin_proxy.py) bends one answer, as a faulty or concurrent
server would, where the emulator itself never lies: a list that still shows the previous launch plan
version active, an attribute write answered OK but not applied, a write applied but its answer lost, a
recovery that the server created for another execution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin.common_pb2 import ResourceListRequest
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops import demo
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.attributes import sync_attributes
from flyteadmin_ops.ops.package import load_package
from flyteadmin_ops.ops.promote import promote_launch_plan
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.relaunch import ExecutionId, Selection, derived_name, relaunch_failed
from flyteadmin_ops.ops.results import Status
from flyteadmin_ops.settings import AdminSettings
from tests.ops.admin_proxy import AdminProxy

PROJECT, DOMAIN = "flytesnacks", "staging"
NIGHTLY = demo.SCHEDULED_LAUNCH_PLAN
FLAKY = "ops_demo.workflows.flaky_wf"
Forward = Callable[[bytes], bytes]


def connect(endpoint: str, attempts: int = 5) -> SynchronousFlyteClient:
    return SynchronousFlyteClient(
        AdminSettings.isolated(
            endpoint=endpoint, insecure=True, retry_attempts=attempts, retry_initial_backoff=0
        )
    )


@pytest.fixture
def client(flyte_admin: Emulator, pyflyte_package: Path) -> Iterator[SynchronousFlyteClient]:
    """The sample package registered in staging at v1 and v2."""
    with connect(flyte_admin.endpoint) as client:
        package = load_package(pyflyte_package)
        for version in ("v1", "v2"):
            assert register_package(client, package, PROJECT, DOMAIN, version).ok
        yield client


# ---- promote -------------------------------------------------------------------------------------------


def test_promote_fails_and_rolls_back_when_the_previous_version_still_lists_as_active(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    assert promote_launch_plan(client, NIGHTLY, "v1", PROJECT, DOMAIN).ok
    stale = client.get_launch_plan(
        identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name=NIGHTLY,
            version="v1",
        )
    )

    def v1_still_active(request: bytes, context: grpc.ServicerContext, forward: Forward) -> bytes:
        answer = launch_plan_pb2.LaunchPlanList.FromString(forward(request))
        listing_active = "state" in ResourceListRequest.FromString(request).filters
        if listing_active and "v1" not in {plan.id.version for plan in answer.launch_plans}:
            answer.launch_plans.append(stale)
        return answer.SerializeToString()

    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as bent:
        proxy.on("ListLaunchPlans", v1_still_active)
        result = promote_launch_plan(bent, NIGHTLY, "v2", PROJECT, DOMAIN)

    failed, rolled_back = result.outcomes
    assert (failed.status, rolled_back.status) == (Status.FAILED, Status.ROLLED_BACK)
    assert failed.name.endswith(":v2")
    assert "versions listed as active: v1, v2, expected v2 alone" in failed.detail
    assert rolled_back.detail == "re-activated v1"
    assert not result.ok


# ---- sync-attributes -----------------------------------------------------------------------------------

QUEUE = """\
- project: flytesnacks
  domain: production
  type: execution-queue
  tags: [critical, gpu]
- project: flytesnacks
  domain: development
  type: execution-cluster-label
  value: dev-cluster
"""


def test_sync_attributes_reports_a_write_answered_ok_but_not_applied(
    flyte_admin: Emulator, tmp_path: Path
) -> None:
    declared = tmp_path / "attributes.yaml"
    declared.write_text(QUEUE)
    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as bent:
        proxy.on("UpdateProjectDomainAttributes", lambda request, context, forward: b"")  # OK, nothing stored
        result = sync_attributes(bent, declared)

    assert sorted((o.kind, o.name, o.status) for o in result.outcomes) == [
        ("execution-cluster-label", "flytesnacks/development", Status.FAILED),
        ("execution-queue", "flytesnacks/production", Status.FAILED),
    ]
    assert "create read back: the row at flytesnacks/production (execution-queue) is missing" in {
        o.detail for o in result.outcomes
    }
    with connect(flyte_admin.endpoint) as fine:
        assert sync_attributes(fine, declared).totals == {"created": 2}  # the next run repairs it


def test_sync_attributes_counts_a_write_whose_answer_was_lost_once_it_reads_back(
    flyte_admin: Emulator, tmp_path: Path
) -> None:
    declared = tmp_path / "attributes.yaml"
    declared.write_text(QUEUE)

    def applied_then_lost(request: bytes, context: grpc.ServicerContext, forward: Forward) -> bytes:
        forward(request)
        context.abort(grpc.StatusCode.UNAVAILABLE, "injected: the answer was lost")
        raise AssertionError("unreachable: abort raises")

    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint, attempts=1) as one_shot:
        proxy.on("UpdateProjectDomainAttributes", applied_then_lost)
        result = sync_attributes(one_shot, declared)

    assert result.ok and result.totals == {"created": 2}
    assert all("its answer was lost" in o.detail for o in result.outcomes)
    assert all("reading it back shows it applied" in o.detail for o in result.outcomes)
    with connect(flyte_admin.endpoint) as fine:
        rows = fine.list_matchable_attributes(mr.EXECUTION_QUEUE).configurations
    assert [(row.domain, list(row.attributes.execution_queue_attributes.tags)) for row in rows] == [
        ("production", ["critical", "gpu"])
    ]


# ---- relaunch-failed -----------------------------------------------------------------------------------


def fail(client: SynchronousFlyteClient, name: str) -> ExecutionId:
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name=FLAKY, version="v1"
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["fail"].scalar.primitive.boolean = True
    ident = client.create_execution(
        PROJECT, DOMAIN, name, execution_pb2.ExecutionSpec(launch_plan=plan), inputs
    )
    occurred = Timestamp()
    occurred.GetCurrentTime()
    client.create_workflow_event(
        event_pb2.WorkflowExecutionEvent(
            execution_id=ident,
            phase=core_execution_pb2.WorkflowExecution.FAILED,
            occurred_at=occurred,
            producer_id="propeller",
        )
    )
    return ident


def test_relaunch_reports_a_recovery_the_server_made_of_another_execution(
    flyte_admin: Emulator, client: SynchronousFlyteClient
) -> None:
    first, second = fail(client, "first"), fail(client, "second")

    def recover_the_other(request: bytes, context: grpc.ServicerContext, forward: Forward) -> bytes:
        asked = execution_pb2.ExecutionRecoverRequest.FromString(request)
        if asked.id.name == "first":
            asked.id.CopyFrom(second)
        return forward(asked.SerializeToString())

    selection = Selection.since(PROJECT, DOMAIN, dt.timedelta(hours=1))
    with AdminProxy(flyte_admin.endpoint) as proxy, connect(proxy.endpoint) as bent:
        proxy.on("RecoverExecution", recover_the_other)
        result = relaunch_failed(bent, selection)

    outcomes = {o.name: o for o in result.outcomes}
    assert outcomes["second"].status == Status.LAUNCHED
    wrong = outcomes["first"]
    made = derived_name(first, "recover")
    assert wrong.status == Status.FAILED
    assert wrong.detail == (
        f"recovered as {made}, but reading back {PROJECT}/{DOMAIN}/{made}: "
        f"it references {PROJECT}/{DOMAIN}/second"
    )
