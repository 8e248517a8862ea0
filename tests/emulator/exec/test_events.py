"""Workflow, node and task events: the phase state machines, codes, messages and details of flyteadmin v1.16,
their effects (times, outputs, errors, records created by first events), and reading them back."""

from __future__ import annotations

from typing import Any

import grpc
from flyteidl.admin import event_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2 as engine_event_pb2
from flyteidl.service import dataproxy_pb2

from tests.emulator.exec.helpers import (
    TASK,
    Clock,
    create_request,
    exec_id,
    literal_map,
    plain,
    refusal,
    stamp,
)

WorkflowPhase = core_execution_pb2.WorkflowExecution.Phase
NodePhase = core_execution_pb2.NodeExecution.Phase
TaskPhase = core_execution_pb2.TaskExecution.Phase
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
EXEC_TEXT = 'project:"flytesnacks"  domain:"development"  name:"ev"'


def terminal_detail(phase: str) -> list[event_pb2.EventFailureReason]:
    return [
        event_pb2.EventFailureReason(
            already_in_terminal_state=event_pb2.EventErrorAlreadyInTerminalState(current_phase=phase)
        )
    ]


def wf_event(
    clock: Clock, phase: int, name: str = "ev", **fields: Any
) -> event_pb2.WorkflowExecutionEventRequest:
    event = engine_event_pb2.WorkflowExecutionEvent(
        execution_id=exec_id(name), phase=phase, occurred_at=stamp(clock), **fields
    )
    return event_pb2.WorkflowExecutionEventRequest(event=event)


def node_id(node: str, name: str = "ev") -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id(name), node_id=node)


def node_event(clock: Clock, node: str, phase: int, **fields: Any) -> event_pb2.NodeExecutionEventRequest:
    event = engine_event_pb2.NodeExecutionEvent(
        id=node_id(node), phase=phase, occurred_at=stamp(clock), **fields
    )
    return event_pb2.NodeExecutionEventRequest(event=event)


def task_event(clock: Clock, node: str, phase: int, **fields: Any) -> event_pb2.TaskExecutionEventRequest:
    event = engine_event_pb2.TaskExecutionEvent(
        task_id=TASK, parent_node_execution_id=node_id(node), phase=phase, occurred_at=stamp(clock), **fields
    )
    return event_pb2.TaskExecutionEventRequest(event=event)


def attempt(node: str, retry: int = 0) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=TASK, node_execution_id=node_id(node), retry_attempt=retry
    )


def execution(admin: Any) -> execution_pb2.Execution:
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("ev")))


def test_workflow_phase_machine_and_effects(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.QUEUED))
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.QUEUED))  # repeated QUEUED: cluster reassignment
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.RUNNING))
    repeated = refusal(admin.CreateWorkflowEvent, wf_event(clock, WorkflowPhase.RUNNING))
    assert repeated.code == grpc.StatusCode.ALREADY_EXISTS
    assert repeated.message == f"This phase RUNNING was already recorded for workflow execution {EXEC_TEXT}"
    back = refusal(admin.CreateWorkflowEvent, wf_event(clock, WorkflowPhase.QUEUED))
    assert (back.code, back.message) == (
        FAILED_PRECONDITION,
        f"Cannot go from RUNNING to QUEUED for workflow execution {EXEC_TEXT}",
    )
    clock.advance(seconds=42)
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.SUCCEEDED, output_data=literal_map(result=6)))
    done = execution(admin)
    assert done.closure.phase == WorkflowPhase.SUCCEEDED
    assert done.closure.duration.seconds == 42
    assert (
        done.closure.outputs.uri == "s3://my-s3-bucket/metadata/flytesnacks/development/ev/offloaded_outputs"
    )
    data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id("ev")))
    assert plain(data.full_outputs) == {"result": 6}
    late = refusal(admin.CreateWorkflowEvent, wf_event(clock, WorkflowPhase.RUNNING))
    assert late.code == FAILED_PRECONDITION
    assert (
        late.message == f"Invalid phase change from SUCCEEDED to RUNNING for workflow execution {EXEC_TEXT}"
    )
    assert late.details == terminal_detail("SUCCEEDED")


