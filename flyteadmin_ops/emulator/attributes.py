"""Matchable attributes at project, project-domain and workflow level (`resources/resource_manager.go`).

One table keyed by (project, domain, workflow, launch_plan, resource_type) with flyteadmin's priorities
(project 5, project-domain 10, workflow 100, launch plan 1000). The quirks that matter to clients:
- Get falls back to broader scopes (`domain IN ('', d) AND project IN ('', p) AND workflow IN ('', w)`,
  highest priority first), and answers with the matched row's own project/domain/workflow;
- Delete never says NOT_FOUND, and gorm drops empty struct fields, so deleting a project-domain record also
  deletes that project-domain's workflow records, and deleting a project record deletes every record of
  that project and type;
- GetProjectAttributes(WORKFLOW_EXECUTION_CONFIG) answers the server default (max_parallelism 25) when absent.
- Each scope gates its project its own way: Project updates/deletes need it registered and ACTIVE (no
  InactiveProject detail), Project gets only registered; ProjectDomain/Workflow pass
  `ValidateProjectAndDomain`;
- PLUGIN_OVERRIDE updates merge with the stored record read through `GetRaw`, which refuses an empty domain,
  so every project-level one fails with INTERNAL, and whose gorm struct query drops the empty workflow, so a
  project-domain one can land in (merge into) a workflow record of that project-domain.
The three scopes are described by :class:`Scope` and served by one set of handler factories.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from flyteidl.admin import (
    matchable_resource_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    workflow_attributes_pb2,
)
from google.protobuf.message import Message

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, INVALID, db_time, invalid, missing
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.projects import (
    validate_project_and_domain,
    validate_project_exists,
    validate_project_for_update,
)
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState

schema(
    f"""
    CREATE TABLE IF NOT EXISTS resources (
        id INTEGER PRIMARY KEY,
        {GORM_MODEL_DDL},
        project TEXT NOT NULL DEFAULT '',
        domain TEXT NOT NULL DEFAULT '',
        workflow TEXT NOT NULL DEFAULT '',
        launch_plan TEXT NOT NULL DEFAULT '',
        resource_type TEXT NOT NULL,
        priority INTEGER NOT NULL,
        attributes BLOB NOT NULL,
        UNIQUE (project, domain, workflow, launch_plan, resource_type)
    )
    """
)

MatchableResource = matchable_resource_pb2.MatchableResource
_RESOURCE_OF_ONEOF = {
    "task_resource_attributes": MatchableResource.TASK_RESOURCE,
    "cluster_resource_attributes": MatchableResource.CLUSTER_RESOURCE,
    "execution_queue_attributes": MatchableResource.EXECUTION_QUEUE,
    "execution_cluster_label": MatchableResource.EXECUTION_CLUSTER_LABEL,
    "plugin_overrides": MatchableResource.PLUGIN_OVERRIDE,
    "workflow_execution_config": MatchableResource.WORKFLOW_EXECUTION_CONFIG,
    "cluster_assignment": MatchableResource.CLUSTER_ASSIGNMENT,
}


@dataclass(frozen=True)
class Scope:
    label: str  # RPC infix: "Project", "ProjectDomain", "Workflow"
    priority: int
    keys: tuple[str, ...]  # request fields that identify the record
    attributes: type[Message]
    get_response: type[Message]
    update_response: type[Message]
    delete_response: type[Message]


PROJECT = Scope(
    "Project",
    5,
    ("project",),
    project_attributes_pb2.ProjectAttributes,
    project_attributes_pb2.ProjectAttributesGetResponse,
    project_attributes_pb2.ProjectAttributesUpdateResponse,
    project_attributes_pb2.ProjectAttributesDeleteResponse,
)
PROJECT_DOMAIN = Scope(
    "ProjectDomain",
    10,
    ("project", "domain"),
    project_domain_attributes_pb2.ProjectDomainAttributes,
    project_domain_attributes_pb2.ProjectDomainAttributesGetResponse,
    project_domain_attributes_pb2.ProjectDomainAttributesUpdateResponse,
    project_domain_attributes_pb2.ProjectDomainAttributesDeleteResponse,
)
WORKFLOW = Scope(
    "Workflow",
    100,
    ("project", "domain", "workflow"),
    workflow_attributes_pb2.WorkflowAttributes,
    workflow_attributes_pb2.WorkflowAttributesGetResponse,
    workflow_attributes_pb2.WorkflowAttributesUpdateResponse,
    workflow_attributes_pb2.WorkflowAttributesDeleteResponse,
)


def _key(scope: Scope, source: Any) -> dict[str, str]:
    values = {name: getattr(source, name) for name in scope.keys}
    return {name: values.get(name, "") for name in ("project", "domain", "workflow")}


def type_name(resource_type: int) -> str:
    """`MatchableResource.String()` in Go: the enum name, or the bare number for a value it doesn't know."""
    try:
        return MatchableResource.Name(resource_type)
    except ValueError:
        return str(resource_type)


