"""`flyteadmin-ops get | launch | wait | terminate` against an emulator running simulated executions.

The sample package is registered once for the module (an emulator with executor "simulate": an execution
FAILS when its input `fail` is true, a string input equals "fail", or its launch plan name ends with
`_fails`). Most runs are `cli.main([...])` in-process with JSON parsed; the runs whose exit code and
streams a CI step depends on go through a real subprocess.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flyteidl.core import types_pb2

from flyteadmin_ops.cli import main
from flyteadmin_ops.client import SynchronousFlyteClient, launch_plan_id
from flyteadmin_ops.commands.input_text import InputTextError, read_input
from flyteadmin_ops.demo import FAILING_WORKFLOW
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.register import register_package

PROJECT, DOMAIN = "flytesnacks", "development"
TARGET = ["-p", PROJECT, "-d", DOMAIN]
MAIN_WF = "ops_demo.workflows.main_wf"
FAILING_PLAN = "ops_demo.flaky_fails"  # a copy of flaky_wf's launch plan whose name makes it fail


@pytest.fixture(scope="module")
def admin(pyflyte_package: Path) -> Iterator[Emulator]:
    with Emulator(executor="simulate") as emulator:
        with SynchronousFlyteClient(endpoint=emulator.endpoint, insecure=True) as client:
            result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")
            assert result.ok, result.outcomes
            plan = client.get_launch_plan(launch_plan_id(PROJECT, DOMAIN, FAILING_WORKFLOW, "v1"))
            plan.id.name = FAILING_PLAN
            client.create_launch_plan(plan.id, plan.spec)
        yield emulator


def connection(emulator: Emulator) -> list[str]:
    return ["--endpoint", emulator.endpoint, "--insecure"]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, Any]:
    code = main([*argv, "-o", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def run_cli(emulator: Emulator, *argv: str) -> subprocess.CompletedProcess[str]:
    """A real `flyteadmin-ops` process; HOME is empty so no user config applies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "FLYTECTL"))}
    env["HOME"] = os.environ["HOME"]  # the empty one of clean_settings_environment
    command = [sys.executable, "-m", "flyteadmin_ops.cli", *argv, *connection(emulator)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------------------------------------- get


def test_get_each_kind_as_json(admin: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, projects = run_json(capsys, ["get", "projects", *connection(admin)])
    assert code == 0 and projects["ok"] and projects["kind"] == "projects"
    assert PROJECT in [p["id"] for p in projects["items"]]
    code, one = run_json(capsys, ["get", "projects", PROJECT, *connection(admin)])
    assert code == 0 and [p["id"] for p in one["items"]] == [PROJECT]
    assert main(["get", "projects", "no-such-project", *connection(admin)]) == 2
    capsys.readouterr()

    for kind, name in [
        ("tasks", "ops_demo.tasks.square"),
        ("workflows", MAIN_WF),
        ("launch-plans", MAIN_WF),
    ]:
        code, listing = run_json(capsys, ["get", kind, *TARGET, *connection(admin)])
        assert code == 0 and listing["kind"] == kind
        assert name in {item["id"]["name"] for item in listing["items"]}

        code, versions = run_json(capsys, ["get", kind, name, *TARGET, *connection(admin)])
        assert code == 0 and [item["id"]["version"] for item in versions["items"]] == ["v1"]

        code, one = run_json(capsys, ["get", kind, name, "--version", "v1", *TARGET, *connection(admin)])
        assert code == 0 and one["items"][0]["id"] == versions["items"][0]["id"]

    code, limited = run_json(capsys, ["get", "tasks", "--limit", "2", *TARGET, *connection(admin)])
    assert code == 0 and len(limited["items"]) == 2


def test_get_table_and_yaml(admin: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "launch-plans", MAIN_WF, *TARGET, *connection(admin)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "VERSION", "STATE", "CREATED"]
    assert row.split()[:3] == [MAIN_WF, "v1", "INACTIVE"]  # registered, not activated

    assert main(["get", "workflows", MAIN_WF, *TARGET, "-o", "yaml", *connection(admin)]) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    assert document["items"][0]["id"]["name"] == MAIN_WF


def test_launch_wait_outputs_and_get_execution_with_nodes(
    admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("ok")
    argv = ["launch", MAIN_WF, *TARGET, "--input", "a=3", "--input", "b=4", "--input", "name=ci"]
    code, launched = run_json(capsys, [*argv, "--name", name, "--wait", *connection(admin)])
    assert code == 0, launched
    assert launched["ok"] and launched["phase"] == "SUCCEEDED" and launched["error"] is None
    assert launched["execution"] == {"project": PROJECT, "domain": DOMAIN, "name": name}
    assert set(launched["outputs"]) == {"o0"} and isinstance(launched["outputs"]["o0"], int)

    # the same name again: exactly once, the existing execution is reported
    code, again = run_json(capsys, [*argv, "--name", name, *connection(admin)])
    assert code == 0 and again["created"] is False

    code, shown = run_json(capsys, ["get", "execution", name, *TARGET, *connection(admin)])
    assert code == 0 and shown["execution"]["closure"]["phase"] == "SUCCEEDED"
    assert shown["execution"]["spec"]["launchPlan"]["name"] == MAIN_WF
    nodes = {node["id"]["nodeId"]: node["closure"]["phase"] for node in shown["node_executions"]}
    assert nodes["start-node"] == "SUCCEEDED" and nodes["end-node"] == "SUCCEEDED" and len(nodes) > 2

    code, mine = run_json(capsys, ["get", "executions", MAIN_WF, *TARGET, *connection(admin)])
    assert code == 0 and name in [e["id"]["name"] for e in mine["items"]]
    assert {e["spec"]["launchPlan"]["name"] for e in mine["items"]} == {MAIN_WF}


def test_get_executions_filter_passes_through_and_a_bad_one_is_exit_2(
    admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("bad")
    argv = ["launch", FAILING_WORKFLOW, *TARGET, "--input", "fail=true", "--name", name, "--wait"]
    code, _ = run_json(capsys, [*argv, *connection(admin)])
    assert code == 1

    failed_filter = ["--filter", "eq(phase,FAILED)"]
    code, failed = run_json(capsys, ["get", "executions", *TARGET, *failed_filter, *connection(admin)])
    assert code == 0 and name in [e["id"]["name"] for e in failed["items"]]
    assert {e["closure"]["phase"] for e in failed["items"]} == {"FAILED"}

    assert main(["get", "executions", *TARGET, "--filter", "phase=FAILED", *connection(admin)]) == 2
    assert "--filter 'phase=FAILED'" in capsys.readouterr().err
    assert main(["get", "executions", *TARGET, "--filter", "eq(no_such_column,1)", *connection(admin)]) == 2
    error = capsys.readouterr().err
    assert "--filter 'eq(no_such_column,1)': refused by the server" in error


def test_get_execution_table_shows_nodes_and_the_error(
    admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique("err")
    argv = ["launch", FAILING_WORKFLOW, *TARGET, "--input", "label=fail", "--name", name, "--wait"]
    assert main([*argv, *connection(admin)]) == 1
    capsys.readouterr()
    assert main(["get", "execution", name, *TARGET, *connection(admin)]) == 0
    table = capsys.readouterr().out
    assert "FAILED" in table and "error: SimulatedFailure:" in table
    assert "NODE" in table and "start-node" in table


def test_get_unknown_things_are_bad_input(admin: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "execution", "nope", *TARGET, *connection(admin)]) == 2
    assert f"execution {PROJECT}/{DOMAIN}/nope: not found" in capsys.readouterr().err
    code = main(["get", "tasks", "ops_demo.tasks.square", "--version", "v9", *TARGET, *connection(admin)])
    assert code == 2
    assert main(["get", "tasks", *connection(admin)]) == 2
    assert "-p/--project and -d/--domain are required" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- launch


def test_launch_of_a_failing_plan_exits_1_with_flytes_error(admin: Emulator) -> None:
    completed = run_cli(admin, "launch", FAILING_PLAN, *TARGET, "--wait", "--timeout", "60")
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.splitlines()[0].startswith(f"launched {PROJECT}/{DOMAIN}/")
    assert ": FAILED" in completed.stdout
    assert "error: execution" in completed.stderr and "FAILED: SimulatedFailure:" in completed.stderr

    as_json = run_cli(admin, "launch", FAILING_PLAN, *TARGET, "--wait", "-o", "json")
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and document["exit_code"] == 1
    assert not document["ok"] and document["error"]["code"] == "SimulatedFailure"
    assert document["error"]["message"]


def test_launch_with_typed_inputs_from_text_and_file(
    admin: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("label: from-file\nkickoff_time: '2026-01-31T08:00:00Z'\n")
    name = unique("file")
    argv = ["launch", FAILING_WORKFLOW, *TARGET, "--inputs-file", str(inputs), "--name", name]
    code, launched = run_json(capsys, [*argv, "--input", "fail=false", *connection(admin)])
    assert code == 0 and launched["created"]
    with SynchronousFlyteClient(endpoint=admin.endpoint, insecure=True) as client:
        from flyteadmin_ops.client import execution_id, values

        data = client.get_execution_data(execution_id(PROJECT, DOMAIN, name))
        given = values.to_python_map(data.full_inputs)
    assert given["label"] == "from-file" and given["fail"] is False
    assert given["kickoff_time"].isoformat() == "2026-01-31T08:00:00+00:00"

    code, fanout = run_json(
        capsys,
        [
            "launch",
            "ops_demo.workflows.fanout_wf",
            *TARGET,
            "--input",
            "xs=[4, 5]",
            "--wait",
            *connection(admin),
        ],
    )
    assert code == 0 and fanout["phase"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("a=three", "input 'a': expected int, got 'three' (not a whole number)"),
        ("a=1.5", "input 'a': expected int, got '1.5'"),
        ("nope=1", "input 'nope': unknown input"),
        ("a", "--input 'a': expected NAME=VALUE"),
    ],
)
def test_a_bad_input_value_is_exit_2_and_launches_nothing(
    admin: Emulator, capsys: pytest.CaptureFixture[str], given: str, message: str
) -> None:
    name = unique("refused")
    code = main(["launch", MAIN_WF, *TARGET, "--input", given, "--name", name, *connection(admin)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert main(["get", "execution", name, *TARGET, *connection(admin)]) == 2  # nothing was launched


def test_a_bad_boolean_names_the_input_type_and_text_in_a_subprocess(admin: Emulator) -> None:
    completed = run_cli(admin, "launch", FAILING_WORKFLOW, *TARGET, "--input", "fail=yes")
    assert completed.returncode == 2
    assert "input 'fail': expected bool, got 'yes' (use true or false)" in completed.stderr
    assert completed.stdout == ""


def test_unknown_launch_plan_is_exit_2(admin: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["launch", "no.such.plan", *TARGET, *connection(admin)]) == 2
    assert f"launch plan {PROJECT}/{DOMAIN}/no.such.plan: not found" in capsys.readouterr().err
    assert main(["launch", MAIN_WF, "--version", "v9", *TARGET, *connection(admin)]) == 2
    assert "version v9: not found" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- wait, terminate


def test_wait_exit_codes(admin: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = unique("good"), unique("bad")
    assert main(["launch", MAIN_WF, *TARGET, "--name", good, *connection(admin)]) == 0
    assert main(["launch", FAILING_PLAN, *TARGET, "--name", bad, *connection(admin)]) == 0
    capsys.readouterr()

    code, waited = run_json(capsys, ["wait", good, *TARGET, *connection(admin)])
    assert code == 0 and waited["phase"] == "SUCCEEDED" and waited["ok"]

    completed = run_cli(admin, "wait", bad, *TARGET)
    assert completed.returncode == 1
    assert f"{PROJECT}/{DOMAIN}/{bad}: FAILED" in completed.stdout
    assert "SimulatedFailure" in completed.stderr

    assert main(["wait", "nope", *TARGET, *connection(admin)]) == 2
    assert "not found" in capsys.readouterr().err


def test_terminate_running_and_already_ended(
    admin: Emulator, capsys: pytest.CaptureFixture[str], pyflyte_package: Path
) -> None:
    # executor "none": an execution stays where it is until someone reports events, so it is still running
    with Emulator() as idle:
        with SynchronousFlyteClient(endpoint=idle.endpoint, insecure=True) as client:
            assert register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1").ok
        name = unique("stop")
        assert main(["launch", MAIN_WF, *TARGET, "--name", name, *connection(idle)]) == 0
        capsys.readouterr()
        argv = ["terminate", name, *TARGET, "--cause", "not needed", *connection(idle)]
        code, first = run_json(capsys, argv)
        assert code == 0 and first["terminated"] is True
        code, shown = run_json(capsys, ["get", "execution", name, *TARGET, *connection(idle)])
        assert shown["execution"]["closure"]["abortMetadata"]["cause"] == "not needed"

        # nothing drives executions here: a wait ends at its timeout, exit 1, and leaves it running
        pending = unique("pending")
        assert main(["launch", MAIN_WF, *TARGET, "--name", pending, *connection(idle)]) == 0
        capsys.readouterr()
        argv = ["wait", pending, *TARGET, "--timeout", "0.2", *connection(idle)]
        code, waited = run_json(capsys, argv)
        assert code == 1 and waited["timed_out"] and waited["error"]["code"] == "WaitTimeout"
        code, shown = run_json(capsys, ["get", "execution", pending, *TARGET, *connection(idle)])
        assert shown["execution"]["closure"].get("phase", "UNDEFINED") not in ("ABORTED", "ABORTING")

    finished = unique("done")
    assert main(["launch", MAIN_WF, *TARGET, "--name", finished, "--wait", *connection(admin)]) == 0
    capsys.readouterr()
    assert main(["terminate", finished, *TARGET, *connection(admin)]) == 0
    assert capsys.readouterr().out.strip() == f"already SUCCEEDED {PROJECT}/{DOMAIN}/{finished}"
    assert main(["terminate", "nope", *TARGET, *connection(admin)]) == 2


def test_failures_with_json_output_print_a_json_error_object(admin: Emulator) -> None:
    completed = run_cli(admin, "launch", "no.such.plan", *TARGET, "-o", "json")
    assert completed.returncode == 2
    document = json.loads(completed.stdout)
    assert document["ok"] is False and document["exit_code"] == 2
    assert "launch plan flytesnacks/development/no.such.plan: not found" in document["message"]


# ------------------------------------------------------------------------------ reading text by type


def simple(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=kind)


INT, FLOAT, STRING = simple(types_pb2.INTEGER), simple(types_pb2.FLOAT), simple(types_pb2.STRING)
OPTIONAL_INT = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[INT, simple(types_pb2.NONE)]))
INT_OR_STR = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[STRING, INT]))


@pytest.mark.parametrize(
    ("text", "literal_type", "value"),
    [
        ("42", INT, 42),
        ("2.5", FLOAT, 2.5),
        ("3", STRING, "3"),
        ("True", simple(types_pb2.BOOLEAN), True),
        ("90s", simple(types_pb2.DURATION), datetime.timedelta(seconds=90)),
        ("1h30m", simple(types_pb2.DURATION), datetime.timedelta(minutes=90)),
        ("250ms", simple(types_pb2.DURATION), datetime.timedelta(milliseconds=250)),
        ("PT1H", simple(types_pb2.DURATION), "PT1H"),  # ISO-8601: client.values reads it
        (
            "2026-01-31T08:00:00Z",
            simple(types_pb2.DATETIME),
            datetime.datetime(2026, 1, 31, 8, tzinfo=datetime.timezone.utc),
        ),
        ('{"a": [1, 2]}', simple(types_pb2.STRUCT), {"a": [1, 2]}),
        ("[1, 2]", types_pb2.LiteralType(collection_type=INT), [1, 2]),
        ('{"x": 1}', types_pb2.LiteralType(map_value_type=INT), {"x": 1}),
        ("5", OPTIONAL_INT, 5),
        ("null", OPTIONAL_INT, None),
        ("5", INT_OR_STR, 5),
        ("five", INT_OR_STR, "five"),
    ],
)
def test_input_text_is_read_by_its_declared_type(
    text: str, literal_type: types_pb2.LiteralType, value: object
) -> None:
    assert read_input("x", text, literal_type) == value


@pytest.mark.parametrize(
    ("text", "literal_type", "message"),
    [
        ("5 minutes", simple(types_pb2.DURATION), "input 'x': expected timedelta, got '5 minutes'"),
        ("2026-01-31T08:00:00", simple(types_pb2.DATETIME), "no time zone"),
        ("[1, 2", types_pb2.LiteralType(collection_type=INT), "not JSON"),
        ('{"a": 1}', types_pb2.LiteralType(collection_type=INT), "expected a JSON list"),
        ("x", OPTIONAL_INT, "input 'x': expected Optional[int], got 'x'"),
    ],
)
def test_unreadable_input_text_names_input_type_and_text(
    text: str, literal_type: types_pb2.LiteralType, message: str
) -> None:
    with pytest.raises(InputTextError, match=re.escape(message)):
        read_input("x", text, literal_type)