def test_aborting_takes_only_terminal_events(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.RUNNING))
    admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=exec_id("ev"), cause="stop"))
    refused = refusal(admin.CreateWorkflowEvent, wf_event(clock, WorkflowPhase.SUCCEEDING))
    assert (
        refused.message
        == f"Invalid phase change from aborting to SUCCEEDING for workflow execution {EXEC_TEXT}"
    )
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.ABORTED))
    aborted = execution(admin)
    assert aborted.closure.phase == WorkflowPhase.ABORTED
    assert aborted.closure.abort_metadata.cause == "stop"


def test_workflow_event_request_checks(admin: Any, clock: Clock) -> None:
    no_event = refusal(admin.CreateWorkflowEvent, event_pb2.WorkflowExecutionEventRequest())
    assert no_event.message == "Workflow event handler was called without event"
    no_id = event_pb2.WorkflowExecutionEventRequest(event=engine_event_pb2.WorkflowExecutionEvent(phase=2))
    assert refusal(admin.CreateWorkflowEvent, no_id).message.startswith(
        "Workflow event handler request event doesn't have an execution id"
    )
    missing = refusal(admin.CreateWorkflowEvent, wf_event(clock, WorkflowPhase.RUNNING, name="ghost"))
    assert missing.code == grpc.StatusCode.NOT_FOUND


def test_events_from_another_cluster_are_refused(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.QUEUED, producer_id="cluster-a"))
    assert execution(admin).spec.metadata.system_metadata.execution_cluster == "cluster-a"
    refused = refusal(
        admin.CreateWorkflowEvent, wf_event(clock, WorkflowPhase.RUNNING, producer_id="cluster-b")
    )
    assert refused.code == FAILED_PRECONDITION
    assert refused.details == [
        event_pb2.EventFailureReason(
            incompatible_cluster=event_pb2.EventErrorIncompatibleCluster(cluster="cluster-b")
        )
    ]
    admin.CreateWorkflowEvent(wf_event(clock, WorkflowPhase.RUNNING, producer_id="propeller"))
    node = refusal(admin.CreateNodeEvent, node_event(clock, "n0", NodePhase.RUNNING, producer_id="cluster-b"))
    assert node.code == FAILED_PRECONDITION


def test_node_events_create_advance_and_refuse(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.RUNNING, input_data=literal_map(x=3)))
    same = refusal(admin.CreateNodeEvent, node_event(clock, "n0", NodePhase.RUNNING))
    assert same.code == grpc.StatusCode.ALREADY_EXISTS
    assert same.message.startswith('This phase was already recorded RUNNING for node_id:"n0"  execution_id:{')
    clock.advance(seconds=3)
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.SUCCEEDED, output_data=literal_map(o0=6)))
    got = admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id("n0")))
    assert (got.closure.phase, got.closure.duration.seconds) == (NodePhase.SUCCEEDED, 3)
    data = admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=node_id("n0")))
    assert (plain(data.full_inputs), plain(data.full_outputs)) == ({"x": 3}, {"o0": 6})
    base = "flyte://v1/flytesnacks/development/ev/n0"
    assert (data.flyte_urls.inputs, data.flyte_urls.outputs, data.flyte_urls.deck) == (
        f"{base}/i",
        f"{base}/o",
        "",
    )
    late = refusal(admin.CreateNodeEvent, node_event(clock, "n0", NodePhase.RUNNING))
    assert late.code == FAILED_PRECONDITION
    assert late.message.startswith("Invalid phase change from SUCCEEDED to RUNNING for node execution ")
    assert late.details == terminal_detail("RUNNING")  # flyteadmin reports the incoming phase here
    ghost = event_pb2.NodeExecutionEventRequest(
        event=engine_event_pb2.NodeExecutionEvent(id=node_id("n0", name="ghost"), phase=NodePhase.RUNNING)
    )
    missing = refusal(admin.CreateNodeEvent, ghost)
    assert missing.code == grpc.StatusCode.NOT_FOUND
    assert missing.message.startswith('Failed to get existing execution id: [project:"flytesnacks"')


