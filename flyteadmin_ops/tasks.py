"""Prefect tasks over the `ops` functions: one task run per wave or batch, never one per entity.

A Prefect server ingests a few dozen task runs a second, so a task per execution or per entity would make
a 500-entity registration wait on Prefect rather than on Flyte. Each task here does a batch of RPCs with
the library's own bounded concurrency and returns the per-entity outcomes, which the flows turn into one
summary table artifact.

Conventions (as in prefect-aws / prefect-dbt):
- verb_noun names, the `FlyteAdminConnection` block as the first parameter, a client opened per task run;
- `cache_policy=NO_CACHE`: the inputs include a block and protobufs, hashing them is meaningless, and a
  cached "launched" would be wrong the next hour anyway;
- retries only for errors a retry can fix (`is_retryable`), and only within the run retry budget
  (`run_retry_budget_seconds`, `client_tasks/budget.py`): the transport already retries each RPC within
  its deadline, so a task retry covers a longer outage, and the two together stop at the budget. It
  applies to errors that abort a whole task run (the planning reads, the target check); a failed write of
  one entity inside a batch is an outcome (`failed`), not an exception, so the table shows what did
  succeed, and the next run, which is idempotent (identifiers, derived execution names, full-state
  attribute writes), repairs the rest;
- logging through `get_run_logger()`; secrets never reach a log line (the block keeps them as SecretStr).

Beside these steps, every `SynchronousFlyteClient` operation is a task of the same name here
(`get_execution`, `list_executions`, `create_execution`, ...), made from one table in
`flyteadmin_ops.client_tasks`, which documents how each behaves when a run repeats it.
"""

from __future__ import annotations

import flyteadmin_ops._prefect_required  # noqa: F401  (first: without Prefect, names the extra)

import re
from collections.abc import Sequence
from typing import Any

from flyteidl.core import identifier_pb2
from prefect import Task, get_run_logger, task
from prefect.artifacts import create_table_artifact

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client_tasks import CLIENT_TASKS
from flyteadmin_ops.client_tasks.budget import task_client
from flyteadmin_ops.client_tasks.options import (
    RETRYABLE_ERRORS,
    TASK_OPTIONS,
    TASK_RETRIES,
    TASK_RETRY_DELAYS,
    is_retryable,
    resolve_connection,
)
from flyteadmin_ops.ops import attributes as attribute_ops
from flyteadmin_ops.ops import promote as promote_ops
from flyteadmin_ops.ops import register as register_ops
from flyteadmin_ops.ops import relaunch as relaunch_ops
from flyteadmin_ops.ops.package import Entity, Package
from flyteadmin_ops.ops.results import Outcome, Result

# The retry rule and the connection lookup are shared with the client tasks (client_tasks/options.py).
_TASK_OPTIONS: dict[str, Any] = TASK_OPTIONS


def __getattr__(name: str) -> Task[..., Any]:
    """Only reached for a name that is not here. It exists for type checkers, which cannot see the client
    tasks added at the end of this module: with it, `from flyteadmin_ops.tasks import get_execution`
    type-checks as a Task."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- register-all ------------------------------------------------------------------------------------


@task(name="prepare-registration", **_TASK_OPTIONS)
def prepare_registration(
    connection: FlyteAdminConnection,
    package: Package,
    project: str,
    domain: str,
    version: str,
    dest_dir: str = ".",
) -> register_ops.Prepared:
    """Everything before the first create (`ops.register.prepare`): check the package's values and
    schedules, check that the project and domain exist, upload the `fast*.tar.gz` and hydrate the package
    with its URL, and order it in dependency waves. `ready` is False when the upload failed.

    Example:
        ```python
        @flow
        def plan(connection: FlyteAdminConnection):
            prepared = prepare_registration(connection, load_package("pkg.tgz"), "p", "development", "v1")
            return [len(wave) for wave in prepared.waves]
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        prepared = register_ops.prepare(client, package, project, domain, version, dest_dir=dest_dir)
    _log_outcomes(logger, "register", prepared.outcomes)
    logger.info("%d entities in %d dependency wave(s)", len(prepared.package), len(prepared.waves))
    return prepared


@task(name="register-package-wave", **_TASK_OPTIONS)
def register_package_wave(
    connection: FlyteAdminConnection, wave: Sequence[Entity], continue_on_error: bool = False
) -> list[Outcome]:
    """Create one dependency wave concurrently (launch plans after the rest of the wave succeeded).
    Identical entities are `exists`, so a retried or repeated wave changes nothing.

    Example:
        ```python
        @flow
        def register(connection: FlyteAdminConnection, package: Package):
            return [register_package_wave(connection, wave) for wave in dependency_waves(package)]
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        outcomes = register_ops.register_waves(client, [wave], continue_on_error=continue_on_error)
    _log_outcomes(logger, "register", outcomes)
    return outcomes


