"""When and how often a failed call is sent again.

flytekit retries every error four times within milliseconds, including errors no resend can fix. Here a
call is resent only if (a) its RpcSpec says a resend cannot change the outcome, and (b) the failure is
transient: UNAVAILABLE, RESOURCE_EXHAUSTED, and DEADLINE_EXCEEDED for reads (a write may have been applied
even though its deadline passed). The delays grow exponentially with jitter, and an overall deadline
bounds the whole sequence.

The resends run on tenacity, but only after a failure. Most calls succeed at once, so a call's first
attempt is sent by the transport itself (its fast path, which builds nothing per call), and only a failed
call builds a `tenacity.Retrying` (or `AsyncRetrying`) and imports tenacity if no call did so before. Its
attempt 1 replays that known failure (`first`) instead of sending again. The decisions live in `_Attempts`,
shared by the sync and the asyncio path, and reach tenacity as its `stop`, `wait` and
`retry_error_callback`: a call may end with another error than its last attempt's (the overall deadline's
FlyteTimeout, the open breaker's FlyteAdminUnreachable), which tenacity's `retry` returning False or
`reraise` cannot express, so `retry` only tells Admin failures from anything else, which ends the call as
it came. Sleeps between attempts are the transport's `CircuitBreaker.sleep`: the breaker wakes them when it
opens, and the next attempt then fails with FlyteAdminUnreachable at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, TypeVar

import grpc

from flyteadmin_ops.errors import FlyteAdminError, FlyteAdminUnreachable, FlyteTimeout, retry_cannot_help
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport.breaker import CircuitBreaker, is_unreachable
from flyteadmin_ops.transport.rpc import RpcSpec

if TYPE_CHECKING:
    import tenacity

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
READ_ONLY_RETRYABLE_CODES = RETRYABLE_CODES | {grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass(frozen=True)
class FirstFailure:
    """Attempt 1, already sent by the caller's fast path: when it started, its timeout, and its error."""

    started: float
    timeout: float
    error: FlyteAdminError


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
        if (
            not spec.retry_safe
            or not isinstance(error, FlyteAdminError)
            or isinstance(error, FlyteAdminUnreachable)
        ):
            return False
        codes = READ_ONLY_RETRYABLE_CODES if spec.read_only else RETRYABLE_CODES
        return error.code in codes and not retry_cannot_help(error)  # the code first: it rules most out

    def run(
        self,
        rpc: str,
        spec: RpcSpec,
        attempt: Callable[[float], T],
        per_attempt: float,
        *,
        breaker: CircuitBreaker | None = None,
        first: FirstFailure | None = None,
    ) -> T:
        """Call `attempt(timeout)` until it succeeds, fails for good, or the overall budget is spent.

        Each attempt's timeout is `per_attempt`, cut to what is left of the overall deadline. When that cut
        is what made an attempt time out, the FlyteTimeout says so and names the error that led to it.
        `first` is attempt 1 when the caller already sent it; `breaker` admits attempts and wakes sleeps.
        """
        import tenacity  # imported by the first failure: a process whose calls succeed never loads it

        attempts = _Attempts(self, rpc, spec, per_attempt, breaker, first)
        retrying = tenacity.Retrying(
            sleep=breaker.sleep if breaker is not None else time.sleep,
            stop=attempts.stop,
            wait=attempts.wait,
            retry=tenacity.retry_if_exception_type(FlyteAdminError),
            before_sleep=attempts.log_retry,
            retry_error_callback=attempts.end,
        )
        for step in retrying:
            if first is not None and step.retry_state.attempt_number == 1:
                with step:  # attempt 1 was sent by the fast path: its failure is this attempt's outcome
                    raise first.error
                continue
            timeout, probe = attempts.begin()  # outside `step`: what it raises ends the call
            try:
                with step:
                    return attempt(timeout)
            finally:
                if probe:
                    attempts.probe_done()
        raise AssertionError("tenacity stopped without an outcome")  # every ending returns or raises

    async def run_async(
        self,
        rpc: str,
        spec: RpcSpec,
        attempt: Callable[[float], Awaitable[T]],
        per_attempt: float,
        *,
        breaker: CircuitBreaker | None = None,
        first: FirstFailure | None = None,
    ) -> T:
        """`run` for coroutines: the same attempts, deadlines and delays, sleeping with asyncio."""
        import tenacity  # imported by the first failure: a process whose calls succeed never loads it

        attempts = _Attempts(self, rpc, spec, per_attempt, breaker, first)
        retrying = tenacity.AsyncRetrying(
            sleep=breaker.sleep_async if breaker is not None else asyncio.sleep,
            stop=attempts.stop,
            wait=attempts.wait,
            retry=tenacity.retry_if_exception_type(FlyteAdminError),
            before_sleep=attempts.log_retry,
            retry_error_callback=attempts.end,
        )
        async for step in retrying:
            if first is not None and step.retry_state.attempt_number == 1:
                with step:  # attempt 1 was sent by the fast path: its failure is this attempt's outcome
                    raise first.error
                continue
            timeout, probe = attempts.begin()  # outside `step`: what it raises ends the call
            try:
                with step:
                    return await attempt(timeout)
            finally:
                if probe:
                    attempts.probe_done()
        raise AssertionError("tenacity stopped without an outcome")  # every ending returns or raises


