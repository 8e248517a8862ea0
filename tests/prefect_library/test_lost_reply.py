"""A task retried after Admin lost its reply launches once.

The emulator commits the launch and then answers UNAVAILABLE (its `fault_rate`, with a seed chosen so that
exactly the launch's reply is lost). The connection sends each RPC once (`retry_attempts=1`), so it is
Prefect's task retry, not the transport's resend, that comes back: it finds the execution its first try
launched, under the name derived from the flow run, and waits for that one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task

from flyteadmin_ops.blocks import FlyteAdminConnection, FlyteLaunchPlan
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.server import Faults
from flyteadmin_ops.tasks import is_retryable

from .conftest import DOMAIN, PROJECT, echo_project, executions

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

FAULT_RATE = 0.05
LAUNCH_CALL = 3
"""The first try calls GetActiveLaunchPlan, GetExecution (is the name taken?), then CreateExecution."""


def seed_losing_only_the_reply_of_call(call: int, calls: int = 80) -> int:
    """A seed whose fault draws lose the reply of `call` (after the write) and spare the other `calls`."""
    for seed in range(100_000):
        faults = Faults(FAULT_RATE, seed)
        draws = [faults.draw() for _ in range(calls)]
        if draws[call - 1] == "after" and draws.count("") == calls - 1:
            return seed
    raise AssertionError("no such seed")


def test_a_task_retried_after_a_lost_reply_launches_once(tmp_path: Path) -> None:
    database = str(tmp_path / "admin.db")
    with (
        Emulator(db=database) as setup,
        SynchronousFlyteClient(endpoint=setup.endpoint, insecure=True) as admin,
    ):
        echo_project(admin)

    seed = seed_losing_only_the_reply_of_call(LAUNCH_CALL)
    with Emulator(db=database, executor="simulate", fault_rate=FAULT_RATE, seed=seed) as flyte:
        connection = FlyteAdminConnection(endpoint=flyte.endpoint, insecure=True, retry_attempts=1)
        tries: list[bool] = []

        @task(retries=2, retry_delay_seconds=0, retry_condition_fn=is_retryable)
        def train(x: int) -> dict[str, Any]:
            job = FlyteLaunchPlan(
                connection=connection,
                project=PROJECT,
                domain=DOMAIN,
                name="train",
                inputs={"x": x},
                poll_interval_seconds=0.2,
            )
            tries.append(True)
            run = job.trigger_sync()
            run.wait_for_completion_sync()
            return run.fetch_result_sync()

        @flow
        def nightly() -> dict[str, Any]:
            return train(11)

        assert nightly() == {"x": 11, "tag": "train"}
        assert len(tries) == 2  # the lost reply failed the first try
        with SynchronousFlyteClient(endpoint=flyte.endpoint, insecure=True) as admin:
            assert len(executions(admin, "train")) == 1
