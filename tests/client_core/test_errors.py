"""Error mapping, with the detail protos flyteadmin packs in the grpc-status-details-bin trailer."""

from __future__ import annotations

import pickle

import grpc
import pytest
from flyteidl.admin import event_pb2, execution_pb2, project_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from google.protobuf import any_pb2
from google.rpc import status_pb2

from flyteadmin_ops import errors
from flyteadmin_ops.transport import Transport
from tests.client_core.servers import ScriptedAdmin, fast_settings, spec_for

WORKFLOW_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.WORKFLOW, project="p", domain="development", name="wf", version="v1"
)
TASK_ID = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK, project="p", domain="development", name="t", version="v1"
)
DIFF = '{"template":{"interface":{"inputs":["-a","+b"]}}}'


def status(code: grpc.StatusCode, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        if isinstance(detail, any_pb2.Any):
            holder = detail
        else:
            holder.Pack(detail)  # type: ignore[arg-type]
        packed.append(holder)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


def fail(
    admin: ScriptedAdmin, method: str, request: object, outcome: status_pb2.Status
) -> errors.FlyteAdminError:
    admin.on(method, outcome)
    with Transport(fast_settings(admin.port)) as transport, pytest.raises(errors.FlyteAdminError) as raised:
        transport.call(spec_for(method), request)  # type: ignore[arg-type]
    return raised.value


def test_every_status_code_maps_to_a_class() -> None:
    for code in grpc.StatusCode:
        if code is grpc.StatusCode.OK:
            continue
        cls = errors.ERROR_CLASSES.get(code, errors.FlyteSystemException)
        assert issubclass(cls, errors.FlyteAdminError)
    assert errors.ERROR_CLASSES[grpc.StatusCode.UNAUTHENTICATED] is errors.FlyteAuthenticationException
    assert errors.ERROR_CLASSES[grpc.StatusCode.DEADLINE_EXCEEDED] is errors.FlyteTimeout
    assert issubclass(errors.FlyteEntityConflictException, errors.FlyteInvalidInputException)


def test_a_workflow_conflict_carries_the_identifier_detail_and_the_diff(admin: ScriptedAdmin) -> None:
    message = (
        "wf workflow with different structure already exists. "
        "(Please register a new version of the workflow):\n" + DIFF
    )
    reason = workflow_pb2.CreateWorkflowFailureReason(
        exists_different_structure=workflow_pb2.WorkflowErrorExistsDifferentStructure(id=WORKFLOW_ID)
    )
    error = fail(
        admin,
        "CreateWorkflow",
        workflow_pb2.WorkflowCreateRequest(),  # no id in the request: the detail supplies it
        status(grpc.StatusCode.INVALID_ARGUMENT, message, reason),
    )
    assert isinstance(error, errors.FlyteEntityConflictException)
    assert isinstance(error, errors.FlyteInvalidInputException)
    assert error.entity_id == WORKFLOW_ID
    assert error.diff == DIFF
    assert error.details == [reason]
    assert error.detail(workflow_pb2.CreateWorkflowFailureReason) == reason
    assert (error.rpc, error.code, error.server_message) == (
        "AdminService/CreateWorkflow",
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
    )
    assert str(error).startswith("AdminService/CreateWorkflow failed with INVALID_ARGUMENT: wf workflow with")


def test_a_task_conflict_without_details_takes_the_id_from_the_request(admin: ScriptedAdmin) -> None:
    message = (
        "t task with different structure already exists. (Please register a new version of the task):\n"
        + DIFF
    )
    error = fail(
        admin,
        "CreateTask",
        task_pb2.TaskCreateRequest(id=TASK_ID),
        status(grpc.StatusCode.INVALID_ARGUMENT, message),
    )
    assert isinstance(error, errors.FlyteEntityConflictException)
    assert (error.entity_id, error.diff, error.details) == (TASK_ID, DIFF, [])


def test_other_invalid_arguments_are_not_conflicts(admin: ScriptedAdmin) -> None:
    error = fail(
        admin,
        "CreateTask",
        task_pb2.TaskCreateRequest(id=TASK_ID),
        status(grpc.StatusCode.INVALID_ARGUMENT, "missing spec"),
    )
    assert type(error) is errors.FlyteInvalidInputException


def test_an_identical_workflow_is_already_exists_with_its_decoded_detail(admin: ScriptedAdmin) -> None:
    reason = workflow_pb2.CreateWorkflowFailureReason(
        exists_identical_structure=workflow_pb2.WorkflowErrorExistsIdenticalStructure(id=WORKFLOW_ID)
    )
    error = fail(
        admin,
        "CreateWorkflow",
        workflow_pb2.WorkflowCreateRequest(id=WORKFLOW_ID),
        status(grpc.StatusCode.ALREADY_EXISTS, "workflow with identical structure already exists", reason),
    )
    assert isinstance(error, errors.FlyteEntityAlreadyExistsException)
    # Pickled before `details` was first read: the trailer is decoded then, not sent along undecoded in
    # the failed gRPC call (which does not pickle).
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.details, str(copy)) == ([reason], str(error))
    assert error.details == [reason]