class _Attempts:
    """The bookkeeping of one `run`, shared by the sync and the asyncio path: the overall deadline, the
    errors seen, how many attempts were sent, and what the breaker must hear when the call gives up. Its
    `stop`, `wait`, `log_retry` and `end` are the tenacity hooks of that call."""

    def __init__(
        self,
        policy: RetryPolicy,
        rpc: str,
        spec: RpcSpec,
        per_attempt: float,
        breaker: CircuitBreaker | None,
        first: FirstFailure | None,
    ) -> None:
        self.policy = policy
        self.rpc = rpc
        self.spec = spec
        self.per_attempt = per_attempt
        self.breaker = breaker
        self.started = first.started if first is not None else time.monotonic()
        self.errors: list[FlyteAdminError] = []
        self.sent = 1 if first is not None else 0
        self.timeout = first.timeout if first is not None else per_attempt
        self.first_unreachable_at: float | None = None
        self.only_unreachable = True
        self._judged = 0
        self._verdict: float | FlyteAdminError = 0.0

    def overall_timeout(self) -> FlyteTimeout:
        errors = self.errors
        last = f"; the last error was {errors[-1].code.name}: {errors[-1].server_message}" if errors else ""
        return FlyteTimeout(
            self.rpc,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"overall deadline of {self.policy.deadline}s passed{last}",
        )

    def begin(self) -> tuple[float, bool]:
        """The next attempt's timeout, and whether it is the breaker's probe (then call `probe_done`).

        Raises the overall timeout when nothing is left, and FlyteAdminUnreachable while the breaker is open.
        """
        left = self.policy.deadline - (time.monotonic() - self.started)
        if left <= 0:
            raise self._give_up(self.overall_timeout(), exhausted=True)
        probe = False
        if self.breaker is not None:
            try:
                probe = self.breaker.admit(self.rpc)
            except FlyteAdminUnreachable as unreachable:
                raise self._give_up(unreachable, exhausted=False) from None
        self.sent += 1
        self.timeout = min(self.per_attempt, left)
        return self.timeout, probe

    def probe_done(self) -> None:
        assert self.breaker is not None
        self.breaker.probe_done()

    def judge(self, state: tenacity.RetryCallState) -> float | FlyteAdminError:
        """What follows the failed attempt in `state`: the sleep before the next attempt, or the error that
        ends the call. Judged once per attempt (it records the error, draws the jitter and may tell the
        breaker), for whichever of tenacity's `wait` and `stop` asks first: their order differs between
        tenacity versions, and `stop` needs the drawn sleep to keep it inside the overall deadline."""
        if self._judged != state.attempt_number:
            assert state.outcome is not None
            error = state.outcome.exception()
            assert isinstance(error, FlyteAdminError)  # `retry` hands tenacity nothing else
            self._judged = state.attempt_number
            self._verdict = self.after_failure(error)
        return self._verdict

    def stop(self, state: tenacity.RetryCallState) -> bool:
        return isinstance(self.judge(state), FlyteAdminError)

    def wait(self, state: tenacity.RetryCallState) -> float:
        verdict = self.judge(state)
        return 0.0 if isinstance(verdict, FlyteAdminError) else verdict

    def end(self, state: tenacity.RetryCallState) -> NoReturn:
        """tenacity's `retry_error_callback`: the call ends with the judged error, not a RetryError."""
        verdict = self.judge(state)
        assert isinstance(verdict, FlyteAdminError)
        raise verdict

    def log_retry(self, state: tenacity.RetryCallState) -> None:
        """tenacity's `before_sleep`: one line per resend, with the error that led to it."""
        logger.info(
            "retrying %s after %s in %.3fs (attempt %d of %d)",
            self.rpc,
            self.errors[-1].code.name,
            self.judge(state),
            self.sent + 1,
            self.policy.attempts,
        )

    def after_failure(self, error: FlyteAdminError) -> float | FlyteAdminError:
        """The sleep before the next attempt, or the error that ends the call."""
        if is_unreachable(error):
            if self.first_unreachable_at is None:
                self.first_unreachable_at = time.monotonic()
        else:
            self.only_unreachable = False
        if error.code is grpc.StatusCode.DEADLINE_EXCEEDED and self.timeout < self.per_attempt:
            self.errors.append(error)
            ending = self._give_up(self.overall_timeout(), exhausted=True)
            ending.__cause__ = error  # as `raise ... from error`: the timeout names what led to it
            return ending
        self.errors.append(error)
        if not self.policy.should_retry(self.spec, error):
            return self._give_up(error, exhausted=False)
        pause = self.policy.delay(self.sent)
        if self.sent >= self.policy.attempts or (
            time.monotonic() - self.started + pause >= self.policy.deadline
        ):
            return self._give_up(error, exhausted=True)
        return pause

    def _give_up(self, error: FlyteAdminError, *, exhausted: bool) -> FlyteAdminError:
        """The error the call ends with. While the breaker is open, an unreachable failure ends as
        FlyteAdminUnreachable like every other call; a budget spent on unreachable failures alone may open
        it (that call keeps its own error, which tells what it went through)."""
        breaker = self.breaker
        if breaker is not None and not isinstance(error, FlyteAdminUnreachable):
            if breaker.is_open and self.errors and is_unreachable(self.errors[-1]):
                unreachable = breaker.error(self.rpc)
                unreachable.__cause__ = error
                return unreachable
            if exhausted and self.only_unreachable and self.first_unreachable_at is not None:
                breaker.exhausted(self.first_unreachable_at)
        if self.sent > 1 and not isinstance(error, FlyteAdminUnreachable):
            error.after_attempts(self.sent)
        return error
