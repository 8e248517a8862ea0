"""Prefect as the distributed engine, as an operator sets it up from the header of prefect.yaml: a real
`prefect server start` (temporary PREFECT_HOME, SQLite), the emulator in its own process, the connection block
saved, a process work pool, `prefect deploy` of run-launch-plan, relaunch-failed and sync-attributes from the
repository's prefect.yaml, a worker started in an empty directory (no checkout, no config/ folder), and the
three deployments run at once with `prefect deployment run --watch`. The outcome is checked on the Prefect
server (flow run states, the persisted result of run-launch-plan) and on the emulator (the launched execution
and its inputs, the recovery of the failed execution, the attributes of the declaration embedded at deploy
time).

The scheduler is off (`--no-scheduler`): relaunch-failed's hourly schedule would otherwise add a run of its
own when the test happens to run at the top of the hour. Every step waits with a bounded deadline, and every
process is stopped at the end, failed test or not. The timings of each stage are printed (`pytest -s`).
"""

from __future__ import annotations

import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flyteidl.admin import execution_pb2, matchable_resource_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from tests.prefect_server.processes import Processes, free_port, listening

pytestmark = [pytest.mark.slow, pytest.mark.prefect_server, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROJECT, DOMAIN, VERSION = "flytesnacks", "production", "deploy-v1"
FAILING_LAUNCH_PLAN = "ops_demo.workflows.flaky_wf"  # fails under the simulator when its input `fail` is true
LAUNCHED_LAUNCH_PLAN = "ops_demo.workflows.main_wf"  # main_wf(a: int, b: int, name: str) -> int
WORK_POOL = "flyteadmin-ops"  # the work pool prefect.yaml names
DEPLOYED = ("relaunch-failed", "run-launch-plan", "sync-attributes")
WORKFLOW_EXECUTION_CONFIG = matchable_resource_pb2.MatchableResource.WORKFLOW_EXECUTION_CONFIG
STARTUP_SECONDS = 90.0
RUN_SECONDS = 120.0
PHASES = core_execution_pb2.WorkflowExecution.Phase
TERMINAL_PHASES = {PHASES.SUCCEEDED, PHASES.FAILED, PHASES.ABORTED, PHASES.TIMED_OUT}


class Stopwatch:
    """Seconds since the start at each named stage: the end-to-end timings the issue asks for."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.marks: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def mark(self, stage: str) -> None:
        self.marks[stage] = round(time.monotonic() - self.start, 1)

    def note(self, name: str, text: str) -> None:
        self.notes[name] = text

    def report(self) -> str:
        stages = ", ".join(f"{stage} {seconds}" for stage, seconds in self.marks.items())
        runs = "".join(f"\n  {name}: {text}" for name, text in self.notes.items())
        return f"deployment test timings (s since start): {stages}{runs}"


@pytest.fixture
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    yield watch
    watch.mark("all processes stopped")
    print("\n" + watch.report())


def _environment(home: Path, api_url: str) -> dict[str, str]:
    """This machine's environment without any Prefect setting (a developer's profile must not leak in),
    pointed at the test's server and PREFECT_HOME."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_WORKER_QUERY_SECONDS="1",  # the default 10 s poll would dominate the test
    )
    return env


def _server_healthy(api_url: str) -> bool | None:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return True if response.status == 200 else None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _deployment_run(prefect: str, name: str, parameters: list[str], options: list[str]) -> list[str]:
    """`prefect deployment run NAME/NAME --param ... --watch`, as an operator types it."""
    return [
        *(prefect, "deployment", "run", f"{name}/{name}"),
        *(f"--param={parameter}" for parameter in parameters),
        *options,
        *("--watch", "--watch-timeout", str(int(RUN_SECONDS))),
    ]


def _flow_run_id(cli_output: str) -> UUID:
    found = re.search(r"UUID: ([0-9a-f-]{36})", cli_output)
    assert found, f"no flow run id in:\n{cli_output}"
    return UUID(found.group(1))


