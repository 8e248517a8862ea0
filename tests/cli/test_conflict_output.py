"""How `flyteadmin-ops register` shows a workflow conflict: the field that changed with its old and new value,
in the table and in `-o json`, never flyteadmin's whole-workflow diff; the server's text stays in the JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flyteidl.admin import workflow_pb2

from flyteadmin_ops.cli import main
from flyteadmin_ops.emulator import Emulator

TARGET = ["-p", "flytesnacks", "-d", "development", "--version", "v1"]
FLAKY = "ops_demo.workflows.flaky_wf"
CHANGE = "node n1 (maybe_fail): metadata.retries: 0 -> 3"
OUTCOME_KEYS = {"kind", "name", "status", "detail", "changes", "server_message"}


def package_folder(source: Path, dest: Path, *, retries: dict[int, int] | None = None) -> Path:
    """A copy of the extracted sample package without its source archive (whose URL is not what this is
    about), with flaky_wf's nodes retrying as `retries` says (node index -> retries)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("fast*.tar.gz"))
    if retries:
        [path] = dest.rglob(f"*{FLAKY}_2.pb")  # pyflyte's suffixes: _1 task, _2 workflow, _3 launch plan
        spec = workflow_pb2.WorkflowSpec.FromString(path.read_bytes())
        for index, count in retries.items():
            spec.template.nodes[index].metadata.retries.retries = count
        path.write_bytes(spec.SerializeToString())
    return dest


@pytest.fixture
def registered(flyte_admin: Emulator, pyflyte_package_dir: Path, tmp_path: Path) -> list[str]:
    """The connection options of an emulator where the package is registered at v1, and a variant folder."""
    connection = ["--endpoint", flyte_admin.endpoint, "--insecure"]
    original = package_folder(pyflyte_package_dir, tmp_path / "original")
    assert main(["register", str(original), *TARGET, *connection]) == 0
    return connection


def test_the_table_shows_the_changed_field(
    registered: list[str], pyflyte_package_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    variant = package_folder(pyflyte_package_dir, tmp_path / "variant", retries={1: 3})

    code = main(["register", str(variant), *TARGET, *registered])

    table = capsys.readouterr().out
    assert code == 1
    row = next(line for line in table.splitlines() if line.startswith("workflow") and FLAKY in line)
    assert row.split()[2:] == ["conflict", *CHANGE.split()]
    assert "<nil>" not in table and "start-node" not in table


def test_several_changes_show_one_per_line_below_the_table(
    registered: list[str], pyflyte_package_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    variant = package_folder(pyflyte_package_dir, tmp_path / "variant", retries={0: 2, 1: 3})

    assert main(["register", str(variant), *TARGET, *registered]) == 1

    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("workflow") and FLAKY in line)
    assert row.endswith("conflict  node n0 (stamp): metadata.retries: 0 -> 2...")
    below = f"conflict: workflow flytesnacks:development:{FLAKY}:v1\n"
    assert f"{below}  node n0 (stamp): metadata.retries: 0 -> 2\n  {CHANGE}\n" in table


def test_json_has_the_change_with_old_and_new_and_keeps_the_servers_text(
    registered: list[str], pyflyte_package_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    variant = package_folder(pyflyte_package_dir, tmp_path / "variant", retries={1: 3})

    code = main(["register", str(variant), *TARGET, *registered, "-o", "json"])

    result = json.loads(capsys.readouterr().out)
    assert code == 1 and not result["ok"]
    assert all(set(outcome) == OUTCOME_KEYS for outcome in result["outcomes"])
    [conflict] = [o for o in result["outcomes"] if o["status"] == "conflict"]
    assert conflict["detail"] == CHANGE
    assert conflict["changes"] == [
        {"path": "/nodes/n1/metadata/retries/retries", "old": 0, "new": 3, "text": CHANGE}
    ]
    assert "different structure already exists" in conflict["server_message"]
    exists = [o for o in result["outcomes"] if o["status"] == "exists"]
    assert exists and all(o["changes"] == [] and o["server_message"] == "" for o in exists)
