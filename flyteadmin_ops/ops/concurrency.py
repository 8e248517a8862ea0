"""How many calls register keeps in flight: adaptive by default, fixed when the caller pins it.

Why adaptive: against an Admin tens of ms away a wave of a thousand creates is bound by round trips, so more
calls in flight finish it sooner, until the server itself is the bottleneck; against a server that is
CPU-bound (or rate limited) more calls only queue up and add latency. No fixed number is right for both.

The rule: the limit starts at `settings.max_concurrency` and doubles while the completions per second grow
by at least `GAIN`, up to `ceiling` (`settings.max_concurrency_ceiling`). A doubling that gained less is
taken back: the extra calls in flight only queued at the server, which adds latency to every call and
costs the client thread switches (against a CPU-bound emulator on 2 cores a registration at 64 in flight
took 15-35% more client CPU than at 8 in seven scans, CPU the server then lacks), so growth ends one step
below. When the server pushes back (a call still ended RESOURCE_EXHAUSTED or UNAVAILABLE after the
transport's retries) the limit halves and grows no more. Rates are compared within one batch only (a
wave's tasks, its workflows, its launch plans cost differently per call). A later batch starts where the
last one ended and probes upwards again (one window at twice the limit, cheap when nothing is gained) if
the last probe merely gained too little: a noisy window on a shared machine must not pin a latency-bound
run low. After a doubling that made it slower, or a push-back, no batch probes again. Throughput is only
measured while more work waits than is in flight, so the tail of a batch does not read as a slowdown; once
a batch stops growing, it stops measuring.

Lower throughput alone never lowers the limit below where the batch started: with round trips as the bound,
fewer calls in flight means fewer completions per second, so "slower, so send less" spirals down to one (an
early version did, on a loaded machine). The transport's own backoff already slows the calls it retries.
Nor does the limit probe below its start: against a CPU-bound emulator on 2 cores every fixed limit from 4
to 64 kept the server busy (their registrations took the same time within the noise of a shared machine;
1 in flight was 20-40% slower, the client's and the server's CPU no longer overlapping), so a probe
downwards from 8 would cost a window and gain nothing measurable.

`fan_out` runs one batch under such a limit on a shared thread pool. Threads, not asyncio: measured with
840 creates against an emulator process, 16 in flight, both took the same wall time (the server was the
bound) and asyncio saved ~0.15 ms of client CPU per call (0.35 vs 0.5 ms), about 0.25 s for 1,600
entities, less than hydrating them costs. It would have needed a second channel (and a second circuit
breaker, which belongs to one transport) beside the synchronous client that conflict explanations use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)

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
        self._to_skip = 0
        """Completions still to pass before a batch's first window opens (the pipeline filling up)."""
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
        latency-bound run low for good); not after a doubling made it slower or the server pushed back.

        The first window opens only after `current` completions, one full turn of the calls in flight: until
        then the server was idle between batches and each call was being sent for the first time (against a
        CPU-bound emulator the first completion came 4-15 ms after the start, then one per ~1 ms), which
        made the first window read slow and the first doubling look like a gain. A latency-bound batch
        pays one round trip for this before its first doubling."""
        with self._lock:
            self._best_rate = 0.0
            self._growing = self._may_probe_again and self._current < self.ceiling
            self._to_skip = self._current
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
            if not saturated or not self._growing:
                return
            if self._to_skip > 0:
                self._to_skip -= 1
                if self._to_skip == 0:
                    self._restart_window()
                return
            self._window_done += 1
            elapsed = self._clock() - self._window_start
            if self._window_done < WINDOW_CALLS * self._current or elapsed < MIN_WINDOW_SECONDS:
                return
            self._judge(self._window_done / elapsed)

    def _judge(self, rate: float) -> None:
        """The end of a measuring window while growing: double again, or end the growth (see the module
        docstring)."""
        gained = rate >= self._best_rate * GAIN
        measured, done = self._current, self._window_done
        if gained and self._current < self.ceiling:
            self._best_rate = rate
            self._before_growth = self._current
            self._set(min(self.ceiling, self._current * 2))
        else:
            self._growing = False
            if not gained:  # the last doubling only queued calls at the server: take it back
                self._set(self._before_growth)
                if rate < self._best_rate:  # it even made it slower: no later batch probes again
                    self._may_probe_again = False
        logger.debug(
            "%d in flight: %.0f calls/s over %d calls (best %.0f/s); limit now %d%s",
            measured,
            rate,
            done,
            self._best_rate,
            self._current,
            "" if self._growing else ", growth ended",
        )
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
