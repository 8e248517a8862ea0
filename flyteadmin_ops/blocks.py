"""The Prefect Block that holds a Flyte Admin connection: `FlyteAdminConnection`.

This module is the `prefect.collections` entry point of the package (see pyproject), so a Prefect server
started where flyteadmin_ops is installed registers the block type on start; `prefect block register -m
flyteadmin_ops.blocks` does the same by hand.

The block is a credentials block in the prefect-aws / prefect-github style: connection fields plus secrets
as `SecretStr` (masked in the UI, in `repr`, in `model_dump()` and in logs), and `get_client()`. It builds
`AdminSettings` from its own fields only (`AdminSettings.isolated`), so a worker's environment variables or
~/.flyte/config.yaml cannot silently change which Admin a saved block talks to.

`FlyteLaunchPlan` is a `JobBlock` (as prefect-dbt's `DbtCloudJob`): `trigger()` launches the launch plan
and returns a `FlyteExecutionRun` (a `JobRun`) whose `wait_for_completion()` and `fetch_result()` wait for
the execution and return its outputs as Python values. Prefect's abstract methods are coroutines, for
async flows; each has a `*_sync` twin for sync flows (typed, no event-loop guessing). Both faces run the
same steps (`flyteadmin_ops.jobs`), with `AsyncFlyteClient` and `SynchronousFlyteClient` respectively.
Inside a Prefect run a launch is idempotent across retries (see `flyteadmin_ops.jobs`), and it is recorded
on the flow run before it is sent (a label per execution), so that `terminate_launched_executions`, an
`on_cancellation` hook, can terminate what a cancelled flow run launched.
"""

from __future__ import annotations

import flyteadmin_ops._prefect_required  # noqa: F401  (first: without Prefect, names the extra)

from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core.identifier_pb2 import WorkflowExecutionIdentifier
from prefect.blocks.abstract import CredentialsBlock, JobBlock, JobRun
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.loggers import flow_run_logger
from pydantic import Field, SecretStr

from flyteadmin_ops import jobs
from flyteadmin_ops.client.values import inputs_for_launch_plan

if TYPE_CHECKING:
    from flyteadmin_ops.client import AsyncFlyteClient, SynchronousFlyteClient
    from flyteadmin_ops.settings import AdminSettings


class FlyteAdminConnection(CredentialsBlock):
    """Where Flyte Admin is and how to authenticate to it.

    Example:
        ```python
        from prefect import flow
        from flyteadmin_ops.blocks import FlyteAdminConnection

        @flow
        def list_projects() -> list[str]:
            connection = FlyteAdminConnection.load("production")
            with connection.get_client() as client:
                return [p.id for p in client.list_projects().projects]
        ```
    """

    _block_type_name = "Flyte Admin Connection"
    _logo_url = "https://avatars.githubusercontent.com/u/68125285"  # type: ignore[assignment]
    _documentation_url = "https://github.com/flyteorg/flyte"  # type: ignore[assignment]
    _description = "Connection settings and credentials for a Flyte Admin gRPC endpoint."

    endpoint: str = Field(default="localhost:30080", description="Flyte Admin gRPC endpoint, host:port.")
    insecure: bool = Field(default=False, description="Plaintext gRPC (no TLS), e.g. for a local sandbox.")
    ca_cert_file: str | None = Field(
        default=None, description="Path (on the worker) to a PEM file with the CA that signs the server cert."
    )
    auth_mode: Literal["none", "static", "client_credentials", "external_command"] = Field(
        default="none", description="How to obtain a token."
    )
    token: SecretStr | None = Field(default=None, description="Static bearer token (auth_mode=static).")
    client_id: str | None = Field(
        default=None, description="OAuth2 client id (auth_mode=client_credentials)."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="OAuth2 client secret (auth_mode=client_credentials)."
    )
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes to request.")
    audience: str | None = Field(default=None, description="OAuth2 audience, if the provider needs one.")
    token_endpoint: str | None = Field(
        default=None, description="OAuth2 token URL; discovered from the server when empty."
    )
    deadline_seconds: float = Field(default=30.0, gt=0, description="Deadline of each RPC attempt.")
    max_concurrency: int = Field(default=8, gt=0, description="At most this many RPCs in flight at once.")
    retry_attempts: int = Field(
        default=5, ge=1, description="Attempts per RPC in all, the first included (retryable errors only)."
    )
    run_retry_budget_seconds: float = Field(
        default=180.0,
        gt=0,
        description="Seconds for all attempts of one Prefect task run together, counted from the first: no "
        "task retry starts that could pass it (see the README's retry paragraph).",
    )
    console_url: str | None = Field(
        default=None,
        description="Flyte console base URL for execution links; empty: http(s)://<endpoint>.",
    )

    def get_settings(self) -> AdminSettings:
        """AdminSettings from this block's fields alone (no environment, no config files)."""
        from flyteadmin_ops.settings import AdminSettings

        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in (
                "endpoint",
                "insecure",
                "ca_cert_file",
                "auth_mode",
                "token",
                "client_id",
                "client_secret",
                "scopes",
                "audience",
                "token_endpoint",
                "deadline_seconds",
                "max_concurrency",
                "retry_attempts",
                "run_retry_budget_seconds",
            )
            if getattr(self, name) is not None
        }
        return AdminSettings.isolated(**values)

    def get_client(self, *args: Any, **kwargs: Any) -> SynchronousFlyteClient:
        """A new client; close it when done (it is a context manager). Keyword arguments override settings."""
        from flyteadmin_ops.client import SynchronousFlyteClient

        return SynchronousFlyteClient(self.get_settings(), *args, **kwargs)

    def get_async_client(self, **overrides: Any) -> AsyncFlyteClient:
        """A new asyncio client (`async with`); it belongs to the event loop that first uses it."""
        from flyteadmin_ops.client import AsyncFlyteClient

        return AsyncFlyteClient(self.get_settings(), **overrides)

    def console_base_url(self) -> str:
        """`console_url`, else the endpoint as a URL (Flyte serves its console beside the Admin API)."""
        if self.console_url:
            return self.console_url.rstrip("/")
        host = self.endpoint.removeprefix("dns:///")
        if self.insecure:
            return f"http://{host}"
        return f"https://{host.removesuffix(':443')}"


