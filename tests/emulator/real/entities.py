"""Registering the entities the list entries of the reference were made against, by the names they use.

Each helper registers through the public RPCs, in the test's project (`<P>`), domain development, version
v1: a container task (no inputs or outputs) with an RST long description, a one-node workflow over a task,
its launch plan, an execution of that launch plan.
"""

from __future__ import annotations

from flyteidl.admin import execution_pb2, launch_plan_pb2, task_pb2, workflow_pb2

from tests.emulator.real.support import Real

_ID = 'project: "<P>" domain: "development" name: "{name}" version: "v1"'
_DESCRIPTION = "description { long_description { format: DESCRIPTION_FORMAT_RST } }"


def register_task(real: Real, name: str) -> None:
    identifier = f"id {{ resource_type: TASK {_ID.format(name=name)} }}"
    template = (
        f'{identifier} type: "python-task" metadata {{ runtime {{ type: FLYTE_SDK version: "1.16.31" }} }}'
        ' interface { } container { image: "ghcr.io/example/app:1" args: "pyflyte-execute" }'
    )
    body = f"{identifier} spec {{ template {{ {template} }} {_DESCRIPTION} }}"
    real.call("CreateTask", real.parse(task_pb2.TaskCreateRequest, body))


def register_workflow(real: Real, name: str, task: str) -> None:
    """A workflow of one node that runs `task` (registered first)."""
    register_task(real, task)
    node = (
        f'nodes {{ id: "n0" task_node {{ reference_id {{ resource_type: TASK {_ID.format(name=task)} }} }} }}'
    )
    template = (
        f"id {{ resource_type: WORKFLOW {_ID.format(name=name)} }} metadata {{ }} interface {{ }} {node}"
    )
    identifier = f"id {{ resource_type: WORKFLOW {_ID.format(name=name)} }}"
    body = f"{identifier} spec {{ template {{ {template} }} {_DESCRIPTION} }}"
    real.call("CreateWorkflow", real.parse(workflow_pb2.WorkflowCreateRequest, body))


def register_launch_plan(real: Real, name: str, workflow: str) -> None:
    body = (
        f"id {{ resource_type: LAUNCH_PLAN {_ID.format(name=name)} }}"
        f" spec {{ workflow_id {{ resource_type: WORKFLOW {_ID.format(name=workflow)} }} }}"
    )
    real.call("CreateLaunchPlan", real.parse(launch_plan_pb2.LaunchPlanCreateRequest, body))


def register_scoring(real: Real) -> None:
    """The reference's pipeline: workflow heldout_app.pipelines.scoring over task ...normalize, launch plan
    scoring_default."""
    register_workflow(real, "heldout_app.pipelines.scoring", "heldout_app.pipelines.normalize")
    register_launch_plan(real, "scoring_default", "heldout_app.pipelines.scoring")


def launch(real: Real, name: str, launch_plan: str = "scoring_default") -> None:
    body = (
        f'project: "<P>" domain: "development" name: "{name}"'
        f" spec {{ launch_plan {{ resource_type: LAUNCH_PLAN {_ID.format(name=launch_plan)} }} }}"
    )
    real.call("CreateExecution", real.parse(execution_pb2.ExecutionCreateRequest, body))
