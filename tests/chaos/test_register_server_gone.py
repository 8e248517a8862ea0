"""register-all when Admin dies mid-run (issue 10): the CLI stops within the retry budget, reports what it
did not attempt, and a re-run against the restarted server completes the job without creating anything twice.

The server is an emulator in a process of its own (so it can be SIGKILLed) with added latency, so that a
registration of 760 entities lasts long enough to be killed in the middle; the CLI runs as a process too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin.common_pb2 import NamedEntityIdentifier, ResourceListRequest

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, WORKFLOW
from flyteadmin_ops.ops.register import SERVER_GONE
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.testing.emulator_process import EmulatorProcess
from tests.ops.large_package import replicated_package, write_package_dir

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
COPIES = 40  # 760 entities
DEFAULT_RETRY_DEADLINE: float = AdminSettings.model_fields["retry_deadline_seconds"].default
KINDS = {"task": "tasks", "workflow": "workflows", "launch_plan": "launch_plans"}
RESOURCE_TYPES = {"task": TASK, "workflow": WORKFLOW, "launch_plan": LAUNCH_PLAN}


def _cli_env(home: Path, endpoint: str, retry_deadline: float | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "FLYTECTL"))}
    env.update(HOME=str(home), FLYTEADMIN_ENDPOINT=endpoint, FLYTEADMIN_INSECURE="true")
    if retry_deadline is not None:
        env.update(FLYTEADMIN_RETRY_DEADLINE_SECONDS=str(retry_deadline), FLYTEADMIN_DEADLINE_SECONDS="5")
    return env


def _register_command(package: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flyteadmin_ops.cli",
        "register",
        str(package),
        "-p",
        PROJECT,
        "-d",
        DOMAIN,
        "--version",
        VERSION,
        "-o",
        "json",
        "--max-concurrency",  # pinned, so the run lasts long enough to be killed in the middle
        "8",
    ]


def _held(client: SynchronousFlyteClient) -> Counter[str]:
    """How many entities of each kind the server holds at VERSION."""
    counts: Counter[str] = Counter()
    for kind, field in KINDS.items():
        request = ResourceListRequest(
            id=NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=10_000,
            filters=f"eq(version,{VERSION})",
        )
        answer = getattr(client.raw, f"list_{field}_paginated")(request)
        counts[kind] = len(getattr(answer, field))
    return counts


def _entity_outcomes(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in document["outcomes"] if o["kind"] in KINDS]


@pytest.mark.parametrize("retry_deadline", [3.0, None], ids=["retry-deadline-3s", "default-settings"])
def test_server_killed_mid_register_stops_within_the_budget_and_a_rerun_completes(
    tmp_path: Path, retry_deadline: float | None
) -> None:
    budget = DEFAULT_RETRY_DEADLINE if retry_deadline is None else retry_deadline
    package = replicated_package(COPIES)
    package_dir = write_package_dir(package, tmp_path / "package")
    wanted = Counter({kind: len(package.of_type(rt)) for kind, rt in RESOURCE_TYPES.items()})
    home = tmp_path / "home"
    home.mkdir()

    with EmulatorProcess("--latency-ms", "40") as server:
        env = _cli_env(home, server.endpoint, retry_deadline)
        first = subprocess.Popen(
            _register_command(package_dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            with SynchronousFlyteClient(server.endpoint, insecure=True) as watcher:
                deadline = time.monotonic() + 60
                while sum(_held(watcher).values()) < 20:  # each poll is a few RPCs of 40 ms
                    assert first.poll() is None, "register finished before the server could be killed"
                    assert time.monotonic() < deadline, "register created nothing within 60 s"
            server.kill()
            killed_at = time.monotonic()
            out, err = first.communicate(timeout=budget + 30)
            stopped_after = time.monotonic() - killed_at
        finally:
            if first.poll() is None:
                first.kill()
                first.communicate()

        assert first.returncode == 1, err
        assert stopped_after <= budget + 10, f"register went on {stopped_after:.1f} s after the kill"
        document = json.loads(out)
        outcomes = _entity_outcomes(document)
        assert len(outcomes) == len(package)
        not_attempted = [o for o in outcomes if o["status"] == "skipped"]
        assert not_attempted and all(o["detail"] == SERVER_GONE for o in not_attempted)
        assert {o["status"] for o in outcomes} <= {"created", "exists", "skipped"}, [
            o for o in outcomes if o["status"] == "failed"
        ][:3]
        assert any(f"the server at {server.endpoint} went away" in note for note in document["notes"])
        assert [o["kind"] for o in document["outcomes"] if o["status"] == "failed"] == ["server"]

        server.restart()
        second = subprocess.run(
            _register_command(package_dir), env=env, capture_output=True, text=True, timeout=180
        )
        assert second.returncode == 0, second.stderr
        rerun = _entity_outcomes(json.loads(second.stdout))
        totals = Counter(o["status"] for o in rerun)
        assert totals["created"] + totals["exists"] == len(package) == len(rerun)
        created_before = {o["name"] for o in outcomes if o["status"] == "created"}
        created_now = {o["name"] for o in rerun if o["status"] == "created"}
        assert not created_before & created_now  # nothing created twice
        assert {o["name"] for o in not_attempted} <= {o["name"] for o in rerun}
        with SynchronousFlyteClient(server.endpoint, insecure=True) as reader:
            assert _held(reader) == wanted
        first_totals = Counter(o["status"] for o in outcomes)
        print(  # the figures RELIABILITY.md quotes (pytest -s)
            f"retry deadline {budget:g} s: stopped {stopped_after:.1f} s after the kill; first run "
            f"{dict(first_totals)}; re-run {dict(totals)}; held {dict(wanted)}"
        )
