"""Flow: promote a launch plan version, i.e. make it the active one, optionally copying it across domains.

Deployed on demand by prefect.yaml. With `from_domain` (e.g. staging -> production), one task run copies
the launch plan and everything it refers to into the target domain (`ops.promote.copy_from_domain`); a
second activates the version, reads the active version back, and rolls back to what was active before if
that cannot be verified. Promoting a version that is already active writes nothing (`unchanged`), with or
without `from_domain`.
"""

from __future__ import annotations

from prefect import flow

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client.identifiers import launch_plan_id
from flyteadmin_ops.ops import promote as promote_ops
from flyteadmin_ops.ops.results import Result
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
    result = Result(promote_ops.OPERATION)
    if from_domain and from_domain != domain:
        target = launch_plan_id(project, domain, name, version)
        copied = copy_launch_plan_from_domain(block, target, from_domain)
        result.extend(copied)
        result.notes.append(
            f"copied from {project}/{from_domain}" if copied else f"{version} already active: nothing to copy"
        )
        if promote_ops.copy_failed(copied):
            result.add(promote_ops.not_activated(target))
            return finish(result, key)
    activated = activate_launch_plan(block, name, version, project, domain)
    result.extend(activated.outcomes)
    result.notes.extend(activated.notes)
    return finish(result, key)
