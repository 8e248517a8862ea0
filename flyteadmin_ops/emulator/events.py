"""Workflow, node and task events: the only way executions move, exactly as the engine reports to flyteadmin.

The simulate executor (`executor.py`) sends its events through these same handlers, so a test that drives
an execution by hand and one that lets the executor run it see the same state machine.

State machines, codes, messages and details follow flyteadmin v1.16.8: the managers' checks in their order
(`execution_manager.go`, `node_execution_manager.go`, `task_execution_manager.go`) and the transformers that
write the records (`repositories/transformers/{execution,node_execution,task_execution}.go`). Quirks kept on
purpose, because a client sees them:

- node event validation errors are only logged, and every lookup is gorm's struct query, which ignores empty
  identifier parts: a node event without an id lands on some stored node execution (`take_row`);
- for node and task events refused on a terminal record, `already_in_terminal_state.current_phase` holds the
  *incoming* event's phase, not the stored one;
- a task event for a node execution that does not exist is NOT_FOUND `... with err: entry not found`;
- a missing timestamp surfaces as INTERNAL with Go's `timestamp: nil Timestamp`;
- outputs and errors are recorded only by terminal node and task events, and a node's deck URI only by
  RUNNING and terminal ones.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.common import INVALID, db_time, go_text, missing, parse_db_time
from flyteadmin_ops.emulator.executions import (
    TERMINAL_PHASES,
    already_terminal,
    execution_key,
    fetch_execution_row,
    insert_row,
    load_closure,
    load_spec,
    save_row,
)
from flyteadmin_ops.emulator.node_executions import (
    fetch_node_row,
    find_node_row,
    internal_data,
    load_node_closure,
)
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import join_uri, put_literal_map, put_object
from flyteadmin_ops.emulator.task_closures import (
    TASK_TERMINAL,
    filter_external_resource_logs,
    filter_logs_by_phase,
    merge_custom,
    merge_logs,
    merge_metadata,
    replace_logs,
    sort_external_resources,
)
from flyteadmin_ops.emulator.task_executions import (
    find_task_row,
    load_task_closure,
    validate_task_execution_id,
    validated_task_row,
)

WorkflowPhase = core_execution_pb2.WorkflowExecution.Phase
NodePhase = core_execution_pb2.NodeExecution.Phase
TaskPhase = core_execution_pb2.TaskExecution.Phase

NODE_TERMINAL = frozenset(
    {
        NodePhase.SUCCEEDED,
        NodePhase.FAILED,
        NodePhase.TIMED_OUT,
        NodePhase.ABORTED,
        NodePhase.SKIPPED,
        NodePhase.RECOVERED,
    }
)

MAX_INLINE_OUTPUT_BYTES = 2 * 1024 * 1024  # remoteData.maxSizeInBytes default
DEFAULT_PRODUCER_ID = "propeller"  # old propellers hard-code it; it never counts as a cluster
_CLUSTER_REASSIGNABLE = frozenset({WorkflowPhase.UNDEFINED, WorkflowPhase.QUEUED})


def _check_output_size(event: Any) -> None:
    if event.HasField("output_data"):
        size = event.output_data.ByteSize()
        if size > MAX_INLINE_OUTPUT_BYTES:
            raise AdminError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Output data size exceeds platform configured threshold ({size} > "
                f"{MAX_INLINE_OUTPUT_BYTES})",
            )


def incompatible_cluster(message: str, cluster: str) -> AdminError:
    reason = admin_event_pb2.EventFailureReason(
        incompatible_cluster=admin_event_pb2.EventErrorIncompatibleCluster(cluster=cluster)
    )
    return AdminError(grpc.StatusCode.FAILED_PRECONDITION, message, [reason])


def validate_cluster(cluster_in_db: str, cluster_in_event: str) -> None:
    """`ValidateCluster`: an event from another cluster than the one running the execution is refused."""
    if not cluster_in_event or cluster_in_event == DEFAULT_PRODUCER_ID:
        return
    if cluster_in_event != cluster_in_db:
        raise incompatible_cluster(
            f"Cluster/producer from event [{cluster_in_event}] does not match existing workflow execution "
            f"clusterInDB: [{cluster_in_db}]",
            cluster_in_event,
        )


def _nanos(elapsed: timedelta) -> int:
    """A duration as the nanoseconds flyteadmin's `duration` column holds."""
    return int(elapsed.total_seconds() * 1_000_000) * 1000


