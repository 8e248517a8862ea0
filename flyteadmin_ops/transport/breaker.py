"""A run-wide circuit breaker: once Admin is gone, every call fails at once instead of retrying alone.

Without it, each call spends its own retry budget against a dead endpoint: a register of 1,600 objects was
still running minutes after Admin was killed. One breaker belongs to one transport (sync or asyncio), so
every call of a client shares it.

What counts. A failure *reaching* the server — UNAVAILABLE from the transport itself (connection refused,
failed to connect, socket closed, a proxy with no healthy upstream) or a DEADLINE_EXCEEDED that gRPC raised
locally — extends the current streak. ANY answer from the server, an error such as NOT_FOUND or an
UNAVAILABLE the server sent itself (flyteadmin's overload answer, the emulator's injected faults), proves it
is reachable and ends the streak. A TLS failure proves nothing either way and is left out.

When it opens. Either one call ran out of its retry budget on such failures alone and nothing got an answer
since that call's first failure, or the streak has lasted longer than `retry_deadline_seconds`. Then every
call fails with `FlyteAdminUnreachable` before sending, and retry loops asleep between attempts are woken
(they sleep on an event, not `time.sleep`) to fail the same way. Every `breaker_probe_interval_seconds` one
attempt is let through (half-open); an answer closes the breaker, so a long-lived process (a Prefect worker)
recovers when Admin comes back. Opening and closing are logged once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

import grpc

from flyteadmin_ops.errors import FlyteAdminError, FlyteAdminUnreachable, is_tls_failure

logger = logging.getLogger(__name__)

_UNREACHABLE_MARKERS = (
    "failed to connect",
    "connection refused",
    "socket closed",
    "stream removed",
    "connection reset",
    "broken pipe",
    "connection closed",
    "dns resolution failed",
    "no healthy upstream",
    "upstream connect error",
)
"""Texts gRPC core (or a proxy in front of Admin) gives a call that never reached a live server."""

_LOCAL_DEADLINE_TEXT = "deadline exceeded"
"""gRPC's own text for a deadline it enforced on the client side; a server's DEADLINE_EXCEEDED says more."""


def is_unreachable(error: FlyteAdminError) -> bool:
    """True when `error` says the call never got an answer from a live server (see the module docstring)."""
    if isinstance(error, FlyteAdminUnreachable):
        return True
    if error.code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return error.server_message.lower().strip() == _LOCAL_DEADLINE_TEXT
    if error.code is not grpc.StatusCode.UNAVAILABLE or is_tls_failure(error):
        return False
    message = error.server_message.lower()
    return any(marker in message for marker in _UNREACHABLE_MARKERS)


def proves_reachable(error: FlyteAdminError) -> bool:
    """True when the server itself answered with `error` (TLS failures prove nothing either way)."""
    return not is_unreachable(error) and not is_tls_failure(error)


class CircuitBreaker:
    """The state shared by all calls of one transport. Thread-safe; the fast checks read one attribute.

    `open_after` is the longest unreachable streak tolerated (settings.retry_deadline_seconds),
    `probe_interval` the pause between probe attempts while open. Times are `time.monotonic()`.
    """

    def __init__(self, endpoint: str, *, open_after: float, probe_interval: float) -> None:
        self.endpoint = endpoint
        self.open_after = open_after
        self.probe_interval = probe_interval
        self._lock = threading.Lock()
        self._streak_since: float | None = None
        self._last_error = ""
        self._next_probe_at = 0.0
        self._probing = False
        self._opened = threading.Event()
        self._wakers: set[Callable[[], None]] = set()
        self.is_open = False
        """Read without the lock: a stale read only delays the switch by one call."""
        self.clean = True
        """False from the first unreachable failure until an answer: lets `reached` skip the lock."""

    # --- what the transport reports -------------------------------------------------------------------

    def reached(self) -> None:
        """The server answered (a response, or an error it sent): ends the streak and closes the breaker."""
        if self.clean:
            return
        with self._lock:
            was_open = self.is_open
            self._streak_since = None
            self.clean = True
            self.is_open = False
            self._opened.clear()
        if was_open:
            logger.info("Flyte Admin at %s answers again: calls go through", self.endpoint)

    def unreachable(self, error: FlyteAdminError) -> None:
        """A call failed to reach the server; opens the breaker once the streak is older than `open_after`."""
        now = time.monotonic()
        with self._lock:
            if self._streak_since is None:
                self._streak_since = now
            self.clean = False
            self._last_error = f"{error.code.name}: {error.server_message}"
            too_long = now - self._streak_since > self.open_after
        if too_long:
            self._trip(f"unreachable for longer than {self.open_after:g}s")

    def report(self, error: FlyteAdminError) -> None:
        """A failed attempt, whichever kind: extends the streak or ends it."""
        if is_unreachable(error):
            self.unreachable(error)
        elif not is_tls_failure(error):
            self.reached()

    def exhausted(self, first_failure_at: float) -> None:
        """A call spent its retry budget on unreachable failures alone, the first at `first_failure_at`
        (`time.monotonic()`): opens unless an answer came since."""
        self._trip("a call spent its retry budget without reaching it", streak_began_by=first_failure_at)

    # --- what a call asks ---------------------------------------------------------------------------

    def admit(self, rpc: str) -> bool:
        """Whether an attempt may be sent; True when it is the probe of an open breaker (then call
        `probe_done` after it). Raises FlyteAdminUnreachable while open and no probe is due."""
        if not self.is_open:
            return False
        now = time.monotonic()
        with self._lock:
            if self.is_open and not self._probing and now >= self._next_probe_at:
                self._probing = True
                return True
            if not self.is_open:
                return False
        raise self.error(rpc)

    def probe_done(self) -> None:
        """The probe attempt ended; if it did not close the breaker, the next is due one interval later."""
        with self._lock:
            self._probing = False
            self._next_probe_at = time.monotonic() + self.probe_interval

    def error(self, rpc: str) -> FlyteAdminUnreachable:
        since = self._streak_since
        seconds = 0.0 if since is None else time.monotonic() - since
        return FlyteAdminUnreachable(rpc, self.endpoint, seconds, self._last_error or "unknown")

    # --- sleeping between attempts --------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Sleep between attempts, woken early when the breaker opens."""
        self._opened.wait(seconds)

    async def sleep_async(self, seconds: float) -> None:
        """`sleep` for coroutines: woken early (through the loop) when the breaker opens, from any thread."""
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        with self._lock:
            if self.is_open:
                return
            self._wakers.add(wake)
        try:
            with contextlib.suppress(asyncio.TimeoutError):  # not the builtin one before Python 3.11
                await asyncio.wait_for(woken.wait(), seconds)
        finally:
            with self._lock:
                self._wakers.discard(wake)

    # --- internals -------------------------------------------------------------------------------------

    def _trip(self, why: str, *, streak_began_by: float | None = None) -> None:
        """Open, unless an answer ended the streak meanwhile (checked under the lock, so an answer that
        just came in is never overruled), or the streak began after `streak_began_by`."""
        with self._lock:
            if self.is_open or self._streak_since is None:
                return
            if streak_began_by is not None and self._streak_since > streak_began_by:
                return
            self.is_open = True
            self._next_probe_at = time.monotonic() + self.probe_interval
            self._opened.set()
            wakers = list(self._wakers)
            since = self._streak_since
            last = self._last_error
        seconds = 0.0 if since is None else time.monotonic() - since
        logger.warning(
            "Flyte Admin at %s went away (%s; %.1fs so far, last error %s): calls fail at once with "
            "FlyteAdminUnreachable, one probe every %gs",
            self.endpoint,
            why,
            seconds,
            last,
            self.probe_interval,
        )
        for wake in wakers:
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile has no sleeper left to wake
                wake()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"CircuitBreaker({self.endpoint!r}, {state})"
