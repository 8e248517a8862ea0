"""Launch plans as jobs: launch once per Prefect run, re-attach on retries, wait, read the outputs.

The steps are written once, as generators free of I/O (like `client.operations`): they yield a
`ClientCall` (a method of the friendly client and its arguments) or a `Pause`, and receive the answer, or
have the error thrown in. `run_steps` drives them with `SynchronousFlyteClient` and `time.sleep`,
`run_steps_async` with `AsyncFlyteClient` and `asyncio.sleep` (both through the operations' own drivers,
`client.operations.drive` and `drive_async`), so the sync and async faces of the blocks in
`flyteadmin_ops.blocks` cannot drift apart.

Idempotency across Prefect retries (`find_attempt`, then `perform_launch`): inside a Prefect run the
execution is named by `run_names.execution_name_for_run(key, attempt=n)`, where `key` digests the call
(project, domain, launch plan name, the version asked for, and the inputs). A retried task or flow run
computes the same names and probes them in order, attempt 0, 1, 2, ...:

- a name that does not exist yet is launched (the client's own launch rule makes a resend after a lost
  reply answer with the same execution);
- an execution that is queued, running or succeeded is re-attached, not launched again;
- an execution that FAILED, was ABORTED or TIMED_OUT is skipped: the retry launches the next attempt, so a
  retry can fix a failure (after a new version was activated, say) instead of reporting the old one.

Outside a Prefect run there is nothing to re-attach to: each launch gets the client's random name.
"""

from __future__ import annotations

import flyteadmin_ops._prefect_required  # noqa: F401  (first: without Prefect, names the extra)

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flyteidl.admin import execution_pb2, launch_plan_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.core.identifier_pb2 import WorkflowExecutionIdentifier as ExecutionId

from flyteadmin_ops.client.operations import Launched, drive, drive_async
from flyteadmin_ops.client.values import to_python_map
from flyteadmin_ops.errors import (
    FlyteEntityNotExistException,
    FlyteExecutionFailed,
    FlyteExecutionWaitTimeout,
    FlyteFailedPreconditionException,
)
from flyteadmin_ops.run_names import current_run_id, execution_name_for_run

T = TypeVar("T")
Phase = core_execution_pb2.WorkflowExecution.Phase

TERMINAL_PHASES = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
UNSUCCESSFUL_PHASES = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})
"""Terminal phases that a retry must not re-attach to (the retry launches a new attempt instead)."""

MAX_ATTEMPTS = 100
"""Probing stops here: a hundred failed attempts in one run means something else is wrong."""

FIRST_POLL_SECONDS = 0.25
"""The first poll comes soon (short executions end fast); the interval then doubles up to the block's."""

RUN_LABEL = "prefect-flow-run-id"
"""Label on executions launched inside a Prefect run: find the run from the execution (console, filters)."""


# ------------------------------------------------------------------------------------------ the step protocol


@dataclass(frozen=True)
class ClientCall:
    """Call `method` of the friendly client (sync or async, same name and arguments)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pause:
    """Wait `seconds` before the next step (time.sleep or asyncio.sleep, depending on the driver)."""

    seconds: float


Steps = Generator[ClientCall | Pause, Any, T]


def run_steps(steps: Steps[T], client: Any) -> T:
    """Drive `steps` with a `SynchronousFlyteClient`; every error goes back into the steps."""
    return drive(steps, lambda step: _perform(step, client))


def _perform(step: ClientCall | Pause, client: Any) -> Any:
    if isinstance(step, Pause):
        time.sleep(step.seconds)
        return None
    return getattr(client, step.method)(*step.args, **step.kwargs)


async def run_steps_async(steps: Steps[T], client: Any) -> T:
    """`run_steps` with an `AsyncFlyteClient`; a cancelled task stops at its next await."""
    return await drive_async(steps, lambda step: _perform_async(step, client))


async def _perform_async(step: ClientCall | Pause, client: Any) -> Any:
    if isinstance(step, Pause):
        await asyncio.sleep(step.seconds)
        return None
    call: Callable[..., Awaitable[Any]] = getattr(client, step.method)
    return await call(*step.args, **step.kwargs)


# ---------------------------------------------------------------------------------------------- launching


@dataclass(frozen=True)
class LaunchTarget:
    """Which launch plan to run: `version=None` means the active version, else the latest one."""

    project: str
    domain: str
    name: str
    version: str | None = None

    def describe(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}@{self.version or 'active'}"


@dataclass(frozen=True)
class Attached:
    """The execution a launch ended on: new (`created`) or found from an earlier try of the same run."""

    id: ExecutionId
    attempt: int
    created: bool


def resolve_launch_plan(target: LaunchTarget) -> Steps[launch_plan_pb2.LaunchPlan]:
    """The launch plan version to run: the one asked for, else the active one, else the newest one (the
    client's `resolve_launchable`, the same rule as `client.launch`)."""
    identifier = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=target.project,
        domain=target.domain,
        name=target.name,
        version=target.version or "",
    )
    found: launch_plan_pb2.LaunchPlan = yield ClientCall("resolve_launchable", (identifier,))
    return found


