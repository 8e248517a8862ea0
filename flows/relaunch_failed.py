"""Flow: recover (or relaunch) the failed executions of a project and domain, exactly once each.

Deployed hourly by prefect.yaml. One task run plans (reads only); then one task run per batch of launches.
Exactly-once does not depend on Prefect: every new execution has a name derived from the failed one, so an
overlapping or retried run gets ALREADY_EXISTS (`exists`) instead of a second execution.
"""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow
from pydantic import Field

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.ops import relaunch as relaunch_ops
from flyteadmin_ops.ops.results import Result
from flyteadmin_ops.tasks import (
    artifact_key,
    finish,
    relaunch_executions,
    resolve_connection,
    select_failed_executions,
)


@flow(name="relaunch-failed")
def relaunch_failed(
    project: str,
    domain: str,
    connection: FlyteAdminConnection | str = "flyteadmin",
    since: str = "24h",
    phases: tuple[Literal["FAILED", "TIMED_OUT"], ...] = ("FAILED",),
    launch_plan: str | None = None,
    mode: Literal["recover", "relaunch"] = "recover",
    max_launches: int | None = None,
    dry_run: bool = False,
    batch_size: Annotated[int, Field(ge=1)] = 50,
) -> Result:
    """Recover the executions of `project`/`domain` that failed in the last `since` (e.g. "24h").

    Example:
        ```python
        from flyteadmin_ops.blocks import FlyteAdminConnection
        from flyteadmin_ops.flows.relaunch_failed import relaunch_failed

        relaunch_failed("flytesnacks", "production", FlyteAdminConnection(endpoint="admin:8089"), since="6h")
        ```
    """
    block = resolve_connection(connection)
    selection = relaunch_ops.Selection.since(
        project, domain, relaunch_ops.parse_duration(since), phases=tuple(phases), launch_plan=launch_plan
    )
    plan = select_failed_executions(block, selection, mode, max_launches)
    result = Result(relaunch_ops.OPERATION, dry_run=dry_run)
    result.notes.append(relaunch_ops.describe_plan(plan))
    if dry_run:
        result.extend(relaunch_ops.planned_outcomes(plan))
    else:
        chosen = [candidate.failed for candidate in plan.to_launch]
        for start in range(0, len(chosen), batch_size):
            result.extend(relaunch_executions(block, chosen[start : start + batch_size], mode))
    result.extend(relaunch_ops.skipped_outcomes(plan))
    return finish(result, artifact_key("relaunch-failed", project, domain))