def test_deployments_from_prefect_yaml_run_on_a_process_worker(tmp_path: Path, stopwatch: Stopwatch) -> None:
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH
    from flyteadmin_ops.ops.register import register_package
    from flyteadmin_ops.ops.relaunch import derived_name
    from flyteadmin_ops.settings import AdminSettings

    home, empty = tmp_path / "prefect-home", tmp_path / "worker-cwd"
    home.mkdir()
    empty.mkdir()
    api_port, admin_port, http_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}/api"
    endpoint = f"127.0.0.1:{admin_port}"
    prefect = str(BIN / "prefect")

    with Processes(_environment(home, api_url), tmp_path / "logs") as processes:
        # 1. The server and the emulator start side by side; the emulator is ready first and gets its data.
        processes.start(
            "prefect-server",
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(api_port), "--no-scheduler"],
            cwd=empty,
        )
        processes.start(
            "emulator",
            [str(BIN / "flyteadmin-ops"), "emulator", "serve", "--executor", "simulate", "--port",
             str(admin_port), "--http-port", str(http_port), "--db", str(tmp_path / "admin.db")],
            cwd=empty,
        )  # fmt: skip
        client = SynchronousFlyteClient(AdminSettings.isolated(endpoint=endpoint, insecure=True))
        with client:
            processes.wait_for("emulator", lambda: listening(admin_port), timeout=STARTUP_SECONDS)
            stopwatch.mark("emulator up")
            registered = register_package(client, SAMPLE_PACKAGE_PATH, PROJECT, DOMAIN, VERSION)
            assert registered.ok, registered.to_json()
            failed = _launch_failing_execution(client)
            phase = processes.wait_for("the failing execution", lambda: _terminal(client, failed), timeout=30)
            assert phase == PHASES.FAILED
            stopwatch.mark("emulator data ready")
            processes.wait_for("Prefect server", lambda: _server_healthy(api_url), timeout=STARTUP_SECONDS)
            stopwatch.mark("prefect server up")

            # 2. The header of prefect.yaml, step by step: work pool, block, deploy, worker. A deploy before
            #    the block is saved fails at once, saying so, instead of deploying runs that cannot connect.
            pool = [prefect, "work-pool", "create", WORK_POOL, "--type", "process"]
            processes.run({"work-pool": pool}, cwd=empty, timeout=60)
            processes.start("worker", [prefect, "worker", "start", "--pool", WORK_POOL], cwd=empty)
            deploy = [prefect, "--no-prompt", "deploy", *(f"--name={name}" for name in DEPLOYED)]
            refused = processes.run(
                {"deploy-without-block": deploy},
                cwd=REPO,
                timeout=120,
                expected_to_fail={"deploy-without-block"},
            )["deploy-without-block"]
            assert refused.process.returncode != 0, refused.output()
            assert "no FlyteAdminConnection block named 'flyteadmin'" in refused.output(), refused.output()
            assert "successfully created" not in refused.output()
            stopwatch.mark("work pool, a deploy refused")
            block = (
                "from flyteadmin_ops.blocks import FlyteAdminConnection as C; "
                f"C(endpoint={endpoint!r}, insecure=True).save('flyteadmin', overwrite=True)"
            )
            processes.run({"save-block": [sys.executable, "-c", block]}, cwd=empty, timeout=60)
            deployed = processes.run({"deploy": deploy}, cwd=REPO, timeout=120)["deploy"].output()
            assert deployed.count("successfully created") == len(DEPLOYED), deployed
            stopwatch.mark("block saved, deployed")

            # 3. The deployments, run at once as an operator would, each watched to its end.
            parameters = {
                "relaunch-failed": ["since=1h", f"launch_plan={FAILING_LAUNCH_PLAN}"],
                "run-launch-plan": [
                    f"project={PROJECT}",
                    f"domain={DOMAIN}",
                    f"name={LAUNCHED_LAUNCH_PLAN}",
                    'inputs={"a": 5, "b": 7, "name": "prefect"}',
                    "poll_interval_seconds=0.5",
                ],
                "sync-attributes": [],
            }
            # keep run-launch-plan's return value where the test can read it back
            persist = ["--job-variable", 'env={"PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true"}']
            watchers = {
                name: processes.start(
                    f"run-{name}",
                    _deployment_run(
                        prefect, name, parameters[name], persist if name == "run-launch-plan" else []
                    ),
                    cwd=empty,
                    long_running=False,
                )
                for name in DEPLOYED
            }
            for watcher in watchers.values():
                processes.wait_for(
                    f"{watcher.name} to finish", watcher.process.poll, timeout=RUN_SECONDS + 30
                )
                assert watcher.process.returncode == 0, watcher.tail(60) + "\n" + processes.tails()
            stopwatch.mark("flow runs finished")

            # 4. The outcome, on the Prefect server and on the emulator.
            ids = {name: _flow_run_id(watcher.output()) for name, watcher in watchers.items()}
            runs = _flow_runs(api_url, ids)
            assert {name: run.state.type.value for name, run in runs.items()} == dict.fromkeys(
                DEPLOYED, "COMPLETED"
            )
            for name, run in runs.items():
                stopwatch.note(name, _durations(run))
            outputs = _result(api_url, home, ids["run-launch-plan"])

            recovery = identifier_pb2.WorkflowExecutionIdentifier(
                project=PROJECT, domain=DOMAIN, name=derived_name(failed, "recover")
            )
            phase = processes.wait_for("the recovery", lambda: _terminal(client, recovery), timeout=30)
            assert phase == PHASES.SUCCEEDED
            assert client.get_execution(recovery).spec.metadata.reference_execution == failed

            launched = _executions_of(client, LAUNCHED_LAUNCH_PLAN)
            assert len(launched) == 1, launched
            assert _terminal(client, launched[0].id) == PHASES.SUCCEEDED
            data = client.get_execution_data(launched[0].id)
            given = {k: _primitive(v) for k, v in data.full_inputs.literals.items()}
            assert given == {"a": 5, "b": 7, "name": "prefect"}
            assert set(outputs) == {"o0"}  # main_wf's one output, as a Python value
            assert outputs == {k: _primitive(v) for k, v in data.full_outputs.literals.items()}
            # sync-attributes applied the declaration prefect.yaml embedded (the worker has no config/ folder)
            wanted = client.get_project_attributes(PROJECT, WORKFLOW_EXECUTION_CONFIG)
            assert wanted.attributes.matching_attributes.workflow_execution_config.max_parallelism == 10
            stopwatch.mark("outcome checked")


