"""Named entities: virtual rows over the distinct names of tasks, workflows and launch plans, plus metadata.

In flyteadmin (`named_entity_manager.go`, `gormimpl/named_entity_repo.go`) a named entity exists as soon as a
version of it exists; `named_entity_metadata` only stores the optional description and state (absent row =
"" and ACTIVE). Listing pages over the names first and joins metadata afterwards, so metadata filters can
give short pages; with no filters at all, the generated `.flytegen` names are hidden.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import grpc
from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, INVALID, db_time, invalid, missing, require
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.filters import (
    VARCHAR_300,
    EntityTable,
    Join,
    Predicate,
    bind,
    parse_filters,
    parse_token,
    sort_key,
    validate_limit,
)
from flyteadmin_ops.emulator.pg_values import INTEGER, PgError
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
# `NamedEntityMetadataColumns`: what `named_entity_metadata.x` filters may name.
_METADATA_COLUMNS = _METADATA_FIELDS | frozenset({"id", "created_at", "updated_at", "deleted_at"})
_METADATA_TYPES = {"resource_type": INTEGER, "state": INTEGER, "description": VARCHAR_300}
# The list query pages over the names (the subquery `entities`) and left-joins their metadata; filters on
# `description`/`state` are the metadata's (flyteadmin's `customizeEntity`), `entities` has no resource_type.
_NAMED_ENTITIES = EntityTable(
    entity="entities",
    table="entities",
    columns=_METADATA_FIELDS,
    joins={
        "named_entity_metadata": Join("named_entity_metadata", "", _METADATA_COLUMNS, types=_METADATA_TYPES)
    },
    types=_METADATA_TYPES,
)
_DESCRIPTION_MAX = 300  # named_entity_metadata.description is a varchar(300)
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
        raise AdminError(
            INVALID, f"Cannot get NamedEntityMetadata for resource type: {_go_enum(resource_type)}"
        )
    return table


def _go_enum(resource_type: int) -> str:
    """Go's `%v` of a core.ResourceType: its name, or the number for a value the enum does not know."""
    try:
        return ResourceType.Name(resource_type)
    except ValueError:
        return str(resource_type)


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
        if len(request.metadata.description) > _DESCRIPTION_MAX:  # Postgres counts characters
            raise PgError(f"value too long for type {VARCHAR_300}")
        upsert_metadata(conn, state, request.resource_type, request.id, request.metadata)
    return common_pb2.NamedEntityUpdateResponse()


@rpc(ADMIN, "ListNamedEntities")
def list_named_entities(
    state: EmulatorState, request: common_pb2.NamedEntityListRequest, call: CallInfo
) -> common_pb2.NamedEntityList:
    """flyteadmin's query: a page (limit, offset, sort) of the distinct names of the kind's table, then the
    metadata left-joined to it, then every filter applied to that page, so filters can give short pages.
    With no filters at all, `not_like(name,.flytegen%)` hides the generated names."""
    require(project=request.project, domain=request.domain)
    if request.resource_type == ResourceType.UNSPECIFIED:
        raise invalid("resource_type")
    validate_limit(request.limit)
    filters = request.filters or "not_like(name,.flytegen%)"
    predicates = [_on_page(p) for p in parse_filters(filters, _NAMED_ENTITIES)]
    chosen = sort_key(request.sort_by if request.HasField("sort_by") else None, _NAMED_ENTITIES.columns)
    offset = parse_token(request.token, "ListNamedEntities")
    table = _TABLES.get(request.resource_type)
    if table is None:
        raise AdminError(
            INVALID, f"Cannot list entity names for resource type: {_go_enum(request.resource_type)}"
        )
    order = outer_order = ""
    if chosen is not None:
        key, direction = chosen
        _check_name_sort(key, table)
        order, outer_order = f"ORDER BY {key} {direction}", f"ORDER BY entities.{key} {direction}"
    args = bind(predicates, state.now())
    where = " AND ".join(f"({p.sql})" for p in predicates) or "1"
    sql = (
        "SELECT entities.project, entities.domain, entities.name, named_entity_metadata.description,"
        " named_entity_metadata.state FROM (SELECT project, domain, name FROM"
        f" {table} WHERE project = ? AND domain = ? GROUP BY project, domain, name {order} LIMIT ? OFFSET ?)"
        " AS entities LEFT JOIN named_entity_metadata ON named_entity_metadata.resource_type = ?"
        " AND named_entity_metadata.project = entities.project AND named_entity_metadata.domain ="
        " entities.domain AND named_entity_metadata.name = entities.name"
        f" WHERE {where} {outer_order}"
    )
    params = [request.project, request.domain, request.limit, offset, request.resource_type, *args]
    with state.db.read() as conn:
        rows = conn.execute(sql, params).fetchall()
    token = str(offset + len(rows)) if len(rows) == request.limit else ""
    return common_pb2.NamedEntityList(
        entities=[_row_to_entity(r, request.resource_type) for r in rows], token=token
    )


def _on_page(predicate: Predicate) -> Predicate:
    """A parsed filter as flyteadmin applies it to the joined page: description/state are the metadata's
    (a state defaults to ACTIVE: `COALESCE(named_entity_metadata.state, 0)`), and the page has no
    resource_type column."""
    if predicate.entity == "entities" and predicate.field in ("description", "state"):
        predicate = replace(
            predicate,
            sql=predicate.sql.replace(
                f"entities.{predicate.field}", f"named_entity_metadata.{predicate.field}"
            ),
            entity="named_entity_metadata",
        )
    elif predicate.entity == "entities" and predicate.field == "resource_type":
        predicate = replace(predicate, problem="column entities.resource_type does not exist")
    if "state" in predicate.field:
        column = f"named_entity_metadata.{predicate.field}"
        predicate = replace(predicate, sql=predicate.sql.replace(column, f"COALESCE({column}, 0)"))
    return predicate


def _check_name_sort(key: str, table: str) -> None:
    """The sort applies to the grouped name subquery of `table`: Postgres takes only project, domain and
    name there; another column of the table is not grouped, and the metadata's columns are not in it."""
    if key in ("project", "domain", "name"):
        return
    if key == "state" and table == "launch_plans":
        raise PgError(
            f'column "{table}.{key}" must appear in the GROUP BY clause or be used in an aggregate function'
        )
    raise PgError(f'column "{key}" does not exist')