LAUNCH_LABEL_PREFIX = "flyte.execution/"
"""Flow run label `flyte.execution/<project>/<domain>/<name>` = the connection block's saved name (or "")."""


class FlyteLaunchPlan(JobBlock):
    """A Flyte launch plan to run as a Prefect job: `trigger()` it, then wait for and fetch its outputs.

    `inputs` are Python values, converted with the launch plan's interface (defaults and fixed inputs
    apply as flyteadmin applies them); a missing, unknown or mistyped input is refused before anything
    is launched. `version=None` runs the active version, or the newest one when none is active.

    Example:
        ```python
        from prefect import flow
        from flyteadmin_ops.blocks import FlyteAdminConnection, FlyteLaunchPlan

        @flow
        def nightly() -> dict:
            job = FlyteLaunchPlan(
                connection=FlyteAdminConnection.load("flyteadmin"),
                project="flytesnacks", domain="production", name="train.nightly",
                inputs={"epochs": 3},
            )
            run = job.trigger_sync()
            run.wait_for_completion_sync()  # raises FlyteExecutionFailed with Flyte's error
            return run.fetch_result_sync()  # {"model_uri": "s3://...", ...}
        ```
    """

    _block_type_name = "Flyte Launch Plan"
    _logo_url = "https://avatars.githubusercontent.com/u/68125285"  # type: ignore[assignment]
    _documentation_url = "https://github.com/flyteorg/flyte"  # type: ignore[assignment]
    _description = "A Flyte launch plan, launched and awaited as a Prefect job."

    connection: FlyteAdminConnection = Field(description="Where Flyte Admin is.")
    project: str = Field(description="Flyte project of the launch plan.")
    domain: str = Field(description="Flyte domain of the launch plan.")
    name: str = Field(description="Launch plan name.")
    version: str | None = Field(
        default=None, description="Version to run; empty: the active version, else the newest."
    )
    inputs: dict[str, Any] = Field(default_factory=dict, description="Inputs as Python values.")
    poll_interval_seconds: float = Field(
        default=10.0, gt=0, description="Longest pause between two status polls (they start faster)."
    )
    timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Terminate the execution and fail when it runs longer than this; empty: no limit.",
    )

    def _target(self) -> jobs.LaunchTarget:
        return jobs.LaunchTarget(self.project, self.domain, self.name, self.version)

    def _plan_steps(
        self,
    ) -> jobs.Steps[tuple[launch_plan_pb2.LaunchPlan, jobs.Attached | jobs.PendingLaunch]]:
        target = self._target()
        launch_plan = yield from jobs.resolve_launch_plan(target)
        literals = inputs_for_launch_plan(launch_plan, self.inputs)
        names = jobs.name_for_attempt(jobs.call_key(target, literals))
        return launch_plan, (yield from jobs.find_attempt(target, launch_plan, literals, names))

    async def trigger(self) -> FlyteExecutionRun:
        """Launch (or, in a retried Prefect run, re-attach to) an execution of the launch plan."""
        async with self.connection.get_async_client() as client:
            launch_plan, found = await jobs.run_steps_async(self._plan_steps(), client)
            if isinstance(found, jobs.PendingLaunch):
                await _arecord_launch(self.connection, found.execution_id)
                found = await jobs.run_steps_async(jobs.perform_launch(found), client)
        run = FlyteExecutionRun(self, launch_plan, found)
        run.announce()
        return run

    def trigger_sync(self) -> FlyteExecutionRun:
        """`trigger` for sync flows and plain scripts."""
        with self.connection.get_client() as client:
            launch_plan, found = jobs.run_steps(self._plan_steps(), client)
            if isinstance(found, jobs.PendingLaunch):
                _record_launch(self.connection, found.execution_id)
                found = jobs.run_steps(jobs.perform_launch(found), client)
        run = FlyteExecutionRun(self, launch_plan, found)
        run.announce()
        return run


