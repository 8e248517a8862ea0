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
from typing import Any, cast

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
    PRIMARY_TABLES,
    EntityTable,
    Join,
    identifier_predicates,
    page_of_request,
    parse_token,
    sort_key,
    validate_limit,
)
from flyteadmin_ops.emulator.pg_values import BIGINT, BYTEA, INTEGER, PgError
from flyteadmin_ops.emulator.projects import validate_project_and_domain
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
    physical_order: str = "",
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
    table_description = EntityTable(
        entity=entity,
        table=table,
        columns=columns,
        joins=joins or {},
        types=_postgres_types(extra_columns),
        physical_order=physical_order,
    )
    PRIMARY_TABLES[entity] = table_description
    return table_description


def _postgres_types(extra_columns: Mapping[str, str]) -> dict[str, str]:
    """The Postgres types gorm gives the kind's columns: the digest and every BLOB are bytea, an INTEGER
    `*_id` (a Go uint) is bigint, another INTEGER (an int32) integer; the rest is text or timestamps."""
    types = {"digest": BYTEA}
    for column, sql_type in extra_columns.items():
        if sql_type.startswith("BLOB"):
            types[column] = BYTEA
        elif sql_type.startswith("INTEGER"):
            types[column] = BIGINT if column.endswith("_id") else INTEGER
    return types


RowToProto = Callable[..., Any]
"""`to_proto(row, into=None)`: the proto of a row, written into `into` when given (a List answer's new
repeated element, so that a page of a thousand entities is not built once and copied once more)."""


def compiled_entity(entity_class: type[Message], template_of: Callable[[Any], Any]) -> RowToProto:
    """How tasks and workflows are read back: the stored closure as it was compiled, the short description
    column, and the id of the compiled template (which CreateTask/CreateWorkflow set to the request id)."""

    def to_proto(row: sqlite3.Row, into: Any = None) -> Message:
        entity: Any = entity_class() if into is None else into
        entity.short_description = row["short_description"] or ""
        entity.closure.ParseFromString(row["closure"])
        entity.id.CopyFrom(template_of(entity.closure).id)
        return entity

    return to_proto


@dataclass(frozen=True)
class VersionedKind:
    resource_type: int  # core.ResourceType value
    table: EntityTable
    to_proto: RowToProto  # the admin Task / Workflow / LaunchPlan of a row
    plural: str  # "Tasks": used in "invalid pagination token x for ListTasks"
    # A List* item when it differs from Get's answer (ListWorkflows leaves the compiled workflow out).
    list_item: RowToProto | None = None

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

    def listed(self, row: sqlite3.Row, into: Any = None) -> Any:
        return (self.list_item or self.to_proto)(row, into)


_KINDS: dict[int, VersionedKind] = {}


def kind_of(resource_type: int) -> VersionedKind:
    """The registered kind of a resource type, so that one kind's module can read another's rows without
    importing it (workflows read launch plans while compiling; launch plans import workflows)."""
    return _KINDS[resource_type]


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
    """The row for `identifier`; like gorm's struct conditions, empty fields are not constrained.

    gorm's `Take` adds no ORDER BY, so when a field is left empty Postgres answers with the first match in
    table order (insertion order here: versions are never updated in place), not in index order."""
    conditions = {
        "project": identifier.project,
        "domain": identifier.domain,
        "name": identifier.name,
        "version": identifier.version,
    }
    used = {column: value for column, value in conditions.items() if value}
    where = " AND ".join(f"{column} = ?" for column in used) or "1"
    row = conn.execute(
        f"SELECT * FROM {kind.table.table} WHERE {where} ORDER BY id LIMIT 1", list(used.values())
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
    conn: sqlite3.Connection,
    kind: VersionedKind,
    request: common_pb2.ResourceListRequest,
    items: Any,
    now: datetime | None = None,
) -> str:
    """ListTasks/ListWorkflows/ListLaunchPlans (`ValidateResourceListRequest`): id present, project and
    domain required, limit > 0, id.name optional; then filters, sort and token. The page is written into
    `items` (the answer's repeated field); returns the next token."""
    if not request.HasField("id"):
        raise missing("id")
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
        now=now,
    )
    for row in rows:
        kind.listed(row, items.add())
    return token


# What each List*Ids calls itself in its token error (ListLaunchPlanIds names nothing).
_ID_LIST_NAMES = {
    ResourceType.TASK: "ListUniqueTaskIdentifiers",
    ResourceType.WORKFLOW: "ListWorkflowIdentifiers",
    ResourceType.LAUNCH_PLAN: "",
}
_GROUPED = ("project", "domain", "name")


