"""The reference's closing checklist ("cases a naive emulator would get wrong"), the items not already pinned
by test_conformance.py, through both clients (raw stubs and flytekit's own, see `caller`).

Where each item is checked:
- phase UNDEFINED after create, terminate -> ABORTING, terminate of a terminal execution: here.
- task / workflow / launch plan re-create codes and details: test_conformance (task_recreate_*,
  workflow_recreate_*, launch_plan_expected_inputs_state_and_recreate).
- workflow with a missing task -> INVALID_ARGUMENT; launch plan with a missing workflow -> NOT_FOUND:
  test_conformance.
- missing or archived project on Create* and attributes -> INVALID_ARGUMENT, GetProject -> NOT_FOUND: here
  (and test_conformance for CreateTask and GetProject).
- next token only on a full page; limit 0 refused except ListProjects: here and test_conformance.
- ListExecutions hides archived executions: here; ListProjects hides archived projects and ListNamedEntities
  `.flytegen` names: test_conformance.
- attribute fallback and deletes without NOT_FOUND: test_conformance.
- principal "" without auth: here (execution metadata); without auth UserInfo is UNIMPLEMENTED (test_server).
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    project_pb2,
    workflow_attributes_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2 as core_event_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from tests.emulator.support import (
    DOMAIN,
    PROJECT,
    RT,
    Caller,
    ident,
    launch_plan_request,
    list_request,
    register_basic,
    task_request,
    workflow_request,
)

Code = grpc.StatusCode
Phase = core_execution_pb2.WorkflowExecution


def _execution_id(name: str, project: str = PROJECT) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=DOMAIN, name=name)


def _create_request(name: str, project: str = PROJECT) -> execution_pb2.ExecutionCreateRequest:
    return execution_pb2.ExecutionCreateRequest(
        project=project,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(
            launch_plan=ident(RT.LAUNCH_PLAN, "lp", project=project),
            metadata=execution_pb2.ExecutionMetadata(principal="someone-else"),
        ),
        inputs=literals_pb2.LiteralMap(),
    )


def _get(caller: Caller, name: str) -> execution_pb2.Execution:
    return caller.call("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=_execution_id(name)))


def _terminate(caller: Caller, name: str) -> object:
    return caller.call(
        "TerminateExecution", execution_pb2.ExecutionTerminateRequest(id=_execution_id(name), cause="stop")
    )


def test_execution_starts_undefined_terminate_aborts_and_a_terminal_one_refuses(caller: Caller) -> None:
    register_basic(caller)
    caller.call("CreateExecution", _create_request("run"))
    created = _get(caller, "run")
    assert created.closure.phase == Phase.UNDEFINED  # not QUEUED: nothing runs without an engine
    assert created.spec.metadata.principal == ""  # no auth: the principal is "", whatever the client sent
    _terminate(caller, "run")
    aborting = _get(caller, "run")
    assert aborting.closure.phase == Phase.ABORTING  # not ABORTED: that waits for the engine's event
    assert aborting.closure.abort_metadata.cause == "stop"
    _terminate(caller, "run")  # repeating a terminate on ABORTING succeeds
    occurred = Timestamp()
    occurred.GetCurrentTime()
    caller.call(
        "CreateWorkflowEvent",
        event_pb2.WorkflowExecutionEventRequest(
            event=core_event_pb2.WorkflowExecutionEvent(
                execution_id=_execution_id("run"), phase=Phase.ABORTED, occurred_at=occurred
            )
        ),
    )
    refused = caller.fails(
        "TerminateExecution",
        execution_pb2.ExecutionTerminateRequest(id=_execution_id("run"), cause="again"),
        Code.FAILED_PRECONDITION,
        "Cannot abort an already terminated workflow execution",
    )
    [reason] = refused.details
    assert reason.already_in_terminal_state.current_phase == "ABORTED"  # type: ignore[attr-defined]


def _archive(caller: Caller, project: str) -> None:
    caller.call(
        "RegisterProject",
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=project, name=project)),
    )
    caller.call("UpdateProject", project_pb2.Project(id=project, state=project_pb2.Project.ARCHIVED))


def _queue() -> matchable_resource_pb2.MatchingAttributes:
    return matchable_resource_pb2.MatchingAttributes(
        execution_queue_attributes=matchable_resource_pb2.ExecutionQueueAttributes(tags=["q"])
    )


def _gated_requests(project: str) -> dict[str, object]:
    """One request per gated RPC, all in `project` (which the test makes missing or archived)."""
    pd, wa, pa = project_domain_attributes_pb2, workflow_attributes_pb2, project_attributes_pb2
    queue = matchable_resource_pb2.EXECUTION_QUEUE
    return {
        "CreateTask": task_request(project=project),
        "CreateWorkflow": workflow_request(project=project),
        "CreateExecution": _create_request("gated", project=project),
        "UpdateProjectDomainAttributes": pd.ProjectDomainAttributesUpdateRequest(
            attributes=pd.ProjectDomainAttributes(
                project=project, domain=DOMAIN, matching_attributes=_queue()
            )
        ),
        "GetProjectDomainAttributes": pd.ProjectDomainAttributesGetRequest(
            project=project, domain=DOMAIN, resource_type=queue
        ),
        "DeleteProjectDomainAttributes": pd.ProjectDomainAttributesDeleteRequest(
            project=project, domain=DOMAIN, resource_type=queue
        ),
        "UpdateWorkflowAttributes": wa.WorkflowAttributesUpdateRequest(
            attributes=wa.WorkflowAttributes(
                project=project, domain=DOMAIN, workflow="wf", matching_attributes=_queue()
            )
        ),
        "GetWorkflowAttributes": wa.WorkflowAttributesGetRequest(
            project=project, domain=DOMAIN, workflow="wf", resource_type=queue
        ),
        "UpdateProjectAttributes": pa.ProjectAttributesUpdateRequest(
            attributes=pa.ProjectAttributes(project=project, matching_attributes=_queue())
        ),
        "DeleteProjectAttributes": pa.ProjectAttributesDeleteRequest(project=project, resource_type=queue),
    }


@pytest.mark.parametrize("rpc", sorted(_gated_requests("x")))
def test_an_archived_project_is_invalid_argument_with_an_inactive_project_detail(
    caller: Caller, rpc: str
) -> None:
    _archive(caller, "old")
    failure = caller.fails(
        rpc, _gated_requests("old")[rpc], Code.INVALID_ARGUMENT, "project [old] is not active"
    )
    # Project-level attributes go through ValidateProjectForUpdate, whose error has no detail (observed on a
    # real flyteadmin v1.16.8: tests/emulator/real/test_attributes.py, entry 158).
    expected = [] if rpc.endswith("ProjectAttributes") else ["old"]
    assert [d.id for d in failure.details] == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("rpc", sorted(_gated_requests("x")))
def test_a_missing_project_is_invalid_argument_not_not_found(caller: Caller, rpc: str) -> None:
    caller.fails(rpc, _gated_requests("absent")[rpc], Code.INVALID_ARGUMENT, "[absent]")


def test_a_launch_plan_in_an_archived_project_is_invalid_argument(caller: Caller) -> None:
    register_basic(caller)
    _archive(caller, "old")
    request = launch_plan_request("lp", workflow=ident(RT.WORKFLOW, "wf"))
    request.id.project = "old"
    caller.fails("CreateLaunchPlan", request, Code.INVALID_ARGUMENT, "project [old] is not active")
    # reading project attributes only needs the project to exist, in any state
    got = caller.call(
        "GetProjectAttributes",
        project_attributes_pb2.ProjectAttributesGetRequest(
            project="old", resource_type=matchable_resource_pb2.WORKFLOW_EXECUTION_CONFIG
        ),
    )
    assert got.attributes.project == "old"


def test_archived_executions_leave_the_default_list_but_not_a_state_filter(caller: Caller) -> None:
    register_basic(caller)
    for name in ("kept", "archived"):
        caller.call("CreateExecution", _create_request(name))
    caller.call(
        "UpdateExecution",
        execution_pb2.ExecutionUpdateRequest(
            id=_execution_id("archived"), state=execution_pb2.ExecutionState.EXECUTION_ARCHIVED
        ),
    )

    def names(filters: str = "") -> list[str]:
        listed = caller.call("ListExecutions", list_request(filters=filters))
        return sorted(e.id.name for e in listed.executions)

    assert names() == ["kept"]
    assert names("eq(state,1)") == ["archived"]
    assert names("value_in(state,0;1)") == ["archived", "kept"]


def _zero_limit_requests() -> dict[str, object]:
    """A limit-0 request for every paged List RPC but ListProjects."""
    ids = common_pb2.NamedEntityIdentifierListRequest(project=PROJECT, domain=DOMAIN)
    return {
        **{rpc: list_request(limit=0) for rpc in ("ListTasks", "ListWorkflows", "ListLaunchPlans")},
        "ListExecutions": list_request(limit=0),
        "ListNamedEntities": common_pb2.NamedEntityListRequest(
            resource_type=RT.TASK, project=PROJECT, domain=DOMAIN
        ),
        "ListActiveLaunchPlans": launch_plan_pb2.ActiveLaunchPlanListRequest(project=PROJECT, domain=DOMAIN),
        **{rpc: ids for rpc in ("ListTaskIds", "ListWorkflowIds", "ListLaunchPlanIds")},
    }


@pytest.mark.parametrize("rpc", sorted(_zero_limit_requests()))
def test_limit_zero_is_refused_everywhere_but_list_projects(caller: Caller, rpc: str) -> None:
    # ListLaunchPlanIds skips the manager's validation; its repository words the refusal differently
    message = "missing and/or invalid parameters: limit" if rpc == "ListLaunchPlanIds" else "invalid value"
    caller.fails(rpc, _zero_limit_requests()[rpc], Code.INVALID_ARGUMENT, message)


def test_list_projects_limit_zero_is_all_and_tokens_come_only_with_full_pages(caller: Caller) -> None:
    for index in range(3):
        caller.call(
            "RegisterProject",
            project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=f"p{index}", name="p")),
        )
    everything = caller.call("ListProjects", project_pb2.ProjectListRequest(limit=0))
    assert (len(everything.projects), everything.token) == (4, "")
    full = caller.call("ListProjects", project_pb2.ProjectListRequest(limit=2, token="2"))
    assert ([p.id for p in full.projects], full.token) == (["p1", "p2"], "4")  # full page: a token
    short = caller.call("ListProjects", project_pb2.ProjectListRequest(limit=3, token="2"))
    assert ([p.id for p in short.projects], short.token) == (["p1", "p2"], "")
