"""The calls register keeps in flight (`ops.concurrency`): the adaptive rule on a clock the test drives,
and `fan_out`'s limit and stop on real threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from flyteadmin_ops.ops.concurrency import WINDOW_CALLS, ConcurrencyLimit, Verdict, fan_out


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run_at(limit: ConcurrencyLimit, clock: Clock, rate: float, completions: int) -> None:
    """`completions` calls finishing at `rate` per second, with work still waiting."""
    for _ in range(completions):
        clock.now += 1.0 / rate
        limit.completed()


def _window(limit: ConcurrencyLimit, clock: Clock, rate: float) -> None:
    """One measuring window's worth of completions (rates here keep it longer than its minimum)."""
    _run_at(limit, clock, rate, WINDOW_CALLS * limit.current)


def _new_batch(limit: ConcurrencyLimit, clock: Clock, rate: float) -> None:
    """A batch starts (as `fan_out` starts one) and its first turn of calls completes at `rate`."""
    limit.new_window()
    _run_at(limit, clock, rate, limit.current)


def test_grows_while_throughput_grows_up_to_the_ceiling() -> None:
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    _new_batch(limit, clock, rate=20.0 * 8)
    for _ in range(4):  # latency-bound: throughput doubles with the calls in flight
        _window(limit, clock, rate=20.0 * limit.current)
    assert limit.history == [8, 16, 32, 64]
    _run_at(limit, clock, rate=20.0 * 64, completions=1000)
    assert limit.current == 64


def test_the_first_turn_of_a_batch_is_not_measured() -> None:
    """The first calls of a batch find an idle server and are sent for the first time: slow to come back
    even when the server is CPU-bound. Measured, they would make the first doubling look like a gain."""
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    _new_batch(limit, clock, rate=100)  # 8 completions over 80 ms, then the steady rate
    _window(limit, clock, rate=400)  # 8 in flight: 400/s -> try 16
    _window(limit, clock, rate=410)  # no gain at 16 -> back to 8
    assert limit.history == [8, 16, 8]


def test_steps_back_when_a_doubling_made_it_slower() -> None:
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    _new_batch(limit, clock, rate=400)
    _window(limit, clock, rate=400)  # 8 in flight: 400/s -> try 16
    _window(limit, clock, rate=300)  # 16 in flight: slower -> back to 8, stop growing
    assert limit.history == [8, 16, 8]
    _new_batch(limit, clock, rate=400)  # nor does a later batch probe again
    _run_at(limit, clock, rate=400, completions=1000)
    assert limit.current == 8


def test_takes_back_a_doubling_that_gains_too_little_and_probes_again_in_the_next_batch() -> None:
    """A CPU-bound server: twice the calls in flight, the same completions per second. The extra calls only
    queue (more latency per call, more client CPU), so the limit goes back; the next batch probes again,
    since a flat window may also have been noise on a latency-bound run."""
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    _new_batch(limit, clock, rate=400)
    _window(limit, clock, rate=400)
    _window(limit, clock, rate=420)  # +5%: back to 8, grow no further in this batch
    _run_at(limit, clock, rate=400, completions=1000)
    assert limit.history == [8, 16, 8]
    _new_batch(limit, clock, rate=400)  # the next batch tries again: the flat window may have been noise
    _window(limit, clock, rate=400)
    _window(limit, clock, rate=800)
    _window(limit, clock, rate=1600)
    assert limit.history == [8, 16, 8, 16, 32, 64]


def test_a_cpu_bound_server_keeps_the_limit_where_it_started_batch_after_batch() -> None:
    """Flat throughput in every batch: each probes once and returns; the limit never ratchets upwards."""
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    for _ in range(5):
        _new_batch(limit, clock, rate=400)
        _window(limit, clock, rate=400)
        assert limit.current == 16
        _window(limit, clock, rate=410)  # the probe at 16: +2.5%, too little
        assert limit.current == 8
        _run_at(limit, clock, rate=400, completions=300)
    assert limit.history == [8, *[16, 8] * 5]