def _launch_failing_execution(client: Any) -> identifier_pb2.WorkflowExecutionIdentifier:
    from flyteadmin_ops.client.identifiers import launch_plan_id

    inputs = literals_pb2.LiteralMap()
    inputs.literals["fail"].scalar.primitive.boolean = True
    spec = execution_pb2.ExecutionSpec(
        launch_plan=launch_plan_id(PROJECT, DOMAIN, FAILING_LAUNCH_PLAN, VERSION)
    )
    execution_id: identifier_pb2.WorkflowExecutionIdentifier = client.create_execution(
        PROJECT, DOMAIN, "nightly-failure", spec, inputs
    )
    return execution_id


def _terminal(client: Any, execution: identifier_pb2.WorkflowExecutionIdentifier) -> int | None:
    phase: int = client.get_execution(execution).closure.phase
    return phase if phase in TERMINAL_PHASES else None


def _executions_of(client: Any, launch_plan: str) -> list[execution_pb2.Execution]:
    return [e for e in client.iter_executions(PROJECT, DOMAIN) if e.spec.launch_plan.name == launch_plan]


def _primitive(literal: literals_pb2.Literal) -> Any:
    primitive = literal.scalar.primitive
    return getattr(primitive, primitive.WhichOneof("value"))


def _flow_runs(api_url: str, flow_runs: dict[str, UUID]) -> dict[str, Any]:
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api_url) as prefect:
        return {name: prefect.read_flow_run(flow_run_id) for name, flow_run_id in flow_runs.items()}


def _durations(run: Any) -> str:
    """Where a deployment run's time goes: waiting for the worker and starting the process, then the flow."""
    to_start = (run.start_time - run.created).total_seconds()
    in_flow = run.total_run_time.total_seconds()
    return f"created -> running {to_start:.1f} s, running -> {run.state.name} {in_flow:.1f} s"


def _result(api_url: str, home: Path, flow_run_id: UUID) -> Any:
    """The flow run's return value as the worker persisted it (local result storage under PREFECT_HOME)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    with SyncPrefectClient(api_url) as prefect:
        state = prefect.read_flow_run(flow_run_id).state
    assert state is not None and state.data is not None, f"no persisted result: {state}"
    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_HOME: home}):
        return state.result()
