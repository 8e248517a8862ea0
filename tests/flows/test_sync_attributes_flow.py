"""The sync-attributes flow under the session's Prefect server: a saved block, one plan task and one apply
task per run, the summary artifact, a no-op second run, and a bad file failing without retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyteadmin_ops.emulator import Emulator
from tests.flows.records import artifact, task_name, task_runs

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "attributes.yaml"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0) as emu:
        yield emu


def test_sync_then_resync_with_a_saved_block(emulator: Emulator) -> None:
    from flyteadmin_ops.flows.sync_attributes import sync_attributes

    from flyteadmin_ops.blocks import FlyteAdminConnection

    FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True).save("sync-test", overwrite=True)

    state = sync_attributes(str(SHIPPED), "sync-test", return_state=True)

    assert state.is_completed(), state
    result = state.result()
    assert result.totals == {"created": 9}
    runs = task_runs(state.state_details.flow_run_id, expected=2)
    assert sorted((task_name(r), r.state.name) for r in runs) == [
        ("apply-attribute-changes", "Completed"),
        ("plan-attribute-changes", "Completed"),
    ]
    table = artifact("sync-attributes")
    assert table.type == "table" and "9 created" in table.description
    rows = json.loads(table.data)
    assert len(rows) == 9 and {row["status"] for row in rows} == {"created"}
    assert {row["kind"] for row in rows} >= {"plugin-override", "cluster-assignment", "task-resource"}

    again = sync_attributes(str(SHIPPED), "sync-test", return_state=True)

    assert again.result().totals == {"unchanged": 9}
    runs = task_runs(again.state_details.flow_run_id, expected=1)
    assert [task_name(r) for r in runs] == ["plan-attribute-changes"]  # nothing to apply


def test_bad_file_fails_the_flow_without_retrying(emulator: Emulator, tmp_path: Path) -> None:
    from flyteadmin_ops.flows.sync_attributes import sync_attributes

    from flyteadmin_ops.blocks import FlyteAdminConnection

    bad = tmp_path / "bad.yaml"
    bad.write_text("- project: nosuch\n  type: execution-queue\n  tags: [a]\n")

    state = sync_attributes(
        str(bad), FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True), return_state=True
    )

    assert state.is_failed()
    assert f"{bad}:1: project: unknown project 'nosuch'" in state.message
    (run,) = task_runs(state.state_details.flow_run_id, expected=1)
    assert (run.state.name, run.run_count) == ("Failed", 1)  # an input error is not retried
