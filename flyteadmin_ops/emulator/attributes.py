"""Matchable attributes at project, project-domain and workflow level (`resources/resource_manager.go`).

One table keyed by (project, domain, workflow, launch_plan, resource_type) with flyteadmin's priorities
(project 5, project-domain 10, workflow 100, launch plan 1000). The quirks that matter to clients:
- Get falls back to broader scopes (`domain IN ('', d) AND project IN ('', p) AND workflow IN ('', w)`,
  highest priority first), and answers with the matched row's own project/domain/workflow;
- Delete never says NOT_FOUND, and gorm drops empty struct fields, so deleting a project-domain record also
  deletes that project-domain's workflow records, and deleting a project record deletes every record of
  that project and type;
- GetProjectAttributes(WORKFLOW_EXECUTION_CONFIG) answers the server default (max_parallelism 25) when absent.
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
    project_pb2,
    workflow_attributes_pb2,
)
from google.protobuf.message import Message

from flyteadmin_ops.emulator.common import GORM_MODEL_DDL, INVALID, db_time, missing
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.projects import project_state, validate_project_and_domain
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


def _validate_scope(
    conn: sqlite3.Connection, state: EmulatorState, scope: Scope, key: dict[str, str], write: bool
) -> None:
    """ProjectDomain/Workflow: project ACTIVE and domain configured; Project: exists (Get) or
    ACTIVE (writes)."""
    if scope is PROJECT:
        project = key["project"]
        if not project:
            raise missing("project")
        current = project_state(conn, project)
        if current is None:
            verb = "is registered" if write else "exists"
            raise AdminError(INVALID, f"failed to validate that project [{project}] {verb}")
        if write and current != project_pb2.Project.ACTIVE:
            raise AdminError(
                INVALID, f"project [{project}] is not active", [project_pb2.InactiveProject(id=project)]
            )
        return
    validate_project_and_domain(conn, state, key["project"], key["domain"])
    if scope is WORKFLOW and not key["workflow"]:
        raise missing("name")


def _resource_type(matching: matchable_resource_pb2.MatchingAttributes) -> int:
    kind = matching.WhichOneof("target")
    if kind not in _RESOURCE_OF_ONEOF:
        raise AdminError(INVALID, "Unrecognized matching attributes type")
    return _RESOURCE_OF_ONEOF[kind]


def _not_found(key: dict[str, str], resource_type: int) -> AdminError:
    return AdminError(
        grpc.StatusCode.NOT_FOUND,
        f"Resource [{{Project:{key['project']} Domain:{key['domain']} Workflow:{key['workflow']} LaunchPlan: "
        f"ResourceType:{MatchableResource.Name(resource_type)} Org:}}] not found",
    )


def lookup(
    conn: sqlite3.Connection, key: dict[str, str], resource_type: int, *, exact_domain: bool = False
) -> sqlite3.Row | None:
    """The most specific record that applies to `key` (flyteadmin's fallback query)."""
    domain_clause = "domain = ?" if exact_domain else "domain IN ('', ?)"
    return conn.execute(
        f"SELECT * FROM resources WHERE {domain_clause} AND project IN ('', ?) AND workflow IN ('', ?)"
        " AND launch_plan = '' AND resource_type = ? ORDER BY priority DESC LIMIT 1",
        (key["domain"], key["project"], key["workflow"], MatchableResource.Name(resource_type)),
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
            resource_type = _resource_type(matching)
            if resource_type == MatchableResource.PLUGIN_OVERRIDE:
                if scope is PROJECT:
                    # flyteadmin reads the existing record with an empty domain here, which always fails.
                    raise AdminError(
                        grpc.StatusCode.INTERNAL, "failed to get existing plugin overrides: entry not found"
                    )
                matching = _merge_plugin_overrides(conn, key, matching)
            now = db_time(state.now())
            conn.execute(
                "INSERT INTO resources (created_at, updated_at, project, domain, workflow, "
                "resource_type, priority,"
                " attributes) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (project, domain, workflow, launch_plan,"
                " resource_type) DO UPDATE SET attributes = excluded.attributes, updated_at = "
                "excluded.updated_at",
                (
                    now,
                    now,
                    key["project"],
                    key["domain"],
                    key["workflow"],
                    MatchableResource.Name(resource_type),
                    scope.priority,
                    matching.SerializeToString(),
                ),
            )
        return scope.update_response()

    return update


def _merge_plugin_overrides(
    conn: sqlite3.Connection, key: dict[str, str], matching: matchable_resource_pb2.MatchingAttributes
) -> matchable_resource_pb2.MatchingAttributes:
    row = conn.execute(
        "SELECT attributes FROM resources WHERE project=? AND domain=? AND workflow=? AND launch_plan='' AND"
        " resource_type='PLUGIN_OVERRIDE'",
        (key["project"], key["domain"], key["workflow"]),
    ).fetchone()
    if row is None:
        return matching
    existing = matchable_resource_pb2.MatchingAttributes.FromString(
        row["attributes"]
    ).plugin_overrides.overrides
    incoming = {o.task_type for o in matching.plugin_overrides.overrides}
    merged = matchable_resource_pb2.MatchingAttributes()
    merged.plugin_overrides.overrides.extend([o for o in existing if o.task_type not in incoming])
    merged.plugin_overrides.overrides.extend(matching.plugin_overrides.overrides)
    return merged


def _make_get(scope: Scope) -> Callable[[EmulatorState, Any, CallInfo], Message]:
    def get(state: EmulatorState, request: Any, call: CallInfo) -> Message:
        key = _key(scope, request)
        resource_type = request.resource_type
        with state.db.read() as conn:
            _validate_scope(conn, state, scope, key, write=False)
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
            conditions["resource_type"] = MatchableResource.Name(request.resource_type)
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
    with state.db.read() as conn:
        rows = conn.execute(
            "SELECT * FROM resources WHERE resource_type = ? ORDER BY priority DESC, id",
            (MatchableResource.Name(request.resource_type),),
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
