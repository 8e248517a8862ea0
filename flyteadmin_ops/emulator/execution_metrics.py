"""GetExecutionMetrics: an execution broken down into spans, as flyteadmin's metrics manager builds them.

`pkg/manager/impl/metrics_manager.go`: the execution's span holds WORKFLOW_SETUP (creation until the start
node finished), one span per node execution and WORKFLOW_TEARDOWN (the last node before the end node until
the execution's last update). A node span holds NODE_TRANSITION (its latest upstream node's update until it
was created), then what its kind gives: a task node NODE_SETUP, its attempts (TASK_SETUP, TASK_RUNTIME,
TASK_TEARDOWN; NODE_RESET between attempts) and NODE_TEARDOWN; a branch node the span of the branch it
took; subworkflow, dynamic and launch plan nodes the spans of what they ran; a gate node NODE_IDLE.

Things a client sees that are easy to get wrong:

- `depth` counts levels of node spans: 0 is the execution's span alone, 1 adds the top-level node spans
  (with their NODE_TRANSITION only), 2 their operations, and so on; a negative depth has no limit;
- node executions are matched to the workflow's nodes by `metadata.spec_node_id`: events that did not
  report one leave the start node unknown, so the execution shows WORKFLOW_SETUP alone;
- spans are computed from the records' created/updated/started times and durations, never invented.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any

import grpc
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, metrics_pb2, workflow_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.common import go_text
from flyteadmin_ops.emulator.compiler import END_NODE, START_NODE
from flyteadmin_ops.emulator.executions import (
    execution_from_row,
    execution_key,
    fetch_execution_row,
    select_rows,
    validate_execution_id,
)
from flyteadmin_ops.emulator.node_executions import (
    fetch_node_row,
    node_from_row,
    read_dynamic_closure,
)
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.task_executions import task_from_row
from flyteadmin_ops.emulator.workflows import get_workflow

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NodeExecutions = dict[str, node_execution_pb2.NodeExecution]


def _at(stamp: Timestamp | None) -> datetime:
    """`AsTime()`: a missing timestamp is the Unix epoch."""
    return _EPOCH if stamp is None else stamp.ToDatetime(tzinfo=timezone.utc)


def _field(message: object, name: str) -> Timestamp | None:
    """A timestamp field, or None where flyteadmin's record has none (Go's nil)."""
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[attr-defined]


def _unset(stamp: Timestamp | Duration | None) -> bool:
    """nil or the zero timestamp or duration, which flyteadmin treats alike (`emptyTimestamp`,
    `emptyDuration`)."""
    return stamp is None or (stamp.seconds == 0 and stamp.nanos == 0)


def _operation(start: Timestamp | None, end: Timestamp | None, operation: str) -> metrics_pb2.Span:
    span = metrics_pb2.Span(operation_id=operation)
    if start is not None:
        span.start_time.CopyFrom(start)
    if end is not None:
        span.end_time.CopyFrom(end)
    return span


def _teardown(
    closure: Any, last: Timestamp, spans: list[metrics_pb2.Span], operation: str = "NODE_TEARDOWN"
) -> None:
    """The overhead after what a record ran (`last`): flyteadmin adds it only when the record (an execution,
    node or attempt closure) was updated at or after `last`."""
    if _at(closure.updated_at) >= _at(last):
        spans.append(_operation(last, closure.updated_at, operation))


def _setup_and_run(closure: Any, spans: list[metrics_pb2.Span], setup: str, running: str) -> Timestamp | None:
    """How attempts and gate nodes begin: `setup` until it started (the whole record while it has not),
    `running` from then until started + duration (until its last update while it has no duration); returns
    that end, or None when there is none."""
    started = _field(closure, "started_at")
    if started is None or _unset(started):
        spans.append(_operation(closure.created_at, closure.updated_at, setup))
        return None
    spans.append(_operation(closure.created_at, started, setup))
    duration = closure.duration if closure.HasField("duration") else None
    if duration is None or _unset(duration):
        spans.append(_operation(started, closure.updated_at, running))
        return None
    ended = Timestamp()
    ended.FromDatetime(started.ToDatetime(tzinfo=timezone.utc) + duration.ToTimedelta())
    spans.append(_operation(started, ended, running))
    return ended


class _Breakdown:
    """One GetExecutionMetrics call: reads records through one connection, as the manager's own calls do."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # --- records -------------------------------------------------------------------------------------------

    def node_executions(
        self, execution: identifier_pb2.WorkflowExecutionIdentifier, parent_node_id: str = ""
    ) -> NodeExecutions:
        """`getNodeExecutions`: top-level node executions (or a node's children), keyed by spec node id; a
        later one with the same key replaces an earlier one."""
        key = execution_key(execution)
        if parent_node_id:
            parent = fetch_node_row(
                self.conn,
                identifier_pb2.NodeExecutionIdentifier(execution_id=execution, node_id=parent_node_id),
            )
            rows = select_rows(self.conn, "node_executions", {**key, "parent_id": parent["id"]})
        else:
            rows = select_rows(
                self.conn, "node_executions", key, "parent_id IS NULL AND parent_task_execution_id IS NULL"
            )
        found: NodeExecutions = {}
        for row in rows:
            node = node_from_row(self.conn, row, for_list=True)
            found[node.metadata.spec_node_id] = node
        return found

    def task_executions(
        self, node: node_execution_pb2.NodeExecution
    ) -> list[task_execution_pb2.TaskExecution]:
        node_id = node.id
        rows = select_rows(
            self.conn, "task_executions", {**execution_key(node_id.execution_id), "node_id": node_id.node_id}
        )
        return [task_from_row(self.conn, row) for row in rows]

    def compiled_workflow(
        self, identifier: identifier_pb2.Identifier
    ) -> compiler_pb2.CompiledWorkflowClosure:
        _, workflow = get_workflow(self.conn, identifier)
        return workflow.closure.compiled_workflow

    # --- spans ---------------------------------------------------------------------------------------------

    def execution(self, execution: execution_pb2.Execution, depth: int) -> metrics_pb2.Span:
        """`parseExecution`."""
        closure = execution.closure
        spans: list[metrics_pb2.Span] = []
        if depth != 0:
            compiled = self.compiled_workflow(closure.workflow_id)
            nodes = self.node_executions(execution.id)
            start = nodes.get(START_NODE)
            start_updated = None if start is None else _field(start.closure, "updated_at")
            if _unset(start_updated):
                spans.append(_operation(closure.created_at, closure.updated_at, "WORKFLOW_SETUP"))
            else:
                spans.append(_operation(closure.created_at, start_updated, "WORKFLOW_SETUP"))
                self.nodes(nodes, compiled, spans, depth - 1)
                latest = _latest_upstream(END_NODE, compiled, nodes)
                if latest is not None:
                    _teardown(closure, latest.closure.updated_at, spans, "WORKFLOW_TEARDOWN")
        return metrics_pb2.Span(
            start_time=closure.created_at, end_time=closure.updated_at, workflow_id=execution.id, spans=spans
        )

    def nodes(
        self,
        nodes: NodeExecutions,
        compiled: compiler_pb2.CompiledWorkflowClosure,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        """`parseNodeExecutions`: in creation order, each node's span, led by its NODE_TRANSITION."""
        ordered = sorted(nodes.values(), key=lambda node: _at(_field(node.closure, "created_at")))
        template = compiled.primary.template
        for node_execution in ordered:
            spec_node_id = node_execution.metadata.spec_node_id
            if spec_node_id in (START_NODE, END_NODE):
                continue
            matches = [node for node in template.nodes if node.id == spec_node_id]
            if not matches:
                raise AdminError(
                    grpc.StatusCode.INTERNAL,
                    f"failed to discover workflow node '{spec_node_id}' in workflow '{go_text(template.id)}'",
                )
            span = self.node(node_execution, matches[-1], depth)
            latest = _latest_upstream(spec_node_id, compiled, nodes)
            if latest is not None:
                transition = _operation(
                    latest.closure.updated_at, node_execution.closure.created_at, "NODE_TRANSITION"
                )
                span.spans.insert(0, transition)
            spans.append(span)

    def node(
        self, node_execution: node_execution_pb2.NodeExecution, node: workflow_pb2.Node, depth: int
    ) -> metrics_pb2.Span:
        """`parseNodeExecution`: the node's span, broken down by its kind while `depth` allows."""
        spans: list[metrics_pb2.Span] = []
        if depth != 0:
            target = node.WhichOneof("target")
            if target == "branch_node":
                self.branch(node_execution, node.branch_node, spans, depth - 1)
            elif target == "gate_node":
                _gate(node_execution, spans)
            elif target == "task_node" and node_execution.metadata.is_parent_node:
                self.dynamic(node_execution, spans, depth - 1)
            elif target == "task_node":
                self.task_node(node_execution, spans, depth - 1)
            elif target == "workflow_node" and node.workflow_node.HasField("launchplan_ref"):
                self.launch_plan_node(node_execution, spans, depth - 1)
            elif target == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
                self.subworkflow(node_execution, node.workflow_node.sub_workflow_ref, spans, depth - 1)
            elif target == "workflow_node":
                raise AdminError(
                    grpc.StatusCode.INTERNAL,
                    f"failed to identify workflow node type for node: {go_text(node.workflow_node)}",
                )
            # other kinds (array nodes) get no breakdown, so the other nodes still do
        closure = node_execution.closure
        return metrics_pb2.Span(
            start_time=closure.created_at, end_time=closure.updated_at, node_id=node_execution.id, spans=spans
        )

    def task_node(
        self, node_execution: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span], depth: int
    ) -> None:
        """`parseTaskNodeExecution`."""
        attempts = self.attempts(node_execution, spans, depth)
        if attempts:
            _teardown(node_execution.closure, attempts[-1].closure.updated_at, spans)

    def attempts(
        self, node_execution: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span], depth: int
    ) -> list[task_execution_pb2.TaskExecution]:
        """How task and dynamic nodes begin: NODE_SETUP (the whole node while it has no attempt, else until
        the first attempt), then the attempts; returns them in creation order."""
        closure = node_execution.closure
        attempts = self.task_executions(node_execution)
        if not attempts:
            spans.append(_operation(closure.created_at, closure.updated_at, "NODE_SETUP"))
            return []
        spans.append(_operation(closure.created_at, attempts[0].closure.created_at, "NODE_SETUP"))
        return _attempts(attempts, spans, depth)

    def children_or_setup(
        self, node_execution: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span]
    ) -> NodeExecutions:
        """A branch's or subworkflow's child node executions; while it has none, the whole node is
        NODE_SETUP (appended here) and the result is empty."""
        children = self.node_executions(node_execution.id.execution_id, node_execution.id.node_id)
        if not children:
            closure = node_execution.closure
            spans.append(_operation(closure.created_at, closure.updated_at, "NODE_SETUP"))
        return children

    def children(
        self,
        node_execution: node_execution_pb2.NodeExecution,
        children: NodeExecutions,
        compiled: compiler_pb2.CompiledWorkflowClosure,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        """The nodes a subworkflow or dynamic node ran, then NODE_TEARDOWN from the last one before its end
        node."""
        self.nodes(children, compiled, spans, depth)
        latest = _latest_upstream(END_NODE, compiled, children)
        if latest is not None:
            _teardown(node_execution.closure, latest.closure.updated_at, spans)

    def branch(
        self,
        node_execution: node_execution_pb2.NodeExecution,
        branch: workflow_pb2.BranchNode,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        """`parseBranchNodeExecution`: the one node the branch ran."""
        closure = node_execution.closure
        children = self.children_or_setup(node_execution, spans)
        if not children:
            return
        if len(children) != 1:
            raise AdminError(
                grpc.StatusCode.INTERNAL,
                f"invalid branch node execution: expected 1 but found {len(children)} node execution(s)",
            )
        child = next(iter(children.values()))
        node = _branch_node(child.metadata.spec_node_id, branch)
        if node is None:
            raise AdminError(
                grpc.StatusCode.INTERNAL,
                "failed to identify branch node final node definition for nodeID "
                f"'{child.metadata.spec_node_id}' and branchNode '{go_text(branch)}'",
            )
        spans.append(_operation(closure.created_at, child.closure.created_at, "NODE_SETUP"))
        spans.append(self.node(child, node, depth))
        _teardown(closure, child.closure.updated_at, spans)

    def dynamic(
        self, node_execution: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span], depth: int
    ) -> None:
        """`parseDynamicNodeExecution`: the task that produced the workflow, then the nodes it ran."""
        attempts = self.attempts(node_execution, spans, depth)
        if not attempts:
            return
        children = self.node_executions(node_execution.id.execution_id, node_execution.id.node_id)
        last = attempts[-1].closure
        if not children:
            _teardown(node_execution.closure, last.updated_at, spans, "NODE_RESET")
            return
        start = children.get(START_NODE)
        spans.append(
            _operation(last.updated_at, _field(start.closure, "updated_at") if start else None, "NODE_RESET")
        )
        row = fetch_node_row(self.conn, node_execution.id)
        reference = row["dynamic_workflow_remote_closure_reference"]
        compiled = (
            read_dynamic_closure(self.conn, reference)
            if reference
            else compiler_pb2.CompiledWorkflowClosure()
        )
        self.children(node_execution, children, compiled, spans, depth)

    def subworkflow(
        self,
        node_execution: node_execution_pb2.NodeExecution,
        workflow_id: identifier_pb2.Identifier,
        spans: list[metrics_pb2.Span],
        depth: int,
    ) -> None:
        """`parseSubworkflowNodeExecution`: the subworkflow's nodes, from its registered definition."""
        closure = node_execution.closure
        children = self.children_or_setup(node_execution, spans)
        if not children:
            return
        start = children.get(START_NODE)
        spans.append(
            _operation(
                closure.created_at, _field(start.closure, "updated_at") if start else None, "NODE_SETUP"
            )
        )
        self.children(node_execution, children, self.compiled_workflow(workflow_id), spans, depth)

    def launch_plan_node(
        self, node_execution: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span], depth: int
    ) -> None:
        """`parseLaunchPlanNodeExecution`: the child execution's own breakdown."""
        closure = node_execution.closure
        if not closure.HasField("workflow_node_metadata"):
            spans.append(_operation(closure.created_at, closure.updated_at, "NODE_SETUP"))
            return
        child_id = closure.workflow_node_metadata.execution_id
        validate_execution_id(child_id, closure.workflow_node_metadata.HasField("execution_id"))
        child = execution_from_row(fetch_execution_row(self.conn, child_id))
        spans.append(_operation(closure.created_at, child.closure.created_at, "NODE_SETUP"))
        spans.append(self.execution(child, depth))
        _teardown(closure, child.closure.updated_at, spans)


