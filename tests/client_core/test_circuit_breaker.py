"""The run-wide circuit breaker against a real emulator in its own process: killed (SIGKILL) in the middle
of concurrent calls, restarted on the same port, and answering UNAVAILABLE half of the time while alive.

The breaker must open when Admin is gone (every call then fails with FlyteAdminUnreachable, retry loops
asleep included), close through a probe when it is back, and never open for a server that answers, even
with errors. Bounded by pytest-timeout: a retry loop that is not woken sleeps far past it.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flyteadmin_ops import errors
from flyteadmin_ops.client import AsyncFlyteClient, SynchronousFlyteClient
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.testing.emulator_process import EmulatorProcess
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.aio import AsyncTransport

pytestmark = pytest.mark.timeout(150)

QUICK = {"retry_attempts": 3, "retry_initial_backoff": 0.02, "retry_max_backoff": 0.05}
"""A budget spent within a fraction of a second: its calls are what opens the breaker."""
SLEEPY = {
    "retry_attempts": 3,
    "retry_initial_backoff": 0.02,
    "retry_multiplier": 100_000.0,
    "retry_max_backoff": 3600.0,
    "retry_deadline_seconds": 7200.0,
}
"""The second resend comes an hour later: only the breaker waking the sleep ends such a call in time."""


def settings_for(endpoint: str, *, probe_every: float = 600.0, **overrides: Any) -> AdminSettings:
    return AdminSettings.isolated(
        endpoint=endpoint,
        insecure=True,
        deadline_seconds=5,
        retry_jitter=0,
        breaker_probe_interval_seconds=probe_every,
        **overrides,
    )


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def admin() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as process:
        yield process


class Hammer:
    """Threads that each call `call` in a loop until it raises; the error each one ended with is kept."""

    def __init__(self, calls: list[Callable[[], object]]) -> None:
        self.answered = 0
        self.ended: list[BaseException | None] = [None] * len(calls)
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(i, call), daemon=True) for i, call in enumerate(calls)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, index: int, call: Callable[[], object]) -> None:
        while True:
            try:
                call()
            except BaseException as error:  # kept for the assertions
                self.ended[index] = error
                return
            with self._lock:
                self.answered += 1

    def join(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        assert not any(t.is_alive() for t in self._threads), "calls still running after Admin was killed"


def assert_unreachable(error: BaseException | None, endpoint: str) -> None:
    assert isinstance(error, errors.FlyteAdminUnreachable), repr(error)
    assert isinstance(error, errors.FlyteSystemUnavailableException)
    assert error.endpoint == endpoint
    assert f"Flyte Admin at {endpoint} has been unreachable for" in str(error)
    assert "the server went away" in str(error) and "the last transport error was UNAVAILABLE" in str(error)


def test_killing_admin_mid_stream_opens_the_breaker_and_every_call_then_fails_at_once(
    admin: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flyteadmin_ops.transport.breaker")
    quick = Transport(settings_for(admin.endpoint, **QUICK))
    sleepy = Transport(settings_for(admin.endpoint, **SLEEPY), breaker=quick.breaker)
    with SynchronousFlyteClient(transport=quick) as fast, SynchronousFlyteClient(transport=sleepy) as slow:
        hammer = Hammer(
            [fast.get_control_plane_version] * 3
            + [lambda: slow.list_projects_paginated(limit=5)] * 3
            + [slow.get_domains] * 2
        )
        wait_for(lambda: hammer.answered >= 50, "calls to be answered")
        admin.kill()
        hammer.join(60)

        assert quick.breaker.is_open
        # Each call ended as unavailable; the sleepy ones (an hour between resends) only through the
        # breaker, which woke them or refused them before sending.
        assert all(isinstance(e, errors.FlyteSystemUnavailableException) for e in hammer.ended)
        for woken in hammer.ended[3:]:
            assert_unreachable(woken, admin.endpoint)
        for _ in range(20):  # and every later call, without sending
            for call in (fast.get_control_plane_version, slow.get_domains):
                with pytest.raises(errors.FlyteAdminUnreachable) as raised:
                    call()
                assert_unreachable(raised.value, admin.endpoint)

    opened = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(opened) == 1 and opened[0].levelno == logging.WARNING
    assert admin.endpoint in opened[0].getMessage()


def test_a_restarted_admin_closes_the_breaker_through_a_probe(
    admin: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flyteadmin_ops.transport.breaker")
    with SynchronousFlyteClient(settings_for(admin.endpoint, probe_every=0.2, **QUICK)) as client:
        assert client.get_control_plane_version()
        admin.kill()
        with pytest.raises(errors.FlyteSystemUnavailableException):
            client.get_control_plane_version()  # spends its budget: opens the breaker
        breaker = client.transport.breaker
        assert breaker.is_open
        with pytest.raises(errors.FlyteAdminUnreachable):
            client.get_control_plane_version()

        admin.restart()
        refused = 0

        def answered() -> bool:
            nonlocal refused
            try:
                client.get_control_plane_version()
            except errors.FlyteAdminUnreachable:
                refused += 1
                return False
            return True

        wait_for(answered, "a probe to reach the restarted Admin")
        assert not breaker.is_open
        for _ in range(5):
            assert client.get_control_plane_version()

    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, text in messages if "went away" in text] == [logging.WARNING]
    assert [level for level, text in messages if "answers again" in text] == [logging.INFO]


def test_injected_unavailable_answers_never_open_the_breaker(caplog: pytest.LogCaptureFixture) -> None:
    """`--fault-rate 0.5`: half the answers are UNAVAILABLE, sent by a live server. Calls that spend their
    (short) budget on them fail as they always did; the breaker stays closed."""
    caplog.set_level(logging.INFO, logger="flyteadmin_ops.transport.breaker")
    settings_overrides = {"retry_attempts": 2, "retry_initial_backoff": 0.005, "retry_max_backoff": 0.01}
    with (
        EmulatorProcess("--fault-rate", "0.5", "--seed", "7") as admin,
        SynchronousFlyteClient(settings_for(admin.endpoint, **settings_overrides)) as client,
    ):
        outcomes: list[BaseException | None] = []
        lock = threading.Lock()

        def calls() -> None:
            for _ in range(40):
                try:
                    client.get_control_plane_version()
                    outcome: BaseException | None = None
                except errors.FlyteAdminError as error:
                    outcome = error
                with lock:
                    outcomes.append(outcome)

        threads = [threading.Thread(target=calls, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not client.transport.breaker.is_open

    assert len(outcomes) == 240
    failed = [o for o in outcomes if o is not None]
    assert 0 < len(failed) < len(outcomes)  # budgets were spent on faults, and calls got through
    assert all(type(e) is errors.FlyteSystemUnavailableException for e in failed)
    assert all("injected fault" in e.server_message for e in failed if isinstance(e, errors.FlyteAdminError))
    assert not [r for r in caplog.records if "went away" in r.getMessage()]


def test_the_asyncio_client_opens_wakes_and_closes_the_same_way(admin: EmulatorProcess) -> None:
    async def scenario() -> None:
        quick = AsyncTransport(settings_for(admin.endpoint, probe_every=0.2, **QUICK))
        sleepy = AsyncTransport(settings_for(admin.endpoint, **SLEEPY), breaker=quick.breaker)
        async with AsyncFlyteClient(transport=quick) as fast, AsyncFlyteClient(transport=sleepy) as slow:
            answered = 0

            async def loop(call: Callable[[], Any]) -> BaseException:
                nonlocal answered
                while True:
                    try:
                        await call()
                    except errors.FlyteAdminError as error:
                        return error
                    answered += 1

            tasks = [asyncio.ensure_future(loop(fast.get_control_plane_version)) for _ in range(3)] + [
                asyncio.ensure_future(loop(slow.get_domains)) for _ in range(4)
            ]
            deadline = time.monotonic() + 60
            while answered < 50:
                assert time.monotonic() < deadline, "calls were not answered"
                await asyncio.sleep(0.01)
            await asyncio.to_thread(admin.kill)
            ended = await asyncio.wait_for(asyncio.gather(*tasks), 60)

            assert quick.breaker.is_open
            assert all(isinstance(e, errors.FlyteSystemUnavailableException) for e in ended)
            for woken in ended[3:]:
                assert_unreachable(woken, admin.endpoint)
            for _ in range(10):
                with pytest.raises(errors.FlyteAdminUnreachable):
                    await slow.get_domains()

            await asyncio.to_thread(admin.restart)
            while True:
                assert time.monotonic() < deadline + 60, "no probe reached the restarted Admin"
                try:
                    await fast.get_control_plane_version()
                    break
                except errors.FlyteAdminUnreachable:
                    await asyncio.sleep(0.01)
            assert not quick.breaker.is_open
            assert await fast.get_domains()

    asyncio.run(scenario())


def test_calls_never_retried_open_it_once_the_streak_outlasts_the_retry_deadline() -> None:
    """Unnamed launches are never resent, so no call spends a budget; the streak's age opens it."""
    from flyteidl.admin import execution_pb2

    from tests.client_core.servers import UNNAMED_CREATE_EXECUTION

    with socket.socket() as closed:  # a port nothing listens on: every connection is refused
        closed.bind(("127.0.0.1", 0))
        endpoint = f"127.0.0.1:{closed.getsockname()[1]}"
    settings = settings_for(endpoint, retry_deadline_seconds=0.3)
    single: list[errors.FlyteAdminError] = []
    with Transport(settings) as transport:

        def opened() -> bool:
            try:
                transport.call(UNNAMED_CREATE_EXECUTION, execution_pb2.ExecutionCreateRequest())
            except errors.FlyteAdminUnreachable:
                return True
            except errors.FlyteSystemUnavailableException as error:
                single.append(error)
            return False

        wait_for(opened, "the breaker to open")
        assert transport.breaker.is_open
    assert single and all(e.attempts == 1 for e in single)


def test_the_unreachable_error_survives_pickling() -> None:
    error = errors.FlyteAdminUnreachable(
        "AdminService/GetVersion", "admin:81", 12.5, "UNAVAILABLE: Socket closed"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.FlyteAdminUnreachable
    assert (copy.endpoint, copy.unreachable_seconds, copy.last_error) == (
        "admin:81",
        12.5,
        "UNAVAILABLE: Socket closed",
    )
    assert str(copy) == str(error) and copy.code.name == "UNAVAILABLE"
