"""`flyteadmin-ops demo --prefect`: the README's demo run through the four Prefect flows, under the session's
Prefect server (so it pays no temporary-server start), from a folder outside the clone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.flows.records import flow_runs

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

FLOWS = ("register-all", "promote-launch-plan", "relaunch-failed", "sync-attributes")


def test_demo_prefect_runs_every_step_as_a_flow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flyteadmin_ops.cli import main

    monkeypatch.chdir(tmp_path)
    started = dt.datetime.now(dt.timezone.utc)

    code = main(["demo", "--prefect"])

    out = capsys.readouterr().out
    assert code == 0, out
    for step in ("== register", "== promote", "== relaunch-failed", "== sync-attributes", "demo succeeded"):
        assert step in out
    assert "ok: 9 created" in out.split("== sync-attributes", 1)[1]
    runs = flow_runs(started, expected=len(FLOWS))
    assert sorted(runs) == sorted((name, "Completed") for name in FLOWS), (
        "each automation ran once, as its flow"
    )