def _offload_inputs(conn: sqlite3.Connection, state: EmulatorState, event: Any, *parts: str) -> str:
    """An event's inputs: its `input_uri`, or its inline `input_data` written to `.../offloaded_inputs`."""
    if event.input_uri:
        return str(event.input_uri)
    if event.HasField("input_data"):
        uri = join_uri(state.config.storage_prefix, state.config.metadata_prefix, *parts, "offloaded_inputs")
        return put_literal_map(conn, uri, event.input_data, state.now())
    return ""


def _record_outcome(
    conn: sqlite3.Connection,
    state: EmulatorState,
    event: Any,
    holder: Message,
    uri_field: str,
    closure: Any,
    parts: tuple[str, ...],
    columns: dict[str, object] | None,
) -> None:
    """What a terminal event carries, the first of: `output_uri`, inline `output_data` (written to
    `<parts>/offloaded_outputs`, the default InlineEventDataPolicy), `error`. The URI goes to
    `holder.<uri_field>` (executions keep it in `closure.outputs.uri`, nodes and tasks in
    `closure.output_uri`); executions and nodes also mirror the error in `columns`, tasks have no such
    columns (None)."""
    if event.output_uri:
        setattr(holder, uri_field, event.output_uri)
    elif event.HasField("output_data"):
        uri = join_uri(state.config.storage_prefix, state.config.metadata_prefix, *parts, "offloaded_outputs")
        setattr(holder, uri_field, put_literal_map(conn, uri, event.output_data, state.now()))
    elif event.HasField("error"):
        closure.error.CopyFrom(event.error)
        if columns is not None:
            columns["error_kind"] = core_execution_pb2.ExecutionError.ErrorKind.Name(event.error.kind)
            columns["error_code"] = event.error.code


# --- workflow events -------------------------------------------------------------------------------------


@rpc(ADMIN, "CreateWorkflowEvent")
def create_workflow_event(
    state: EmulatorState, request: admin_event_pb2.WorkflowExecutionEventRequest, call: CallInfo
) -> admin_event_pb2.WorkflowExecutionEventResponse:
    if not request.HasField("event"):
        raise AdminError(INVALID, "Workflow event handler was called without event")
    event = request.event
    if not event.HasField("execution_id"):
        raise AdminError(
            INVALID, f"Workflow event handler request event doesn't have an execution id - {go_text(event)}"
        )
    _check_output_size(event)
    with state.db.tx() as conn:
        row = fetch_execution_row(conn, event.execution_id)
        current = WorkflowPhase.Value(row["phase"])
        incoming = event.phase
        where = f"for workflow execution {go_text(event.execution_id)}"
        if incoming != WorkflowPhase.QUEUED:
            if current == incoming:
                raise AdminError(
                    grpc.StatusCode.ALREADY_EXISTS,
                    f"This phase {WorkflowPhase.Name(current)} was already recorded {where}",
                )
            validate_cluster(row["cluster"], event.producer_id)
        if current in TERMINAL_PHASES:
            raise already_terminal(
                f"Invalid phase change from {WorkflowPhase.Name(current)} to "
                f"{WorkflowPhase.Name(incoming)} {where}",
                WorkflowPhase.Name(current),
            )
        if current == WorkflowPhase.RUNNING and incoming == WorkflowPhase.QUEUED:
            raise AdminError(grpc.StatusCode.FAILED_PRECONDITION, f"Cannot go from RUNNING to QUEUED {where}")
        if current == WorkflowPhase.ABORTING and incoming not in TERMINAL_PHASES:
            raise AdminError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Invalid phase change from aborting to {WorkflowPhase.Name(incoming)} {where}",
            )
        closure = load_closure(row)
        columns = _apply_workflow_event(conn, state, closure, event, row["started_at"])
        columns.update(_reassign_cluster(row, event))
        save_row(conn, "executions", row["id"], closure, columns)
    return admin_event_pb2.WorkflowExecutionEventResponse()


