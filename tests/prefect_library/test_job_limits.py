"""A `FlyteLaunchPlan` used from a plain script (no Prefect run): its time limit terminates the execution,
and it reads outputs only of an execution that succeeded. The emulator runs no engine here, so an
execution stays queued until it is terminated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flyteadmin_ops.blocks import FlyteAdminConnection, FlyteLaunchPlan
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteExecutionWaitTimeout

from .conftest import DOMAIN, PROJECT, echo_project, phase_name


@pytest.fixture
def idle_flyte() -> Iterator[Emulator]:
    with Emulator() as emulator, SynchronousFlyteClient(endpoint=emulator.endpoint, insecure=True) as admin:
        echo_project(admin)
        yield emulator


def test_past_its_time_limit_the_execution_is_terminated(idle_flyte: Emulator) -> None:
    job = FlyteLaunchPlan(
        connection=FlyteAdminConnection(endpoint=idle_flyte.endpoint, insecure=True),
        project=PROJECT,
        domain=DOMAIN,
        name="train",
        version="v1",
        inputs={"x": 2},
        poll_interval_seconds=0.1,
        timeout_seconds=0.5,
    )
    run = job.trigger_sync()
    assert run.created and run.execution_id.name.startswith("f")  # outside a run: the client's random name

    with pytest.raises(RuntimeError, match="wait_for_completion"):
        run.fetch_result_sync()
    with pytest.raises(FlyteExecutionWaitTimeout) as timed_out:
        run.wait_for_completion_sync()

    assert timed_out.value.terminated
    with SynchronousFlyteClient(endpoint=idle_flyte.endpoint, insecure=True) as admin:
        execution = admin.get_execution(run.execution_id)
    assert phase_name(execution) in ("ABORTING", "ABORTED")
    assert "0.5 s" in execution.closure.abort_metadata.cause
