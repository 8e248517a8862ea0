"""Flow: make the matchable attributes on Flyte Admin match a declared file (config/attributes.yaml).

Deployed every 15 minutes by prefect.yaml. One task run plans (reads only, and rejects a bad file before
anything is written); one task run applies the changes, if there are any. A run with nothing to change
writes nothing.
"""

from __future__ import annotations

from prefect import flow

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.ops import attributes as attribute_ops
from flyteadmin_ops.ops.results import Result
from flyteadmin_ops.tasks import (
    apply_attribute_changes,
    artifact_key,
    finish,
    plan_attribute_changes,
    resolve_connection,
)


@flow(name="sync-attributes")
def sync_attributes(
    path: str = "config/attributes.yaml",
    connection: FlyteAdminConnection | str = "flyteadmin",
    prune: bool = False,
    dry_run: bool = False,
    file_text: str | None = None,
) -> Result:
    """Plan, then apply, the attribute changes declared in `path`; with `dry_run`, only report the drift.

    `file_text` is the declaration itself: prefect.yaml reads the file at deploy time and puts its text
    here, because a worker runs the flow in a temporary directory where `path` does not exist; `path` then
    only names the file in messages.

    Example:
        ```python
        from flyteadmin_ops.flows.sync_attributes import sync_attributes

        result = sync_attributes("config/attributes.yaml", "production", dry_run=True)
        drift = result.with_status(Status.PLANNED)
        ```
    """
    block = resolve_connection(connection)
    plan = plan_attribute_changes(block, path, prune, file_text)
    result = Result("sync-attributes", dry_run=dry_run)
    result.notes.append(f"{path}: {len(plan.changes)} change(s)" + (" (pruning)" if prune else ""))
    if plan.changes and not dry_run:
        result.extend(apply_attribute_changes(block, plan.changes))
    result.extend(attribute_ops.plan_outcomes(plan, dry_run=dry_run))
    return finish(result, artifact_key("sync-attributes"))
