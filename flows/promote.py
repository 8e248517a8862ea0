"""Flow: promote a launch plan version, i.e. make it the active one, optionally copying it across domains.

Deployed on demand by prefect.yaml. With `from_domain` (e.g. staging -> production), one task run copies
the launch plan and everything it refers to into the target domain; a second activates the version,
reads the active version back, and rolls back to what was active before if that cannot be verified.
Promoting a version that is already active writes nothing (`unchanged`).
"""

from __future__ import annotations

from flyteidl.core import identifier_pb2
from prefect import flow

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.ops.register import identifier_text
from flyteadmin_ops.ops.results import Outcome, Result, Status
from flyteadmin_ops.tasks import (
    activate_launch_plan,
    artifact_key,
    copy_launch_plan_from_domain,
    finish,
    resolve_connection,
)


@flow(name="promote-launch-plan")
def promote_launch_plan(
    name: str,
    version: str,
    project: str,
    domain: str,
    connection: FlyteAdminConnection | str = "flyteadmin",
    from_domain: str | None = None,
) -> Result:
    """Activate launch plan `name` at `version` in `project`/`domain` (copied from `from_domain` first).

    Example:
        ```python
        from flyteadmin_ops.flows.promote import promote_launch_plan

        promote_launch_plan("ops_demo.nightly", "v42", "flytesnacks", "production", from_domain="staging")
        ```
    """
    block = resolve_connection(connection)
    key = artifact_key("promote", project, domain, name)
    result = Result("promote")
    if from_domain and from_domain != domain:
        target = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=project,
            domain=domain,
            name=name,
            version=version,
        )
        copied = copy_launch_plan_from_domain(block, target, from_domain)
        result.extend(copied)
        result.notes.append(f"copied from {project}/{from_domain}")
        if any(o.status.is_problem for o in copied):
            result.add(
                Outcome(
                    "launch_plan", identifier_text(target), Status.SKIPPED, "not activated: the copy failed"
                )
            )
            return finish(result, key)
    activated = activate_launch_plan(block, name, version, project, domain)
    result.extend(activated.outcomes)
    result.notes.extend(activated.notes)
    return finish(result, key)
