"""Workflows: CreateWorkflow (compile, node limit, identical/different with a failure-reason
detail), Get, List.

flyteadmin (`workflow_manager.go`) fetches the tasks and then the launch plans the workflow needs, in the
compiler's requirement order, before compiling; any failure — a missing task or launch plan (NOT_FOUND inside)
or the compiler's findings — surfaces as INVALID_ARGUMENT `failed to compile workflow for [<id>] with err:
...`. The compiled closure goes to blob storage; the row keeps only the interface. So GetWorkflow answers the
whole compiled closure, ListWorkflows rebuilds each item from the row (id, created_at, the interface), and a
re-registration with a different structure is diffed against that row-built closure: every compiled field
but the interface shows as `- <nil>`.

Re-registering an identical workflow is the common case of a re-run, and compiling is the costly part of
CreateWorkflow. So each emulator remembers, per stored version, a fingerprint of the request that created
it and the digest it stored (`_Recreates`). A later request with the same fingerprint, whose stored row still
has that digest, gets ALREADY_EXISTS without compiling: the compile would succeed again with the same closure,
because a stored version was compiled from this request against tasks and launch plans that were committed
with or before it and that no RPC changes or deletes (compiling reads only their ids, compiled templates and
interfaces, not a launch plan's state). Validation of the identifier and the project still runs first.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable

import grpc
from flyteidl.admin import workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from flyteadmin_ops.emulator.common import INVALID, go_text, parse_db_time, timestamp
from flyteadmin_ops.emulator.compiler import CompileError, compile_workflow, requirements
from flyteadmin_ops.emulator.digest import digest
from flyteadmin_ops.emulator.registry import AdminError
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.tasks import get_task_row
from flyteadmin_ops.emulator.versioned import (
    ResourceType,
    VersionedKind,
    compiled_entity,
    identical_exists,
    insert_version,
    kind_of,
    new_version_digest,
    register_versioned_rpcs,
    stored_digest,
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


def _row_closure(row: sqlite3.Row) -> compiler_pb2.CompiledWorkflowClosure:
    """The compiled closure `FromWorkflowModel` builds from a row: the primary's interface (always set)."""
    interface = interface_pb2.TypedInterface.FromString(row["typed_interface"] or b"")
    template = core_workflow_pb2.WorkflowTemplate(interface=interface)
    return compiler_pb2.CompiledWorkflowClosure(primary=compiler_pb2.CompiledWorkflow(template=template))


def _row_workflow(row: sqlite3.Row, into: workflow_pb2.Workflow | None = None) -> workflow_pb2.Workflow:
    """A ListWorkflows item: id, created_at and the row-built closure, the short description."""
    workflow = workflow_pb2.Workflow() if into is None else into
    workflow.id.resource_type = ResourceType.WORKFLOW
    workflow.id.project = row["project"]
    workflow.id.domain = row["domain"]
    workflow.id.name = row["name"]
    workflow.id.version = row["version"]
    workflow.closure.compiled_workflow.CopyFrom(_row_closure(row))
    workflow.closure.created_at.CopyFrom(timestamp(parse_db_time(row["created_at"])))
    workflow.short_description = row["short_description"] or ""
    return workflow


KIND = VersionedKind(
    ResourceType.WORKFLOW,
    WORKFLOWS,
    compiled_entity(workflow_pb2.Workflow, lambda c: c.compiled_workflow.primary.template),
    "Workflows",
    list_item=_row_workflow,
)
get_workflow: Callable[[sqlite3.Connection, identifier_pb2.Identifier], tuple[int, workflow_pb2.Workflow]] = (
    KIND.fetch
)


def _compile(
    conn: sqlite3.Connection, request: workflow_pb2.WorkflowCreateRequest
) -> compiler_pb2.CompiledWorkflowClosure:
    primary = core_workflow_pb2.WorkflowTemplate()
    primary.CopyFrom(request.spec.template)
    subs = list(request.spec.sub_workflows)
    try:
        task_ids, launch_plan_ids = requirements(primary, subs)
        tasks = [get_task_row(conn, task_id)[1].closure.compiled_task for task_id in task_ids]
        launch_plans = [
            kind_of(ResourceType.LAUNCH_PLAN).fetch(conn, plan_id)[1] for plan_id in launch_plan_ids
        ]
        closure = compile_workflow(primary, subs, tasks, launch_plans)
    except (AdminError, CompileError) as error:
        inner = error.message if isinstance(error, AdminError) else str(error)
        raise AdminError(
            INVALID, f"failed to compile workflow for [{go_text(request.id)}] with err: {inner}"
        ) from None
    return closure


VersionKey = tuple[str, str, str, str]


class _Recreates:
    """Per emulator: (request fingerprint, stored digest) of each workflow version created or re-created.
    Used only under the store's lock (inside a transaction), so it needs none of its own."""

    LIMIT = 100_000  # entries are ~150 bytes; past this the memo starts over (it only saves time)

    def __init__(self) -> None:
        self.known: dict[VersionKey, tuple[bytes, str]] = {}

    @staticmethod
    def of(state: EmulatorState) -> _Recreates:
        memo = state.extensions.get(__name__)
        if not isinstance(memo, _Recreates):
            memo = state.extensions[__name__] = _Recreates()
        return memo

    def remember(self, key: VersionKey, fingerprint: bytes, stored: str) -> None:
        if len(self.known) >= self.LIMIT:
            self.known.clear()
        self.known[key] = (fingerprint, stored)


def _key(identifier: identifier_pb2.Identifier) -> VersionKey:
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


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

    def failure_reason(identical: bool) -> list[workflow_pb2.CreateWorkflowFailureReason]:
        reason = workflow_pb2.CreateWorkflowFailureReason()
        outcome = reason.exists_identical_structure if identical else reason.exists_different_structure
        outcome.id.CopyFrom(request.id)
        return [reason]

    recreates = _Recreates.of(state)
    key = _key(request.id)
    fingerprint = hashlib.blake2b(finalized.SerializeToString(deterministic=True), digest_size=16).digest()
    known = recreates.known.get(key)
    if known is not None and known[0] == fingerprint and stored_digest(conn, KIND, request.id) == known[1]:
        raise identical_exists(KIND, failure_reason(True))

    compiled = _compile(conn, finalized)
    node_count = len(compiled.primary.template.nodes) - 2  # user nodes: start-node and end-node aside
    if node_count > state.config.max_workflow_nodes:
        raise AdminError(
            INVALID,
            f"number of nodes in workflow [{go_text(request.id)}] exceeds limit "
            f"({node_count} > {state.config.max_workflow_nodes})",
        )
    try:
        new_digest = new_version_digest(conn, KIND, request.id, compiled, _row_closure, failure_reason)
    except AdminError as error:
        if error.code == grpc.StatusCode.ALREADY_EXISTS:
            recreates.remember(key, fingerprint, digest(compiled))
        raise
    now = state.now()
    closure = workflow_pb2.WorkflowClosure(compiled_workflow=compiled, created_at=timestamp(now))
    identifier = request.id
    location = (
        f"{state.config.storage_prefix}/{state.config.metadata_prefix}/admin/"
        f"{identifier.project}/{identifier.domain}/{identifier.name}/{identifier.version}"
    )
    row_id = insert_version(
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
    recreates.remember(key, fingerprint, new_digest)  # checked against the row: a rollback leaves no lie
    return row_id


register_versioned_rpcs(
    KIND,
    "Workflow",
    create_workflow_in_tx,
    workflow_pb2.WorkflowCreateResponse,
    workflow_pb2.WorkflowList,
    "workflows",
    strict_get=True,
)