def test_child_nodes_are_listed_under_their_parent(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.RUNNING, is_parent=True))
    child = engine_event_pb2.ParentNodeExecutionMetadata(node_id="n0")
    admin.CreateNodeEvent(node_event(clock, "n0-0-n0", NodePhase.RUNNING, parent_node_metadata=child))
    orphan = engine_event_pb2.ParentNodeExecutionMetadata(node_id="absent")
    assert (
        refusal(
            admin.CreateNodeEvent, node_event(clock, "x", NodePhase.RUNNING, parent_node_metadata=orphan)
        ).code
        == grpc.StatusCode.NOT_FOUND
    )
    listing = node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id("ev"), limit=10)
    top = admin.ListNodeExecutions(listing)
    assert [n.id.node_id for n in top.node_executions] == ["n0"]
    assert top.node_executions[0].metadata.is_parent_node
    listing.unique_parent_id = "n0"
    assert [n.id.node_id for n in admin.ListNodeExecutions(listing).node_executions] == ["n0-0-n0"]
    listing.limit = 0
    assert refusal(admin.ListNodeExecutions, listing).message == "invalid value for limit"
    no_id = node_execution_pb2.NodeExecutionListRequest(limit=1)
    assert refusal(admin.ListNodeExecutions, no_id).message == "missing execution_id"


def test_task_events_phase_versions_and_terminal_refusal(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    orphan = refusal(admin.CreateTaskEvent, task_event(clock, "n0", TaskPhase.RUNNING))
    # `NodeExecutionRepo.Exists` fails with gorm's record-not-found (the semantics notes said INTERNAL; the
    # real server answered NOT_FOUND, reference entry 98, and observed beats read).
    assert (orphan.code, orphan.message) == (
        grpc.StatusCode.NOT_FOUND,
        'Failed to get existing node execution id: [node_id:"n0"  execution_id:{project:"flytesnacks"  '
        'domain:"development"  name:"ev"}] with err: entry not found',
    )
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.RUNNING))
    log_a = core_execution_pb2.TaskLog(uri="https://logs/a", name="a")
    admin.CreateTaskEvent(task_event(clock, "n0", TaskPhase.RUNNING, logs=[log_a], input_uri="s3://b/in.pb"))
    again = refusal(admin.CreateTaskEvent, task_event(clock, "n0", TaskPhase.RUNNING))
    assert again.code == grpc.StatusCode.ALREADY_EXISTS
    assert again.message.startswith("have already recorded task execution phase RUNNING (version: 0) for ")
    log_b = core_execution_pb2.TaskLog(uri="https://logs/b", name="b")
    admin.CreateTaskEvent(task_event(clock, "n0", TaskPhase.RUNNING, phase_version=1, logs=[log_b]))
    clock.advance(seconds=7)
    admin.CreateTaskEvent(task_event(clock, "n0", TaskPhase.SUCCEEDED, output_data=literal_map(o0=1)))
    got = admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=attempt("n0")))
    assert [log.name for log in got.closure.logs] == ["b", "a"]  # `mergeLogs`: the latest event's logs first
    assert (got.closure.phase, got.closure.duration.seconds, got.input_uri) == (
        TaskPhase.SUCCEEDED,
        7,
        "s3://b/in.pb",
    )
    late = refusal(admin.CreateTaskEvent, task_event(clock, "n0", TaskPhase.FAILED))
    assert late.code == FAILED_PRECONDITION
    assert late.details == terminal_detail("FAILED")  # the incoming phase, as flyteadmin reports it
    data = admin.GetTaskExecutionData(task_execution_pb2.TaskExecutionGetDataRequest(id=attempt("n0")))
    assert plain(data.full_outputs) == {"o0": 1}
    listed = admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node_id("n0"), limit=5, filters="eq(phase,SUCCEEDED)"
        )
    )
    assert [t.id.retry_attempt for t in listed.task_executions] == [0]
    no_time = event_pb2.TaskExecutionEventRequest(event=engine_event_pb2.TaskExecutionEvent(task_id=TASK))
    assert refusal(admin.CreateTaskEvent, no_time).message == "missing occurred_at"


def test_nodes_launched_by_a_task_attempt(admin: Any, clock: Clock) -> None:
    admin.CreateExecution(create_request("ev"))
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.RUNNING))
    admin.CreateTaskEvent(task_event(clock, "n0", TaskPhase.RUNNING))
    parent = engine_event_pb2.ParentTaskExecutionMetadata(id=attempt("n0"))
    admin.CreateNodeEvent(node_event(clock, "n0-0-dn0", NodePhase.RUNNING, parent_task_metadata=parent))
    children = admin.ListNodeExecutionsForTask(
        node_execution_pb2.NodeExecutionForTaskListRequest(task_execution_id=attempt("n0"), limit=10)
    )
    assert [n.id.node_id for n in children.node_executions] == ["n0-0-dn0"]
    assert admin.GetTaskExecution(task_execution_pb2.TaskExecutionGetRequest(id=attempt("n0"))).is_parent


