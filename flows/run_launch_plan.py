"""Flow: run a Flyte launch plan with Python inputs, wait for it, return its outputs.

The "trigger and wait" flow of the Prefect integrations (prefect-dbt's `run_dbt_cloud_job`), over
`FlyteLaunchPlan`. What it adds to calling the block yourself:

- the Prefect run fails with Flyte's error (`FlyteExecutionFailed`: code and message) when the execution
  fails, is aborted or times out;
- retries of the flow run (`run_launch_plan.with_options(retries=2)`, or Retry in the UI) re-attach to the
  execution it launched, and launch a new attempt only after a failed one (`flyteadmin_ops.jobs`);
- cancelling the flow run terminates the execution: Prefect's worker stops the run's process and then runs
  the `on_cancellation` hook, which finds the execution in the flow run's labels. A flow called in-process
  (no worker or `serve`) cannot be cancelled by Prefect at all, so neither can its execution.
"""

# No `from __future__ import annotations`: Prefect validates the parameters with a model built from these
# annotations, and a worker that loads this file by path (an entrypoint "flows/run_launch_plan.py:...")
# cannot resolve string annotations such as "FlyteAdminConnection" (PydanticUserError at run time).
from typing import Annotated, Any

from prefect import flow
from pydantic import Field

from flyteadmin_ops.blocks import FlyteAdminConnection, FlyteLaunchPlan, terminate_launched_executions
from flyteadmin_ops.tasks import resolve_connection


@flow(name="run-launch-plan", on_cancellation=[terminate_launched_executions])
def run_launch_plan(
    project: str,
    domain: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    version: str | None = None,
    connection: FlyteAdminConnection | str = "flyteadmin",
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 10.0,
    timeout_seconds: Annotated[float | None, Field(gt=0)] = None,
) -> dict[str, Any]:
    """Launch `project`/`domain`/`name` (the active version unless `version`), wait, return its outputs.

    Example:
        ```python
        from prefect import flow
        from flyteadmin_ops.flows.run_launch_plan import run_launch_plan

        @flow
        def nightly() -> None:
            features = run_launch_plan("ml", "production", "features.build", {"day": "2026-01-31"})
            run_launch_plan("ml", "production", "train.nightly", {"table": features["table"]})
        ```
    """
    job = FlyteLaunchPlan(
        connection=resolve_connection(connection),
        project=project,
        domain=domain,
        name=name,
        version=version,
        inputs=inputs or {},
        poll_interval_seconds=poll_interval_seconds,
        timeout_seconds=timeout_seconds,
    )
    run = job.trigger_sync()
    run.wait_for_completion_sync()
    return run.fetch_result_sync()
