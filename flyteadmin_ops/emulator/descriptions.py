"""Description entities: written from task and workflow specs on create, read by Get/ListDescriptionEntities.

flyteadmin stores `spec.description` in its own table keyed like the entity version (the short description
is also copied onto the entity row); it is not part of the entity digest.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from flyteidl.admin import common_pb2, description_entity_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, db_time, invalid, not_found_entity, require
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.filters import EntityTable, identifier_predicates, page_of_request
from flyteadmin_ops.emulator.registry import ADMIN, CallInfo, rpc
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

DESCRIPTIONS = EntityTable(
    entity="description_entity",
    table="description_entities",
    columns=frozenset(
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
    ),
)

_DESCRIBED_TYPES = (identifier_pb2.ResourceType.TASK, identifier_pb2.ResourceType.WORKFLOW)


def record_description(
    conn: sqlite3.Connection,
    now: datetime,
    identifier: identifier_pb2.Identifier,
    description: description_entity_pb2.DescriptionEntity,
) -> None:
    """Store the description of a newly created task/workflow version (first write wins)."""
    entity = description_entity_pb2.DescriptionEntity()
    entity.CopyFrom(description)
    entity.id.CopyFrom(identifier)
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
            entity.SerializeToString(),
        ),
    )


@rpc(ADMIN, "GetDescriptionEntity")
def get_description_entity(
    state: EmulatorState, request: common_pb2.ObjectGetRequest, call: CallInfo
) -> description_entity_pb2.DescriptionEntity:
    identifier = request.id
    if identifier.resource_type not in _DESCRIBED_TYPES:
        raise invalid("resource_type")
    require(
        project=identifier.project, domain=identifier.domain, name=identifier.name, version=identifier.version
    )
    with state.db.read() as conn:
        row = conn.execute(
            "SELECT entity FROM description_entities WHERE resource_type=? AND project=? AND "
            "domain=? AND name=?"
            " AND version=?",
            (
                identifier.resource_type,
                identifier.project,
                identifier.domain,
                identifier.name,
                identifier.version,
            ),
        ).fetchone()
    if row is None:
        raise not_found_entity("DESCRIPTION_ENTITY", identifier)
    return description_entity_pb2.DescriptionEntity.FromString(row["entity"])


@rpc(ADMIN, "ListDescriptionEntities")
def list_description_entities(
    state: EmulatorState, request: description_entity_pb2.DescriptionEntityListRequest, call: CallInfo
) -> description_entity_pb2.DescriptionEntityList:
    if request.resource_type not in _DESCRIBED_TYPES:
        raise invalid("resource_type")
    require(project=request.id.project, domain=request.id.domain, name=request.id.name)
    implicit = identifier_predicates(
        DESCRIPTIONS, project=request.id.project, domain=request.id.domain, name=request.id.name
    )
    implicit += identifier_predicates(DESCRIPTIONS, resource_type=str(request.resource_type))
    with state.db.read() as conn:
        rows, token = page_of_request(
            conn, DESCRIPTIONS, request, list_name="ListDescriptionEntities", implicit=implicit
        )
    entities = [description_entity_pb2.DescriptionEntity.FromString(r["entity"]) for r in rows]
    return description_entity_pb2.DescriptionEntityList(descriptionEntities=entities, token=token)