class FlyteExecutionRun(JobRun):  # not a block: the run of one FlyteLaunchPlan
    """A launched execution: wait for it, read its outputs, or terminate it."""

    def __init__(
        self, job: FlyteLaunchPlan, launch_plan: launch_plan_pb2.LaunchPlan, attached: jobs.Attached
    ) -> None:
        self.job = job
        self.launch_plan = launch_plan
        self.execution_id = attached.id
        self.attempt = attached.attempt
        self.created = attached.created

    @property
    def console_url(self) -> str:
        """The execution's page in Flyte console."""
        return jobs.console_link(self.job.connection.console_base_url(), self.execution_id)

    def announce(self) -> None:
        verb = "Launched" if self.created else "Re-attached to"
        self.logger.info(
            "%s execution %s of %s (attempt %d): %s",
            verb,
            jobs.describe(self.execution_id),
            jobs.describe_launch_plan(self.launch_plan),
            self.attempt,
            self.console_url,
        )

    def _log_phase(self, execution: execution_pb2.Execution) -> None:
        self.logger.info(
            "Execution %s is %s: %s", self.execution_id.name, jobs.phase_of(execution), self.console_url
        )

    def _wait_steps(self) -> jobs.Steps[execution_pb2.Execution]:
        execution = yield from jobs.wait_for(
            self.execution_id, self.job.poll_interval_seconds, self.job.timeout_seconds, self._log_phase
        )
        failure = jobs.failure_of(execution)
        if failure is not None:
            self.logger.error("%s (%s)", failure, self.console_url)
            raise failure
        return execution

    def _result_steps(self) -> jobs.Steps[dict[str, Any]]:
        execution: execution_pb2.Execution = yield jobs.ClientCall("get_execution", (self.execution_id,))
        failure = jobs.failure_of(execution)
        if failure is not None:
            raise failure
        if jobs.phase_of(execution) != "SUCCEEDED":
            raise RuntimeError(
                f"execution {jobs.describe(self.execution_id)} is {jobs.phase_of(execution)}: "
                "wait_for_completion() first"
            )
        return (yield from jobs.read_outputs(self.execution_id, self.launch_plan))

    # Prefect annotates `JobRun.wait_for_completion` as returning a Logger; the final execution is
    # what a caller can use.
    async def wait_for_completion(self) -> execution_pb2.Execution:
        """Poll until the execution ends; raise FlyteExecutionFailed unless it SUCCEEDED."""
        async with self.job.connection.get_async_client() as client:
            return await jobs.run_steps_async(self._wait_steps(), client)

    def wait_for_completion_sync(self) -> execution_pb2.Execution:
        """`wait_for_completion` for sync flows."""
        with self.job.connection.get_client() as client:
            return jobs.run_steps(self._wait_steps(), client)

    async def fetch_result(self) -> dict[str, Any]:
        """The outputs as Python values (by output name)."""
        async with self.job.connection.get_async_client() as client:
            return await jobs.run_steps_async(self._result_steps(), client)

    def fetch_result_sync(self) -> dict[str, Any]:
        """`fetch_result` for sync flows."""
        with self.job.connection.get_client() as client:
            return jobs.run_steps(self._result_steps(), client)

    def terminate_sync(self, cause: str) -> bool:
        """Terminate the execution; False when it had already ended."""
        with self.job.connection.get_client() as client:
            return jobs.run_steps(jobs.terminate(self.execution_id, cause), client)