def _resource_id(key: dict[str, str], resource_type: int) -> str:
    """Go's `%v` of a `ResourceID` (`{p d w  TYPE}`: values only, one space between fields)."""
    return f"{{{key['project']} {key['domain']} {key['workflow']}  {type_name(resource_type)}}}"


def _unexpected_invalid_input(text: str) -> AdminError:
    """A repository's "invalid input" error passed through the Postgres error transformer, which knows only
    Postgres and gorm errors and so wraps any other as INTERNAL."""
    return AdminError(
        grpc.StatusCode.INTERNAL, f"unexpected error type for: missing and/or invalid parameters: {text}"
    )


def _resource_model_text(key: dict[str, str], resource_type: int, priority: int, attributes: bytes) -> str:
    """Go's `%v` of an unsaved `models.Resource` (zero id and times, nil DeletedAt, bytes as a list)."""
    zero_time = "0001-01-01 00:00:00 +0000 UTC"
    fields = [
        "0",
        zero_time,
        zero_time,
        "<nil>",
        key["project"],
        key["domain"],
        key["workflow"],
        "",
        type_name(resource_type),
        str(priority),
        "[" + " ".join(str(b) for b in attributes) + "]",
    ]
    return "{" + " ".join(fields) + "}"


def _validate_scope(
    conn: sqlite3.Connection, state: EmulatorState, scope: Scope, key: dict[str, str], write: bool
) -> None:
    """The project gate of each scope (`validation/attributes_validator.go`); no scope checks for an empty
    project id first, so "" goes to the project repository as it is."""
    if scope is PROJECT:
        if write:
            validate_project_for_update(conn, key["project"])
        else:
            validate_project_exists(conn, key["project"])
        return
    validate_project_and_domain(conn, state, key["project"], key["domain"])
    if scope is WORKFLOW and not key["workflow"]:
        raise missing("name")


def _resource_type(
    matching: matchable_resource_pb2.MatchingAttributes, key: dict[str, str], scope: Scope
) -> int:
    """The type of the oneof that is set; QUALITY_OF_SERVICE_SPECIFICATION has no case in flyteadmin's
    validator, so it is "unrecognized" like an empty oneof. The message names the request by its key fields
    joined with '-' (`p`, `p-d`, `p-d-w`)."""
    kind = matching.WhichOneof("target")
    if kind not in _RESOURCE_OF_ONEOF:
        identifier = "-".join(key[name] for name in scope.keys)
        raise AdminError(INVALID, f"Unrecognized matching attributes type for request {identifier}")
    return _RESOURCE_OF_ONEOF[kind]


def _not_found(key: dict[str, str], resource_type: int) -> AdminError:
    """`Resource [%+v] not found` of a `ResourceID` (v1.16.8's has no Org field)."""
    return AdminError(
        grpc.StatusCode.NOT_FOUND,
        f"Resource [{{Project:{key['project']} Domain:{key['domain']} Workflow:{key['workflow']} LaunchPlan: "
        f"ResourceType:{type_name(resource_type)}}}] not found",
    )


def lookup(
    conn: sqlite3.Connection, key: dict[str, str], resource_type: int, *, exact_domain: bool = False
) -> sqlite3.Row | None:
    """The most specific record that applies to `key` (flyteadmin's fallback query); with `exact_domain`,
    the project-level record only (`GetProjectLevel`)."""
    if exact_domain:
        return conn.execute(
            "SELECT * FROM resources WHERE resource_type = ? AND domain = '' AND project = ?"
            " AND workflow = '' AND launch_plan = '' ORDER BY priority DESC, id LIMIT 1",
            (type_name(resource_type), key["project"]),
        ).fetchone()
    return conn.execute(
        "SELECT * FROM resources WHERE resource_type = ? AND domain IN ('', ?) AND project IN ('', ?)"
        " AND workflow IN ('', ?) AND launch_plan = '' ORDER BY priority DESC, id LIMIT 1",
        (type_name(resource_type), key["domain"], key["project"], key["workflow"]),
    ).fetchone()


