"""How many calls register keeps in flight: adaptive by default, fixed when the caller pins it.

Why adaptive: against an Admin tens of ms away a wave of a thousand creates is bound by round trips, so more
calls in flight finish it sooner, until the server itself is the bottleneck; against a server that is
CPU-bound (or rate limited) more calls only queue up and add latency. No fixed number is right for both.

The rule: the limit starts at `settings.max_concurrency` and doubles while the completions per second grow
by at least `GAIN`, up to `ceiling` (`settings.max_concurrency_ceiling`); a doubling that made it slower is
taken back, and one that gained too little is kept but ends the growth. When the server pushes back (a
call still ended RESOURCE_EXHAUSTED or UNAVAILABLE after the transport's retries) the limit halves and
grows no more. Rates are compared within one batch only (a wave's tasks, its workflows, its launch
plans cost differently per call). A later batch starts where the last one ended and probes upwards again
only if the last probe merely gained too little (a noisy window on a shared machine must not pin a
latency-bound run low), not after a doubling made it slower. Throughput is only measured while more work waits
than is in flight, so the tail of a batch does not read as a slowdown.

Lower throughput alone never lowers the limit: with round trips as the bound, fewer calls in flight means
fewer completions per second, so "slower, so send less" spirals down to one (an early version did, on a
loaded machine). The transport's own backoff already slows the calls it retries.

`fan_out` runs one batch under such a limit on a shared thread pool. Threads, not asyncio: measured with
840 creates against an emulator process, 16 in flight, both took the same wall time (the server was the
bound) and asyncio saved ~0.15 ms of client CPU per call (0.35 vs 0.5 ms), about 0.25 s for 1,600
entities, less than hydrating them costs. It would have needed a second channel (and a second circuit
breaker, which belongs to one transport) beside the synchronous client that conflict explanations use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

GAIN = 1.15
"""A doubling is kept only if it raised completions per second by at least this factor."""
WINDOW_CALLS = 3
"""A measuring window spans this many times the limit in completions (a few round trips)."""
MIN_WINDOW_SECONDS = 0.05
"""A measuring window also lasts at least this long, so timer noise cannot decide a doubling."""


class ConcurrencyLimit:
    """The number of calls allowed in flight. Fixed when `adaptive` is False; otherwise see the module
    docstring. Thread-safe: completions are reported from the thread that dispatches a batch."""

    def __init__(
        self,
        start: int,
        ceiling: int,
        *,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if start < 1 or ceiling < 1:
            raise ValueError(f"concurrency must be at least 1 (start {start}, ceiling {ceiling})")
        self.adaptive = adaptive
        self.ceiling = max(ceiling, start) if adaptive else start
        self._current = start
        self._clock = clock
        self._lock = threading.Lock()
        self._growing = adaptive
        self._may_probe_again = adaptive
        """False once a doubling made it slower or the server pushed back: then no batch probes again."""
        self._best_rate = 0.0
        self._before_growth = start
        self._window_start = clock()
        self._window_done = 0
        self.history: list[int] = [start]
        """Every limit taken, in order (for logs and tests)."""

    @property
    def current(self) -> int:
        return self._current

    def new_window(self) -> None:
        """A new batch: measure afresh. Rates of different batches are not compared (a workflow compiles
        slower than a task stores), and the gap between batches is not the server's doing. A batch probes
        upwards again when the last probe only gained too little (one noisy window must not pin a
        latency-bound run low for good); not after a doubling made it slower or the server pushed back."""
        with self._lock:
            self._best_rate = 0.0
            self._growing = self._may_probe_again and self._current < self.ceiling
            self._restart_window()

    def completed(self, *, pushed_back: bool = False, saturated: bool = True) -> None:
        """One call finished. `pushed_back`: the server refused it for load. `saturated`: more work was
        waiting than calls in flight, so this completion measures the server and not the tail."""
        if not self.adaptive:
            return
        with self._lock:
            if pushed_back:
                self._set(max(1, self._current // 2))
                self._growing = self._may_probe_again = False
                return
            if not saturated:
                return
            self._window_done += 1
            elapsed = self._clock() - self._window_start
            if self._window_done < WINDOW_CALLS * self._current or elapsed < MIN_WINDOW_SECONDS:
                return
            self._judge(self._window_done / elapsed)

    def _judge(self, rate: float) -> None:
        if self._growing and rate >= self._best_rate * GAIN and self._current < self.ceiling:
            self._best_rate = rate
            self._before_growth = self._current
            self._set(min(self.ceiling, self._current * 2))
        elif self._growing:
            self._growing = False
            if rate < self._best_rate:  # the last doubling made it slower: take it back, for good
                self._set(self._before_growth)
                self._may_probe_again = False
            self._restart_window()

    def _set(self, value: int) -> None:
        if value != self._current:
            self._current = value
            self.history.append(value)
        self._restart_window()

    def _restart_window(self) -> None:
        self._window_start = self._clock()
        self._window_done = 0


class Verdict(Generic[R]):
    """What `fan_out` needs to know of one result besides the result itself."""

    __slots__ = ("pushed_back", "result", "stop")

    def __init__(self, result: R, *, pushed_back: bool = False, stop: bool = False) -> None:
        self.result = result
        self.pushed_back = pushed_back
        self.stop = stop


def fan_out(
    items: Sequence[T],
    work: Callable[[T], Verdict[R]],
    limit: ConcurrencyLimit,
    pool: ThreadPoolExecutor,
) -> list[R | None]:
    """Run `work` on every item, at most `limit.current` at a time; results in item order.

    A verdict with `stop` ends the batch: nothing more is started, the calls in flight are waited for, and
    the items never started have None. The pool must have at least `limit.ceiling` workers.
    """
    results: list[R | None] = [None] * len(items)
    in_flight: dict[Future[Verdict[R]], int] = {}
    next_index = 0
    stopped = False
    limit.new_window()
    while in_flight or (next_index < len(items) and not stopped):
        while not stopped and next_index < len(items) and len(in_flight) < limit.current:
            in_flight[pool.submit(work, items[next_index])] = next_index
            next_index += 1
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            index = in_flight.pop(future)
            verdict = future.result()
            results[index] = verdict.result
            stopped = stopped or verdict.stop
            waiting = len(items) - next_index
            limit.completed(pushed_back=verdict.pushed_back, saturated=waiting > 0)
    return results