# ------------------------------------------------------------------------ cancellation of what a run launched


def _flow_run_id() -> UUID | None:
    flow_run_context = FlowRunContext.get()
    if flow_run_context is not None and flow_run_context.flow_run is not None:
        return flow_run_context.flow_run.id
    task_run_context = TaskRunContext.get()
    if task_run_context is not None:
        return task_run_context.task_run.flow_run_id
    return None


def _launch_label(connection: FlyteAdminConnection, execution_id: Any) -> dict[str, Any]:
    key = f"{LAUNCH_LABEL_PREFIX}{jobs.describe(execution_id)}"
    # A loaded block knows its saved name; the hook uses it to reconnect (an inline block has none).
    return {key: getattr(connection, "_block_document_name", None) or ""}


def _record_launch(connection: FlyteAdminConnection, execution_id: Any) -> None:
    """Label the current flow run with the execution about to be launched (nothing outside a flow run)."""
    flow_run_id = _flow_run_id()
    if flow_run_id is None or execution_id is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run_labels(flow_run_id, _launch_label(connection, execution_id))


async def _arecord_launch(connection: FlyteAdminConnection, execution_id: Any) -> None:
    flow_run_id = _flow_run_id()
    if flow_run_id is None or execution_id is None:
        return
    async with get_client() as client:
        await client.update_flow_run_labels(flow_run_id, _launch_label(connection, execution_id))


def terminate_launched_executions(flow: Any, flow_run: FlowRun, state: State) -> None:
    """`on_cancellation` hook: terminate every execution the cancelled flow run, or a subflow run of it,
    launched.

    Prefect's worker (or runner) stops the flow run's process and then runs this hook, so the hook cannot
    rely on the process' memory: it reads the executions from the labels of the flow run and of its subflow
    runs (`_record_launch`), and reconnects with the saved block named there, else with the run's
    `connection` parameter (a saved block's name, as in deployments). An execution that already ended is
    left as it is.
    """
    logger = flow_run_logger(flow_run)
    cause = f"Prefect flow run {flow_run.name} ({flow_run.id}) was cancelled"
    for run in _with_subflow_runs(flow_run):
        for key, block_name in (run.labels or {}).items():
            if key.startswith(LAUNCH_LABEL_PREFIX):
                _terminate_labelled(key, str(block_name or ""), run, cause, logger)


def _with_subflow_runs(flow_run: FlowRun) -> list[FlowRun]:
    """The flow run and its subflow runs, at every depth (a subflow's launches are labelled on it)."""
    found, parents = [flow_run], [flow_run.id]
    with get_client(sync_client=True) as client:
        while parents:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parents))
            )
            found.extend(children)
            parents = [child.id for child in children]
    return found


def _terminate_labelled(key: str, block_name: str, flow_run: FlowRun, cause: str, logger: Any) -> None:
    project, domain, name = key.removeprefix(LAUNCH_LABEL_PREFIX).split("/")
    connection = _hook_connection(block_name, flow_run)
    if connection is None:
        logger.error(
            "Cannot terminate %s/%s/%s: no saved connection block to reach it", project, domain, name
        )
        return
    execution_id = WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
    with connection.get_client() as client:
        terminated = jobs.run_steps(jobs.terminate(execution_id, cause), client)
    logger.info("%s %s/%s/%s", "Terminated" if terminated else "Already ended:", project, domain, name)


def _hook_connection(block_name: str, flow_run: FlowRun) -> FlyteAdminConnection | None:
    parameter = (flow_run.parameters or {}).get("connection")
    name = block_name or (parameter if isinstance(parameter, str) else "")
    if not name:
        return None
    loaded = FlyteAdminConnection.load(name)
    assert isinstance(loaded, FlyteAdminConnection)
    return loaded