def task_resource_limits(
    conn: sqlite3.Connection, state: EmulatorState, project: str, domain: str
) -> dict[str, str]:
    """Platform task resource limits, overridden by a TASK_RESOURCE attribute's `limits` when one applies."""
    limits = dict(state.config.task_resource_limits)
    row = lookup(
        conn, {"project": project, "domain": domain, "workflow": ""}, MatchableResource.TASK_RESOURCE
    )
    if row is not None:
        spec = matchable_resource_pb2.MatchingAttributes.FromString(
            row["attributes"]
        ).task_resource_attributes.limits
        for name in ("cpu", "gpu", "memory", "storage", "ephemeral_storage"):
            if getattr(spec, name):
                limits[name] = getattr(spec, name)
    return limits


def _default_execution_config(state: EmulatorState) -> matchable_resource_pb2.WorkflowExecutionConfig:
    return matchable_resource_pb2.WorkflowExecutionConfig(max_parallelism=state.config.max_parallelism)


def _create_or_update(
    conn: sqlite3.Connection,
    state: EmulatorState,
    key: dict[str, str],
    resource_type: int,
    priority: int,
    attributes: bytes,
) -> None:
    """`ResourceRepo.CreateOrUpdate`: refuse a record scoped to no project and no domain, else upsert."""
    if not key["project"] and not key["domain"]:
        text = _resource_model_text(key, resource_type, priority, attributes)
        raise AdminError(INVALID, f"missing and/or invalid parameters: {text}")
    now = db_time(state.now())
    conn.execute(
        "INSERT INTO resources (created_at, updated_at, project, domain, workflow, resource_type, priority,"
        " attributes) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (project, domain, workflow, launch_plan,"
        " resource_type) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at",
        (
            now,
            now,
            key["project"],
            key["domain"],
            key["workflow"],
            type_name(resource_type),
            priority,
            attributes,
        ),
    )


def _existing_raw(conn: sqlite3.Connection, key: dict[str, str], resource_type: int) -> sqlite3.Row | None:
    """`ResourceRepo.GetRaw`: refuses an empty domain; its gorm struct query drops the empty fields, so the
    project-domain key also matches that project-domain's workflow records (the oldest row wins)."""
    if not key["domain"]:
        raise _unexpected_invalid_input(_resource_id(key, resource_type))
    conditions = {name: key[name] for name in ("project", "domain", "workflow") if key[name]}
    where = " AND ".join(f"{name} = ?" for name in conditions)
    return conn.execute(
        f"SELECT * FROM resources WHERE {where} AND resource_type = ? ORDER BY id LIMIT 1",
        [*conditions.values(), type_name(resource_type)],
    ).fetchone()


def _merge_plugin_overrides(
    existing: bytes, incoming: matchable_resource_pb2.MatchingAttributes
) -> matchable_resource_pb2.MatchingAttributes:
    """One override per task type, the incoming one winning (flyteadmin keys them by task_type in a map)."""
    by_task_type: dict[str, matchable_resource_pb2.PluginOverride] = {}
    stored = matchable_resource_pb2.MatchingAttributes.FromString(existing).plugin_overrides.overrides
    for override in [*stored, *incoming.plugin_overrides.overrides]:
        by_task_type[override.task_type] = override
    merged = matchable_resource_pb2.MatchingAttributes()
    merged.plugin_overrides.overrides.extend(by_task_type.values())
    return merged


def _update_plugin_overrides(
    conn: sqlite3.Connection,
    state: EmulatorState,
    scope: Scope,
    key: dict[str, str],
    matching: matchable_resource_pb2.MatchingAttributes,
) -> None:
    """`createOrMerge...`: a new record when none is found, else the found record (which may be a narrower
    one, see `_existing_raw`) rewritten with the merged overrides."""
    resource_type = MatchableResource.PLUGIN_OVERRIDE
    existing = _existing_raw(conn, key, resource_type)
    if existing is None:
        _create_or_update(conn, state, key, resource_type, scope.priority, matching.SerializeToString())
        return
    merged = _merge_plugin_overrides(existing["attributes"], matching)
    conn.execute(
        "UPDATE resources SET attributes = ?, updated_at = ? WHERE id = ?",
        (merged.SerializeToString(), db_time(state.now()), existing["id"]),
    )


