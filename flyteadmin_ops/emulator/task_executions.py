"""AdminService task executions (attempts of a task node): get, list, data.

Task executions are created and advanced only by task events (`events.py`), as in flyteadmin
(`task_execution_manager.go`). GetTaskExecutionData validates the identifier (it goes through
GetTaskExecution), and its flyte URLs name the attempt's retry.
"""

from __future__ import annotations

import sqlite3

from flyteidl.admin import common_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.emulator.common import INVALID, go_text, missing
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
)
from flyteadmin_ops.emulator.filters import EntityTable, Join, Predicate, validate_limit
from flyteadmin_ops.emulator.node_executions import (
    NODE_EXECUTIONS,
    list_node_rows,
    node_model_key,
    validate_node_execution_id,
)
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.tasks import TASKS

schema(
    f"""
    CREATE TABLE IF NOT EXISTS task_executions ({EXECUTION_SCOPED_DDL},
        project TEXT NOT NULL,
        domain TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        node_id TEXT NOT NULL,
        retry_attempt INTEGER NOT NULL,
        phase TEXT NOT NULL,
        phase_version INTEGER NOT NULL DEFAULT 0,
        input_uri TEXT NOT NULL DEFAULT '',
        closure BLOB NOT NULL,
        started_at TEXT,
        task_execution_created_at TEXT,
        task_execution_updated_at TEXT,
        duration INTEGER NOT NULL DEFAULT 0,
        UNIQUE (project, domain, name, version, execution_project, execution_domain, execution_name, node_id,
                retry_attempt)
    )
    """
)

_EXECUTION_KEY = ("execution_project", "execution_domain", "execution_name")

TASK_EXECUTIONS = EntityTable(
    entity="task_execution",
    table="task_executions",
    columns=EXECUTION_SCOPED_COLUMNS
    | frozenset(
        {
            "project",
            "domain",
            "name",
            "version",
            "node_id",
            "retry_attempt",
            "phase",
            "phase_version",
            "input_uri",
            "closure",
            "started_at",
            "task_execution_created_at",
            "task_execution_updated_at",
            "duration",
        }
    ),
    joins={
        "task": Join(
            TASKS.table,
            " AND ".join(
                f"{TASKS.table}.{c} = task_executions.{c}" for c in ("project", "domain", "name", "version")
            ),
            TASKS.columns,
            TASKS.renames,
            types=TASKS.types,
        ),
        "execution": Join(
            EXECUTIONS.table,
            " AND ".join(f"executions.{c} = task_executions.{c}" for c in _EXECUTION_KEY),
            EXECUTIONS.columns,
            EXECUTIONS.renames,
            types=EXECUTIONS.types,
        ),
        "node_execution": Join(
            NODE_EXECUTIONS.table,
            " AND ".join(f"node_executions.{c} = task_executions.{c}" for c in (*_EXECUTION_KEY, "node_id")),
            NODE_EXECUTIONS.columns,
            NODE_EXECUTIONS.renames,
            types=NODE_EXECUTIONS.types,
        ),
    },
    # flyteadmin's `customizeField`: on task executions, project/domain/name mean the execution's.
    renames={"project": "execution_project", "domain": "execution_domain", "name": "execution_name"},
    # Postgres types of the columns that are not text or timestamps (gorm: uint32 -> bigint, []byte -> bytea).
    types={"retry_attempt": "bigint", "phase_version": "bigint", "closure": "bytea", "duration": "bigint"},
)


def validate_task_execution_id(identifier: identifier_pb2.TaskExecutionIdentifier, present: bool) -> None:
    """`ValidateTaskExecutionIdentifier`: id, node execution id, task id (a TASK identifier with 4 fields)."""
    if not present:
        raise missing("id")
    if not identifier.HasField("node_execution_id"):
        raise missing("node_execution_id")
    validate_node_execution_id(identifier.node_execution_id, True)
    if not identifier.HasField("task_id"):
        raise missing("task_id")
    validate_task_id(identifier.task_id)


def validate_task_id(task: identifier_pb2.Identifier) -> None:
    """`ValidateIdentifier(id, Task)`: a TASK identifier with project, domain, name and version."""
    if task.resource_type != identifier_pb2.ResourceType.TASK:
        kind = identifier_pb2.ResourceType.Name(task.resource_type).lower()
        raise AdminError(
            INVALID,
            f"unexpected resource type {kind} for identifier [{go_text(task)}], expected task instead",
        )
    for field in ("project", "domain", "name", "version"):
        if not getattr(task, field):
            raise missing(field)


def task_key(identifier: identifier_pb2.TaskExecutionIdentifier) -> dict[str, object]:
    """The unique key columns of one attempt: task version, node execution and retry attempt."""
    task, node = identifier.task_id, identifier.node_execution_id
    return {
        "project": task.project,
        "domain": task.domain,
        "name": task.name,
        "version": task.version,
        **execution_key(node.execution_id),
        "node_id": node.node_id,
        "retry_attempt": identifier.retry_attempt,
    }