@task(name="activate-scheduled-launch-plans", **_TASK_OPTIONS)
def activate_scheduled_launch_plans(
    connection: FlyteAdminConnection, package: Package, outcomes: Sequence[Outcome]
) -> list[Outcome]:
    """Activate the package's launch plans that carry a schedule and were registered (created or exists)
    according to `outcomes`; an already active one is `unchanged`.

    Example:
        ```python
        @flow
        def schedules(connection: FlyteAdminConnection, prepared: Prepared, outcomes: list[Outcome]):
            return activate_scheduled_launch_plans(connection, prepared.package, outcomes)
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        activated = register_ops.activate_scheduled(client, package, list(outcomes))
    _log_outcomes(logger, "register", activated)
    return activated


# ---- promote -----------------------------------------------------------------------------------------


@task(name="copy-launch-plan-from-domain", **_TASK_OPTIONS)
def copy_launch_plan_from_domain(
    connection: FlyteAdminConnection, target: identifier_pb2.Identifier, from_domain: str
) -> list[Outcome]:
    """Register in `target`'s domain the launch plan as it exists in `from_domain`, with everything it
    refers to there (workflows, subworkflows, tasks, launch plans), in dependency order; nothing (and no
    outcome) when `target` is already the active version there.

    Example:
        ```python
        @flow
        def copy(connection: FlyteAdminConnection, target: Identifier):
            return copy_launch_plan_from_domain(connection, target, "staging")
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        register_ops.check_target(client, target.project, target.domain)
        outcomes = promote_ops.copy_from_domain(client, target, from_domain)
    _log_outcomes(logger, "promote", outcomes)
    return outcomes


@task(name="activate-launch-plan", **_TASK_OPTIONS)
def activate_launch_plan(
    connection: FlyteAdminConnection, name: str, version: str, project: str, domain: str
) -> Result:
    """Make `version` the active version of launch plan `name`, verified by reading it back (rolled back
    when it cannot be verified); `unchanged` when it already is.

    Example:
        ```python
        @flow
        def go_live(connection: FlyteAdminConnection):
            return activate_launch_plan(connection, "nightly", "v7", "flytesnacks", "production")
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        result = promote_ops.promote_launch_plan(client, name, version, project, domain)
    _log_outcomes(logger, "promote", result.outcomes)
    for note in result.notes:
        logger.info("promote %s: %s", name, note)
    return result


# ---- relaunch-failed ---------------------------------------------------------------------------------


@task(name="select-failed-executions", **_TASK_OPTIONS)
def select_failed_executions(
    connection: FlyteAdminConnection,
    selection: relaunch_ops.Selection,
    mode: relaunch_ops.Mode = "recover",
    max_launches: int | None = None,
) -> relaunch_ops.Plan:
    """Find the failed executions in the window and decide which to launch (reads only).

    Example:
        ```python
        @flow
        def preview(connection: FlyteAdminConnection):
            selection = Selection.since("p", "development", timedelta(hours=24))
            plan = select_failed_executions(connection, selection)
            return [c.failed.name for c in plan.to_launch]
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        plan = relaunch_ops.plan_relaunches(client, selection, mode, max_launches)
    logger.info(
        "%d failed execution(s) in %s/%s; %d to %s",
        len(plan.candidates),
        selection.project,
        selection.domain,
        len(plan.to_launch),
        mode,
    )
    return plan


@task(name="relaunch-executions", **_TASK_OPTIONS)
def relaunch_executions(
    connection: FlyteAdminConnection,
    failed: Sequence[relaunch_ops.ExecutionId],
    mode: relaunch_ops.Mode = "recover",
) -> list[Outcome]:
    """Recover or relaunch one batch of failed executions under their derived names (exactly once each).

    Example:
        ```python
        @flow
        def recover_these(connection: FlyteAdminConnection, plan: Plan):
            return relaunch_executions(connection, [c.failed for c in plan.to_launch], "recover")
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        outcomes = relaunch_ops.launch_relaunches(client, list(failed), mode)
    _log_outcomes(logger, "relaunch", outcomes)
    return outcomes


# ---- sync-attributes ---------------------------------------------------------------------------------


@task(name="plan-attribute-changes", **_TASK_OPTIONS)
def plan_attribute_changes(
    connection: FlyteAdminConnection, path: str, prune: bool = False, file_text: str | None = None
) -> attribute_ops.AttributePlan:
    """Load and check the declared file, read the server's rows, and plan the changes (reads only).
    With `file_text` (the file's content, carried by a deployment) nothing is read from disk.

    Example:
        ```python
        @flow
        def drift(connection: FlyteAdminConnection) -> bool:
            return plan_attribute_changes(connection, "config/attributes.yaml").drift
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        _, plan = attribute_ops.plan_from_file(client, path, prune=prune, text=file_text)
    logger.info("%s: %d change(s), %d entr(ies) in sync", path, len(plan.changes), len(plan.unchanged))
    for change in plan.changes:
        logger.info("%s %s: %s", change.type.name, change.scope, change.describe())
    return plan


