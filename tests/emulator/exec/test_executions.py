"""Executions against flyteadmin v1.16 semantics (section 6): create, names, validation, terminate, relaunch,
recover, archive, list filters and pages, data and metrics, through raw stubs and flytekit's own client."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, event_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2 as engine_event_pb2
from google.rpc import status_pb2

from flyteadmin_ops.emulator import Emulator
from tests.emulator.exec.helpers import (
    DOMAIN,
    LP,
    LP_FIXED,
    LP_REQUIRED,
    PROJECT,
    RT,
    WORKFLOW,
    Clock,
    Stubs,
    create_request,
    exec_id,
    ident,
    list_request,
    lit,
    plain,
    refusal,
    stamp,
)

Phase = core_execution_pb2.WorkflowExecution.Phase
Mode = execution_pb2.ExecutionMetadata.ExecutionMode
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def get(admin: Any, name: str) -> execution_pb2.Execution:
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(name)))


def inputs_of(admin: Any, name: str) -> dict[str, object]:
    return plain(
        admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id(name))).full_inputs
    )


def workflow_event(admin: Any, name: str, phase: int, clock: Clock, **fields: Any) -> None:
    event = engine_event_pb2.WorkflowExecutionEvent(
        execution_id=exec_id(name), phase=phase, occurred_at=stamp(clock), **fields
    )
    admin.CreateWorkflowEvent(event_pb2.WorkflowExecutionEventRequest(event=event))


def test_create_starts_undefined_with_flyteadmin_defaults(admin: Any, clock: Clock) -> None:
    created = admin.CreateExecution(create_request())
    name = created.id.name
    assert re.fullmatch(r"a[bcdfghjklmnpqrstvwxz2456789]{19}", name)
    execution = get(admin, name)
    assert execution.closure.phase == Phase.UNDEFINED
    assert execution.spec.metadata.principal == ""
    assert execution.spec.max_parallelism == 25
    assert execution.closure.created_at.ToDatetime().replace(tzinfo=clock().tzinfo) == clock()
    assert execution.closure.state_change_details.state == execution_pb2.ExecutionState.EXECUTION_ACTIVE
    assert execution.closure.workflow_id == WORKFLOW
    assert execution.spec.launch_plan == LP
    assert inputs_of(admin, name) == {"x": 3, "fail": False, "tag": "none"}


def test_name_is_checked_lower_cased_and_stored_with_its_case(admin: Any) -> None:
    admin.CreateExecution(create_request("MyRun-1"))
    assert get(admin, "MyRun-1").id.name == "MyRun-1"
    assert refusal(
        admin.GetExecution, execution_pb2.WorkflowExecutionGetRequest(id=exec_id("myrun-1"))
    ).code == (grpc.StatusCode.NOT_FOUND)
    bad = refusal(admin.CreateExecution, create_request("1Run"))
    assert (bad.code, bad.message) == (
        INVALID,
        r"invalid name format: 1run, does not match regex '^[a-z][a-z\-0-9]*$'",
    )
    long = refusal(admin.CreateExecution, create_request("a" * 64))
    assert long.message == "size of name exceeded length 63 : " + "a" * 64
    wide = refusal(admin.CreateExecution, create_request("é" * 32))  # 64 bytes: Go's len() counts bytes
    assert wide.message == "size of name exceeded length 63 : " + "é" * 32
    newline = refusal(admin.CreateExecution, create_request("run\n"))  # Go's `$` is the end of the text
    assert (newline.code, newline.message.split(",")[0]) == (INVALID, "invalid name format: run\n")
    admin.CreateExecution(create_request("a" * 63))


def test_duplicate_name_is_already_exists(admin: Any) -> None:
    admin.CreateExecution(create_request("dup"))
    again = refusal(admin.CreateExecution, create_request("dup", x=9))
    assert again.code == grpc.StatusCode.ALREADY_EXISTS
    assert again.message.startswith("value with matching already exists")


def _without_spec(request: execution_pb2.ExecutionCreateRequest) -> None:
    request.ClearField("spec")


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (lambda r: setattr(r, "project", ""), INVALID, "missing project"),
        (lambda r: setattr(r, "domain", ""), INVALID, "missing domain"),
        (lambda r: setattr(r, "project", "nope"), INVALID, "nope"),
        (lambda r: setattr(r, "domain", "qa"), INVALID, "domain [qa] is unrecognized by system"),
        (_without_spec, INVALID, "missing spec"),
        (lambda r: setattr(r.spec.launch_plan, "version", ""), INVALID, "missing version"),
        (
            lambda r: setattr(r.spec.launch_plan, "resource_type", RT.WORKFLOW),
            INVALID,
            "Invalid reference entity resource type [WORKFLOW]",
        ),
        (
            lambda r: r.spec.launch_plan.CopyFrom(ident(RT.LAUNCH_PLAN, "lp.absent")),
            grpc.StatusCode.NOT_FOUND,
            "missing entity of type LAUNCH_PLAN",
        ),
        (lambda r: r.inputs.literals["y"].CopyFrom(lit(1)), INVALID, "invalid input y"),
        (
            lambda r: r.inputs.literals["x"].CopyFrom(lit("three")),
            INVALID,
            "invalid x input wrong type. Expected simple:INTEGER, but got simple:STRING",
        ),
        # Fixed inputs are not expected inputs: flyteadmin's unknown-input check fires before the fixed one.
        (lambda r: r.spec.launch_plan.CopyFrom(LP_FIXED), INVALID, "invalid input x"),
    ],
)
def test_create_validation_codes_and_messages(
    admin: Any, change: Any, code: grpc.StatusCode, message: str
) -> None:
    request = create_request("checked", x=1)
    change(request)
    refused = refusal(admin.CreateExecution, request)
    assert refused.code == code
    assert message in refused.message


def test_required_and_fixed_inputs(admin: Any) -> None:
    missing = refusal(admin.CreateExecution, create_request("req", launch_plan=LP_REQUIRED))
    assert (missing.code, missing.message) == (INVALID, "expected_inputs x missing")
    admin.CreateExecution(create_request("req", launch_plan=LP_REQUIRED, x=11))
    assert inputs_of(admin, "req")["x"] == 11
    admin.CreateExecution(create_request("fixed", launch_plan=LP_FIXED))
    assert inputs_of(admin, "fixed") == {"x": 5, "fail": False, "tag": "none"}


def test_terminate_marks_aborting_then_refuses_terminal(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("stop-me"))
    terminate = execution_pb2.ExecutionTerminateRequest(id=exec_id("stop-me"), cause="operator says so")
    admin.TerminateExecution(terminate)
    execution = get(admin, "stop-me")
    assert execution.closure.phase == Phase.ABORTING
    assert execution.closure.abort_metadata == execution_pb2.AbortMetadata(
        cause="operator says so", principal=""
    )
    admin.TerminateExecution(terminate)  # repeating on ABORTING succeeds
    workflow_event(admin, "stop-me", Phase.ABORTED, clock)
    refused = refusal(admin.TerminateExecution, terminate)
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.message == "Cannot abort an already terminated workflow execution"
    assert refused.details == [
        event_pb2.EventFailureReason(
            already_in_terminal_state=event_pb2.EventErrorAlreadyInTerminalState(current_phase="ABORTED")
        )
    ]
    absent = refusal(admin.TerminateExecution, execution_pb2.ExecutionTerminateRequest(id=exec_id("ghost")))
    assert absent.code == grpc.StatusCode.NOT_FOUND
    assert absent.message.startswith("missing entity of type execution with identifier")
    nameless = execution_pb2.ExecutionTerminateRequest(
        id=identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT)
    )
    assert refusal(admin.TerminateExecution, nameless).message == "missing domain"


def test_relaunch_and_recover_reference_the_original(admin: Any) -> None:
    admin.CreateExecution(create_request("orig", x=7, tag="first"))
    relaunched = admin.RelaunchExecution(
        execution_pb2.ExecutionRelaunchRequest(id=exec_id("orig"), name="orig-r1")
    )
    assert relaunched.id == exec_id("orig-r1")
    again = get(admin, "orig-r1")
    assert again.spec.metadata.mode == Mode.RELAUNCH
    assert again.spec.metadata.reference_execution == exec_id("orig")
    assert again.closure.phase == Phase.UNDEFINED
    assert inputs_of(admin, "orig-r1") == {"x": 7, "fail": False, "tag": "first"}

    recover = execution_pb2.ExecutionRecoverRequest(id=exec_id("orig"), name="orig-rec")
    admin.RecoverExecution(recover)
    recovered = get(admin, "orig-rec")
    assert recovered.spec.metadata.mode == Mode.RECOVERED
    assert recovered.spec.metadata.reference_execution == exec_id("orig")

    generated = admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("orig")))
    assert len(generated.id.name) == 20
    assert refusal(admin.RecoverExecution, recover).code == grpc.StatusCode.ALREADY_EXISTS
    missing = execution_pb2.ExecutionRelaunchRequest(id=exec_id("ghost"), name="x1")
    assert refusal(admin.RelaunchExecution, missing).code == grpc.StatusCode.NOT_FOUND


def test_archived_executions_leave_the_default_list(admin: Any) -> None:
    for name in ("keep", "archive"):
        admin.CreateExecution(create_request(name))
    admin.UpdateExecution(
        execution_pb2.ExecutionUpdateRequest(
            id=exec_id("archive"), state=execution_pb2.ExecutionState.EXECUTION_ARCHIVED
        )
    )
    details = get(admin, "archive").closure.state_change_details
    assert details.state == execution_pb2.ExecutionState.EXECUTION_ARCHIVED
    listed = {e.id.name for e in admin.ListExecutions(list_request()).executions}
    assert listed == {"keep"}
    archived = admin.ListExecutions(list_request(filters="eq(state,1)")).executions
    assert [e.id.name for e in archived] == ["archive"]
    # Any filter on a field named `state` drops the implicit one, even the launch plan's state (0 = INACTIVE).
    by_plan_state = admin.ListExecutions(list_request(filters="eq(launch_plan.state,0)")).executions
    assert {e.id.name for e in by_plan_state} == {"keep", "archive"}


def test_list_pages_filters_sorts_and_validates(admin: Any) -> None:
    for index in range(5):
        admin.CreateExecution(create_request(f"run-{index}", launch_plan=LP_FIXED if index == 4 else LP))
    by_name = common_pb2.Sort(key="execution_name", direction=common_pb2.Sort.ASCENDING)
    pages, token = [], ""
    while True:
        page = admin.ListExecutions(list_request(limit=2, token=token, sort_by=by_name))
        pages.append([e.id.name for e in page.executions])
        token = page.token
        if not token:
            break
    assert pages == [["run-0", "run-1"], ["run-2", "run-3"], ["run-4"]]
    full = admin.ListExecutions(list_request(limit=5))
    assert full.token == "5"
    last = admin.ListExecutions(list_request(limit=5, token="5"))
    assert (list(last.executions), last.token) == ([], "")
    tagged = create_request("tagged")
    tagged.spec.tags.append("nightly")
    admin.CreateExecution(tagged)
    by_tag = admin.ListExecutions(list_request(filters="eq(admin_tag.name,nightly)")).executions
    assert [e.id.name for e in by_tag] == ["tagged"]
    admin.UpdateExecution(
        execution_pb2.ExecutionUpdateRequest(
            id=exec_id("tagged"), state=execution_pb2.ExecutionState.EXECUTION_ARCHIVED
        )
    )
    fixed = admin.ListExecutions(list_request(filters="eq(launch_plan.name,lp.fixed)")).executions
    assert [e.id.name for e in fixed] == ["run-4"]
    named = admin.ListExecutions(_named_list("run-2")).executions
    assert [e.id.name for e in named] == ["run-2"]
    assert len(admin.ListExecutions(list_request(filters="eq(phase,UNDEFINED)+eq(mode,0)")).executions) == 5
    for request, message in [
        (list_request(limit=0), "invalid value for limit"),
        (list_request(token="abc"), "invalid pagination token abc for ListExecutions"),
        (list_request(filters="eq(project,flytesnacks)"), "'e.project' is invalid filter"),
        (
            list_request(filters="eq(node_execution.phase,x)"),
            "'ne' entity is not allowed in filters",
        ),
        (list_request(filters="bogus"), "invalid value for filters"),
        (list_request(sort_by=common_pb2.Sort(key="name")), "invalid sort key 'name'"),
    ]:
        refused = refusal(admin.ListExecutions, request)
        assert (refused.code, refused.message) == (INVALID, message)


def _named_list(name: str) -> Any:
    request = list_request()
    request.id.name = name
    return request


def test_list_trims_error_messages_and_get_keeps_them(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("broken"))
    message = "é" * 150  # two bytes each: the 100-byte cut must stay valid UTF-8
    workflow_event(admin, "broken", Phase.RUNNING, clock)
    clock.advance(seconds=90)
    error = core_execution_pb2.ExecutionError(
        code="Boom", message=message, kind=core_execution_pb2.ExecutionError.USER
    )
    workflow_event(admin, "broken", Phase.FAILED, clock, error=error)
    assert get(admin, "broken").closure.error.message == message
    listed = admin.ListExecutions(list_request(filters="eq(error_code,Boom)+eq(error_kind,USER)")).executions
    assert [e.closure.error.message for e in listed] == ["é" * 50]
    assert listed[0].closure.duration.seconds == 90


def test_metrics_span_covers_the_execution(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("measured"))
    clock.advance(seconds=5)
    workflow_event(admin, "measured", Phase.RUNNING, clock)
    span = admin.GetExecutionMetrics(
        execution_pb2.WorkflowExecutionGetMetricsRequest(id=exec_id("measured"))
    ).span
    assert span.workflow_id == exec_id("measured")
    assert span.end_time.seconds - span.start_time.seconds == 5
    assert (
        refusal(
            admin.GetExecutionMetrics, execution_pb2.WorkflowExecutionGetMetricsRequest(id=exec_id("nope"))
        ).code
        == grpc.StatusCode.NOT_FOUND
    )


def test_flytekit_client_sees_the_same_executions(served: tuple[Emulator, Stubs], clock: Clock) -> None:
    from flytekit.clients.friendly import SynchronousFlyteClient
    from flytekit.configuration import PlatformConfig
    from flytekit.exceptions.system import FlyteSystemException
    from flytekit.exceptions.user import FlyteEntityAlreadyExistsException, FlyteInvalidInputException
    from flytekit.models import execution as execution_models
    from flytekit.models import literals as literal_models
    from flytekit.models.core.identifier import WorkflowExecutionIdentifier
    from flytekit.models.filters import Equal

    emu, calls = served
    client = SynchronousFlyteClient(PlatformConfig(endpoint=emu.endpoint, insecure=True))
    spec = execution_models.ExecutionSpec.from_flyte_idl(execution_pb2.ExecutionSpec(launch_plan=LP))
    inputs = literal_models.LiteralMap.from_flyte_idl(create_request(x=21).inputs)
    created = client.create_execution(PROJECT, DOMAIN, "via-flytekit", spec, inputs)
    assert (created.project, created.domain, created.name) == (PROJECT, DOMAIN, "via-flytekit")
    with pytest.raises(FlyteEntityAlreadyExistsException):
        client.create_execution(PROJECT, DOMAIN, "via-flytekit", spec, inputs)
    execution = client.get_execution(created)
    assert execution.closure.phase == Phase.UNDEFINED
    listed, token = client.list_executions_paginated(PROJECT, DOMAIN, limit=10)
    assert [e.id.name for e in listed] == ["via-flytekit"] and token == ""
    relaunched = client.relaunch_execution(created, name="via-flytekit-2")
    assert client.get_execution(relaunched).spec.metadata.mode == Mode.RELAUNCH
    relaunched_only, _ = client.list_executions_paginated(
        PROJECT, DOMAIN, limit=10, filters=[Equal("mode", "3")]
    )
    assert [e.id.name for e in relaunched_only] == ["via-flytekit-2"]
    with pytest.raises(FlyteInvalidInputException) as bad_name:
        client.create_execution(PROJECT, DOMAIN, "1bad", spec, inputs)
    assert _cause(bad_name.value).details().startswith("invalid name format: 1bad, does not match regex")

    client.terminate_execution(WorkflowExecutionIdentifier(PROJECT, DOMAIN, "via-flytekit"), "done")
    assert client.get_execution(created).closure.phase == Phase.ABORTING
    workflow_event(calls.admin, "via-flytekit", Phase.ABORTED, clock)
    with pytest.raises(FlyteSystemException) as refused:
        client.terminate_execution(created, "again")
    cause = _cause(refused.value)
    assert cause.code() == grpc.StatusCode.FAILED_PRECONDITION
    trailers = dict(cause.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    reason = event_pb2.EventFailureReason()
    assert status.details[0].Unpack(reason)
    assert reason.already_in_terminal_state.current_phase == "ABORTED"


def _cause(error: BaseException) -> Any:
    """The grpc.RpcError flytekit wrapped in its own exception type."""
    cause = error.__cause__
    assert isinstance(cause, grpc.RpcError), error
    return cause
