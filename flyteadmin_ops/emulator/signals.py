"""SignalService: gate-node signals (approve/input) that a workflow waits on and a user sets.

Enough of flyteadmin's `signal_manager.go` and `validation/signal_validator.go` to behave:
- GetOrCreate is gorm's `FirstOrCreate` with the id *and* the type as conditions: the same type finds the
  signal, another type tries to insert a second row with the same key and hits the primary key
  (ALREADY_EXISTS with Postgres' text), an empty type included;
- List pages with the shared filter grammar (entity `signal`);
- Set checks that the signal exists (INVALID_ARGUMENT quoting the repository's "signal does not exist"),
  that the value has a type propeller can infer, and that it fits the declared type (the message prints the
  value as Go's compact proto text and the stored type as its raw bytes).
"""

from __future__ import annotations

import sqlite3

import grpc
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, types_pb2

from flyteadmin_ops.emulator.common import INVALID, db_time, go_text, missing
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.executions import (
    EXECUTION_SCOPED_COLUMNS,
    EXECUTION_SCOPED_DDL,
    execution_key,
    execution_scope,
    find_row,
    insert_row,
    list_rows,
    take_row,
    validate_execution_child_id,
    validate_execution_listing,
)
from flyteadmin_ops.emulator.filters import EntityTable
from flyteadmin_ops.emulator.literal_types import castable, literal_type_error, literal_type_of
from flyteadmin_ops.emulator.registry import SIGNAL, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState

schema(
    f"""
    CREATE TABLE IF NOT EXISTS signals ({EXECUTION_SCOPED_DDL},
        signal_id TEXT NOT NULL,
        type BLOB NOT NULL,
        value BLOB,
        UNIQUE (execution_project, execution_domain, execution_name, signal_id)
    )
    """
)

SIGNALS = EntityTable(
    entity="signal",
    table="signals",
    columns=EXECUTION_SCOPED_COLUMNS
    | frozenset(
        {
            "signal_id",
            "type",
            "value",
        }
    ),
    types={"type": "bytea", "value": "bytea"},  # Postgres types ([]byte), for filter values
)


def _key(identifier: identifier_pb2.SignalIdentifier) -> dict[str, str]:
    return {**execution_key(identifier.execution_id), "signal_id": identifier.signal_id}


def _find(conn: sqlite3.Connection, identifier: identifier_pb2.SignalIdentifier) -> sqlite3.Row | None:
    return find_row(conn, "signals", _key(identifier))


def _signal(row: sqlite3.Row) -> signal_pb2.Signal:
    signal = signal_pb2.Signal(
        id=identifier_pb2.SignalIdentifier(
            signal_id=row["signal_id"],
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=row["execution_project"], domain=row["execution_domain"], name=row["execution_name"]
            ),
        ),
        type=types_pb2.LiteralType.FromString(row["type"]),
    )
    if row["value"]:
        signal.value.ParseFromString(row["value"])
    return signal


@rpc(SIGNAL, "GetOrCreateSignal")
def get_or_create_signal(
    state: EmulatorState, request: signal_pb2.SignalGetOrCreateRequest, call: CallInfo
) -> signal_pb2.Signal:
    validate_execution_child_id(request.id, request.HasField("id"), "signal_id")
    if not request.HasField("type"):
        raise missing("type")
    type_bytes = request.type.SerializeToString()
    with state.db.tx() as conn:
        # golang/protobuf marshals even an empty type to a non-nil (so non-zero for gorm) slice: the type is
        # always a condition
        row = take_row(conn, "signals", {**_key(request.id), "type": type_bytes})
        if row is None:
            if _find(conn, request.id) is not None:
                raise AdminError(
                    grpc.StatusCode.ALREADY_EXISTS,
                    "value with matching already exists "
                    '(duplicate key value violates unique constraint "signals_pkey")',
                )
            stamp = db_time(state.now())
            columns = {"created_at": stamp, "updated_at": stamp, **_key(request.id)}
            insert_row(conn, "signals", {**columns, "type": type_bytes})
            row = _find(conn, request.id)
        assert row is not None
        return _signal(row)


@rpc(SIGNAL, "ListSignals")
def list_signals(
    state: EmulatorState, request: signal_pb2.SignalListRequest, call: CallInfo
) -> signal_pb2.SignalList:
    present = request.HasField("workflow_execution_id")
    validate_execution_listing(request.workflow_execution_id, present, request.limit)
    implicit = execution_scope(SIGNALS, request.workflow_execution_id)
    with state.db.read() as conn:
        rows, token = list_rows(conn, SIGNALS, request, implicit, "ListSignals")
    return signal_pb2.SignalList(signals=[_signal(row) for row in rows], token=token)


def _go_key(identifier: identifier_pb2.SignalIdentifier) -> str:
    project, domain, name, signal_id = _key(identifier).values()
    return f"{{{{{project} {domain} {name}}} {signal_id}}}"


@rpc(SIGNAL, "SetSignal")
def set_signal(
    state: EmulatorState, request: signal_pb2.SignalSetRequest, call: CallInfo
) -> signal_pb2.SignalSetResponse:
    validate_execution_child_id(request.id, request.HasField("id"), "signal_id")
    if not request.HasField("value"):
        raise missing("value")
    with state.db.tx() as conn:
        row = _find(conn, request.id)
        if row is None:
            raise AdminError(
                INVALID,
                f"failed to validate that signal [{_go_key(request.id)}] exists, "
                "err: [signal does not exist]",
            )
        value_type = literal_type_of(request.value)
        problem = literal_type_error(value_type)
        if value_type is None or problem is not None:
            raise AdminError(INVALID, f"Failed to validate literal type for [] with err: {problem}")
        declared = types_pb2.LiteralType.FromString(row["type"])
        # flyteadmin casts the other way round: the declared type "upstream", the value's "downstream".
        if not castable(declared, value_type):
            type_bytes = " ".join(str(byte) for byte in row["type"])
            raise AdminError(
                INVALID,
                f"requested signal value [{go_text(request.value)}] is not castable to existing signal type "
                f"[[{type_bytes}]]",
            )
        conn.execute(
            "UPDATE signals SET value = ?, updated_at = ? WHERE id = ?",
            (request.value.SerializeToString(), db_time(state.now()), row["id"]),
        )
    return signal_pb2.SignalSetResponse()
