"""What every Prefect task of flyteadmin_ops shares: the retry rule, the task options, the connection.

It lives here, below both `flyteadmin_ops.tasks` (the automation steps) and the client tasks, so that the two
use one rule without importing each other; `flyteadmin_ops.tasks` re-exports every name.

The retry rule has two parts: which errors a later attempt can outlive (`RETRYABLE_ERRORS`, minus a TLS
failure), and the run retry budget (`budget.py`): all attempts of one task run together take at most
`run_retry_budget_seconds`, so a server gone for longer than that costs no more time.

`FlyteAdminUnreachable` (the transport's circuit breaker: Admin did not answer for as long as one call's
retries last) is retried like any UNAVAILABLE, within the budget. The breaker stops the other calls of the
same attempt from each spending their own retries; it belongs to one client, and each attempt opens a new
one, so a task retry after its delay asks Admin afresh, which covers an Admin restart of a few tens of
seconds. Not retrying it would fail a scheduled run for a restart; retrying past the budget is what the
budget forbids.
"""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client_tasks.budget import log_decision, retry_decision
from flyteadmin_ops.errors import (
    FlyteAdminError,
    FlyteResourceExhaustedException,
    FlyteSystemUnavailableException,
    FlyteTimeout,
    is_tls_failure,
)

RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    FlyteSystemUnavailableException,
    FlyteTimeout,
    FlyteResourceExhaustedException,
)
"""Errors a later attempt can outlive: the server unreachable (`FlyteAdminUnreachable` included), slow, or
rate limiting."""

TASK_RETRIES = 3
TASK_RETRY_DELAYS = [5, 30, 90]
"""With the default budget (180 s) and jitter (0.2) every retry can still start against a closed port
(4 attempts of ~3 s each and delays of at most 6 + 36 + 108 s: it fails after ~140 s, at most ~165 s);
against a server that hangs, the first attempt's 120 s retry deadline leaves room for one retry, whose
deadline is cut to what is left."""


def error_is_retryable(error: BaseException) -> bool:
    """A later attempt can outlive `error`: RETRYABLE_ERRORS, except a TLS verification failure (UNAVAILABLE
    too, but no retry fixes a certificate)."""
    if not isinstance(error, RETRYABLE_ERRORS):
        return False
    return isinstance(error, FlyteAdminError) and not is_tls_failure(error)


def is_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry a failed task run only for an error a later attempt can outlive,
    and only while the next attempt would start within the run retry budget; logs the decision and its
    cause on the task run."""
    try:
        state.result()
    except BaseException as error:  # the failed state's exception, whatever it is
        decision = retry_decision(task, task_run, error, error_is_retryable(error))
        log_decision(task, task_run, decision)
        return decision.retry
    return False


TASK_OPTIONS: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAYS,
    "retry_jitter_factor": 0.2,
    "retry_condition_fn": is_retryable,
}
"""`@task(**TASK_OPTIONS)`: never cached (the inputs hold a block and protobufs, and "launched" or "listed"
an hour ago is no answer now), retried only for RETRYABLE_ERRORS and within the run retry budget; the
transport already retries each RPC within its deadline, so a task retry covers a longer outage."""


def resolve_connection(connection: FlyteAdminConnection | str) -> FlyteAdminConnection:
    """A block given directly, or the name of a saved one (what a deployment's parameters can hold)."""
    if isinstance(connection, FlyteAdminConnection):
        return connection
    loaded = FlyteAdminConnection.load(connection)
    assert isinstance(loaded, FlyteAdminConnection)
    return loaded