def _latest_upstream(
    node_id: str, compiled: compiler_pb2.CompiledWorkflowClosure, nodes: NodeExecutions
) -> node_execution_pb2.NodeExecution | None:
    """`getLatestUpstreamNodeExecution`: of the node's upstream nodes that ran, the one updated last (strictly
    after the epoch)."""
    latest, latest_at = None, _EPOCH
    upstream = compiled.primary.connections.upstream
    if node_id not in upstream:
        return None
    for upstream_id in upstream[node_id].ids:
        candidate = nodes.get(upstream_id)
        if candidate is None:
            continue
        updated = _at(_field(candidate.closure, "updated_at"))
        if updated > latest_at:
            latest, latest_at = candidate, updated
    return latest


def _branch_node(node_id: str, branch: workflow_pb2.BranchNode) -> workflow_pb2.Node | None:
    """`getBranchNode`: the case, other case or else node with this id."""
    if_else = branch.if_else
    if if_else.case.then_node.id == node_id:
        return if_else.case.then_node
    for other in if_else.other:
        if other.then_node.id == node_id:
            return other.then_node
    if if_else.HasField("else_node") and if_else.else_node.id == node_id:
        return if_else.else_node
    return None


def _attempts(
    attempts: list[task_execution_pb2.TaskExecution], spans: list[metrics_pb2.Span], depth: int
) -> list[task_execution_pb2.TaskExecution]:
    """`parseTaskExecutions`: attempts in creation order, NODE_RESET between two; returns them ordered."""
    ordered = sorted(attempts, key=lambda attempt: _at(_field(attempt.closure, "created_at")))
    for index, attempt in enumerate(ordered):
        if index > 0:
            spans.append(
                _operation(ordered[index - 1].closure.updated_at, attempt.closure.created_at, "NODE_RESET")
            )
        if depth != 0:
            spans.append(_attempt(attempt))
    return ordered