def test_terminating_a_finished_execution_exposes_its_phase(admin: ScriptedAdmin) -> None:
    reason = event_pb2.EventFailureReason(
        already_in_terminal_state=event_pb2.EventErrorAlreadyInTerminalState(current_phase="SUCCEEDED")
    )
    error = fail(
        admin,
        "TerminateExecution",
        execution_pb2.ExecutionTerminateRequest(),
        status(
            grpc.StatusCode.FAILED_PRECONDITION,
            "Cannot abort an already terminated workflow execution",
            reason,
        ),
    )
    assert isinstance(error, errors.FlyteFailedPreconditionException)
    assert error.current_phase == "SUCCEEDED"


def test_a_failed_precondition_without_detail_has_no_phase(admin: ScriptedAdmin) -> None:
    error = fail(
        admin,
        "TerminateExecution",
        execution_pb2.ExecutionTerminateRequest(),
        status(grpc.StatusCode.FAILED_PRECONDITION, "Cannot go from RUNNING to QUEUED"),
    )
    assert isinstance(error, errors.FlyteFailedPreconditionException)
    assert error.current_phase is None


def test_an_inactive_project_detail_is_decoded_and_unknown_details_stay_packed(admin: ScriptedAdmin) -> None:
    unknown = any_pb2.Any(type_url="type.googleapis.com/vendor.Unheard", value=b"\x08\x01")
    error = fail(
        admin,
        "CreateTask",
        task_pb2.TaskCreateRequest(id=TASK_ID),
        status(
            grpc.StatusCode.INVALID_ARGUMENT,
            "project [p] is not active",
            project_pb2.InactiveProject(id="p"),
            unknown,
        ),
    )
    assert error.details == [project_pb2.InactiveProject(id="p"), unknown]


def test_long_server_messages_are_cut_in_str_but_kept_whole(admin: ScriptedAdmin) -> None:
    message = "x" * 32_000  # flyteadmin's cap; above gRPC's default 16 KiB metadata limit
    error = fail(
        admin, "CreateTask", task_pb2.TaskCreateRequest(), status(grpc.StatusCode.INVALID_ARGUMENT, message)
    )
    assert error.server_message == message
    assert len(str(error)) < 2_200
    assert "(32000 characters in all)" in str(error)


def test_errors_survive_pickling(admin: ScriptedAdmin) -> None:
    error = fail(
        admin,
        "CreateTask",
        task_pb2.TaskCreateRequest(id=TASK_ID),
        status(grpc.StatusCode.INVALID_ARGUMENT, "t task with different structure already exists.:\n" + DIFF),
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.FlyteEntityConflictException
    assert (copy.rpc, copy.code, copy.server_message, copy.entity_id, copy.diff, str(copy)) == (
        error.rpc,
        error.code,
        error.server_message,
        error.entity_id,
        error.diff,
        str(error),
    )