def test_get_data_resolves_flyte_urls(served: Any, clock: Clock) -> None:
    _, calls = served
    admin, data = calls.admin, calls.data
    admin.CreateExecution(create_request("ev"))
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.RUNNING, input_data=literal_map(x=3)))
    admin.CreateTaskEvent(task_event(clock, "n0", TaskPhase.RUNNING, input_uri="s3://b/none.pb"))
    admin.CreateTaskEvent(task_event(clock, "n0", TaskPhase.SUCCEEDED, output_data=literal_map(o0=4)))
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.SUCCEEDED, output_data=literal_map(o0=4)))

    def get(url: str) -> dataproxy_pb2.GetDataResponse:
        return data.GetData(dataproxy_pb2.GetDataRequest(flyte_url=url))

    base = "flyte://v1/flytesnacks/development/ev/n0"
    assert plain(get(f"{base}/i").literal_map) == {"x": 3}
    assert get(f"{base}/o/o0").literal.scalar.primitive.integer == 4
    assert plain(get(f"{base}/0/o").literal_map) == {"o0": 4}
    for url, message in [
        (f"{base}/o/nope", "name [nope] not found in node execution ["),
        (f"{base}/0/d", "deck type cannot be specified with a retry attempt"),
        (
            f"{base}/5/o",
            'no task executions were listed [node_execution_id:{node_id:"n0"  '
            'execution_id:{project:"flytesnacks"  domain:"development"  name:"ev"}}  retry_attempt:5]. '
            "Error: <nil>",
        ),
        (
            "flyte://v1/flytesnacks/development/ev/i",
            "failed to parse artifact url Error: failed to parse [flyte://v1/flytesnacks/development/ev/i]",
        ),
        (f"{base}/d/deck", f"failed to parse artifact url Error: failed to parse [{base}/d/deck]"),
        ("s3://bucket/key", "request does not start with the correct prefix"),
    ]:
        refused = refusal(data.GetData, dataproxy_pb2.GetDataRequest(flyte_url=url))
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT, url
        assert message in refused.message, (url, refused.message)
    no_deck = refusal(data.GetData, dataproxy_pb2.GetDataRequest(flyte_url=f"{base}/d"))
    assert no_deck.code == grpc.StatusCode.NOT_FOUND


def test_dynamic_workflow_closure_is_kept_and_served(admin: Any, clock: Clock) -> None:
    from flyteidl.core import compiler_pb2

    admin.CreateExecution(create_request("ev"))
    dynamic_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.ResourceType.WORKFLOW,
        project="flytesnacks",
        domain="development",
        name="dyn",
        version="v1",
    )
    compiled = compiler_pb2.CompiledWorkflowClosure()
    compiled.primary.template.id.CopyFrom(dynamic_id)
    metadata = engine_event_pb2.TaskNodeMetadata(
        dynamic_workflow=engine_event_pb2.DynamicWorkflowNodeMetadata(
            id=dynamic_id, compiled_workflow=compiled, dynamic_job_spec_uri="s3://b/futures.pb"
        )
    )
    # The job spec URI is kept from an update only (`UpdateNodeExecutionModel`), so the node starts first.
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.RUNNING))
    admin.CreateNodeEvent(node_event(clock, "n0", NodePhase.DYNAMIC_RUNNING, task_node_metadata=metadata))
    served = admin.GetDynamicNodeWorkflow(node_execution_pb2.GetDynamicNodeWorkflowRequest(id=node_id("n0")))
    assert served.compiled_workflow == compiled
    data = admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=node_id("n0")))
    assert (data.dynamic_workflow.id, data.dynamic_workflow.dynamic_job_spec_uri) == (
        dynamic_id,
        "s3://b/futures.pb",
    )
    admin.CreateNodeEvent(node_event(clock, "n1", NodePhase.RUNNING))
    plain_node = refusal(
        admin.GetDynamicNodeWorkflow, node_execution_pb2.GetDynamicNodeWorkflowRequest(id=node_id("n1"))
    )
    assert (plain_node.code, plain_node.message) == (
        grpc.StatusCode.NOT_FOUND,
        "node does not contain dynamic workflow",
    )
