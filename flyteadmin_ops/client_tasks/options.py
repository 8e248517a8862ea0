"""What every Prefect task of flyteadmin_ops shares: the retry rule, the task options, the connection.

It lives here, below both `flyteadmin_ops.tasks` (the automation steps) and the client tasks, so that the two
use one rule without importing each other; `flyteadmin_ops.tasks` re-exports every name.
"""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.errors import (
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
"""Errors a later attempt can outlive: the server unreachable, slow, or rate limiting."""

TASK_RETRIES = 3
TASK_RETRY_DELAYS = [5, 30, 120]


def is_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry a failed task run only for RETRYABLE_ERRORS. A TLS verification
    failure is UNAVAILABLE too, but no retry fixes a certificate."""
    try:
        state.result()
    except RETRYABLE_ERRORS as exc:
        return not is_tls_failure(exc)  # type: ignore[arg-type]
    except BaseException:
        return False
    return False


TASK_OPTIONS: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAYS,
    "retry_jitter_factor": 0.2,
    "retry_condition_fn": is_retryable,
}
"""`@task(**TASK_OPTIONS)`: never cached (the inputs hold a block and protobufs, and "launched" or "listed"
an hour ago is no answer now), retried only for RETRYABLE_ERRORS; the transport already retries each RPC
within its deadline, so a task retry covers a longer outage."""


def resolve_connection(connection: FlyteAdminConnection | str) -> FlyteAdminConnection:
    """A block given directly, or the name of a saved one (what a deployment's parameters can hold)."""
    if isinstance(connection, FlyteAdminConnection):
        return connection
    loaded = FlyteAdminConnection.load(connection)
    assert isinstance(loaded, FlyteAdminConnection)
    return loaded
