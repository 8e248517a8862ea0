"""The `.flytegen.<task>` workflow and launch plan behind a single-task execution.

CreateExecution with `spec.launch_plan.resource_type = TASK` makes flyteadmin
(`util/single_task_execution.go`)
create, if missing, a one-node workflow and a launch plan named `.flytegen.<task name>` at the task's version,
and mark the workflow's named entity SYSTEM_GENERATED so that listings hide it.
"""

from __future__ import annotations

import re
import sqlite3

from flyteidl.admin import common_pb2, launch_plan_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from flyteadmin_ops.emulator.compiler import START_NODE
from flyteadmin_ops.emulator.launch_plans import create_launch_plan_in_tx, get_launch_plan
from flyteadmin_ops.emulator.named_entities import SYSTEM_GENERATED, upsert_metadata
from flyteadmin_ops.emulator.registry import AdminError
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.tasks import get_task_row
from flyteadmin_ops.emulator.workflows import create_workflow_in_tx, get_workflow

ResourceType = identifier_pb2.ResourceType
GENERATED_PREFIX = ".flytegen."


def _node_id(task_name: str) -> str:
    """A DNS-friendly node id from the last segment of the task name (flyteadmin's
    generateNodeNameFromTask)."""
    tail = task_name.rsplit(".", 1)[-1].lower()
    return re.sub(r"[^a-z0-9-]", "-", tail)[:63] or "node"


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def ensure_single_task_launch_plan(
    conn: sqlite3.Connection, state: EmulatorState, task_identifier: identifier_pb2.Identifier
) -> tuple[int, launch_plan_pb2.LaunchPlan]:
    """Return the `.flytegen.<task>` launch plan for `task_identifier`, creating workflow and LP if needed."""
    _, task = get_task_row(conn, task_identifier)
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
    interface = task.closure.compiled_task.template.interface
    try:
        get_workflow(conn, workflow_id)
    except AdminError:
        node_id = _node_id(task_identifier.name)
        node = core_workflow_pb2.Node(
            id=node_id,
            metadata=core_workflow_pb2.NodeMetadata(
                name=node_id, retries=task.closure.compiled_task.template.metadata.retries
            ),
            task_node=core_workflow_pb2.TaskNode(reference_id=task.closure.compiled_task.template.id),
        )
        for var in interface.inputs.variables:
            node.inputs.add(var=var, binding=_promise(START_NODE, var))
        template = core_workflow_pb2.WorkflowTemplate(id=workflow_id, interface=interface, nodes=[node])
        for var in interface.outputs.variables:
            template.outputs.add(var=var, binding=_promise(node_id, var))
        create_workflow_in_tx(
            conn,
            state,
            workflow_pb2.WorkflowCreateRequest(
                id=workflow_id, spec=workflow_pb2.WorkflowSpec(template=template)
            ),
            check_project=False,
        )
        upsert_metadata(
            conn,
            state,
            ResourceType.WORKFLOW,
            common_pb2.NamedEntityIdentifier(project=key["project"], domain=key["domain"], name=name),
            common_pb2.NamedEntityMetadata(state=SYSTEM_GENERATED),
        )
    create_launch_plan_in_tx(
        conn,
        state,
        launch_plan_pb2.LaunchPlanCreateRequest(
            id=plan_id, spec=launch_plan_pb2.LaunchPlanSpec(workflow_id=workflow_id)
        ),
        check_project=False,
    )
    return get_launch_plan(conn, plan_id)
