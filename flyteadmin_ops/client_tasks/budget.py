"""One retry budget per Prefect task run: task retries and the client's own retries add up to at most
`run_retry_budget_seconds` (a setting, and a field of the connection block), counted from the first attempt.

Why: each RPC is already retried by the transport (attempts within `retry_deadline_seconds`), and a task
run is retried by Prefect after 5, 30 and 90 s. Composed without a bound they once took 186 s before a
task against a closed port failed, and nothing said so. Now:

- a task run records its connection's budget when it opens its client (`task_client`), and the client of a
  later attempt gets a retry deadline cut to what is left of the budget (at least `MIN_CALL_SECONDS`, so
  one quick call can still be made);
- the retry condition (`retry_decision`) allows a retry only when the next one would start, with Prefect's
  jitter at its largest, before the budget is spent; so no attempt starts after it;
- every decision is logged on the task run with its cause: the error class, the gRPC code, the RPC and
  the server's message (flyteadmin_ops errors never hold request metadata, so never a token), or only the
  class name of an error from elsewhere, whose text we cannot vouch for.

The budget is counted from the task run's `start_time`, which Prefect sets once, at the first attempt.
Retries run in the process of the first attempt (Prefect's task engine loops in place), so the budget
recorded there is found again by the retry condition.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.context import TaskRunContext
from prefect.logging.loggers import task_run_logger

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.errors import FlyteAdminError

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_SECONDS = 180.0
"""`AdminSettings.run_retry_budget_seconds`'s default: for a task whose run failed before opening a client."""

MIN_CALL_SECONDS = 1.0
"""The shortest retry deadline a later attempt's client gets: less than this could not send one call."""

_KEPT_RUNS = 4096
_budgets: OrderedDict[UUID, float] = OrderedDict()
"""Task run id -> its budget in seconds, recorded by `task_client`; the oldest entries go first."""


def record_budget(task_run_id: UUID, seconds: float) -> None:
    """Remember `seconds` as the budget of the task run `task_run_id` (bounded: old runs are dropped)."""
    _budgets[task_run_id] = seconds
    _budgets.move_to_end(task_run_id)
    while len(_budgets) > _KEPT_RUNS:
        _budgets.popitem(last=False)


def budget_of(task_run: Any) -> float:
    return _budgets.get(task_run.id, DEFAULT_BUDGET_SECONDS)


def seconds_since_first_attempt(task_run: Any) -> float:
    """Seconds since the task run's first attempt began (0 when Prefect has not recorded it)."""
    started: dt.datetime | None = getattr(task_run, "start_time", None)
    if started is None:
        return 0.0
    return max(0.0, (dt.datetime.now(dt.timezone.utc) - started).total_seconds())


def task_client(connection: FlyteAdminConnection) -> SynchronousFlyteClient:
    """A client for this task run: outside a task run, or in a first attempt, as the block says; in a later
    attempt with its retry deadline cut to what is left of the run's budget."""
    context = TaskRunContext.get()
    if context is None:
        return connection.get_client()
    settings = connection.get_settings()
    record_budget(context.task_run.id, settings.run_retry_budget_seconds)
    left = settings.run_retry_budget_seconds - seconds_since_first_attempt(context.task_run)
    if left >= settings.retry_deadline_seconds:
        return connection.get_client()
    return connection.get_client(retry_deadline_seconds=max(left, MIN_CALL_SECONDS))


def describe_cause(error: BaseException) -> str:
    """What failed, for a log line: class, code, RPC and the server's first line, for an Admin error; only
    the class for anything else (its text might hold what must not be logged)."""
    if isinstance(error, FlyteAdminError):
        message = (error.server_message or "(no message)").splitlines()[0][:300]
        return f"{type(error).__name__} ({error.code.name}) from {error.rpc}: {message}"
    return type(error).__name__


def largest_delay(task: Any, retries_made: int) -> float:
    """The longest Prefect may wait before the next retry: the configured delay for retry number
    `retries_made + 1`, times (1 + jitter) (Prefect's clamped Poisson jitter never exceeds that)."""
    delays: float | Sequence[float] | None = getattr(task, "retry_delay_seconds", None)
    if not delays:
        return 0.0
    if isinstance(delays, Sequence):
        delay = float(delays[min(retries_made, len(delays) - 1)])
    else:
        delay = float(delays)
    jitter = getattr(task, "retry_jitter_factor", None) or 0.0
    return delay * (1.0 + jitter)


@dataclass(frozen=True)
class Decision:
    """Whether to retry, and the line that says why (logged on the task run)."""

    retry: bool
    reason: str
    level: int = logging.WARNING


def retry_decision(task: Any, task_run: Any, error: BaseException, retryable: bool) -> Decision:
    """Retry a task run that failed with `error` only when it is `retryable` and the next attempt would
    start within the budget."""
    cause = describe_cause(error)
    if not retryable:
        return Decision(
            False, f"not retried: {cause} is not an error a later attempt can outlive", logging.INFO
        )
    if task_run is None:  # called outside Prefect's engine (a unit test): nothing to count from
        return Decision(True, f"retrying after {cause}")
    budget = budget_of(task_run)
    spent = seconds_since_first_attempt(task_run)
    attempt = int(getattr(task_run, "run_count", 1) or 1)
    wait = largest_delay(task, attempt - 1)
    if spent + wait >= budget:
        return Decision(
            False,
            f"not retried: run retry budget of {budget:g} s spent ({spent:.1f} s since the first attempt, "
            f"next retry after up to {wait:.1f} s); attempt {attempt} failed with {cause}",
        )
    total = getattr(task, "retries", 0)
    return Decision(
        True,
        f"retry {attempt} of {total} in up to {wait:.1f} s after {cause}; "
        f"{budget - spent:.1f} s of the {budget:g} s run retry budget left",
    )


def log_decision(task: Any, task_run: Any, decision: Decision) -> None:
    """On the task run's log when there is one (what an operator reads in the UI), else this module's."""
    run_logger: Any = task_run_logger(task_run, task=task) if task_run is not None else logger
    run_logger.log(decision.level, "%s", decision.reason)


__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "MIN_CALL_SECONDS",
    "Decision",
    "budget_of",
    "describe_cause",
    "largest_delay",
    "log_decision",
    "record_budget",
    "retry_decision",
    "seconds_since_first_attempt",
    "task_client",
]