def list_ids(
    conn: sqlite3.Connection, kind: VersionedKind, request: common_pb2.NamedEntityIdentifierListRequest
) -> common_pb2.NamedEntityIdentifierList:
    """List*Ids: distinct names of a project/domain; `filters` is ignored, as flyteadmin ignores it.

    ListTaskIds and ListWorkflowIds validate project, domain and limit first; ListLaunchPlanIds validates
    nothing itself (a missing project or domain only drops that condition) and leaves the limit and the
    presence of any condition to its repository, after sort and token. The query groups by
    (project, domain, name), so Postgres refuses a sort on any other column.
    """
    is_launch_plan = kind.resource_type == ResourceType.LAUNCH_PLAN
    if not is_launch_plan:
        require(project=request.project, domain=request.domain)
        validate_limit(request.limit)
    chosen = sort_key(request.sort_by if request.HasField("sort_by") else None, kind.table.columns)
    offset = parse_token(request.token, _ID_LIST_NAMES[kind.resource_type])
    conditions = {
        column: value for column, value in (("project", request.project), ("domain", request.domain)) if value
    }
    if request.limit <= 0:
        raise AdminError(INVALID, "missing and/or invalid parameters: limit")
    if not conditions:
        raise AdminError(INVALID, "missing and/or invalid parameters: filters")
    table = kind.table.table
    order = ""
    if chosen is not None:
        key, direction = chosen
        if key not in _GROUPED:
            raise PgError(
                f'column "{table}.{key}" must appear in the GROUP BY clause or be used in an aggregate '
                "function"
            )
        order = f"ORDER BY {key} {direction}"
    where = " AND ".join(f"{column} = ?" for column in conditions)
    rows = conn.execute(
        f"SELECT project, domain, name FROM {table} WHERE {where}"
        f" GROUP BY project, domain, name {order} LIMIT ? OFFSET ?",
        (*conditions.values(), request.limit, offset),
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
    compared: Message | None = None,
) -> str:
    """The digest of the compiled entity `new`, or the re-create error when this version already exists.

    flyteadmin decides on the digest: identical -> ALREADY_EXISTS, different -> INVALID_ARGUMENT with a diff
    of what it rebuilds from the stored row (`old_of(row)`) against `compared` (default `new`): the
    compiled task, the compiled workflow closure, or only the launch plan's spec. Only workflows attach
    `details` (a CreateWorkflowFailureReason); tasks and launch plans carry none.
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
        raise identical_exists(kind, details(True))
    raise AdminError(
        INVALID,
        f"{identifier.name} {noun} with different structure already exists. (Please register a new version "
        f"of the {noun}):\n{structure_diff(old_of(row), new if compared is None else compared)}",
        details(False),
    )


def identical_exists(kind: VersionedKind, details: Sequence[Message] = ()) -> AdminError:
    """The ALREADY_EXISTS of a re-create with the identical structure."""
    noun = kind.lower.replace("_", " ")
    return AdminError(
        grpc.StatusCode.ALREADY_EXISTS, f"{noun} with identical structure already exists", details
    )


def stored_digest(
    conn: sqlite3.Connection, kind: VersionedKind, identifier: identifier_pb2.Identifier
) -> str | None:
    """The digest of the stored version `identifier`, or None when there is none."""
    row = conn.execute(
        f"SELECT digest FROM {kind.table.table} WHERE project=? AND domain=? AND name=? AND version=?",
        (identifier.project, identifier.domain, identifier.name, identifier.version),
    ).fetchone()
    return None if row is None else str(row["digest"])


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
    _KINDS[kind.resource_type] = kind

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
        response: Any = list_response()
        with state.db.read() as conn:
            response.token = list_versions(conn, kind, request, getattr(response, list_field), state.now())
        return cast(Message, response)

    def list_ids_rpc(
        state: EmulatorState, request: common_pb2.NamedEntityIdentifierListRequest, call: CallInfo
    ) -> Message:
        with state.db.read() as conn:
            return list_ids(conn, kind, request)

    rpc(ADMIN, f"Create{singular}")(create)
    rpc(ADMIN, f"Get{singular}")(get)
    rpc(ADMIN, f"List{kind.plural}")(list_versions_rpc)
    rpc(ADMIN, f"List{singular}Ids")(list_ids_rpc)