def _apply_workflow_event(
    conn: sqlite3.Connection,
    state: EmulatorState,
    closure: Any,
    event: Any,
    started_at: str | None,
) -> dict[str, object]:
    """`UpdateExecutionModelState`: phase and times, then outputs or error; returns the mirrored columns."""
    closure.phase = event.phase
    closure.updated_at.CopyFrom(event.occurred_at)
    try:
        occurred = _time(_present(event, "occurred_at"))
    except ValueError as error:
        raise AdminError(grpc.StatusCode.INTERNAL, f"Failed to parse OccurredAt: {error}") from None
    columns: dict[str, object] = {
        "phase": WorkflowPhase.Name(event.phase),
        "execution_updated_at": db_time(occurred),
        "updated_at": db_time(state.now()),
    }
    if event.phase == WorkflowPhase.RUNNING:
        columns["started_at"] = db_time(occurred)
        closure.started_at.CopyFrom(event.occurred_at)
    elif event.phase in TERMINAL_PHASES and started_at:
        elapsed = occurred - parse_db_time(started_at)
        columns["duration"] = _nanos(elapsed)
        closure.duration.FromTimedelta(elapsed)
    execution = event.execution_id
    parts = (execution.project, execution.domain, execution.name)
    _record_outcome(conn, state, event, closure.outputs, "uri", closure, parts, columns)
    return columns


def _reassign_cluster(row: sqlite3.Row, event: Any) -> dict[str, object]:
    """A QUEUED event from a named cluster moves the execution there; later phases must come from it."""
    producer = event.producer_id
    if not producer or producer == DEFAULT_PRODUCER_ID:
        return {}
    if event.phase in _CLUSTER_REASSIGNABLE:
        spec = load_spec(row)
        spec.metadata.system_metadata.execution_cluster = producer
        return {"cluster": producer, "spec": spec.SerializeToString()}
    if row["cluster"] != producer:
        raise incompatible_cluster(
            f"Cannot accept events for running/terminated execution [{go_text(event.execution_id)}] from "
            "cluster "
            f"[{producer}],expected events to originate from [{row['cluster']}]",
            row["cluster"],
        )
    return {}


# --- node events -----------------------------------------------------------------------------------------


def go_print(message: Message | None) -> str:
    """Go's `%v` of a message pointer: `<nil>` when the request left it out, its text otherwise."""
    return "<nil>" if message is None else go_text(message)


def _present(parent: Message, *path: str) -> Any:
    """The sub-message at `path` under `parent`, or None where the request left one out (Go's nil)."""
    message: Any = parent
    for field in path:
        if not message.HasField(field):
            return None
        message = getattr(message, field)
    return message


def _time(stamp: Timestamp | None) -> datetime:
    """`ptypes.Timestamp`: a nil timestamp is an error (its text ends flyteadmin's INTERNAL messages)."""
    if stamp is None:
        raise ValueError("timestamp: nil Timestamp")
    moment: datetime = stamp.ToDatetime(tzinfo=timezone.utc)
    return moment


def _internal(template: str, stamp: Timestamp | None) -> datetime:
    try:
        return _time(stamp)
    except ValueError as error:
        raise AdminError(grpc.StatusCode.INTERNAL, template.format(error=error)) from None


def _reported_at(event: Any) -> Timestamp | None:
    """`reported_at`, or `occurred_at` when the event has none (or a zero one)."""
    reported = _present(event, "reported_at")
    if reported is None or (reported.seconds == 0 and reported.nanos == 0):
        return _present(event, "occurred_at")
    result: Timestamp = reported
    return result


@rpc(ADMIN, "CreateNodeEvent")
def create_node_event(
    state: EmulatorState, request: admin_event_pb2.NodeExecutionEventRequest, call: CallInfo
) -> admin_event_pb2.NodeExecutionEventResponse:
    """`CreateNodeEvent`: request validation errors are only logged upstream, so an empty or partial
    identifier goes on to the lookups, which match any row on its empty parts (`take_row`)."""
    event = request.event
    identifier = event.id
    with state.db.tx() as conn:
        try:
            execution_row = fetch_execution_row(conn, identifier.execution_id)
        except AdminError as error:
            printed = go_print(_present(request, "event", "id", "execution_id"))
            raise AdminError(
                error.code, f"Failed to get existing execution id: [{printed}] with err: {error.message}"
            ) from None
        validate_cluster(execution_row["cluster"], event.producer_id)
        dynamic_reference = _store_dynamic_workflow(conn, state, event)
        row = find_node_row(conn, identifier)
        if row is None:
            _create_node_execution(conn, state, event, dynamic_reference)
        else:
            _update_node_execution(conn, state, request, row, dynamic_reference)
    return admin_event_pb2.NodeExecutionEventResponse()


