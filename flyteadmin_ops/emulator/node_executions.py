"""AdminService node executions: get, list (top level or under a parent), list for a task, data, dynamic.

Node executions are created and advanced only by node events (`events.py`), as in flyteadmin
(`node_execution_manager.go`). Quirks kept: Get/GetData ignore identifier validation (a bad id is simply
NOT_FOUND), ListNodeExecutions without `unique_parent_id` returns top-level nodes only.
"""

from __future__ import annotations

import sqlite3

import grpc
from flyteidl.admin import common_pb2, node_execution_pb2
from flyteidl.core import compiler_pb2, identifier_pb2

from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.executions import (
    EXECUTION_SCOPED_COLUMNS,
    EXECUTION_SCOPED_DDL,
    EXECUTIONS,
    data_response,
    execution_key,
    execution_scope,
    find_row,
    list_rows,
    require_row,
    row_execution_id,
    validate_execution_child_id,
    validate_execution_listing,
)
from flyteadmin_ops.emulator.filters import EntityTable, Join, Predicate, validate_limit
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import get_object

schema(
    f"""
    CREATE TABLE IF NOT EXISTS node_executions ({EXECUTION_SCOPED_DDL},
        node_id TEXT NOT NULL,
        phase TEXT NOT NULL,
        input_uri TEXT NOT NULL DEFAULT '',
        closure BLOB NOT NULL,
        started_at TEXT,
        node_execution_created_at TEXT,
        node_execution_updated_at TEXT,
        duration INTEGER NOT NULL DEFAULT 0,
        node_execution_metadata BLOB,
        parent_id INTEGER,
        parent_task_execution_id INTEGER,
        error_kind TEXT,
        error_code TEXT,
        cache_status TEXT,
        dynamic_workflow_remote_closure_reference TEXT NOT NULL DEFAULT '',
        internal_data BLOB,
        UNIQUE (execution_project, execution_domain, execution_name, node_id)
    )
    """
)

_SAME_EXECUTION = " AND ".join(
    f"executions.{column} = node_executions.{column}"
    for column in ("execution_project", "execution_domain", "execution_name")
)

NODE_EXECUTIONS = EntityTable(
    entity="node_execution",
    table="node_executions",
    columns=EXECUTION_SCOPED_COLUMNS
    | frozenset(
        {
            "node_id",
            "phase",
            "input_uri",
            "closure",
            "started_at",
            "node_execution_created_at",
            "node_execution_updated_at",
            "duration",
            "node_execution_metadata",
            "parent_id",
            "parent_task_execution_id",
            "error_kind",
            "error_code",
            "cache_status",
            "dynamic_workflow_remote_closure_reference",
            "internal_data",
        }
    ),
    joins={"execution": Join(EXECUTIONS.table, _SAME_EXECUTION, EXECUTIONS.columns, EXECUTIONS.renames)},
)


def node_id_of(row: sqlite3.Row) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(execution_id=row_execution_id(row), node_id=row["node_id"])


def find_node_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.NodeExecutionIdentifier
) -> sqlite3.Row | None:
    return find_row(
        conn, "node_executions", {**execution_key(identifier.execution_id), "node_id": identifier.node_id}
    )


def fetch_node_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.NodeExecutionIdentifier
) -> sqlite3.Row:
    """The stored node execution, or NOT_FOUND `missing entity of type node execution with identifier ...`."""
    return require_row(find_node_row(conn, identifier), "node execution", identifier)


def load_node_closure(row: sqlite3.Row) -> node_execution_pb2.NodeExecutionClosure:
    return node_execution_pb2.NodeExecutionClosure.FromString(row["closure"])


def node_from_row(conn: sqlite3.Connection, row: sqlite3.Row) -> node_execution_pb2.NodeExecution:
    metadata = node_execution_pb2.NodeExecutionMetaData()
    if row["node_execution_metadata"]:
        metadata.ParseFromString(row["node_execution_metadata"])
    if not metadata.is_parent_node:
        # Older propellers do not say is_parent; flyteadmin then looks for children, as done here.
        metadata.is_parent_node = (
            conn.execute("SELECT 1 FROM node_executions WHERE parent_id = ? LIMIT 1", (row["id"],)).fetchone()
            is not None
        )
    return node_execution_pb2.NodeExecution(
        id=node_id_of(row), input_uri=row["input_uri"], closure=load_node_closure(row), metadata=metadata
    )


def validate_node_execution_id(identifier: identifier_pb2.NodeExecutionIdentifier, present: bool) -> None:
    validate_execution_child_id(identifier, present, "node_id")


def list_node_rows(
    implicit: list[Predicate],
    request: node_execution_pb2.NodeExecutionListRequest | node_execution_pb2.NodeExecutionForTaskListRequest,
    conn: sqlite3.Connection,
) -> node_execution_pb2.NodeExecutionList:
    rows, token = list_rows(conn, NODE_EXECUTIONS, request, implicit, "ListNodeExecutions")
    return node_execution_pb2.NodeExecutionList(
        node_executions=[node_from_row(conn, row) for row in rows], token=token
    )


