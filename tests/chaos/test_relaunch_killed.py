"""relaunch-failed killed with SIGKILL midway, then run again: each failure is recovered exactly once.

The failures are made without latency; then the emulator (a process of its own) restarts on the same
database with 100 ms added to every RPC, so the CLI (a process too, 2 launches at a time) is still
launching when the test, polling the server, sees the first recoveries and kills it. Nothing of the killed
run is kept but what the server holds; the second run must skip what the first one launched (the derived
names and the "already handled" check), launch the rest, and read each launch back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.chaos.support import DOMAIN, PROJECT, faulty_emulator, make_failures, observer, recoveries

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

FAILURES = 16
KILL_AFTER = 3
"""Recoveries the server must hold before the first run is killed."""
LATENCY_MS = 100
SEED = 5


def relaunch_command(endpoint: str) -> list[str]:
    return [
        sys.executable,
        *("-m", "flyteadmin_ops.cli", "relaunch-failed"),
        *("-p", PROJECT, "-d", DOMAIN, "--since", "24h", "--max-concurrency", "2", "-o", "json"),
        *("--endpoint", endpoint, "--insecure"),
    ]


def isolated_env(home: Path) -> dict[str, str]:
    """No FLYTE* variable and an empty HOME: only the command line says where Admin is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "FLYTECTL"))}
    env["HOME"] = str(home)
    return env


def test_relaunch_failed_killed_midway_and_rerun_recovers_each_failure_once(
    pyflyte_package: Path, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    with (
        faulty_emulator(
            lambda client: make_failures(client, pyflyte_package, FAILURES),
            "--latency-ms",
            str(LATENCY_MS),
            seed=SEED,
        ) as emulator,
        observer(emulator.endpoint) as eyes,
    ):
        first = subprocess.Popen(
            relaunch_command(emulator.endpoint),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while sum(recoveries(eyes).values()) < KILL_AFTER:
                assert first.poll() is None, "the first run ended before it could be killed"
                assert time.monotonic() < deadline, "the first run launched nothing within 60 s"
            first.kill()  # SIGKILL: no cleanup, no report
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate(timeout=30)
        assert first.returncode == -9
        after_kill = recoveries(eyes)
        assert KILL_AFTER <= sum(after_kill.values()) < FAILURES
        assert set(after_kill.values()) == {1}

        second = subprocess.run(
            relaunch_command(emulator.endpoint), env=env, capture_output=True, text=True, timeout=90
        )
        assert second.returncode == 0, second.stderr
        report = json.loads(second.stdout)
        final = recoveries(eyes)

    assert final == Counter({f"broken-{number}": 1 for number in range(FAILURES)})
    statuses = {o["name"]: o["status"] for o in report["outcomes"]}
    launched = {name for name, status in statuses.items() if status == "launched"}
    skipped = {name for name, status in statuses.items() if status == "skipped"}
    assert skipped == set(after_kill)  # what the killed run launched is not launched again
    assert launched | skipped == set(final) and not launched & skipped
    print(
        f"relaunch-failed killed (latency {LATENCY_MS} ms, {FAILURES} failures): {sum(after_kill.values())} "
        f"recovered before the kill, {len(launched)} by the re-run, {len(skipped)} skipped, "
        f"{sum(final.values())} recoveries in all"
    )
