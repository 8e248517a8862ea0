"""Projects and domains: registration rules, the zero-value-skipping update, and the project/domain gate.

`validate_project_and_domain` is the gate every Create*, event and attribute request passes in flyteadmin
(`validation.ValidateProjectAndDomain`): an unknown or inactive project is INVALID_ARGUMENT, not NOT_FOUND.
"""

from __future__ import annotations

import sqlite3

import grpc
from flyteidl.admin import project_pb2
from flyteidl.admin.common_pb2 import Labels

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, INVALID, db_time, missing
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.filters import VARCHAR_300, EntityTable, Predicate, page_of_request
from flyteadmin_ops.emulator.k8s_names import dns1123_label, go_list, label_value, qualified_name
from flyteadmin_ops.emulator.pg_values import BYTEA, INTEGER
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState

schema(
    f"""
    CREATE TABLE IF NOT EXISTS projects (
        id INTEGER PRIMARY KEY,
        {GORM_MODEL_DDL},
        identifier TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        labels BLOB,
        state INTEGER NOT NULL DEFAULT 0
    )
    """
)

PROJECTS = EntityTable(
    entity="project",
    table="projects",
    columns=frozenset(
        {
            "id",
            "created_at",
            "updated_at",
            "deleted_at",
            "identifier",
            "name",
            "description",
            "labels",
            "state",
        }
    ),
    # Postgres types of the model's columns that are not text or timestamps (see filters.column_type).
    types={"state": INTEGER, "description": VARCHAR_300, "labels": BYTEA},
)


def seed_projects(state: EmulatorState) -> None:
    """Register the configured projects (the sandbox's `flytesnacks`) unless they already exist."""
    now = db_time(state.now())
    with state.db.tx() as conn:
        for identifier in state.config.projects:
            conn.execute(
                "INSERT OR IGNORE INTO projects (created_at, updated_at, identifier, name, state) "
                "VALUES (?,?,?,?,0)",
                (now, now, identifier, identifier),
            )


def project_state(conn: sqlite3.Connection, identifier: str) -> int | None:
    """The state of the project `ProjectRepo.Get` finds. Its gorm struct query drops an empty identifier, so
    "" finds the first project there is (callers that need an id check for it before)."""
    if not identifier:
        row = conn.execute("SELECT state FROM projects ORDER BY id LIMIT 1").fetchone()
        return None if row is None else int(row["state"])
    row = conn.execute("SELECT state FROM projects WHERE identifier = ?", (identifier,)).fetchone()
    return None if row is None else int(row["state"])


def _registered_state(conn: sqlite3.Connection, project: str, claim: str) -> int:
    """The project's state; INVALID_ARGUMENT `failed to validate that <claim>, err: [...]` (the repository's
    NOT_FOUND text inside) when it is not registered, as each of flyteadmin's project validators says it."""
    current = project_state(conn, project)
    if current is None:
        raise AdminError(INVALID, f"failed to validate that {claim}, err: [project [{project}] not found]")
    return current


def validate_project_and_domain(
    conn: sqlite3.Connection, state: EmulatorState, project: str, domain: str
) -> None:
    """Project registered and ACTIVE, domain configured; INVALID_ARGUMENT otherwise
    (InactiveProject detail)."""
    current = _registered_state(conn, project, f"project [{project}] and domain [{domain}] are registered")
    if current != project_pb2.Project.ACTIVE:
        raise AdminError(
            INVALID, f"project [{project}] is not active", [project_pb2.InactiveProject(id=project)]
        )
    if domain not in state.config.domains:
        raise AdminError(INVALID, f"domain [{domain}] is unrecognized by system")


def validate_project_for_update(conn: sqlite3.Connection, project: str) -> None:
    """`ValidateProjectForUpdate`: registered and ACTIVE, without the InactiveProject detail
    `validate_project_and_domain` adds."""
    if _registered_state(conn, project, f"project [{project}] is registered") != project_pb2.Project.ACTIVE:
        raise AdminError(INVALID, f"project [{project}] is not active")


def validate_project_exists(conn: sqlite3.Connection, project: str) -> None:
    """`ValidateProjectExists`: registered, any state (project attributes stay readable once archived)."""
    _registered_state(conn, project, f"project [{project}] exists")


def _validate_project(project: project_pb2.Project) -> None:
    """`ValidateProject`, in its order: id present, labels, the id a DNS-1123 label, name and description
    lengths, no domains."""
    if not project.id:
        raise missing("project_id")
    validate_labels(project.labels)
    problems = dns1123_label(project.id)
    if problems:
        raise AdminError(INVALID, f"invalid project id [{project.id}]: {go_list(problems)}")
    if len(project.name.encode()) > 64:
        raise AdminError(INVALID, "project_name cannot exceed 64 characters")
    if len(project.description.encode()) > 300:
        raise AdminError(INVALID, "project_description cannot exceed 300 characters")
    if len(project.domains):
        raise AdminError(
            INVALID,
            "Domains are currently only set system wide. Please retry without domains included in "
            "your request.",
        )