def _node_parts(event: Any) -> tuple[str, ...]:
    execution = event.id.execution_id
    return execution.project, execution.domain, execution.name, event.id.node_id


def _store_dynamic_workflow(conn: sqlite3.Connection, state: EmulatorState, event: Any) -> str:
    dynamic = _present(event, "task_node_metadata", "dynamic_workflow")
    if dynamic is None:
        return ""
    workflow = dynamic.id
    uri = join_uri(
        state.config.storage_prefix,
        state.config.metadata_prefix,
        *_node_parts(event),
        f"{workflow.project}_{workflow.domain}_{workflow.name}_{workflow.version}",
    )
    put_object(conn, uri, dynamic.compiled_workflow.SerializeToString(deterministic=True), state.now())
    return uri


def _node_inputs(conn: sqlite3.Connection, state: EmulatorState, event: Any, stored: str) -> str:
    """`handleNodeExecutionInputs`: inputs are set once (a URI, or offloaded inline data)."""
    if stored:
        return stored
    return _offload_inputs(conn, state, event, *_node_parts(event))


def _node_terminal_state(
    conn: sqlite3.Connection,
    state: EmulatorState,
    event: Any,
    closure: node_execution_pb2.NodeExecutionClosure,
    started_at: str | None,
    columns: dict[str, object],
) -> None:
    """`addTerminalState` of a node: duration (when it started), outputs or error, and the deck URI."""
    if closure.HasField("started_at") and started_at:
        occurred = _internal(
            "Failed to parse node execution occurred at timestamp: {error}", _present(event, "occurred_at")
        )
        elapsed = occurred - parse_db_time(started_at)
        columns["duration"] = _nanos(elapsed)
        closure.duration.FromTimedelta(elapsed)
    _record_outcome(conn, state, event, closure, "output_uri", closure, _node_parts(event), columns)
    closure.deck_uri = event.deck_uri


def _node_running_state(
    event: Any, closure: node_execution_pb2.NodeExecutionClosure, columns: dict[str, object]
) -> None:
    """`addNodeRunningState`: every RUNNING event (re)sets the start time and the deck URI."""
    occurred = _internal("failed to unmarshal occurredAt with error: {error}", _present(event, "occurred_at"))
    columns["started_at"] = db_time(occurred)
    closure.started_at.FromDatetime(occurred)
    closure.deck_uri = event.deck_uri


def _task_node_metadata(
    event: Any, closure: node_execution_pb2.NodeExecutionClosure, columns: dict[str, object]
) -> None:
    """An event's task node metadata replaces the closure's target metadata; the cache status is recorded only
    with a catalog key."""
    metadata = _present(event, "task_node_metadata")
    if metadata is None:
        return
    target = node_execution_pb2.TaskNodeMetadata(checkpoint_uri=metadata.checkpoint_uri)
    if metadata.HasField("catalog_key"):
        target.cache_status = metadata.cache_status
        target.catalog_key.CopyFrom(metadata.catalog_key)
        columns["cache_status"] = catalog_pb2.CatalogCacheStatus.Name(metadata.cache_status)
    closure.task_node_metadata.CopyFrom(target)


