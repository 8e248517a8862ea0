"""When and how often a failed call is sent again.

flytekit retries every error four times within milliseconds, including errors no resend can fix. Here a
call is resent only if (a) its RpcSpec says a resend cannot change the outcome, and (b) the failure is
transient: UNAVAILABLE, RESOURCE_EXHAUSTED, and DEADLINE_EXCEEDED for reads (a write may have been applied
even though its deadline passed). The delays grow exponentially with jitter, and an overall deadline
bounds the whole sequence.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import tenacity

from flyteadmin_ops.errors import FlyteAdminError, FlyteTimeout, retry_cannot_help
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport.rpc import RpcSpec

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
READ_ONLY_RETRYABLE_CODES = RETRYABLE_CODES | {grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass(frozen=True)
class RetryPolicy:
    """A value describing the backoff; `run` executes a call under it."""

    attempts: int = 5
    initial: float = 0.2
    maximum: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2
    """Each delay is drawn from [delay * (1 - jitter), delay], so delays still grow while spreading out."""
    deadline: float = 120.0
    """Seconds for all attempts together; no attempt starts, and no sleep begins, that would pass it."""

    @classmethod
    def from_settings(cls, settings: AdminSettings) -> RetryPolicy:
        return cls(
            attempts=settings.retry_attempts,
            initial=settings.retry_initial_backoff,
            maximum=settings.retry_max_backoff,
            multiplier=settings.retry_multiplier,
            jitter=settings.retry_jitter,
            deadline=settings.retry_deadline_seconds,
        )

    def delay(self, retry_number: int) -> float:
        """Sleep before resend number `retry_number` (1 for the first resend)."""
        base = min(self.maximum, self.initial * self.multiplier ** (retry_number - 1))
        return base * (1.0 - self.jitter * random.random())

    def should_retry(self, spec: RpcSpec, error: BaseException) -> bool:
        if not spec.retry_safe or not isinstance(error, FlyteAdminError) or retry_cannot_help(error):
            return False
        codes = READ_ONLY_RETRYABLE_CODES if spec.read_only else RETRYABLE_CODES
        return error.code in codes

    def run(self, rpc: str, spec: RpcSpec, attempt: Callable[[float], T], per_attempt: float) -> T:
        """Call `attempt(timeout)` until it succeeds, fails for good, or the overall budget is spent.

        Each attempt's timeout is `per_attempt`, cut to what is left of the overall deadline. When that cut
        is what made an attempt time out, the FlyteTimeout says so and names the error that led to it.
        """
        attempts = _Attempts(self, rpc, per_attempt)

        def one_attempt() -> T:
            timeout = attempts.begin()
            try:
                return attempt(timeout)
            except FlyteAdminError as error:
                attempts.failed(error, timeout)
                raise

        try:
            return tenacity.Retrying(**attempts.tenacity_options(spec))(one_attempt)
        except FlyteAdminError as error:
            attempts.final(error)
            raise

    async def run_async(
        self, rpc: str, spec: RpcSpec, attempt: Callable[[float], Awaitable[T]], per_attempt: float
    ) -> T:
        """`run` for coroutines: the same attempts, deadlines and delays, sleeping with asyncio."""
        attempts = _Attempts(self, rpc, per_attempt)

        async def one_attempt() -> T:
            timeout = attempts.begin()
            try:
                return await attempt(timeout)
            except FlyteAdminError as error:
                attempts.failed(error, timeout)
                raise

        try:
            return await tenacity.AsyncRetrying(**attempts.tenacity_options(spec))(one_attempt)
        except FlyteAdminError as error:
            attempts.final(error)
            raise


class _Attempts:
    """The bookkeeping of one `run`, shared by the sync and the asyncio loop: the overall deadline, the
    errors seen, and how many attempts were sent."""

    def __init__(self, policy: RetryPolicy, rpc: str, per_attempt: float) -> None:
        self.policy = policy
        self.rpc = rpc
        self.per_attempt = per_attempt
        self.started = time.monotonic()
        self.errors: list[FlyteAdminError] = []
        self.sent = 0

    def overall_timeout(self) -> FlyteTimeout:
        errors = self.errors
        last = f"; the last error was {errors[-1].code.name}: {errors[-1].server_message}" if errors else ""
        return FlyteTimeout(
            self.rpc,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"overall deadline of {self.policy.deadline}s passed{last}",
        )

    def begin(self) -> float:
        """The next attempt's timeout; raises the overall timeout when nothing is left."""
        left = self.policy.deadline - (time.monotonic() - self.started)
        if left <= 0:
            raise self.overall_timeout()
        self.sent += 1
        return min(self.per_attempt, left)

    def failed(self, error: FlyteAdminError, timeout: float) -> None:
        if error.code is grpc.StatusCode.DEADLINE_EXCEEDED and timeout < self.per_attempt:
            raise self.overall_timeout() from error
        self.errors.append(error)

    def final(self, error: FlyteAdminError) -> None:
        if self.sent > 1:
            error.after_attempts(self.sent)

    def log_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        code = error.code.name if isinstance(error, FlyteAdminError) else type(error).__name__
        sleep = state.next_action.sleep if state.next_action else 0.0
        logger.info(
            "retrying %s after %s in %.3fs (attempt %d of %d)",
            self.rpc,
            code,
            sleep,
            state.attempt_number + 1,
            self.policy.attempts,
        )

    def tenacity_options(self, spec: RpcSpec) -> dict[str, Any]:
        policy = self.policy
        return {
            "stop": tenacity.stop_after_attempt(policy.attempts)
            | tenacity.stop_before_delay(policy.deadline),
            "wait": lambda state: policy.delay(state.attempt_number),
            "retry": tenacity.retry_if_exception(lambda exc: policy.should_retry(spec, exc)),
            "before_sleep": self.log_retry,
            "reraise": True,
        }
