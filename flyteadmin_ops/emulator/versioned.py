"""What tasks, workflows and launch plans share: versioned rows keyed by (project, domain, name, version).

flyteadmin's three repos differ only in table, resource type and proto; their Get, List and List*Ids RPCs
share validation order, implicit filters, messages and paging. :class:`VersionedKind` describes one of them,
and the functions here implement those RPCs once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from flyteidl.admin import common_pb2
from flyteidl.admin.description_entity_pb2 import DescriptionEntity
from flyteidl.core import identifier_pb2
from google.protobuf.message import Message

from flyteadmin_ops.emulator.common import (
    GORM_MODEL_DDL,
    INVALID,
    db_time,
    go_text,
    missing,
    not_found_entity,
    require,
)
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.descriptions import record_description
from flyteadmin_ops.emulator.digest import digest, structure_diff
from flyteadmin_ops.emulator.filters import (
    EntityTable,
    Join,
    identifier_predicates,
    page_of_request,
    parse_token,
    sort_clause,
    validate_limit,
)
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState

ResourceType = identifier_pb2.ResourceType
VERSIONED_COLUMNS = frozenset(
    {"id", "created_at", "updated_at", "deleted_at", "project", "domain", "name", "version", "digest"}
)


def versioned_table(
    entity: str,
    table: str,
    extra_columns: Mapping[str, str],
    *,
    unfilterable: frozenset[str] = frozenset(),
    joins: Mapping[str, Join] | None = None,
) -> EntityTable:
    """Declare the table of one versioned kind (the shared key and gorm columns plus `extra_columns`, name ->
    SQL type) and describe it for filters: every column is filterable except `unfilterable` ones, which
    flyteadmin keeps outside its model (a workflow's closure lives in blob storage)."""
    extra = ",\n        ".join(f"{column} {sql_type}" for column, sql_type in extra_columns.items())
    schema(
        f"""
    CREATE TABLE IF NOT EXISTS {table} (
        id INTEGER PRIMARY KEY,
        {GORM_MODEL_DDL},
        project TEXT NOT NULL,
        domain TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        {extra},
        UNIQUE (project, domain, name, version)
    );
    CREATE INDEX IF NOT EXISTS {table}_by_name ON {table} (project, domain, name)
    """
    )
    columns = VERSIONED_COLUMNS | (frozenset(extra_columns) - unfilterable)
    return EntityTable(entity=entity, table=table, columns=columns, joins=joins or {})


def compiled_entity(
    entity_class: type[Message], template_of: Callable[[Any], Any]
) -> Callable[[sqlite3.Row], Message]:
    """How tasks and workflows are read back: the stored closure as it was compiled, the short description
    column, and the id of the compiled template (which CreateTask/CreateWorkflow set to the request id)."""

    def to_proto(row: sqlite3.Row) -> Message:
        entity: Any = entity_class(short_description=row["short_description"] or "")
        entity.closure.ParseFromString(row["closure"])
        entity.id.CopyFrom(template_of(entity.closure).id)
        return entity

    return to_proto


@dataclass(frozen=True)
class VersionedKind:
    resource_type: int  # core.ResourceType value
    table: EntityTable
    to_proto: Callable[[sqlite3.Row], Any]  # the admin Task / Workflow / LaunchPlan of a row
    plural: str  # "Tasks": used in "invalid pagination token x for ListTasks"

    @property
    def label(self) -> str:
        """TASK / WORKFLOW / LAUNCH_PLAN, as in flyteadmin's messages."""
        return ResourceType.Name(self.resource_type)

    @property
    def lower(self) -> str:
        return self.label.lower()

    def fetch(self, conn: sqlite3.Connection, identifier: identifier_pb2.Identifier) -> tuple[int, Any]:
        """(row id, proto) of the stored version; NOT_FOUND `missing entity of type <KIND> ...` otherwise."""
        row = find_row(conn, self, identifier)
        return int(row["id"]), self.to_proto(row)


def validate_identifier(
    identifier: identifier_pb2.Identifier | None, kind: VersionedKind, present: bool
) -> None:
    """flyteadmin's `ValidateIdentifier`: present, the right resource type, all four fields non-empty."""
    if identifier is None or not present:
        raise missing("id")
    if identifier.resource_type != kind.resource_type:
        raise AdminError(
            INVALID,
            f"unexpected resource type {ResourceType.Name(identifier.resource_type).lower()} for identifier "
            f"[{go_text(identifier)}], expected {kind.lower} instead",
        )
    require(
        project=identifier.project, domain=identifier.domain, name=identifier.name, version=identifier.version
    )


def fill_resource_type(identifier: identifier_pb2.Identifier, kind: VersionedKind) -> None:
    """Get RPCs fill in an UNSPECIFIED resource type (pkg/rpc/adminservice/*.go)."""
    if identifier.resource_type == ResourceType.UNSPECIFIED:
        identifier.resource_type = kind.resource_type


def find_row(
    conn: sqlite3.Connection, kind: VersionedKind, identifier: identifier_pb2.Identifier
) -> sqlite3.Row:
    """The row for `identifier`; like gorm's struct conditions, empty fields are not constrained."""
    conditions = {
        "project": identifier.project,
        "domain": identifier.domain,
        "name": identifier.name,
        "version": identifier.version,
    }
    used = {column: value for column, value in conditions.items() if value}
    where = " AND ".join(f"{column} = ?" for column in used) or "1"
    row = conn.execute(
        f"SELECT * FROM {kind.table.table} WHERE {where} LIMIT 1", list(used.values())
    ).fetchone()
    if row is None:
        bare = identifier_pb2.Identifier(
            project=identifier.project,
            domain=identifier.domain,
            name=identifier.name,
            version=identifier.version,
        )
        raise not_found_entity(kind.label, bare)
    return row


def list_versions(
    conn: sqlite3.Connection, kind: VersionedKind, request: common_pb2.ResourceListRequest
) -> tuple[list[Message], str]:
    """ListTasks/ListWorkflows/ListLaunchPlans: project and domain required, limit > 0, id.name optional."""
    require(project=request.id.project, domain=request.id.domain)
    validate_limit(request.limit)
    rows, token = page_of_request(
        conn,
        kind.table,
        request,
        list_name=f"List{kind.plural}",
        implicit=identifier_predicates(
            kind.table, project=request.id.project, domain=request.id.domain, name=request.id.name
        ),
    )
    return [kind.to_proto(row) for row in rows], token


def list_ids(
    conn: sqlite3.Connection, kind: VersionedKind, request: common_pb2.NamedEntityIdentifierListRequest
) -> common_pb2.NamedEntityIdentifierList:
    """List*Ids: distinct names of a project/domain; `filters` is ignored, as flyteadmin ignores it."""
    require(project=request.project, domain=request.domain)
    if request.limit <= 0:
        if kind.resource_type == ResourceType.LAUNCH_PLAN:
            raise AdminError(INVALID, "missing and/or invalid parameters: limit")
        raise AdminError(INVALID, "invalid value for limit")
    offset = parse_token(request.token, f"List{kind.label.title().replace('_', '')}Ids")
    order = sort_clause(request.sort_by if request.HasField("sort_by") else None, kind.table)
    table = kind.table.table
    rows = conn.execute(
        f"SELECT project, domain, name FROM {table} WHERE project = ? AND domain = ?"
        f" GROUP BY project, domain, name {order} LIMIT ? OFFSET ?",
        (request.project, request.domain, request.limit, offset),
    ).fetchall()
    token = str(offset + len(rows)) if len(rows) == request.limit else ""
    entities = [common_pb2.NamedEntityIdentifier(project=r[0], domain=r[1], name=r[2]) for r in rows]
    return common_pb2.NamedEntityIdentifierList(entities=entities, token=token)


def validate_create(
    conn: sqlite3.Connection, state: EmulatorState, kind: VersionedKind, request: Any, check_project: bool
) -> None:
    """CreateTask/CreateWorkflow's first checks: identifier, project/domain, then `spec.template`."""
    validate_identifier(request.id, kind, request.HasField("id"))
    if check_project:
        from flyteadmin_ops.emulator.projects import validate_project_and_domain

        validate_project_and_domain(conn, state, request.id.project, request.id.domain)
    if not request.spec.HasField("template"):
        raise missing("spec")


def new_version_digest(
    conn: sqlite3.Connection,
    kind: VersionedKind,
    identifier: identifier_pb2.Identifier,
    new: Message,
    old_of: Callable[[sqlite3.Row], Message],
    details: Callable[[bool], Sequence[Message]] = lambda identical: (),
) -> str:
    """The digest of the compiled entity `new`, or the re-create error when this version already exists.

    flyteadmin decides on the digest: identical -> ALREADY_EXISTS, different -> INVALID_ARGUMENT with a diff
    of the stored compiled entity (`old_of(row)`) against the new one. Only workflows attach `details`
    (a CreateWorkflowFailureReason); tasks and launch plans carry none.
    """
    new_digest = digest(new)
    row = conn.execute(
        f"SELECT * FROM {kind.table.table} WHERE project=? AND domain=? AND name=? AND version=?",
        (identifier.project, identifier.domain, identifier.name, identifier.version),
    ).fetchone()
    if row is None:
        return new_digest
    noun = kind.lower.replace("_", " ")
    if row["digest"] == new_digest:
        raise AdminError(
            grpc.StatusCode.ALREADY_EXISTS, f"{noun} with identical structure already exists", details(True)
        )
    raise AdminError(
        INVALID,
        f"{identifier.name} {noun} with different structure already exists. (Please register a new version "
        f"of the {noun}):\n{structure_diff(old_of(row), new)}",
        details(False),
    )


def insert_version(
    conn: sqlite3.Connection,
    kind: VersionedKind,
    identifier: identifier_pb2.Identifier,
    now: datetime,
    new_digest: str,
    description: DescriptionEntity | None = None,
    **columns: object,
) -> int:
    """Insert one version row (the key columns, timestamps and digest, plus the kind's own columns), and the
    description entity of the spec when it has one (tasks and workflows)."""
    values: dict[str, object] = {
        "created_at": db_time(now),
        "updated_at": db_time(now),
        "project": identifier.project,
        "domain": identifier.domain,
        "name": identifier.name,
        "version": identifier.version,
        "digest": new_digest,
        **columns,
    }
    marks = ", ".join("?" for _ in values)
    cursor = conn.execute(
        f"INSERT INTO {kind.table.table} ({', '.join(values)}) VALUES ({marks})", list(values.values())
    )
    if description is not None:
        record_description(conn, now, identifier, description)
    return int(cursor.lastrowid or 0)


def register_versioned_rpcs(
    kind: VersionedKind,
    singular: str,
    create_in_tx: Callable[..., int],
    create_response: type[Message],
    list_response: type[Message],
    list_field: str,
    *,
    strict_get: bool,
) -> None:
    """Register Create<X>, Get<X>, List<X>s and List<X>Ids for one versioned kind.

    `strict_get`: GetWorkflow/GetLaunchPlan validate all four identifier fields; GetTask only logs its
    validation in flyteadmin, so an empty version there matches any version.
    """

    def create(state: EmulatorState, request: Any, call: CallInfo) -> Message:
        with state.db.tx() as conn:
            create_in_tx(conn, state, request)
        return create_response()

    def get(state: EmulatorState, request: common_pb2.ObjectGetRequest, call: CallInfo) -> Message:
        identifier = identifier_pb2.Identifier()
        identifier.CopyFrom(request.id)
        fill_resource_type(identifier, kind)
        if strict_get:
            validate_identifier(identifier, kind, request.HasField("id"))
        with state.db.read() as conn:
            return kind.to_proto(find_row(conn, kind, identifier))

    def list_versions_rpc(
        state: EmulatorState, request: common_pb2.ResourceListRequest, call: CallInfo
    ) -> Message:
        with state.db.read() as conn:
            items, token = list_versions(conn, kind, request)
        return list_response(**{list_field: items, "token": token})

    def list_ids_rpc(
        state: EmulatorState, request: common_pb2.NamedEntityIdentifierListRequest, call: CallInfo
    ) -> Message:
        with state.db.read() as conn:
            return list_ids(conn, kind, request)

    rpc(ADMIN, f"Create{singular}")(create)
    rpc(ADMIN, f"Get{singular}")(get)
    rpc(ADMIN, f"List{kind.plural}")(list_versions_rpc)
    rpc(ADMIN, f"List{singular}Ids")(list_ids_rpc)
