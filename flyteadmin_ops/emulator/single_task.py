"""The `.flytegen.<task>` workflow and launch plan behind a single-task execution.

CreateExecution with `spec.launch_plan.resource_type = TASK` makes flyteadmin
(`util/single_task_execution.go`) create, if missing, a one-node workflow and a launch plan named
`.flytegen.<task name>` at the task's version, and mark both named entities SYSTEM_GENERATED so that
listings hide them.

- The node id and name are the task name's last 63 bytes with everything but letters, digits and `-`
  dropped (`heldout_app.pipelines.square` -> `heldoutapppipelinessquare`); the node takes the task's retry
  strategy (3 retries when it has none). Its inputs are promises of the workflow inputs (the compiler names
  the start node), the workflow outputs promises of the node's outputs.
- The launch plan is written straight to the database, linked to the generated workflow's row, with a spec
  whose `workflow_id` names the bare task (not `.flytegen.<task>`), empty metadata, fixed inputs, labels and
  annotations, and the execution's auth role and security context.
"""

from __future__ import annotations

import sqlite3
import unicodedata

from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from flyteadmin_ops.emulator.launch_plans import get_launch_plan, insert_launch_plan
from flyteadmin_ops.emulator.named_entities import SYSTEM_GENERATED, upsert_metadata
from flyteadmin_ops.emulator.registry import AdminError
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.tasks import get_task_row
from flyteadmin_ops.emulator.workflows import create_workflow_in_tx, get_workflow

ResourceType = identifier_pb2.ResourceType
GENERATED_PREFIX = ".flytegen."
_MAX_NODE_ID_BYTES = 63


def node_id_of_task(task_name: str) -> str:
    """flyteadmin's `generateNodeNameFromTask`: the last 63 bytes, only letters, digits and `-` kept."""
    raw = task_name.encode("utf-8")
    if len(raw) >= _MAX_NODE_ID_BYTES:
        raw = raw[-_MAX_NODE_ID_BYTES:]
    text = raw.decode("utf-8", errors="replace")
    return "".join(c for c in text if c == "-" or unicodedata.category(c)[0] in ("L", "N"))


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def _hide(conn: sqlite3.Connection, state: EmulatorState, resource_type: int, key: dict[str, str]) -> None:
    upsert_metadata(
        conn,
        state,
        resource_type,
        common_pb2.NamedEntityIdentifier(project=key["project"], domain=key["domain"], name=key["name"]),
        common_pb2.NamedEntityMetadata(state=SYSTEM_GENERATED),
    )


def ensure_single_task_launch_plan(
    conn: sqlite3.Connection,
    state: EmulatorState,
    task_identifier: identifier_pb2.Identifier,
    spec: execution_pb2.ExecutionSpec | None = None,
    task: task_pb2.Task | None = None,
) -> tuple[int, launch_plan_pb2.LaunchPlan]:
    """Return the `.flytegen.<task>` launch plan for `task_identifier`, creating workflow and LP if needed.

    `task` is the task when the caller has read it already (CreateExecution needs its row id too), so that
    it is read once per request."""
    if task is None:
        _, task = get_task_row(conn, task_identifier)  # NOT_FOUND for an unknown task version
    name = GENERATED_PREFIX + task_identifier.name
    key = {
        "project": task_identifier.project,
        "domain": task_identifier.domain,
        "name": name,
        "version": task_identifier.version,
    }
    workflow_id = identifier_pb2.Identifier(resource_type=ResourceType.WORKFLOW, **key)
    plan_id = identifier_pb2.Identifier(resource_type=ResourceType.LAUNCH_PLAN, **key)
    try:
        return get_launch_plan(conn, plan_id)
    except AdminError:
        pass
    try:
        workflow_row_id, workflow = get_workflow(conn, workflow_id)
    except AdminError:
        _create_workflow(conn, state, task_identifier, task, workflow_id)
        _hide(conn, state, ResourceType.WORKFLOW, key)
        workflow_row_id, workflow = get_workflow(conn, workflow_id)
    plan_spec = launch_plan_pb2.LaunchPlanSpec(
        workflow_id=identifier_pb2.Identifier(
            resource_type=ResourceType.WORKFLOW,
            project=task_identifier.project,
            domain=task_identifier.domain,
            name=task_identifier.name,
            version=task_identifier.version,
        )
    )
    for part in ("entity_metadata", "default_inputs", "fixed_inputs", "labels", "annotations"):
        getattr(plan_spec, part).SetInParent()
    if spec is not None:
        for part in ("auth_role", "security_context"):
            if spec.HasField(part):
                getattr(plan_spec, part).CopyFrom(getattr(spec, part))
    insert_launch_plan(
        conn,
        state,
        launch_plan_pb2.LaunchPlanCreateRequest(id=plan_id, spec=plan_spec),
        workflow_row_id,
        workflow.closure.compiled_workflow.primary.template.interface,
        check_project=False,
    )
    _hide(conn, state, ResourceType.LAUNCH_PLAN, key)
    return get_launch_plan(conn, plan_id)


def _create_workflow(
    conn: sqlite3.Connection,
    state: EmulatorState,
    task_identifier: identifier_pb2.Identifier,
    task: task_pb2.Task,
    workflow_id: identifier_pb2.Identifier,
) -> None:
    """The one-node workflow of `CreateOrGetWorkflowModel`, registered through CreateWorkflow."""
    template = task.closure.compiled_task.template
    node_id = node_id_of_task(task_identifier.name)
    retries = template.metadata.retries if template.metadata.HasField("retries") else None
    node = core_workflow_pb2.Node(
        id=node_id,
        metadata=core_workflow_pb2.NodeMetadata(
            name=node_id,
            retries=retries if retries is not None else literals_pb2.RetryStrategy(retries=3),
        ),
        task_node=core_workflow_pb2.TaskNode(reference_id=task_identifier),
    )
    for var in sorted(template.interface.inputs.variables):
        node.inputs.add(var=var, binding=_promise("", var))
    workflow = core_workflow_pb2.WorkflowTemplate(id=workflow_id, interface=template.interface, nodes=[node])
    for var in sorted(template.interface.outputs.variables):
        workflow.outputs.add(var=var, binding=_promise(node_id, var))
    create_workflow_in_tx(
        conn,
        state,
        workflow_pb2.WorkflowCreateRequest(id=workflow_id, spec=workflow_pb2.WorkflowSpec(template=workflow)),
        check_project=False,
    )