def validate_labels(labels: Labels) -> None:
    """At most 16 labels; each key a Kubernetes qualified name and each value a label value (Go ranges over
    the map in random order, so with several bad labels any one of them may be named)."""
    if len(labels.values) > 16:
        raise AdminError(INVALID, "labels map cannot exceed 16 entries")
    for key, value in labels.values.items():
        problems = qualified_name(key)
        if problems:
            raise AdminError(INVALID, f"invalid label key [{key}]: {go_list(problems)}")
        problems = label_value(value)
        if problems:
            raise AdminError(INVALID, f"invalid label value [{value}]: {go_list(problems)}")


def _domains(state: EmulatorState) -> list[project_pb2.Domain]:
    return [project_pb2.Domain(id=d, name=d) for d in state.config.domains]


def _row_to_project(row: sqlite3.Row, state: EmulatorState) -> project_pb2.Project:
    project = project_pb2.Project(
        id=row["identifier"], name=row["name"], description=row["description"], state=row["state"]
    )
    if row["labels"]:
        project.labels.ParseFromString(row["labels"])
    project.domains.extend(_domains(state))
    return project


@rpc(ADMIN, "RegisterProject")
def register_project(
    state: EmulatorState, request: project_pb2.ProjectRegisterRequest, call: CallInfo
) -> project_pb2.ProjectRegisterResponse:
    if not request.HasField("project"):
        raise missing("project")
    project = request.project
    if not project.name:
        raise missing("project_name")
    _validate_project(project)
    now = db_time(state.now())
    with state.db.tx() as conn:
        if project_state(conn, project.id) is not None:
            raise AdminError(
                grpc.StatusCode.ALREADY_EXISTS,
                "value with matching already exists (duplicate key value violates unique constraint "
                '"projects_pkey")',
            )
        conn.execute(
            "INSERT INTO projects (created_at, updated_at, identifier, name, description, labels, state)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                now,
                now,
                project.id,
                project.name,
                project.description,
                project.labels.SerializeToString() or None,
                project.state,
            ),
        )
    return project_pb2.ProjectRegisterResponse()


@rpc(ADMIN, "UpdateProject")
def update_project(
    state: EmulatorState, request: project_pb2.Project, call: CallInfo
) -> project_pb2.ProjectUpdateResponse:
    with state.db.tx() as conn:
        if project_state(conn, request.id) is None:
            raise AdminError(grpc.StatusCode.NOT_FOUND, f"project [{request.id}] not found")
        _validate_project(request)
        # gorm Updates(struct): zero values are skipped, the state pointer is always written.
        updates: dict[str, object] = {"state": request.state, "updated_at": db_time(state.now())}
        if request.name:
            updates["name"] = request.name
        if request.description:
            updates["description"] = request.description
        labels = request.labels.SerializeToString()
        if labels:
            updates["labels"] = labels
        assignments = ", ".join(f"{column} = ?" for column in updates)
        conn.execute(
            f"UPDATE projects SET {assignments} WHERE identifier = ?", [*updates.values(), request.id]
        )
    return project_pb2.ProjectUpdateResponse()


@rpc(ADMIN, "GetProject")
def get_project(
    state: EmulatorState, request: project_pb2.ProjectGetRequest, call: CallInfo
) -> project_pb2.Project:
    if not request.id:
        raise missing("project_id")
    with state.db.read() as conn:
        row = conn.execute("SELECT * FROM projects WHERE identifier = ?", (request.id,)).fetchone()
    if row is None:
        raise AdminError(grpc.StatusCode.NOT_FOUND, f"project [{request.id}] not found")
    return _row_to_project(row, state)


@rpc(ADMIN, "ListProjects")
def list_projects(
    state: EmulatorState, request: project_pb2.ProjectListRequest, call: CallInfo
) -> project_pb2.Projects:
    # No limit validation (0 = all); the `state != ARCHIVED` default is dropped by ANY filter string.
    implicit = []
    if not request.filters:
        implicit.append(Predicate("projects.state <> ?", (project_pb2.Project.ARCHIVED,), "project", "state"))
    with state.db.read() as conn:
        rows, token = page_of_request(
            conn,
            PROJECTS,
            request,
            list_name="ListProjects",
            implicit=implicit,
            allow_zero_limit=True,
            default_sort="ORDER BY projects.identifier ASC",
            now=state.now(),
        )
    return project_pb2.Projects(projects=[_row_to_project(r, state) for r in rows], token=token)


@rpc(ADMIN, "GetDomains")
def get_domains(
    state: EmulatorState, request: project_pb2.GetDomainRequest, call: CallInfo
) -> project_pb2.GetDomainsResponse:
    return project_pb2.GetDomainsResponse(domains=_domains(state))