@rpc(ADMIN, "GetNodeExecution")
def get_node_execution(
    state: EmulatorState, request: node_execution_pb2.NodeExecutionGetRequest, call: CallInfo
) -> node_execution_pb2.NodeExecution:
    with state.db.read() as conn:
        return node_from_row(conn, fetch_node_row(conn, request.id))


@rpc(ADMIN, "ListNodeExecutions")
def list_node_executions(
    state: EmulatorState, request: node_execution_pb2.NodeExecutionListRequest, call: CallInfo
) -> node_execution_pb2.NodeExecutionList:
    present = request.HasField("workflow_execution_id")
    validate_execution_listing(request.workflow_execution_id, present, request.limit)
    implicit = execution_scope(NODE_EXECUTIONS, request.workflow_execution_id)
    with state.db.read() as conn:
        if request.unique_parent_id:
            parent = fetch_node_row(
                conn,
                identifier_pb2.NodeExecutionIdentifier(
                    execution_id=request.workflow_execution_id, node_id=request.unique_parent_id
                ),
            )
            implicit.append(
                Predicate("node_executions.parent_id = ?", (parent["id"],), "node_execution", "parent_id")
            )
        else:
            implicit.append(Predicate("node_executions.parent_id IS NULL", (), "node_execution", "parent_id"))
        return list_node_rows(implicit, request, conn)


@rpc(ADMIN, "ListNodeExecutionsForTask")
def list_node_executions_for_task(
    state: EmulatorState, request: node_execution_pb2.NodeExecutionForTaskListRequest, call: CallInfo
) -> node_execution_pb2.NodeExecutionList:
    from flyteadmin_ops.emulator.task_executions import fetch_task_row, validate_task_execution_id

    validate_task_execution_id(request.task_execution_id, request.HasField("task_execution_id"))
    validate_limit(request.limit)
    implicit = execution_scope(NODE_EXECUTIONS, request.task_execution_id.node_execution_id.execution_id)
    with state.db.read() as conn:
        parent = fetch_task_row(conn, request.task_execution_id)
        implicit.append(
            Predicate(
                "node_executions.parent_task_execution_id = ?",
                (parent["id"],),
                "node_execution",
                "parent_task_execution_id",
            )
        )
        return list_node_rows(implicit, request, conn)


def flyte_urls(identifier: identifier_pb2.NodeExecutionIdentifier, has_deck: bool) -> common_pb2.FlyteURLs:
    execution = identifier.execution_id
    base = f"flyte://v1/{execution.project}/{execution.domain}/{execution.name}/{identifier.node_id}"
    return common_pb2.FlyteURLs(inputs=f"{base}/i", outputs=f"{base}/o", deck=f"{base}/d" if has_deck else "")


def read_dynamic_closure(conn: sqlite3.Connection, reference: str) -> compiler_pb2.CompiledWorkflowClosure:
    data = get_object(conn, reference)
    if data is None:
        raise AdminError(
            grpc.StatusCode.INTERNAL, f"Unable to read WorkflowClosure from location {reference} : not found"
        )
    return compiler_pb2.CompiledWorkflowClosure.FromString(data)


@rpc(ADMIN, "GetNodeExecutionData")
def get_node_execution_data(
    state: EmulatorState, request: node_execution_pb2.NodeExecutionGetDataRequest, call: CallInfo
) -> node_execution_pb2.NodeExecutionGetDataResponse:
    with state.db.read() as conn:
        row = fetch_node_row(conn, request.id)
        closure = load_node_closure(row)
        response = node_execution_pb2.NodeExecutionGetDataResponse(
            flyte_urls=flyte_urls(request.id, bool(closure.deck_uri))
        )
        data_response(response, conn, row["input_uri"], closure)
        reference = row["dynamic_workflow_remote_closure_reference"]
        if reference:
            compiled = read_dynamic_closure(conn, reference)
            response.dynamic_workflow.id.CopyFrom(compiled.primary.template.id)
            response.dynamic_workflow.compiled_workflow.CopyFrom(compiled)
            response.dynamic_workflow.dynamic_job_spec_uri = closure.dynamic_job_spec_uri
    return response


@rpc(ADMIN, "GetDynamicNodeWorkflow")
def get_dynamic_node_workflow(
    state: EmulatorState, request: node_execution_pb2.GetDynamicNodeWorkflowRequest, call: CallInfo
) -> node_execution_pb2.DynamicNodeWorkflowResponse:
    with state.db.read() as conn:
        row = fetch_node_row(conn, request.id)
        reference = row["dynamic_workflow_remote_closure_reference"]
        if not reference:
            raise AdminError(grpc.StatusCode.NOT_FOUND, "node does not contain dynamic workflow")
        return node_execution_pb2.DynamicNodeWorkflowResponse(
            compiled_workflow=read_dynamic_closure(conn, reference)
        )