def call_key(target: LaunchTarget, inputs: literals_pb2.LiteralMap) -> str:
    """A stable digest of the call: the same launch plan (as asked for) with the same inputs, same key.

    The version asked for, not the one resolved: a retry after another version was activated is still
    the same call, and must find what the first try launched.
    """
    digest = hashlib.sha256()
    for part in (target.project, target.domain, target.name, target.version or ""):
        digest.update(part.encode() + b"\0")
    digest.update(inputs.SerializeToString(deterministic=True))
    return digest.hexdigest()


def phase_of(execution: execution_pb2.Execution) -> str:
    return Phase.Name(execution.closure.phase)


@dataclass(frozen=True)
class PendingLaunch:
    """A launch decided but not sent yet: its request (named inside a Prefect run) and attempt number.

    Deciding and sending are two steps so that the caller can record the execution's name on the Prefect
    flow run first: a cancellation that comes between the two still finds what to terminate.
    """

    request: execution_pb2.ExecutionCreateRequest
    attempt: int

    @property
    def execution_id(self) -> ExecutionId | None:
        """The id the launch will have; None when the client is to generate the name."""
        request = self.request
        if not request.name:
            return None
        return ExecutionId(project=request.project, domain=request.domain, name=request.name)


def find_attempt(
    target: LaunchTarget,
    launch_plan: launch_plan_pb2.LaunchPlan,
    inputs: literals_pb2.LiteralMap,
    name_for_attempt: Callable[[int], str | None],
) -> Steps[Attached | PendingLaunch]:
    """The execution to re-attach to, or the launch to make: the first attempt whose name is free or whose
    execution did not fail (module docstring)."""
    name: str | None = None
    for attempt in range(MAX_ATTEMPTS):
        name = name_for_attempt(attempt)
        if name is None:
            return _pending(target, launch_plan, inputs, "", attempt)
        identifier = ExecutionId(project=target.project, domain=target.domain, name=name)
        try:
            existing: execution_pb2.Execution = yield ClientCall("get_execution", (identifier,))
        except FlyteEntityNotExistException:
            return _pending(target, launch_plan, inputs, name, attempt)
        if existing.spec.launch_plan.name != launch_plan.id.name:
            raise RuntimeError(f"execution {name} runs {existing.spec.launch_plan.name}, not {target.name}")
        if phase_of(existing) not in UNSUCCESSFUL_PHASES:
            return Attached(existing.id, attempt, created=False)
    raise RuntimeError(f"{MAX_ATTEMPTS} attempts of {target.describe()} failed in this run; last: {name}")


def _pending(
    target: LaunchTarget,
    launch_plan: launch_plan_pb2.LaunchPlan,
    inputs: literals_pb2.LiteralMap,
    name: str,
    attempt: int,
) -> PendingLaunch:
    spec = execution_pb2.ExecutionSpec(
        launch_plan=launch_plan.id,
        metadata=execution_pb2.ExecutionMetadata(mode=execution_pb2.ExecutionMetadata.MANUAL),
    )
    run_id = current_run_id()
    if run_id is not None:
        spec.labels.values[RUN_LABEL] = run_id
    request = execution_pb2.ExecutionCreateRequest(
        project=target.project, domain=target.domain, name=name, spec=spec, inputs=inputs
    )
    return PendingLaunch(request, attempt)


