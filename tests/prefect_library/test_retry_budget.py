"""The run retry budget, under the session's Prefect server: task retries and the client's own retries stop
together at `run_retry_budget_seconds`, every decision is logged with its cause, and an error no retry can
fix gets exactly one attempt.

The budgets here are a few seconds, and the delays short and without jitter, so each test takes seconds; the
assertions are on what the runs recorded (attempt counts, logged decisions, the client deadlines each
attempt got), never on how long they took.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from prefect import State, flow, task

from flyteadmin_ops import tasks
from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client_tasks.budget import MIN_CALL_SECONDS, task_client
from flyteadmin_ops.client_tasks.options import TASK_OPTIONS
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import (
    FlyteAdminUnreachable,
    FlyteEntityNotExistException,
    FlyteSystemUnavailableException,
)

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(120)]

BUDGET = 4.0
DELAY = 0.5
MANY = 50
"""More retries than the budget allows: what stops them is the budget."""

RETRY_LINE = re.compile(
    r"retry (\d+) of (\d+) in up to ([\d.]+) s after (\w+) \((\w+)\) from ([\w/]+): .*; "
    r"([\d.]+) s of the ([\d.]+) s run retry budget left"
)


@pytest.fixture
def closed_port() -> Iterator[str]:
    """An endpoint nobody listens on (a port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"127.0.0.1:{port}"


def _connection(endpoint: str, **fields: Any) -> FlyteAdminConnection:
    return FlyteAdminConnection(
        endpoint=endpoint, insecure=True, retry_attempts=2, run_retry_budget_seconds=BUDGET, **fields
    )


@dataclass(frozen=True)
class Attempted:
    """How one task run ended: the class of its error (None when it succeeded) and its attempts."""

    error: type[BaseException] | None
    attempts: int


def run_in_flow(call: Callable[[], State[Any]]) -> Attempted:
    """Run `call` (a task called with `return_state=True`) in a flow, and read its record back."""
    from prefect.client.orchestration import get_client

    @flow
    def one_task() -> tuple[UUID, type[BaseException] | None]:
        state = call()
        error = state.result(raise_on_failure=False) if state.is_failed() else None
        return state.state_details.task_run_id, type(error) if error is not None else None

    task_run_id, error = one_task()
    with get_client(sync_client=True) as client:
        return Attempted(error, int(client.read_task_run(task_run_id).run_count))


def test_against_a_closed_port_a_task_stops_at_the_budget_logging_each_retry_with_its_cause(
    closed_port: str, caplog: pytest.LogCaptureFixture
) -> None:
    connection = _connection(closed_port)
    get_project = tasks.get_project.with_options(
        retries=MANY, retry_delay_seconds=DELAY, retry_jitter_factor=None
    )

    run = run_in_flow(lambda: get_project(connection, "flytesnacks", return_state=True))

    assert run.error is FlyteSystemUnavailableException
    attempts = run.attempts
    retries = [m.groups() for m in RETRY_LINE.finditer(caplog.text)]
    assert 2 <= attempts < MANY + 1  # retried, and stopped by the budget rather than the retry count
    assert len(retries) == attempts - 1
    for number, (retry, total, wait, error, code, rpc, left, budget) in enumerate(retries, start=1):
        assert (int(retry), int(total), error, code) == (
            number,
            MANY,
            "FlyteSystemUnavailableException",
            "UNAVAILABLE",
        )
        assert rpc == "AdminService/GetProject" and float(budget) == BUDGET
        assert float(wait) < float(left) <= BUDGET  # a retry is made only when it starts within the budget
    refusal = re.search(
        r"not retried: run retry budget of 4 s spent \(([\d.]+) s since the first attempt, next retry after "
        r"up to ([\d.]+) s\); attempt (\d+) failed with FlyteSystemUnavailableException \(UNAVAILABLE\)",
        caplog.text,
    )
    assert refusal is not None, caplog.text
    spent, wait, last = refusal.groups()
    assert int(last) == attempts and float(spent) + float(wait) >= BUDGET
    print(f"closed port, budget {BUDGET:g} s, delay {DELAY} s, {MANY} retries allowed: {attempts} attempts")


def test_each_later_attempt_gets_a_client_deadline_cut_to_what_is_left(closed_port: str) -> None:
    connection = _connection(closed_port)
    deadlines: list[float] = []

    @task(**{**TASK_OPTIONS, "retries": MANY, "retry_delay_seconds": DELAY, "retry_jitter_factor": None})
    def read_project() -> Any:
        with task_client(connection) as client:
            deadlines.append(client.settings.retry_deadline_seconds)
            return client.get_project("flytesnacks")

    run = run_in_flow(lambda: read_project(return_state=True))

    assert run.error is FlyteSystemUnavailableException and len(deadlines) == run.attempts >= 2
    assert deadlines[0] <= BUDGET  # the budget bounds the first attempt's retries too
    for number, deadline in enumerate(deadlines[1:], start=1):
        # at least `number` delays have passed since the first attempt began
        assert MIN_CALL_SECONDS <= deadline <= max(BUDGET - number * DELAY, MIN_CALL_SECONDS)
    assert deadlines == sorted(deadlines, reverse=True)
    print(f"client retry deadlines per attempt (budget {BUDGET:g} s): {[round(d, 1) for d in deadlines]}")


def test_the_circuit_breakers_unreachable_is_retried_within_the_budget(
    closed_port: str, caplog: pytest.LogCaptureFixture
) -> None:
    """FlyteAdminUnreachable (every call of the attempt's client fails at once once its breaker opened) is
    retried like any UNAVAILABLE: the next attempt opens a new client and asks Admin afresh; the budget
    ends it."""
    connection = _connection(closed_port)

    @task(**{**TASK_OPTIONS, "retries": MANY, "retry_delay_seconds": DELAY, "retry_jitter_factor": None})
    def read_twice() -> Any:
        with task_client(connection) as client:
            try:
                client.get_project("flytesnacks")
            except FlyteAdminUnreachable:
                raise
            except FlyteSystemUnavailableException:
                pass  # this call's own retries ran out, and that opened the client's breaker
            return client.get_project("flytesnacks")  # refused at once by the open breaker

    run = run_in_flow(lambda: read_twice(return_state=True))

    assert run.error is FlyteAdminUnreachable
    attempts = run.attempts
    causes = [m.group(4) for m in RETRY_LINE.finditer(caplog.text)]
    assert attempts >= 2 and causes == ["FlyteAdminUnreachable"] * (attempts - 1)
    assert re.search(
        r"not retried: run retry budget of 4 s spent .* failed with FlyteAdminUnreachable", caplog.text
    )


def test_a_non_retryable_error_gets_exactly_one_attempt(caplog: pytest.LogCaptureFixture) -> None:
    with Emulator(port=0) as emulator:
        connection = _connection(emulator.endpoint)

        run = run_in_flow(lambda: tasks.get_project(connection, "no-such-project", return_state=True))

    assert (run.error, run.attempts) == (FlyteEntityNotExistException, 1)
    assert (
        "not retried: FlyteEntityNotExistException (NOT_FOUND) from AdminService/GetProject: " in caplog.text
    )
    assert "is not an error a later attempt can outlive" in caplog.text
    assert not RETRY_LINE.search(caplog.text)


def test_the_sync_attributes_flow_with_the_shipped_delays_stops_at_a_small_budget(
    closed_port: str, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    """The measured case (a block at a closed port, the real flow and its real task options): with a
    budget shorter than the first delay (5 s), the plan task fails after its first attempt."""
    from flyteadmin_ops.flows.sync_attributes import sync_attributes

    declared = tmp_path / "attributes.yaml"
    declared.write_text("- project: flytesnacks\n  type: execution-queue\n  tags: [a]\n")
    connection = FlyteAdminConnection(
        endpoint=closed_port, insecure=True, retry_attempts=2, run_retry_budget_seconds=3
    )

    state = sync_attributes(str(declared), connection, return_state=True)

    assert state.is_failed()
    assert re.search(
        r"not retried: run retry budget of 3 s spent \([\d.]+ s since the first attempt, next retry after "
        r"up to 6\.0 s\); attempt 1 failed with FlyteSystemUnavailableException \(UNAVAILABLE\) from "
        r"AdminService/GetProject",
        caplog.text,
    ), caplog.text