def _attempt(attempt: task_execution_pb2.TaskExecution) -> metrics_pb2.Span:
    """`parseTaskExecution`: TASK_SETUP until it started, TASK_RUNTIME, TASK_TEARDOWN after it ended."""
    closure = attempt.closure
    spans: list[metrics_pb2.Span] = []
    ended = _setup_and_run(closure, spans, "TASK_SETUP", "TASK_RUNTIME")
    if ended is not None:
        _teardown(closure, ended, spans, "TASK_TEARDOWN")
    return metrics_pb2.Span(
        start_time=closure.created_at, end_time=closure.updated_at, task_id=attempt.id, spans=spans
    )


def _gate(node_execution: node_execution_pb2.NodeExecution, spans: list[metrics_pb2.Span]) -> None:
    """`parseGateNodeExecution`: NODE_SETUP until it started, NODE_IDLE while it waited, NODE_TEARDOWN
    (always, unlike an attempt's TASK_TEARDOWN)."""
    closure = node_execution.closure
    ended = _setup_and_run(closure, spans, "NODE_SETUP", "NODE_IDLE")
    if ended is not None:
        spans.append(_operation(ended, closure.updated_at, "NODE_TEARDOWN"))


@rpc(ADMIN, "GetExecutionMetrics")
def get_execution_metrics(
    state: EmulatorState, request: execution_pb2.WorkflowExecutionGetMetricsRequest, call: CallInfo
) -> execution_pb2.WorkflowExecutionGetMetricsResponse:
    validate_execution_id(request.id, request.HasField("id"))
    with state.db.read() as conn:
        execution = execution_from_row(fetch_execution_row(conn, request.id))
        span = _Breakdown(conn).execution(execution, request.depth)
    return execution_pb2.WorkflowExecutionGetMetricsResponse(span=span)