def perform_launch(pending: PendingLaunch) -> Steps[Attached]:
    """Send the launch (the client's launch rule: a resend after a lost reply ends on the same execution)."""
    launched: Launched = yield ClientCall("launch", (pending.request,))
    return Attached(launched.id, pending.attempt, launched.created)


def name_for_attempt(key: str) -> Callable[[int], str | None]:
    """The attempt -> execution name rule of the current Prefect run (None outside a run)."""
    return lambda attempt: execution_name_for_run(key, attempt=attempt)


# ------------------------------------------------------------------------------------------------ waiting


def wait_for(
    execution_id: ExecutionId,
    poll_interval_seconds: float,
    timeout_seconds: float | None,
    on_phase: Callable[[execution_pb2.Execution], None],
) -> Steps[execution_pb2.Execution]:
    """Poll until the execution is terminal, doubling the interval up to `poll_interval_seconds`.

    `on_phase` sees the execution at each phase change. Past `timeout_seconds` the execution is
    terminated (a job that may not run longer should not keep using the cluster) and
    FlyteExecutionWaitTimeout raised; a retry of the same run then launches a new attempt.
    """
    started = time.monotonic()
    interval = min(FIRST_POLL_SECONDS, poll_interval_seconds)
    last_phase = ""
    while True:
        execution: execution_pb2.Execution = yield ClientCall("get_execution", (execution_id,))
        phase = phase_of(execution)
        if phase != last_phase:
            on_phase(execution)
            last_phase = phase
        if phase in TERMINAL_PHASES:
            return execution
        waited = time.monotonic() - started
        if timeout_seconds is not None and waited >= timeout_seconds:
            yield from terminate(execution_id, f"waited longer than {timeout_seconds:g} s for it")
            raise FlyteExecutionWaitTimeout(describe(execution_id), timeout_seconds, terminated=True)
        pause = interval if timeout_seconds is None else min(interval, timeout_seconds - waited)
        yield Pause(pause)
        interval = min(interval * 2, poll_interval_seconds)


def terminate(execution_id: ExecutionId, cause: str) -> Steps[bool]:
    """Terminate the execution; False when it had already ended, or was never launched (a name recorded
    just before a launch that did not happen): nothing to do, not an error."""
    try:
        yield ClientCall("terminate_execution", (execution_id, cause))
    except (FlyteFailedPreconditionException, FlyteEntityNotExistException):
        return False
    return True


def failure_of(execution: execution_pb2.Execution) -> FlyteExecutionFailed | None:
    """The typed error of an unsuccessful execution, with Flyte's code and message; None otherwise."""
    phase = phase_of(execution)
    if phase not in UNSUCCESSFUL_PHASES:
        return None
    closure = execution.closure
    code, message = closure.error.code, closure.error.message
    if not message and closure.HasField("abort_metadata"):
        code, message = code or "Aborted", closure.abort_metadata.cause
    return FlyteExecutionFailed(describe(execution.id), phase, code, message)


def describe(execution_id: ExecutionId) -> str:
    return f"{execution_id.project}/{execution_id.domain}/{execution_id.name}"


def describe_launch_plan(launch_plan: launch_plan_pb2.LaunchPlan) -> str:
    ident = launch_plan.id
    return f"{ident.project}/{ident.domain}/{ident.name}@{ident.version}"


def console_link(console_url: str, execution_id: ExecutionId) -> str:
    """Flyte console's page of the execution."""
    return (
        f"{console_url.rstrip('/')}/console/projects/{execution_id.project}/domains/{execution_id.domain}"
        f"/executions/{execution_id.name}"
    )


# ------------------------------------------------------------------------------------------------ results


def read_outputs(execution_id: ExecutionId, launch_plan: launch_plan_pb2.LaunchPlan) -> Steps[dict[str, Any]]:
    """The execution's outputs as Python values, typed by the launch plan's declared outputs."""
    data: execution_pb2.WorkflowExecutionGetDataResponse = yield ClientCall(
        "get_execution_data", (execution_id,)
    )
    return to_python_map(data.full_outputs, launch_plan.closure.expected_outputs)
