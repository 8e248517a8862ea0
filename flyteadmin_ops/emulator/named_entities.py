"""Named entities: virtual rows over the distinct names of tasks, workflows and launch plans, plus metadata.

In flyteadmin (`named_entity_manager.go`, `gormimpl/named_entity_repo.go`) a named entity exists as soon as a
version of it exists; `named_entity_metadata` only stores the optional description and state (absent row =
"" and ACTIVE). Listing pages over the names first and joins metadata afterwards, so metadata filters can
give short pages; with no filters at all, the generated `.flytegen` names are hidden.
"""

from __future__ import annotations

import sqlite3

import grpc
from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, INVALID, db_time, invalid, missing, require
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.filters import (
    EntityTable,
    Join,
    parse_filters,
    parse_token,
    sort_clause,
    validate_limit,
)
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState

schema(
    f"""
    CREATE TABLE IF NOT EXISTS named_entity_metadata (
        {GORM_MODEL_DDL},
        resource_type INTEGER NOT NULL,
        project TEXT NOT NULL,
        domain TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        state INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (resource_type, project, domain, name)
    )
    """
)

ResourceType = identifier_pb2.ResourceType
_TABLES = {
    ResourceType.TASK: "tasks",
    ResourceType.WORKFLOW: "workflows",
    ResourceType.LAUNCH_PLAN: "launch_plans",
}
_METADATA_FIELDS = frozenset({"resource_type", "project", "domain", "name", "description", "state"})
_NAMED_ENTITIES = EntityTable(
    entity="entities",
    table="e",
    columns=_METADATA_FIELDS,
    joins={"named_entity_metadata": Join("m", "", _METADATA_FIELDS)},
)
SYSTEM_GENERATED = common_pb2.SYSTEM_GENERATED


def upsert_metadata(
    conn: sqlite3.Connection,
    state: EmulatorState,
    resource_type: int,
    identifier: common_pb2.NamedEntityIdentifier,
    metadata: common_pb2.NamedEntityMetadata,
) -> None:
    """gorm `FirstOrCreate` + `Assign`: create or replace the description and state of one name."""
    now = db_time(state.now())
    conn.execute(
        "INSERT INTO named_entity_metadata (created_at, updated_at, resource_type, project, domain, name,"
        " description, state) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (resource_type, project, domain, name)"
        " DO UPDATE SET description = excluded.description, state = excluded.state, updated_at = "
        "excluded.updated_at",
        (
            now,
            now,
            resource_type,
            identifier.project,
            identifier.domain,
            identifier.name,
            metadata.description,
            metadata.state,
        ),
    )


def _validate_request(resource_type: int, identifier: common_pb2.NamedEntityIdentifier) -> None:
    if resource_type == ResourceType.UNSPECIFIED:
        raise invalid("resource_type")
    require(project=identifier.project, domain=identifier.domain, name=identifier.name)


def _table_of(resource_type: int) -> str:
    """Only tasks, workflows and launch plans have names to look up (a DATASET has none)."""
    table = _TABLES.get(resource_type)
    if table is None:
        raise AdminError(INVALID, "Cannot get NamedEntityMetadata for resource type")
    return table


def _get(
    conn: sqlite3.Connection, resource_type: int, identifier: common_pb2.NamedEntityIdentifier, table: str
) -> common_pb2.NamedEntity:
    row = conn.execute(
        f"SELECT e.project, e.domain, e.name, m.description, m.state FROM {table} e LEFT JOIN "
        f"named_entity_metadata m"
        " ON m.resource_type = ? AND m.project = e.project AND m.domain = e.domain AND m.name = e.name"
        " WHERE e.project = ? AND e.domain = ? AND e.name = ? LIMIT 1",
        (resource_type, identifier.project, identifier.domain, identifier.name),
    ).fetchone()
    if row is None:
        raise AdminError(grpc.StatusCode.NOT_FOUND, "entry not found")
    return _row_to_entity(row, resource_type)


def _row_to_entity(row: sqlite3.Row, resource_type: int) -> common_pb2.NamedEntity:
    return common_pb2.NamedEntity(
        resource_type=resource_type,
        id=common_pb2.NamedEntityIdentifier(project=row["project"], domain=row["domain"], name=row["name"]),
        metadata=common_pb2.NamedEntityMetadata(
            description=row["description"] or "", state=row["state"] or 0
        ),
    )