def _make_update(scope: Scope) -> Callable[[EmulatorState, Any, CallInfo], Message]:
    def update(state: EmulatorState, request: Any, call: CallInfo) -> Message:
        if not request.HasField("attributes"):
            raise missing("attributes")
        key = _key(scope, request.attributes)
        with state.db.tx() as conn:
            _validate_scope(conn, state, scope, key, write=True)
            if not request.attributes.HasField("matching_attributes"):
                raise missing("matching_attributes")
            matching = request.attributes.matching_attributes
            resource_type = _resource_type(matching, key, scope)
            if resource_type == MatchableResource.PLUGIN_OVERRIDE:
                _update_plugin_overrides(conn, state, scope, key, matching)
            else:
                _create_or_update(
                    conn, state, key, resource_type, scope.priority, matching.SerializeToString()
                )
        return scope.update_response()

    return update


def _make_get(scope: Scope) -> Callable[[EmulatorState, Any, CallInfo], Message]:
    def get(state: EmulatorState, request: Any, call: CallInfo) -> Message:
        key = _key(scope, request)
        resource_type = request.resource_type
        with state.db.read() as conn:
            _validate_scope(conn, state, scope, key, write=False)
            if scope is PROJECT and not key["project"]:
                # GetProjectLevel refuses an empty project (after the lenient project check let it through).
                raise _unexpected_invalid_input(_resource_id(key, resource_type))
            row = lookup(conn, key, resource_type, exact_domain=scope is PROJECT)
        if row is None and scope is PROJECT and resource_type == MatchableResource.WORKFLOW_EXECUTION_CONFIG:
            matching = matchable_resource_pb2.MatchingAttributes(
                workflow_execution_config=_default_execution_config(state)
            )
            return scope.get_response(
                attributes=scope.attributes(project=key["project"], matching_attributes=matching)
            )
        if row is None:
            raise _not_found(key, resource_type)
        matching = matchable_resource_pb2.MatchingAttributes.FromString(row["attributes"])
        if scope is PROJECT and resource_type == MatchableResource.WORKFLOW_EXECUTION_CONFIG:
            merged = _default_execution_config(state)
            merged.MergeFrom(matching.workflow_execution_config)
            matching.workflow_execution_config.CopyFrom(merged)
        values = {name: row[name] for name in scope.keys}
        return scope.get_response(attributes=scope.attributes(matching_attributes=matching, **values))

    return get


def _make_delete(scope: Scope) -> Callable[[EmulatorState, Any, CallInfo], Message]:
    def delete(state: EmulatorState, request: Any, call: CallInfo) -> Message:
        key = _key(scope, request)
        with state.db.tx() as conn:
            _validate_scope(conn, state, scope, key, write=True)
            # gorm struct conditions drop empty fields: broader deletes remove narrower records too.
            conditions = {name: key[name] for name in scope.keys if key[name]}
            conditions["resource_type"] = type_name(request.resource_type)
            where = " AND ".join(f"{name} = ?" for name in conditions)
            conn.execute(f"DELETE FROM resources WHERE {where}", list(conditions.values()))
        return scope.delete_response()

    return delete


for _scope in (PROJECT, PROJECT_DOMAIN, WORKFLOW):
    rpc(ADMIN, f"Update{_scope.label}Attributes")(_make_update(_scope))
    rpc(ADMIN, f"Get{_scope.label}Attributes")(_make_get(_scope))
    rpc(ADMIN, f"Delete{_scope.label}Attributes")(_make_delete(_scope))


@rpc(ADMIN, "ListMatchableAttributes")
def list_matchable_attributes(
    state: EmulatorState, request: matchable_resource_pb2.ListMatchableAttributesRequest, call: CallInfo
) -> matchable_resource_pb2.ListMatchableAttributesResponse:
    if request.resource_type not in MatchableResource.values():
        raise invalid("resource_type")
    with state.db.read() as conn:
        rows = conn.execute(
            "SELECT * FROM resources WHERE resource_type = ? ORDER BY priority DESC, id",
            (type_name(request.resource_type),),
        ).fetchall()
    return matchable_resource_pb2.ListMatchableAttributesResponse(
        configurations=[
            matchable_resource_pb2.MatchableAttributesConfiguration(
                attributes=matchable_resource_pb2.MatchingAttributes.FromString(r["attributes"]),
                project=r["project"],
                domain=r["domain"],
                workflow=r["workflow"],
                launch_plan=r["launch_plan"],
            )
            for r in rows
        ]
    )