def _create_node_execution(
    conn: sqlite3.Connection, state: EmulatorState, event: Any, dynamic_reference: str
) -> None:
    """`createNodeExecutionWithEvent` + `CreateNodeExecutionModel`: a node's first event, in any phase."""
    identifier = event.id
    parent_task_id = None
    parent_task = _present(event, "parent_task_metadata")
    if parent_task is not None:
        parent_task_id = validated_task_row(conn, parent_task.id, parent_task.HasField("id"))["id"]
    parent_id = None
    if event.HasField("parent_node_metadata"):
        parent = identifier_pb2.NodeExecutionIdentifier(
            execution_id=identifier.execution_id, node_id=event.parent_node_metadata.node_id
        )
        parent_id = fetch_node_row(conn, parent)["id"]
    closure = node_execution_pb2.NodeExecutionClosure(phase=event.phase)
    occurred_at, reported_at = _present(event, "occurred_at"), _reported_at(event)
    if occurred_at is not None:
        closure.created_at.CopyFrom(occurred_at)
    if reported_at is not None:
        closure.updated_at.CopyFrom(reported_at)
    columns: dict[str, object] = {"input_uri": _node_inputs(conn, state, event, "")}
    if event.phase == NodePhase.RUNNING:
        _node_running_state(event, closure, columns)
    if event.phase in NODE_TERMINAL:
        _node_terminal_state(conn, state, event, closure, None, columns)
    _task_node_metadata(event, closure, columns)
    created = _internal("failed to read event timestamp", occurred_at)
    updated = _internal("failed to read event reported_at timestamp", reported_at)
    metadata = node_execution_pb2.NodeExecutionMetaData(
        retry_group=event.retry_group,
        spec_node_id=event.spec_node_id,
        is_parent_node=event.is_parent,
        is_dynamic=event.is_dynamic,
        is_array=event.is_array,
    )
    columns.update(
        created_at=db_time(state.now()),
        updated_at=db_time(state.now()),
        **execution_key(identifier.execution_id),
        node_id=identifier.node_id,
        phase=NodePhase.Name(event.phase),
        node_execution_created_at=db_time(created),
        node_execution_updated_at=db_time(updated),
        node_execution_metadata=metadata.SerializeToString(),
        parent_id=parent_id,
        parent_task_execution_id=parent_task_id,
        dynamic_workflow_remote_closure_reference=dynamic_reference,
        internal_data=internal_data(event.event_version),
        closure=closure.SerializeToString(),
    )
    insert_row(conn, "node_executions", columns)


def _update_node_execution(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: admin_event_pb2.NodeExecutionEventRequest,
    row: sqlite3.Row,
    dynamic_reference: str,
) -> None:
    """`updateNodeExecutionWithEvent` + `UpdateNodeExecutionModel`."""
    event = request.event
    current = NodePhase.Value(row["phase"])
    incoming = event.phase
    if current == incoming:
        raise AdminError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"This phase was already recorded {NodePhase.Name(current)} for "
            f"{go_print(_present(request, 'event', 'id'))}",
        )
    if current in NODE_TERMINAL:
        # Upstream bug kept: current_phase carries the incoming phase.
        raise already_terminal(
            f"Invalid phase change from {NodePhase.Name(current)} to {NodePhase.Name(incoming)} "
            f"for node execution {row['id']}",
            NodePhase.Name(incoming),
        )
    child_execution = _present(event, "workflow_node_metadata", "execution_id")
    if event.HasField("workflow_node_metadata"):
        fetch_execution_row(conn, event.workflow_node_metadata.execution_id)
    closure = load_node_closure(row)
    closure.phase = incoming
    reported_at = _reported_at(event)
    if reported_at is None:
        closure.ClearField("updated_at")
    else:
        closure.updated_at.CopyFrom(reported_at)
    columns: dict[str, object] = {
        "input_uri": _node_inputs(conn, state, event, row["input_uri"]),
        "phase": NodePhase.Name(incoming),
        "updated_at": db_time(state.now()),
        "dynamic_workflow_remote_closure_reference": dynamic_reference,
    }
    started_at = row["started_at"]
    if incoming == NodePhase.RUNNING:
        _node_running_state(event, closure, columns)
        started_at = str(columns["started_at"])
    if incoming in NODE_TERMINAL:
        _node_terminal_state(conn, state, event, closure, started_at, columns)
    if event.HasField("workflow_node_metadata") and not closure.HasField("workflow_node_metadata"):
        closure.workflow_node_metadata.execution_id.CopyFrom(child_execution)
    _task_node_metadata(event, closure, columns)
    dynamic_spec = _present(event, "task_node_metadata", "dynamic_workflow")
    if dynamic_spec is not None and dynamic_spec.dynamic_job_spec_uri:
        closure.dynamic_job_spec_uri = dynamic_spec.dynamic_job_spec_uri
    columns["node_execution_updated_at"] = db_time(
        _internal("failed to parse updated at timestamp", reported_at)
    )
    if event.is_parent or event.is_dynamic or event.is_array:
        metadata = node_execution_pb2.NodeExecutionMetaData.FromString(row["node_execution_metadata"] or b"")
        metadata.is_parent_node = metadata.is_parent_node or event.is_parent
        metadata.is_dynamic = metadata.is_dynamic or event.is_dynamic
        metadata.is_array = metadata.is_array or event.is_array
        columns["node_execution_metadata"] = metadata.SerializeToString()
    save_row(conn, "node_executions", row["id"], closure, columns)


# --- task events -----------------------------------------------------------------------------------------


