"""On GitHub Actions: a register run with a conflict appends a Markdown job summary to GITHUB_STEP_SUMMARY
and prints an `::error` annotation per conflict, on stdout with the table and on stderr with `-o json`
(whose stdout must stay one JSON document). Outside Actions, neither appears."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from flyteadmin_ops.cli import main
from flyteadmin_ops.commands.ci_output import (
    MAX_ANNOTATIONS,
    error_annotations,
    escape_data,
    escape_property,
    publish,
    publish_failure,
    step_summary,
)
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.results import Outcome, Result, Status
from tests.cli.test_conflict_output import CHANGE, FLAKY, TARGET, package_folder

WORKFLOW = f"flytesnacks:development:{FLAKY}:v1"
ANNOTATION = (
    f"::error title=register conflict%3A workflow {WORKFLOW.replace(':', '%3A')}::"
    "node n1 (maybe_fail): metadata.retries: 0 -> 3"
)


@pytest.fixture
def conflicting(flyte_admin: Emulator, pyflyte_package_dir: Path, tmp_path: Path) -> list[str]:
    """argv of a register that conflicts on one workflow field (its package registered before at v1)."""
    connection = ["--endpoint", flyte_admin.endpoint, "--insecure"]
    original = package_folder(pyflyte_package_dir, tmp_path / "original")
    assert main(["register", str(original), *TARGET, *connection]) == 0
    variant = package_folder(pyflyte_package_dir, tmp_path / "variant", retries={1: 3})
    return ["register", str(variant), *TARGET, *connection]


def test_summary_and_annotations_from_a_run_with_a_conflict(
    conflicting: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("## an earlier step's block\n\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    capsys.readouterr()

    assert main(conflicting) == 1

    out = capsys.readouterr().out
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert annotations == [ANNOTATION]
    assert out.index("FAILED: ") < out.index("::error")  # after the table, which stays as it was

    text = summary.read_text()
    assert text.startswith("## an earlier step's block\n\n### flyteadmin-ops register: FAILED\n")  # appended
    assert "| exists | 10 |\n| skipped | 8 |\n| conflict | 1 |\n" in text
    assert f"| conflict | workflow | `{WORKFLOW}` | {CHANGE} |" in text
    assert "| exists | task |" not in text  # only what needs attention is listed
    assert text.endswith("\n\n")


def test_with_json_stdout_stays_one_document_and_annotations_go_to_stderr(
    conflicting: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    capsys.readouterr()

    assert main([*conflicting, "-o", "json"]) == 1

    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["totals"] == {"exists": 10, "skipped": 8, "conflict": 1}
    assert len(document["outcomes"]) == 19  # complete, as before
    assert [line for line in captured.err.splitlines() if line.startswith("::")] == [ANNOTATION]


def test_nothing_for_ci_outside_github_actions(
    conflicting: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(conflicting) == 1
    captured = capsys.readouterr()
    assert "::error" not in captured.out + captured.err
    assert not list(tmp_path.glob("*.md"))


def test_escaping_follows_the_runner() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"
    outcome = Outcome("task", "p:d:t:v1", Status.FAILED, "line one\nline two: 50%")
    [line] = error_annotations(Result("register", [outcome]))
    assert line == "::error title=register failed%3A task p%3Ad%3At%3Av1::line one%0Aline two: 50%25"


def test_annotations_are_capped_and_the_rest_counted() -> None:
    failures = [Outcome("task", f"p:d:t{i}:v1", Status.FAILED, "boom") for i in range(MAX_ANNOTATIONS + 3)]
    lines = error_annotations(Result("register", failures))
    assert len(lines) == MAX_ANNOTATIONS + 1
    assert lines[-1].endswith("::3 more conflicts or failures: see the job summary or -o json")


def test_summary_cells_keep_the_table_intact() -> None:
    outcome = Outcome("task", "p:d:t:v1", Status.CONFLICT, "a | b\n<script>\nx: 1 -> 2")
    text = step_summary(Result("register", [outcome]))
    assert "| conflict | task | `p:d:t:v1` | a \\| b<br>&lt;script><br>x: 1 -> 2 |" in text


def test_an_unwritable_summary_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    missing = tmp_path / "no-such-dir" / "summary.md"
    result = Result("register", [Outcome("task", "p:d:t:v1", Status.CREATED)])
    environ = {"GITHUB_STEP_SUMMARY": str(missing)}
    publish(result, output="table", stdout=stdout, stderr=stderr, environ=environ)
    assert stderr.getvalue().startswith(f"warning: could not append the job summary to {missing}: ")
    assert stdout.getvalue() == ""


def test_a_failure_without_a_result_is_one_annotation_on_actions_only() -> None:
    stream = io.StringIO()
    publish_failure("register", "project 'x' does not exist\nat all", stream=stream, environ={})
    assert stream.getvalue() == ""
    publish_failure(
        "register", "project 'x' does not exist\nat all", stream=stream, environ={"GITHUB_ACTIONS": "true"}
    )
    assert stream.getvalue() == "::error title=flyteadmin-ops register::project 'x' does not exist%0Aat all\n"
