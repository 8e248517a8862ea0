"""Description entities: written from task and workflow specs on create, read by Get/ListDescriptionEntities.

flyteadmin stores `spec.description` in its own table keyed like the entity version (the short description
is also copied onto the entity row); it is not part of the entity digest.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime

import grpc
from flyteidl.admin import common_pb2, description_entity_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, db_time, invalid, missing, require
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.filters import (
    PRIMARY_TABLES,
    EntityTable,
    Join,
    Predicate,
    bind,
    parse_filters,
    parse_token,
    sort_key,
    validate_limit,
)
from flyteadmin_ops.emulator.pg_values import BYTEA, INTEGER
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState

schema(
    f"""
    CREATE TABLE IF NOT EXISTS description_entities (
        id INTEGER PRIMARY KEY,
        {GORM_MODEL_DDL},
        resource_type INTEGER NOT NULL,
        project TEXT NOT NULL,
        domain TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        short_description TEXT,
        long_description BLOB,
        link TEXT,
        entity BLOB NOT NULL,
        UNIQUE (resource_type, project, domain, name, version)
    )
    """
)

# `DescriptionEntityColumns`: the table's columns, which are also its sort keys.
DESCRIPTION_COLUMNS = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "deleted_at",
        "resource_type",
        "project",
        "domain",
        "name",
        "version",
        "short_description",
        "long_description",
        "link",
    }
)
_DESCRIPTION_TYPES = {"resource_type": INTEGER, "long_description": BYTEA}
# The entity whose model flyteadmin checks ListDescriptionEntities filters against (`ResourceTypeToEntity`).
_FILTER_ENTITIES = {
    identifier_pb2.ResourceType.TASK: "task",
    identifier_pb2.ResourceType.WORKFLOW: "workflow",
    identifier_pb2.ResourceType.LAUNCH_PLAN: "launch_plan",
}


def record_description(
    conn: sqlite3.Connection,
    now: datetime,
    identifier: identifier_pb2.Identifier,
    description: description_entity_pb2.DescriptionEntity,
) -> None:
    """Store the description of a newly created task/workflow version (first write wins): the columns of
    flyteadmin's model, which is all it gives back (tags and other fields are not kept)."""
    stamp = db_time(now)
    conn.execute(
        "INSERT OR IGNORE INTO description_entities (created_at, updated_at, resource_type, "
        "project, domain, name,"
        " version, short_description, long_description, link, entity) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            stamp,
            stamp,
            identifier.resource_type,
            identifier.project,
            identifier.domain,
            identifier.name,
            identifier.version,
            description.short_description,
            description.long_description.SerializeToString(),
            description.source_code.link,
            b"",
        ),
    )


def _from_row(row: sqlite3.Row) -> description_entity_pb2.DescriptionEntity:
    """`FromDescriptionEntityModel`: the id, the short description, the long description (always present,
    perhaps empty) and a source code with the link (always present)."""
    entity = description_entity_pb2.DescriptionEntity(
        id=identifier_pb2.Identifier(
            resource_type=row["resource_type"],
            project=row["project"],
            domain=row["domain"],
            name=row["name"],
            version=row["version"],
        ),
        short_description=row["short_description"] or "",
        source_code=description_entity_pb2.SourceCode(link=row["link"] or ""),
    )
    entity.long_description.ParseFromString(row["long_description"] or b"")
    entity.long_description.SetInParent()
    return entity


@rpc(ADMIN, "GetDescriptionEntity")
def get_description_entity(
    state: EmulatorState, request: common_pb2.ObjectGetRequest, call: CallInfo
) -> description_entity_pb2.DescriptionEntity:
    """Any resource type but UNSPECIFIED, all four id fields; the lookup is by project, domain, name and
    version only (flyteadmin's repository leaves the resource type out), so a launch plan id finds the
    description of a workflow or task version of the same name."""
    identifier = request.id
    if identifier.resource_type == identifier_pb2.ResourceType.UNSPECIFIED:
        raise invalid("resource_type")
    if not request.HasField("id"):
        raise missing("id")
    require(
        project=identifier.project, domain=identifier.domain, name=identifier.name, version=identifier.version
    )
    with state.db.read() as conn:
        row = conn.execute(
            "SELECT * FROM description_entities WHERE project=? AND domain=? AND name=? AND version=?"
            " LIMIT 1",
            (identifier.project, identifier.domain, identifier.name, identifier.version),
        ).fetchone()
    if row is None:
        raise AdminError(grpc.StatusCode.NOT_FOUND, "entry not found")
    return _from_row(row)


@rpc(ADMIN, "ListDescriptionEntities")
def list_description_entities(
    state: EmulatorState, request: description_entity_pb2.DescriptionEntityListRequest, call: CallInfo
) -> description_entity_pb2.DescriptionEntityList:
    """The descriptions with the request's project, domain and name, whatever their resource type (which
    only picks the model filters are checked against; without one, filters are a server error). Filter
    fields of that model that description_entities lacks reach Postgres, which refuses them."""
    if not request.HasField("id"):
        raise missing("id")
    require(project=request.id.project, domain=request.id.domain, name=request.id.name)
    validate_limit(request.limit)
    key = {"project": request.id.project, "domain": request.id.domain, "name": request.id.name}
    predicates = [
        Predicate(f"description_entities.{column} = ?", (value,), "description_entity", column)
        for column, value in key.items()
    ]
    if request.filters:
        predicates += [_on_descriptions(p) for p in parse_filters(request.filters, _filter_table(request))]
    chosen = sort_key(request.sort_by if request.HasField("sort_by") else None, DESCRIPTION_COLUMNS)
    offset = parse_token(request.token, "ListWorkflows")  # sic: flyteadmin names ListWorkflows here
    args = bind(predicates, state.now())
    where = " AND ".join(f"({p.sql})" for p in predicates)
    order = f"ORDER BY {chosen[0]} {chosen[1]}" if chosen else ""
    with state.db.read() as conn:
        rows = conn.execute(
            f"SELECT * FROM description_entities WHERE {where} {order} LIMIT ? OFFSET ?",
            (*args, request.limit, offset),
        ).fetchall()
    token = str(offset + len(rows)) if len(rows) == request.limit else ""
    return description_entity_pb2.DescriptionEntityList(
        descriptionEntities=[_from_row(r) for r in rows], token=token
    )


def _filter_table(request: description_entity_pb2.DescriptionEntityListRequest) -> EntityTable:
    """The task/workflow/launch plan model the filters are checked against, over description_entities."""
    entity = _FILTER_ENTITIES.get(request.resource_type)
    if entity is None:
        raise AdminError(grpc.StatusCode.INTERNAL, "unsupported entity ''")
    model = PRIMARY_TABLES[entity]
    joins = {
        name: Join("description_entities", "", join.columns, types=_DESCRIPTION_TYPES)
        for name, join in model.joins.items()
    }
    return EntityTable(entity, "description_entities", model.columns, joins, types=_DESCRIPTION_TYPES)


def _on_descriptions(predicate: Predicate) -> Predicate:
    """flyteadmin applies these filters unqualified to description_entities: a column it lacks is an error."""
    if predicate.field in DESCRIPTION_COLUMNS:
        return predicate
    return replace(predicate, problem=f'column "{predicate.field}" does not exist')