def test_growth_that_stalls_at_the_server_ends_one_step_below() -> None:
    """+20 ms against a server that tops out at ~1,000 creates/s: 8, 16 and 32 in flight gain (400, 800,
    1,000/s), 64 does not, so the run settles at 32."""
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    _new_batch(limit, clock, rate=400)
    for rate in (400, 800, 1000, 1020):
        _window(limit, clock, rate=rate)
    assert limit.history == [8, 16, 32, 64, 32]
    _run_at(limit, clock, rate=1000, completions=1000)
    assert limit.current == 32


def test_a_doubling_to_the_ceiling_is_judged_too() -> None:
    clock = Clock()
    limit = ConcurrencyLimit(32, 64, clock=clock)
    _new_batch(limit, clock, rate=1000)
    _window(limit, clock, rate=1000)
    _window(limit, clock, rate=900)  # 64 made it slower: back to 32, and no batch probes again
    _new_batch(limit, clock, rate=1000)
    _run_at(limit, clock, rate=1000, completions=1000)
    assert limit.history == [32, 64, 32]


def test_halves_when_the_server_pushes_back_and_grows_no_more() -> None:
    clock = Clock()
    limit = ConcurrencyLimit(16, 64, clock=clock)
    limit.completed(pushed_back=True)
    assert limit.current == 8
    limit.new_window()  # a new batch does not start growing again after a push-back
    _run_at(limit, clock, rate=1000, completions=1000)
    assert limit.history == [16, 8]


def test_lower_throughput_alone_never_lowers_the_limit() -> None:
    """Round trips as the bound: fewer calls in flight would mean even fewer completions per second."""
    clock = Clock()
    limit = ConcurrencyLimit(8, 8, clock=clock)  # at the ceiling: nothing to probe
    _new_batch(limit, clock, rate=400)
    _window(limit, clock, rate=400)
    _run_at(limit, clock, rate=50, completions=200)
    assert limit.history == [8]


def test_the_tail_of_a_batch_is_not_measured() -> None:
    clock = Clock()
    limit = ConcurrencyLimit(8, 64, clock=clock)
    _new_batch(limit, clock, rate=400)
    for _ in range(50):
        clock.now += 1.0
        limit.completed(saturated=False)
    assert limit.history == [8]


def test_a_pinned_limit_never_changes() -> None:
    clock = Clock()
    limit = ConcurrencyLimit(3, 64, adaptive=False, clock=clock)
    _run_at(limit, clock, rate=1000, completions=100)
    limit.completed(pushed_back=True)
    assert (limit.current, limit.ceiling, limit.history) == (3, 3, [3])


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimit(0, 8)


def test_fan_out_keeps_to_the_limit_and_returns_results_in_order() -> None:
    limit = ConcurrencyLimit(3, 3, adaptive=False)
    lock = threading.Condition()
    active = 0
    peak = 0

    def work(item: int) -> Verdict[int]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            lock.notify_all()
            if item < 3:  # the first three stay in flight long enough for a fourth to show up if allowed
                lock.wait_for(lambda: active > 3, timeout=0.5)
            active -= 1
        return Verdict(item * item)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = fan_out(list(range(12)), work, limit, pool)

    assert results == [i * i for i in range(12)]
    assert peak == 3


def test_fan_out_stops_starting_work_after_a_stop_verdict() -> None:
    limit = ConcurrencyLimit(1, 1, adaptive=False)
    started: list[int] = []

    def work(item: int) -> Verdict[str]:
        started.append(item)
        return Verdict(f"done {item}", stop=item == 2)

    with ThreadPoolExecutor(max_workers=1) as pool:
        results = fan_out(list(range(6)), work, limit, pool)

    assert started == [0, 1, 2]
    assert results == ["done 0", "done 1", "done 2", None, None, None]