def _validate_task_event(request: admin_event_pb2.TaskExecutionEventRequest) -> None:
    """`ValidateTaskExecutionRequest`: event, occurred_at, output size, then the attempt's identifier."""
    if not request.HasField("event"):
        raise missing("event")
    event = request.event
    if not event.HasField("occurred_at"):
        raise missing("occurred_at")
    _check_output_size(event)
    validate_task_execution_id(_task_execution_id(event), True)


def _task_execution_id(event: Any) -> identifier_pb2.TaskExecutionIdentifier:
    """The attempt an event is about, as flyteadmin assembles it: parts the event left out stay unset (so
    validation still says which is missing)."""
    identifier = identifier_pb2.TaskExecutionIdentifier(retry_attempt=event.retry_attempt)
    if event.HasField("task_id"):
        identifier.task_id.CopyFrom(event.task_id)
    if event.HasField("parent_node_execution_id"):
        identifier.node_execution_id.CopyFrom(event.parent_node_execution_id)
    return identifier


@rpc(ADMIN, "CreateTaskEvent")
def create_task_event(
    state: EmulatorState, request: admin_event_pb2.TaskExecutionEventRequest, call: CallInfo
) -> admin_event_pb2.TaskExecutionEventResponse:
    _validate_task_event(request)
    event = request.event
    identifier = _task_execution_id(event)
    with state.db.tx() as conn:
        execution_row = fetch_execution_row(conn, event.parent_node_execution_id.execution_id)
        validate_cluster(execution_row["cluster"], event.producer_id)
        row = find_task_row(conn, identifier)
        if row is None:
            if find_node_row(conn, event.parent_node_execution_id) is None:
                # `NodeExecutionRepo.Exists` fails with gorm's record-not-found: "entry not found".
                raise AdminError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Failed to get existing node execution id: [{go_text(event.parent_node_execution_id)}] "
                    "with err: entry not found",
                )
            _create_task_execution(conn, state, identifier, event)
        else:
            _update_task_execution(conn, state, identifier, row, event)
    return admin_event_pb2.TaskExecutionEventResponse()


def _task_parts(identifier: identifier_pb2.TaskExecutionIdentifier) -> tuple[str, ...]:
    node = identifier.node_execution_id
    task = identifier.task_id
    return (
        node.execution_id.project,
        node.execution_id.domain,
        node.execution_id.name,
        node.node_id,
        task.project,
        task.domain,
        task.name,
        task.version,
        str(identifier.retry_attempt),
    )


def _task_terminal_state(
    conn: sqlite3.Connection,
    state: EmulatorState,
    identifier: identifier_pb2.TaskExecutionIdentifier,
    event: Any,
    closure: task_execution_pb2.TaskExecutionClosure,
    started_at: str | None,
    columns: dict[str, object],
) -> None:
    """`addTaskTerminalState`: duration from the first start (when there was one), then outputs or error."""
    if started_at:
        start = parse_db_time(started_at)
        elapsed = _time(event.occurred_at) - start
        closure.started_at.FromDatetime(start)
        columns["duration"] = _nanos(elapsed)
        closure.duration.FromTimedelta(elapsed)
    _record_outcome(conn, state, event, closure, "output_uri", closure, _task_parts(identifier), None)


def _task_reasons(closure: task_execution_pb2.TaskExecutionClosure, event: Any, first: bool) -> None:
    """The event's reasons are appended with their own times; a lone `reason` with the event's time, on an
    update only when it differs from the current one."""
    if event.reasons:
        for reason in event.reasons:
            closure.reasons.add(occurred_at=reason.occurred_at, message=reason.reason)
        closure.reason = event.reasons[-1].reason
    elif event.reason:
        if first or closure.reason != event.reason:
            closure.reasons.add(occurred_at=event.occurred_at, message=event.reason)
        closure.reason = event.reason