@rpc(ADMIN, "GetNamedEntity")
def get_named_entity(
    state: EmulatorState, request: common_pb2.NamedEntityGetRequest, call: CallInfo
) -> common_pb2.NamedEntity:
    _validate_request(request.resource_type, request.id)
    table = _table_of(request.resource_type)
    with state.db.read() as conn:
        return _get(conn, request.resource_type, request.id, table)


@rpc(ADMIN, "UpdateNamedEntity")
def update_named_entity(
    state: EmulatorState, request: common_pb2.NamedEntityUpdateRequest, call: CallInfo
) -> common_pb2.NamedEntityUpdateResponse:
    # flyteadmin's order: the request's own checks, metadata present, the state rule, then the lookup.
    _validate_request(request.resource_type, request.id)
    if not request.HasField("metadata"):
        raise missing("metadata")
    if request.resource_type not in _TABLES and request.metadata.state != common_pb2.NAMED_ENTITY_ACTIVE:
        name = ResourceType.Name(request.resource_type)
        raise AdminError(INVALID, f"Resource [{name}] cannot have its state updated")
    table = _table_of(request.resource_type)
    with state.db.tx() as conn:
        _get(conn, request.resource_type, request.id, table)
        upsert_metadata(conn, state, request.resource_type, request.id, request.metadata)
    return common_pb2.NamedEntityUpdateResponse()


def _as_number(value: object) -> object:
    try:
        return int(str(value))
    except ValueError:
        return value


@rpc(ADMIN, "ListNamedEntities")
def list_named_entities(
    state: EmulatorState, request: common_pb2.NamedEntityListRequest, call: CallInfo
) -> common_pb2.NamedEntityList:
    require(project=request.project, domain=request.domain)
    if request.resource_type == ResourceType.UNSPECIFIED:
        raise invalid("resource_type")
    validate_limit(request.limit)
    table = _TABLES.get(request.resource_type)
    if table is None:
        raise AdminError(INVALID, "Cannot list NamedEntityMetadata for resource type")
    inner, outer = [], []
    for predicate in parse_filters(request.filters, _NAMED_ENTITIES):
        if predicate.entity == "named_entity_metadata" or predicate.field in ("description", "state"):
            column = "COALESCE(m.state, 0)" if predicate.field == "state" else f"m.{predicate.field}"
            sql = predicate.sql.replace(f"m.{predicate.field}", column).replace(
                f"e.{predicate.field}", column
            )
            # COALESCE has no column affinity: compare states as numbers, as Postgres would.
            values = (
                tuple(_as_number(a) for a in predicate.args) if predicate.field == "state" else predicate.args
            )
            outer.append((sql, values))
        else:
            inner.append((predicate.sql, predicate.args))
    if not request.filters:
        inner.append(("e.name NOT GLOB ?", (".flytegen*",)))  # flyteadmin: not_like(name,.flytegen%)
    sort = request.sort_by if request.HasField("sort_by") else None
    order = sort_clause(sort, _NAMED_ENTITIES)
    offset = parse_token(request.token, "ListNamedEntities")
    inner_where = " AND ".join(["e.project = ?", "e.domain = ?", *(f"({s})" for s, _ in inner)])
    outer_where = " AND ".join(f"({s})" for s, _ in outer) or "1"
    outer_order = order if sort is not None and sort.key in ("description", "state") else ""
    outer_order = outer_order.replace("e.description", "m.description").replace("e.state", "m.state")
    inner_order = "" if outer_order else order
    sql = (
        f"SELECT e.* , m.description, m.state FROM (SELECT e.project, e.domain, e.name FROM ("
        f" SELECT DISTINCT project, domain, name, {int(request.resource_type)} AS resource_type FROM {table}"
        f") e WHERE {inner_where} {inner_order} LIMIT ? OFFSET ?) e LEFT JOIN named_entity_metadata m"
        " ON m.resource_type = ? AND m.project = e.project AND m.domain = e.domain AND m.name = e.name"
        f" WHERE {outer_where} {outer_order}"
    )
    args: list[object] = [request.project, request.domain, *(a for _, args in inner for a in args)]
    args += [request.limit, offset, request.resource_type, *(a for _, args in outer for a in args)]
    with state.db.read() as conn:
        rows = conn.execute(sql, args).fetchall()
    # flyteadmin pages over the name subquery: the token reflects the subquery page, not the joined rows.
    token = str(offset + request.limit) if len(rows) == request.limit else ""
    return common_pb2.NamedEntityList(
        entities=[_row_to_entity(r, request.resource_type) for r in rows], token=token
    )
