"""Workflow, node and task events: the only way executions move, exactly as the engine reports to flyteadmin.

The simulate executor (`executor.py`) sends its events through these same handlers, so a test that drives
an execution by hand and one that lets the executor run it see the same state machine.

State machines, codes, messages and details follow flyteadmin v1.16 (`execution_manager.go`,
`node_execution_manager.go`, `task_execution_manager.go`, section 6 of the semantics reference), including
two upstream quirks kept on purpose because clients key off them:

- for node and task events refused on a terminal record, `already_in_terminal_state.current_phase` holds the
  *incoming* event's phase, not the stored one;
- a task event for a node execution that does not exist is INTERNAL (a plain Go error upstream).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import grpc
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.protobuf.duration_pb2 import Duration
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
from flyteadmin_ops.emulator.node_executions import fetch_node_row, find_node_row, load_node_closure
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import join_uri, put_literal_map, put_object
from flyteadmin_ops.emulator.task_executions import (
    fetch_task_row,
    find_task_row,
    load_task_closure,
    validate_task_execution_id,
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
TASK_TERMINAL = frozenset({TaskPhase.SUCCEEDED, TaskPhase.FAILED, TaskPhase.ABORTED})

MAX_INLINE_OUTPUT_BYTES = 2 * 1024 * 1024  # remoteData.maxSizeInBytes default
DEFAULT_PRODUCER_ID = "propeller"  # old propellers hard-code it; it never counts as a cluster
_CLUSTER_REASSIGNABLE = frozenset({WorkflowPhase.UNDEFINED, WorkflowPhase.QUEUED})


@dataclass(frozen=True)
class _Record:
    """How one kind of execution record stores what an event reports (the three closures differ slightly)."""

    table: str
    updated_column: str  # execution_updated_at / node_execution_updated_at / task_execution_updated_at
    running: int
    terminal: frozenset[int]
    phase_name: Any  # Enum wrapper's Name
    outputs_as_blob: bool  # ExecutionClosure.outputs.uri vs {Node,Task}ExecutionClosure.output_uri
    error_columns: bool


_EXECUTION = _Record(
    "executions",
    "execution_updated_at",
    WorkflowPhase.RUNNING,
    TERMINAL_PHASES,
    WorkflowPhase.Name,
    True,
    True,
)
_NODE = _Record(
    "node_executions",
    "node_execution_updated_at",
    NodePhase.RUNNING,
    NODE_TERMINAL,
    NodePhase.Name,
    False,
    True,
)
_TASK = _Record(
    "task_executions",
    "task_execution_updated_at",
    TaskPhase.RUNNING,
    TASK_TERMINAL,
    TaskPhase.Name,
    False,
    False,
)


def _occurred(event: Any) -> datetime:
    if not event.HasField("occurred_at"):
        raise AdminError(grpc.StatusCode.INTERNAL, "Failed to parse OccurredAt: timestamp: nil Timestamp")
    moment: datetime = event.occurred_at.ToDatetime(tzinfo=timezone.utc)
    return moment


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


def _apply(
    conn: sqlite3.Connection,
    state: EmulatorState,
    record: _Record,
    closure: Any,
    event: Any,
    started_at: str | None,
    offload_parts: Iterable[str],
) -> dict[str, object]:
    """Record phase, times and output/error of `event` into `closure`; return the mirrored column values."""
    occurred = _occurred(event)
    stamp = Timestamp()
    stamp.CopyFrom(event.occurred_at)
    closure.phase = event.phase
    closure.updated_at.CopyFrom(stamp)
    columns: dict[str, object] = {
        "phase": record.phase_name(event.phase),
        record.updated_column: db_time(occurred),
        "updated_at": db_time(state.now()),
    }
    if event.phase == record.running:
        columns["started_at"] = db_time(occurred)
        closure.started_at.CopyFrom(stamp)
    elif event.phase in record.terminal and started_at:
        elapsed = occurred - parse_db_time(started_at)
        columns["duration"] = int(elapsed.total_seconds() * 1_000_000) * 1000
        duration = Duration()
        duration.FromTimedelta(elapsed)
        closure.duration.CopyFrom(duration)
    if event.output_uri:
        _set_output_uri(closure, record, event.output_uri)
    elif event.HasField("output_data"):
        uri = join_uri(
            state.config.storage_prefix, state.config.metadata_prefix, *offload_parts, "offloaded_outputs"
        )
        put_literal_map(conn, uri, event.output_data, state.now())
        _set_output_uri(closure, record, uri)
    elif event.HasField("error"):
        closure.error.CopyFrom(event.error)
        if record.error_columns:
            columns["error_kind"] = core_execution_pb2.ExecutionError.ErrorKind.Name(event.error.kind)
            columns["error_code"] = event.error.code
    return columns


def _set_output_uri(closure: Any, record: _Record, uri: str) -> None:
    if record.outputs_as_blob:
        closure.outputs.uri = uri
    else:
        closure.output_uri = uri


def _offload_inputs(conn: sqlite3.Connection, state: EmulatorState, event: Any, *parts: str) -> str:
    if event.input_uri:
        return str(event.input_uri)
    if event.HasField("input_data"):
        uri = join_uri(state.config.storage_prefix, state.config.metadata_prefix, *parts, "offloaded_inputs")
        return put_literal_map(conn, uri, event.input_data, state.now())
    return ""


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
        identifier = event.execution_id
        columns = _apply(
            conn,
            state,
            _EXECUTION,
            closure,
            event,
            row["started_at"],
            (identifier.project, identifier.domain, identifier.name),
        )
        columns.update(_reassign_cluster(row, event))
        save_row(conn, "executions", row["id"], closure, columns)
    return admin_event_pb2.WorkflowExecutionEventResponse()


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


@rpc(ADMIN, "CreateNodeEvent")
def create_node_event(
    state: EmulatorState, request: admin_event_pb2.NodeExecutionEventRequest, call: CallInfo
) -> admin_event_pb2.NodeExecutionEventResponse:
    event = request.event  # flyteadmin only logs request validation errors for node events
    identifier = event.id
    execution = identifier.execution_id
    with state.db.tx() as conn:
        try:
            execution_row = fetch_execution_row(conn, execution)
        except AdminError as error:
            raise AdminError(
                error.code,
                f"Failed to get existing execution id: [{go_text(execution)}] with err: {error.message}",
            ) from None
        validate_cluster(execution_row["cluster"], event.producer_id)
        dynamic_reference = _store_dynamic_workflow(conn, state, event)
        row = find_node_row(conn, identifier)
        if row is None:
            _create_node_execution(conn, state, event, dynamic_reference)
        else:
            _update_node_execution(conn, state, row, event, dynamic_reference)
    return admin_event_pb2.NodeExecutionEventResponse()


def _node_parts(event: Any) -> tuple[str, ...]:
    execution = event.id.execution_id
    return execution.project, execution.domain, execution.name, event.id.node_id


def _store_dynamic_workflow(conn: sqlite3.Connection, state: EmulatorState, event: Any) -> str:
    if not event.task_node_metadata.HasField("dynamic_workflow"):
        return ""
    dynamic = event.task_node_metadata.dynamic_workflow
    workflow = dynamic.id
    uri = join_uri(
        state.config.storage_prefix,
        state.config.metadata_prefix,
        *_node_parts(event),
        f"{workflow.project}_{workflow.domain}_{workflow.name}_{workflow.version}",
    )
    put_object(conn, uri, dynamic.compiled_workflow.SerializeToString(deterministic=True), state.now())
    return uri


def _node_target_metadata(closure: node_execution_pb2.NodeExecutionClosure, event: Any) -> None:
    if event.HasField("workflow_node_metadata"):
        closure.workflow_node_metadata.execution_id.CopyFrom(event.workflow_node_metadata.execution_id)
    elif event.HasField("task_node_metadata"):
        metadata = event.task_node_metadata
        closure.task_node_metadata.cache_status = metadata.cache_status
        closure.task_node_metadata.catalog_key.CopyFrom(metadata.catalog_key)
        closure.task_node_metadata.checkpoint_uri = metadata.checkpoint_uri
    if event.deck_uri:
        closure.deck_uri = event.deck_uri
    if event.task_node_metadata.HasField("dynamic_workflow"):
        closure.dynamic_job_spec_uri = event.task_node_metadata.dynamic_workflow.dynamic_job_spec_uri


def _node_metadata(event: Any, previous: bytes | None = None) -> bytes:
    metadata = node_execution_pb2.NodeExecutionMetaData()
    if previous:
        metadata.ParseFromString(previous)
    metadata.retry_group = event.retry_group or metadata.retry_group
    metadata.spec_node_id = event.spec_node_id or metadata.spec_node_id
    metadata.is_parent_node = event.is_parent or metadata.is_parent_node
    metadata.is_dynamic = event.is_dynamic or metadata.is_dynamic
    metadata.is_array = event.is_array or metadata.is_array
    return metadata.SerializeToString()


def _create_node_execution(
    conn: sqlite3.Connection, state: EmulatorState, event: Any, dynamic_reference: str
) -> None:
    identifier = event.id
    parent_task_id = None
    if event.HasField("parent_task_metadata"):
        parent_task_id = fetch_task_row(conn, event.parent_task_metadata.id)["id"]
    parent_id = None
    if event.HasField("parent_node_metadata"):
        parent = identifier_pb2.NodeExecutionIdentifier(
            execution_id=identifier.execution_id, node_id=event.parent_node_metadata.node_id
        )
        parent_id = fetch_node_row(conn, parent)["id"]
    closure = node_execution_pb2.NodeExecutionClosure(created_at=event.occurred_at)
    columns = _apply(conn, state, _NODE, closure, event, None, _node_parts(event))
    _node_target_metadata(closure, event)
    occurred = columns[_NODE.updated_column]
    execution = identifier.execution_id
    columns.update(
        created_at=db_time(state.now()),
        **execution_key(execution),
        node_id=identifier.node_id,
        input_uri=_offload_inputs(conn, state, event, *_node_parts(event)),
        node_execution_created_at=occurred,
        node_execution_metadata=_node_metadata(event),
        parent_id=parent_id,
        parent_task_execution_id=parent_task_id,
        cache_status=_cache_status(event),
        dynamic_workflow_remote_closure_reference=dynamic_reference,
        closure=closure.SerializeToString(),
    )
    insert_row(conn, "node_executions", columns)


def _cache_status(event: Any) -> str | None:
    if not event.HasField("task_node_metadata"):
        return None
    return str(catalog_pb2.CatalogCacheStatus.Name(event.task_node_metadata.cache_status))


def _update_node_execution(
    conn: sqlite3.Connection, state: EmulatorState, row: sqlite3.Row, event: Any, dynamic_reference: str
) -> None:
    current = NodePhase.Value(row["phase"])
    incoming = event.phase
    if current == incoming:
        raise AdminError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"This phase was already recorded {NodePhase.Name(current)} for {go_text(event.id)}",
        )
    if current in NODE_TERMINAL:
        # Upstream bug kept: current_phase carries the incoming phase.
        raise already_terminal(
            f"Invalid phase change from {NodePhase.Name(current)} to {NodePhase.Name(incoming)} "
            f"for node execution {row['id']}",
            NodePhase.Name(incoming),
        )
    if event.HasField("workflow_node_metadata"):
        fetch_execution_row(conn, event.workflow_node_metadata.execution_id)
    closure = load_node_closure(row)
    columns = _apply(conn, state, _NODE, closure, event, row["started_at"], _node_parts(event))
    _node_target_metadata(closure, event)
    columns["node_execution_metadata"] = _node_metadata(event, row["node_execution_metadata"])
    if dynamic_reference:
        columns["dynamic_workflow_remote_closure_reference"] = dynamic_reference
    if event.HasField("task_node_metadata"):
        columns["cache_status"] = _cache_status(event)
    save_row(conn, "node_executions", row["id"], closure, columns)


# --- task events -----------------------------------------------------------------------------------------


@rpc(ADMIN, "CreateTaskEvent")
def create_task_event(
    state: EmulatorState, request: admin_event_pb2.TaskExecutionEventRequest, call: CallInfo
) -> admin_event_pb2.TaskExecutionEventResponse:
    if not request.HasField("event"):
        raise missing("event")
    event = request.event
    if not event.HasField("occurred_at"):
        raise missing("occurred_at")
    _check_output_size(event)
    identifier = identifier_pb2.TaskExecutionIdentifier(
        task_id=event.task_id,
        node_execution_id=event.parent_node_execution_id,
        retry_attempt=event.retry_attempt,
    )
    validate_task_execution_id(identifier, True)
    with state.db.tx() as conn:
        execution_row = fetch_execution_row(conn, event.parent_node_execution_id.execution_id)
        validate_cluster(execution_row["cluster"], event.producer_id)
        row = find_task_row(conn, identifier)
        if row is None:
            if find_node_row(conn, event.parent_node_execution_id) is None:
                raise AdminError(
                    grpc.StatusCode.INTERNAL,
                    f"failed to get existing node execution id: [{go_text(event.parent_node_execution_id)}]",
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


def _task_details(closure: task_execution_pb2.TaskExecutionClosure, event: Any) -> None:
    known = {log.uri for log in closure.logs}
    closure.logs.extend(log for log in event.logs if log.uri not in known)
    if event.HasField("custom_info"):
        closure.custom_info.CopyFrom(event.custom_info)
    if event.reason:
        closure.reason = event.reason
        closure.reasons.add(occurred_at=event.occurred_at, message=event.reason)
    for reason in event.reasons:
        closure.reasons.add(occurred_at=reason.occurred_at, message=reason.reason)
    if event.task_type:
        closure.task_type = event.task_type
    if event.HasField("metadata"):
        closure.metadata.CopyFrom(event.metadata)
    closure.event_version = event.event_version


def _create_task_execution(
    conn: sqlite3.Connection,
    state: EmulatorState,
    identifier: identifier_pb2.TaskExecutionIdentifier,
    event: Any,
) -> None:
    closure = task_execution_pb2.TaskExecutionClosure(created_at=event.occurred_at)
    columns = _apply(conn, state, _TASK, closure, event, None, _task_parts(identifier))
    _task_details(closure, event)
    task, node = identifier.task_id, identifier.node_execution_id
    columns.update(
        created_at=db_time(state.now()),
        project=task.project,
        domain=task.domain,
        name=task.name,
        version=task.version,
        **execution_key(node.execution_id),
        node_id=node.node_id,
        retry_attempt=identifier.retry_attempt,
        phase_version=event.phase_version,
        input_uri=_offload_inputs(conn, state, event, *_task_parts(identifier)),
        task_execution_created_at=columns[_TASK.updated_column],
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
    started_at = row["started_at"]
    first_start = Timestamp()
    first_start.CopyFrom(closure.started_at)
    columns = _apply(conn, state, _TASK, closure, event, started_at, _task_parts(identifier))
    if started_at and event.phase == TaskPhase.RUNNING:
        # Later RUNNING events (higher phase_version) keep the first start time.
        columns["started_at"] = started_at
        closure.started_at.CopyFrom(first_start)
    _task_details(closure, event)
    columns["phase_version"] = event.phase_version
    save_row(conn, "task_executions", row["id"], closure, columns)