def _create_task_execution(
    conn: sqlite3.Connection,
    state: EmulatorState,
    identifier: identifier_pb2.TaskExecutionIdentifier,
    event: Any,
) -> None:
    """`CreateTaskExecutionModel`: the first event of an attempt, stored with its logs unfiltered."""
    reported_at = _reported_at(event)
    closure = task_execution_pb2.TaskExecutionClosure(
        phase=event.phase,
        updated_at=reported_at,
        created_at=event.occurred_at,
        logs=event.logs,
        task_type=event.task_type,
        event_version=event.event_version,
    )
    if event.HasField("custom_info"):
        closure.custom_info.CopyFrom(event.custom_info)
    if event.HasField("metadata"):
        closure.metadata.CopyFrom(event.metadata)
        sort_external_resources(closure.metadata)
    _task_reasons(closure, event, first=True)
    columns: dict[str, object] = {
        "input_uri": _offload_inputs(conn, state, event, *_task_parts(identifier)),
    }
    if event.phase == TaskPhase.RUNNING:
        columns["started_at"] = db_time(_time(event.occurred_at))
        closure.started_at.CopyFrom(event.occurred_at)
    if event.phase in TASK_TERMINAL:
        _task_terminal_state(conn, state, identifier, event, closure, None, columns)
    task, node = identifier.task_id, identifier.node_execution_id
    columns.update(
        created_at=db_time(state.now()),
        updated_at=db_time(state.now()),
        project=task.project,
        domain=task.domain,
        name=task.name,
        version=task.version,
        **execution_key(node.execution_id),
        node_id=node.node_id,
        retry_attempt=identifier.retry_attempt,
        phase=TaskPhase.Name(event.phase),
        phase_version=event.phase_version,
        task_execution_created_at=db_time(_time(event.occurred_at)),
        task_execution_updated_at=db_time(
            _internal("failed to read event reported_at timestamp", reported_at)
        ),
        closure=closure.SerializeToString(),
    )
    insert_row(conn, "task_executions", columns)


def _update_task_execution(
    conn: sqlite3.Connection,
    state: EmulatorState,
    identifier: identifier_pb2.TaskExecutionIdentifier,
    row: sqlite3.Row,
    event: Any,
) -> None:
    """The checks of `CreateTaskExecutionEvent`, then `UpdateTaskExecutionModel`."""
    incoming = TaskPhase.Name(event.phase)
    if row["phase"] == incoming and row["phase_version"] >= event.phase_version:
        raise AdminError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"have already recorded task execution phase {incoming} (version: {event.phase_version}) "
            f"for {go_text(identifier)}",
        )
    if TaskPhase.Value(row["phase"]) in TASK_TERMINAL:
        # Upstream bug kept: current_phase carries the incoming phase.
        raise already_terminal(
            f"invalid phase change from {row['phase']} to {incoming} for task execution "
            f"{go_text(identifier)}",
            incoming,
        )
    closure = load_task_closure(row)
    phase_change = row["phase"] != incoming
    reported_at = _reported_at(event)
    closure.phase = event.phase
    if reported_at is not None:
        closure.updated_at.CopyFrom(reported_at)
    columns: dict[str, object] = {
        "input_uri": row["input_uri"] or _offload_inputs(conn, state, event, *_task_parts(identifier)),
        "phase": incoming,
        "phase_version": event.phase_version,
        "updated_at": db_time(state.now()),
    }
    replace_logs(
        closure.logs, filter_logs_by_phase(merge_logs(list(closure.logs), list(event.logs)), event.phase)
    )
    _task_reasons(closure, event, first=False)
    started_at = row["started_at"]
    if (
        row["phase"] != TaskPhase.Name(TaskPhase.RUNNING)
        and event.phase == TaskPhase.RUNNING
        and not started_at
    ):
        started_at = db_time(_time(event.occurred_at))
        columns["started_at"] = started_at
        closure.started_at.CopyFrom(event.occurred_at)
    if event.phase in TASK_TERMINAL:
        _task_terminal_state(conn, state, identifier, event, closure, started_at, columns)
    custom = merge_custom(_present(closure, "custom_info"), _present(event, "custom_info"))
    closure.ClearField("custom_info")
    if custom is not None:
        closure.custom_info.CopyFrom(custom)
    metadata = merge_metadata(_present(closure, "metadata"), _present(event, "metadata"))
    if metadata is not None:
        merged = task_execution_pb2.TaskExecutionClosure().metadata
        merged.CopyFrom(metadata)
        closure.metadata.CopyFrom(merged)
        if phase_change and closure.metadata.external_resources:
            filter_external_resource_logs(closure.metadata, event.phase)
    closure.event_version = max(closure.event_version, event.event_version)
    columns["task_execution_updated_at"] = db_time(
        _internal("failed to parse updated at timestamp", reported_at)
    )
    save_row(conn, "task_executions", row["id"], closure, columns)