def task_model_key(
    identifier: identifier_pb2.TaskExecutionIdentifier,
) -> identifier_pb2.TaskExecutionIdentifier:
    """The identifier NOT_FOUND prints: the model's key fields only, so no task `resource_type`, no `org` and
    no `retry_attempt` (flyteadmin's repository rebuilds the identifier without them)."""
    task = identifier.task_id
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            project=task.project, domain=task.domain, name=task.name, version=task.version
        ),
        node_execution_id=node_model_key(identifier.node_execution_id),
    )


def find_task_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.TaskExecutionIdentifier
) -> sqlite3.Row | None:
    """The attempt `TaskExecutionRepo.Get` finds (see `take_row`: empty parts match anything)."""
    return take_row(conn, "task_executions", task_key(identifier))


def fetch_task_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.TaskExecutionIdentifier
) -> sqlite3.Row:
    """The stored attempt, or NOT_FOUND `missing entity of type task execution with identifier ...`."""
    return require_row(find_task_row(conn, identifier), "task execution", task_model_key(identifier))


def task_execution_id_of(row: sqlite3.Row) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.ResourceType.TASK,
            project=row["project"],
            domain=row["domain"],
            name=row["name"],
            version=row["version"],
        ),
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            execution_id=row_execution_id(row), node_id=row["node_id"]
        ),
        retry_attempt=row["retry_attempt"],
    )


def load_task_closure(row: sqlite3.Row) -> task_execution_pb2.TaskExecutionClosure:
    return task_execution_pb2.TaskExecutionClosure.FromString(row["closure"])


def task_from_row(conn: sqlite3.Connection, row: sqlite3.Row) -> task_execution_pb2.TaskExecution:
    is_parent = (
        conn.execute(
            "SELECT 1 FROM node_executions WHERE parent_task_execution_id = ? LIMIT 1", (row["id"],)
        ).fetchone()
        is not None
    )
    return task_execution_pb2.TaskExecution(
        id=task_execution_id_of(row),
        input_uri=row["input_uri"],
        closure=load_task_closure(row),
        is_parent=is_parent,
    )


def validated_task_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.TaskExecutionIdentifier, present: bool
) -> sqlite3.Row:
    """`GetTaskExecution`'s lookup, which GetTaskExecutionData goes through too: validate, then fetch."""
    validate_task_execution_id(identifier, present)
    return fetch_task_row(conn, identifier)


@rpc(ADMIN, "GetTaskExecution")
def get_task_execution(
    state: EmulatorState, request: task_execution_pb2.TaskExecutionGetRequest, call: CallInfo
) -> task_execution_pb2.TaskExecution:
    with state.db.read() as conn:
        return task_from_row(conn, validated_task_row(conn, request.id, request.HasField("id")))


@rpc(ADMIN, "ListTaskExecutions")
def list_task_executions(
    state: EmulatorState, request: task_execution_pb2.TaskExecutionListRequest, call: CallInfo
) -> task_execution_pb2.TaskExecutionList:
    validate_node_execution_id(request.node_execution_id, request.HasField("node_execution_id"))
    validate_limit(request.limit)
    node = request.node_execution_id
    implicit = execution_scope(TASK_EXECUTIONS, node.execution_id, node_id=node.node_id)
    with state.db.read() as conn:
        rows, token = list_rows(conn, TASK_EXECUTIONS, request, implicit, "ListTaskExecutions")
        return task_execution_pb2.TaskExecutionList(
            task_executions=[task_from_row(conn, row) for row in rows], token=token
        )


def task_flyte_urls(identifier: identifier_pb2.TaskExecutionIdentifier) -> common_pb2.FlyteURLs:
    """`FlyteURLsFromTaskExecutionID` of the request's id: `flyte://v1/<p>/<d>/<exec>/<node>/<retry>/{i,o}`;
    flyteadmin never sets the deck URL of an attempt."""
    node = identifier.node_execution_id
    execution = node.execution_id
    base = (
        f"flyte://v1/{execution.project}/{execution.domain}/{execution.name}/{node.node_id}/"
        f"{identifier.retry_attempt}"
    )
    return common_pb2.FlyteURLs(inputs=f"{base}/i", outputs=f"{base}/o")


@rpc(ADMIN, "GetTaskExecutionData")
def get_task_execution_data(
    state: EmulatorState, request: task_execution_pb2.TaskExecutionGetDataRequest, call: CallInfo
) -> task_execution_pb2.TaskExecutionGetDataResponse:
    with state.db.read() as conn:
        row = validated_task_row(conn, request.id, request.HasField("id"))
        response = task_execution_pb2.TaskExecutionGetDataResponse(flyte_urls=task_flyte_urls(request.id))
        return data_response(response, conn, row["input_uri"], load_task_closure(row))


@rpc(ADMIN, "ListNodeExecutionsForTask")
def list_node_executions_for_task(
    state: EmulatorState, request: node_execution_pb2.NodeExecutionForTaskListRequest, call: CallInfo
) -> node_execution_pb2.NodeExecutionList:
    """Node executions a task attempt launched (dynamic tasks): served here, beside the attempts, so that node
    executions need not know about task executions."""
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