@task(name="apply-attribute-changes", **_TASK_OPTIONS)
def apply_attribute_changes(
    connection: FlyteAdminConnection, changes: Sequence[attribute_ops.Change]
) -> list[Outcome]:
    """Apply planned changes in order (deletes first). Re-running after a failure is safe: each write is a
    full record and each delete is a no-op when already gone.

    Example:
        ```python
        @flow
        def sync(connection: FlyteAdminConnection):
            plan = plan_attribute_changes(connection, "config/attributes.yaml")
            return apply_attribute_changes(connection, plan.changes)
        ```
    """
    logger = get_run_logger()
    with task_client(connection) as client:
        outcomes = attribute_ops.apply_changes(client, changes)
    _log_outcomes(logger, "attributes", outcomes)
    return outcomes


# ---- shared ------------------------------------------------------------------------------------------


def _log_outcomes(logger: Any, what: str, outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        log = logger.warning if outcome.status.is_problem else logger.info
        log("%s %s %s: %s %s", what, outcome.kind, outcome.name, outcome.status.value, outcome.detail)


_KEY_CHARS = re.compile(r"[^a-z0-9-]+")


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from free text: lowercase letters, digits and dashes only (Prefect's rule)."""
    key = _KEY_CHARS.sub("-", "-".join(parts).lower()).strip("-")
    return re.sub(r"-{2,}", "-", key) or "flyteadmin-ops"


def publish_result(result: Result, key: str) -> None:
    """One table artifact per flow run: a row per entity, and the totals in the description."""
    totals = ", ".join(f"{n} {status}" for status, n in result.totals.items()) or "nothing to do"
    notes = "; ".join(result.notes)
    description = f"{result.operation}{' (dry run)' if result.dry_run else ''}: {totals}" + (
        f"\n\n{notes}" if notes else ""
    )
    rows = result.to_rows() or [{"kind": "", "name": "", "status": "", "detail": "nothing to do"}]
    create_table_artifact(rows, key=artifact_key(key), description=description)


class AutomationFailed(RuntimeError):
    """Raised at the end of a flow whose result is not ok, after the artifact is published, so the flow
    run ends Failed (and alerts) while the table still shows what did succeed."""

    def __init__(self, result: Result) -> None:
        self.result = result
        problems = [o for o in result.outcomes if o.status.is_problem]
        lines = [
            f"{o.kind} {o.name}: {o.status.value}: {o.detail.splitlines()[0] if o.detail else ''}"
            for o in problems
        ]
        super().__init__(f"{result.operation}: {len(problems)} problem(s)\n" + "\n".join(lines[:20]))


def finish(result: Result, key: str) -> Result:
    """Publish the summary artifact, then fail the flow run when anything conflicted or failed."""
    publish_result(result, key)
    if not result.ok:
        raise AutomationFailed(result)
    return result


# Every SynchronousFlyteClient operation as a task of the same name (get_execution, list_executions,
# create_execution, ...): made from one table in flyteadmin_ops.client_tasks, listed in the README. Added
# last, after checking that none of them would replace a name of this module.
if _clashes := set(CLIENT_TASKS) & set(globals()):
    raise RuntimeError(f"client tasks would replace flyteadmin_ops.tasks names: {sorted(_clashes)}")
globals().update(CLIENT_TASKS)

__all__ = [
    "RETRYABLE_ERRORS",
    "TASK_RETRIES",
    "TASK_RETRY_DELAYS",
    "AutomationFailed",
    "activate_launch_plan",
    "activate_scheduled_launch_plans",
    "apply_attribute_changes",
    "artifact_key",
    "copy_launch_plan_from_domain",
    "finish",
    "is_retryable",
    "plan_attribute_changes",
    "prepare_registration",
    "publish_result",
    "register_package_wave",
    "relaunch_executions",
    "resolve_connection",
    "select_failed_executions",
    *CLIENT_TASKS,
]
