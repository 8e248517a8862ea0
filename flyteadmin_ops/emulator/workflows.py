"""Workflows: CreateWorkflow (compile, node limit, identical/different with a failure-reason
detail), Get, List.

Any compile failure — including a referenced task version that does not exist, which is NOT_FOUND inside —
surfaces as INVALID_ARGUMENT `failed to compile workflow for [<id>] with err: ...`, as in flyteadmin.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from flyteidl.admin import workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2

from flyteadmin_ops.emulator.common import INVALID, go_text, timestamp
from flyteadmin_ops.emulator.compiler import CompileError, compile_workflow, requirements
from flyteadmin_ops.emulator.registry import AdminError
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.tasks import get_task_row
from flyteadmin_ops.emulator.versioned import (
    ResourceType,
    VersionedKind,
    compiled_entity,
    insert_version,
    new_version_digest,
    register_versioned_rpcs,
    validate_create,
    versioned_table,
)

# `closure` holds the serialized WorkflowClosure (flyteadmin keeps it in blob storage under
# <prefix>/metadata/admin/<project>/<domain>/<name>/<version>, so it is no column to filter on;
# `remote_closure_identifier` records that path).
WORKFLOWS = versioned_table(
    "workflow",
    "workflows",
    {
        "typed_interface": "BLOB",
        "remote_closure_identifier": "TEXT NOT NULL",
        "short_description": "TEXT",
        "closure": "BLOB NOT NULL",
    },
    unfilterable=frozenset({"closure"}),
)
KIND = VersionedKind(
    ResourceType.WORKFLOW,
    WORKFLOWS,
    compiled_entity(workflow_pb2.Workflow, lambda c: c.compiled_workflow.primary.template),
    "Workflows",
)
get_workflow: Callable[[sqlite3.Connection, identifier_pb2.Identifier], tuple[int, workflow_pb2.Workflow]] = (
    KIND.fetch
)


def _compile(
    conn: sqlite3.Connection, request: workflow_pb2.WorkflowCreateRequest
) -> compiler_pb2.CompiledWorkflowClosure:
    primary = request.spec.template
    subs = list(request.spec.sub_workflows)
    try:
        _, launch_plan_ids = requirements(primary, subs)
        closure = compile_workflow(
            primary, subs, lambda tid: get_task_row(conn, tid)[1].closure.compiled_task
        )
        from flyteadmin_ops.emulator.launch_plans import get_launch_plan

        for lp_id in launch_plan_ids:
            get_launch_plan(conn, lp_id)
    except (AdminError, CompileError) as error:
        inner = error.message if isinstance(error, AdminError) else str(error)
        raise AdminError(
            INVALID, f"failed to compile workflow for [{go_text(request.id)}] with err: {inner}"
        ) from None
    return closure


def create_workflow_in_tx(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: workflow_pb2.WorkflowCreateRequest,
    *,
    check_project: bool = True,
) -> int:
    """CreateWorkflow inside an open transaction; returns the new row id."""
    validate_create(conn, state, KIND, request, check_project)
    spec = workflow_pb2.WorkflowSpec()
    spec.CopyFrom(request.spec)
    spec.template.id.CopyFrom(request.id)
    finalized = workflow_pb2.WorkflowCreateRequest(id=request.id, spec=spec)
    compiled = _compile(conn, finalized)
    node_count = len(compiled.primary.template.nodes)
    if node_count > state.config.max_workflow_nodes:
        raise AdminError(
            INVALID,
            f"number of nodes in workflow [{go_text(request.id)}] exceeds limit "
            f"({node_count} > {state.config.max_workflow_nodes})",
        )

    def failure_reason(identical: bool) -> list[workflow_pb2.CreateWorkflowFailureReason]:
        reason = workflow_pb2.CreateWorkflowFailureReason()
        outcome = reason.exists_identical_structure if identical else reason.exists_different_structure
        outcome.id.CopyFrom(request.id)
        return [reason]

    new_digest = new_version_digest(
        conn,
        KIND,
        request.id,
        compiled,
        lambda row: KIND.to_proto(row).closure.compiled_workflow,
        failure_reason,
    )
    now = state.now()
    closure = workflow_pb2.WorkflowClosure(compiled_workflow=compiled, created_at=timestamp(now))
    identifier = request.id
    location = (
        f"{state.config.storage_prefix}/{state.config.metadata_prefix}/admin/"
        f"{identifier.project}/{identifier.domain}/{identifier.name}/{identifier.version}"
    )
    return insert_version(
        conn,
        KIND,
        identifier,
        now,
        new_digest,
        spec.description if spec.HasField("description") else None,
        typed_interface=spec.template.interface.SerializeToString(),
        remote_closure_identifier=location,
        short_description=spec.description.short_description,
        closure=closure.SerializeToString(),
    )


register_versioned_rpcs(
    KIND,
    "Workflow",
    create_workflow_in_tx,
    workflow_pb2.WorkflowCreateResponse,
    workflow_pb2.WorkflowList,
    "workflows",
    strict_get=True,
)
