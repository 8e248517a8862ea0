"""Cancelling a deployed run of `run_launch_plan` terminates the Flyte execution it launched.

Prefect cancels a flow run through whatever runs it: the worker (here `serve`, the same runner code a
process worker uses) stops the run's process and runs the flow's `on_cancellation` hook, which reads the
execution from the flow run's labels and terminates it. A flow called in-process has no such supervisor,
so this test serves the flow in a subprocess. The emulator runs no engine here, so the execution stays
queued until it is terminated.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelling

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator

from .conftest import DOMAIN, PROJECT, echo_project, executions, phase_name

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

DEADLINE_SECONDS = 120.0
T = TypeVar("T")

SERVE = (
    "from flyteadmin_ops.flows.run_launch_plan import run_launch_plan\n"
    "run_launch_plan.serve(name='cancellation-test', print_starting_message=False)\n"
)


def eventually(what: str, probe: Callable[[], T | None], log: Path) -> T:
    """Poll `probe` until it returns something, within DEADLINE_SECONDS (the serve log is in the failure)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)  # polling interval, not a wait for the condition
    raise AssertionError(f"{what} did not happen within {DEADLINE_SECONDS:g} s\n{log.read_text()[-4000:]}")


@pytest.fixture
def served_flow(tmp_path: Path) -> Iterator[Path]:
    """`run_launch_plan` served in a subprocess; yields its log file."""
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_cancelling_the_flow_run_terminates_its_execution(served_flow: Path) -> None:
    with Emulator() as flyte, SynchronousFlyteClient(endpoint=flyte.endpoint, insecure=True) as admin:
        echo_project(admin)
        FlyteAdminConnection(endpoint=flyte.endpoint, insecure=True).save("cancellation-test", overwrite=True)

        with get_client(sync_client=True) as prefect:
            eventually(
                "the deployment",
                lambda: _deployment(prefect, "run-launch-plan/cancellation-test"),
                served_flow,
            )
        flow_run = run_deployment(
            "run-launch-plan/cancellation-test",
            parameters={
                "project": PROJECT,
                "domain": DOMAIN,
                "name": "train",
                "inputs": {"x": 1},
                "connection": "cancellation-test",
                "poll_interval_seconds": 0.5,
            },
            timeout=0,
        )

        def launched_while_running() -> list[Any] | None:
            with get_client(sync_client=True) as prefect:
                state = prefect.read_flow_run(flow_run.id).state
            assert state is None or not state.is_final(), (
                f"the flow run ended {state}\n{served_flow.read_text()}"
            )
            return executions(admin, "train") or None

        launched = eventually("the launch", launched_while_running, served_flow)[0]

        with get_client(sync_client=True) as prefect:
            prefect.set_flow_run_state(flow_run.id, Cancelling(message="not needed any more"))
            cancelled = eventually(
                "the flow run's cancellation",
                lambda: _if(
                    prefect.read_flow_run(flow_run.id), lambda run: run.state and run.state.is_cancelled()
                ),
                served_flow,
            )
        terminated = eventually(
            "the termination",
            lambda: _if(admin.get_execution(launched.id), lambda e: phase_name(e) in ("ABORTING", "ABORTED")),
            served_flow,
        )
        assert str(flow_run.id) in terminated.closure.abort_metadata.cause
        assert (
            cancelled.labels[f"flyte.execution/{PROJECT}/{DOMAIN}/{launched.id.name}"] == "cancellation-test"
        )


def _deployment(prefect: object, name: str) -> object | None:
    try:
        return prefect.read_deployment_by_name(name)  # type: ignore[attr-defined]
    except Exception:
        return None


def _if(value: T, holds: Callable[[T], object]) -> T | None:
    return value if holds(value) else None
