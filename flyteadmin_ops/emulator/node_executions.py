"""AdminService node executions: get, list (top level or under a parent), list for a task, data, dynamic.

Node executions are created and advanced only by node events (`events.py`), as in flyteadmin
(`node_execution_manager.go`). Quirks kept: Get/GetData only log identifier validation errors, and the
lookup ignores empty identifier parts (a partial id finds some node execution, see `take_row`);
ListNodeExecutions without `unique_parent_id` returns top-level nodes only (launched by neither a node nor a
task); the task-launched ones are listed by ListNodeExecutionsForTask, in `task_executions.py`.
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
    list_rows,
    require_row,
    row_execution_id,
    take_row,
    trim_error_message,
    validate_execution_child_id,
    validate_execution_listing,
)
from flyteadmin_ops.emulator.filters import EntityTable, Join, Predicate
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
    joins={
        "execution": Join(
            EXECUTIONS.table,
            _SAME_EXECUTION,
            EXECUTIONS.columns,
            EXECUTIONS.renames,
            types=EXECUTIONS.types,
        )
    },
    # Postgres types of the columns that are not text or timestamps (gorm: *uint -> bigint, []byte -> bytea).
    types={
        "closure": "bytea",
        "node_execution_metadata": "bytea",
        "internal_data": "bytea",
        "duration": "bigint",
        "parent_id": "bigint",
        "parent_task_execution_id": "bigint",
    },
)


# `isParent` map filter of ListNodeExecutions without a parent: nodes launched by neither a node nor a task.
TOP_LEVEL = (
    Predicate("node_executions.parent_id IS NULL", (), "node_execution", "parent_id"),
    Predicate(
        "node_executions.parent_task_execution_id IS NULL", (), "node_execution", "parent_task_execution_id"
    ),
)


def node_id_of(row: sqlite3.Row) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(execution_id=row_execution_id(row), node_id=row["node_id"])


def node_model_key(
    identifier: identifier_pb2.NodeExecutionIdentifier,
) -> identifier_pb2.NodeExecutionIdentifier:
    """The identifier as flyteadmin's node execution model holds it (no `org`): what NOT_FOUND prints."""
    execution = identifier.execution_id
    return identifier_pb2.NodeExecutionIdentifier(
        node_id=identifier.node_id,
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project=execution.project, domain=execution.domain, name=execution.name
        ),
    )


def find_node_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.NodeExecutionIdentifier
) -> sqlite3.Row | None:
    """The node execution `NodeExecutionRepo.Get` finds: empty parts of the identifier match anything."""
    return take_row(
        conn, "node_executions", {**execution_key(identifier.execution_id), "node_id": identifier.node_id}
    )


def fetch_node_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.NodeExecutionIdentifier
) -> sqlite3.Row:
    """The stored node execution, or NOT_FOUND `missing entity of type node execution with identifier ...`."""
    return require_row(find_node_row(conn, identifier), "node execution", node_model_key(identifier))


def load_node_closure(row: sqlite3.Row) -> node_execution_pb2.NodeExecutionClosure:
    return node_execution_pb2.NodeExecutionClosure.FromString(row["closure"])


def node_from_row(
    conn: sqlite3.Connection, row: sqlite3.Row, *, for_list: bool = False
) -> node_execution_pb2.NodeExecution:
    """`transformNodeExecutionModel` + `FromNodeExecutionModel`.

    Propellers that predate event versions did not say `is_parent`/`is_dynamic`; flyteadmin then infers them
    from child node executions, which it has loaded for a list, and for a single node only when the node's
    events carried no event version. Lists trim error messages.
    """
    metadata = node_execution_pb2.NodeExecutionMetaData()
    if row["node_execution_metadata"]:
        metadata.ParseFromString(row["node_execution_metadata"])
    children_loaded = for_list or event_version(row["internal_data"]) == 0
    if children_loaded and not (metadata.is_parent_node or metadata.is_dynamic):
        has_children = (
            conn.execute("SELECT 1 FROM node_executions WHERE parent_id = ? LIMIT 1", (row["id"],)).fetchone()
            is not None
        )
        if has_children:
            metadata.is_parent_node = True
            metadata.is_dynamic = bool(row["dynamic_workflow_remote_closure_reference"])
    closure = load_node_closure(row)
    if for_list:
        trim_error_message(closure)
    return node_execution_pb2.NodeExecution(
        id=node_id_of(row), input_uri=row["input_uri"], closure=closure, metadata=metadata
    )


def internal_data(version: int) -> bytes:
    """flyteadmin's `NodeExecutionInternalData{event_version}` (its own message, field 1, a varint)."""
    if not version:
        return b""
    varint = bytearray()
    while True:
        byte, version = version & 0x7F, version >> 7
        varint.append(byte | (0x80 if version else 0))
        if not version:
            return bytes([0x08, *varint])


def event_version(data: bytes | None) -> int:
    """The event version `internal_data` holds (0 when empty)."""
    if not data or data[0] != 0x08:
        return 0
    value = 0
    for shift, byte in enumerate(data[1:]):
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            break
    return value


def validate_node_execution_id(identifier: identifier_pb2.NodeExecutionIdentifier, present: bool) -> None:
    validate_execution_child_id(identifier, present, "node_id")


def list_node_rows(
    implicit: list[Predicate],
    request: node_execution_pb2.NodeExecutionListRequest | node_execution_pb2.NodeExecutionForTaskListRequest,
    conn: sqlite3.Connection,
) -> node_execution_pb2.NodeExecutionList:
    rows, token = list_rows(conn, NODE_EXECUTIONS, request, implicit, "ListNodeExecutions")
    return node_execution_pb2.NodeExecutionList(
        node_executions=[node_from_row(conn, row, for_list=True) for row in rows], token=token
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
            implicit.extend(TOP_LEVEL)
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
