"""Progress of the automations: a bar redrawn in place on stderr when it is a terminal (checked under a real
pseudo-terminal, the CLI in a subprocess), one plain line per wave without one, and never on stdout.
The default table lists only what needs attention plus counts; --verbose lists every entity."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flyteadmin_ops.cli import main
from flyteadmin_ops.commands.progress import UNPLANNED_BATCH, ProgressReporter, Stage
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.results import Outcome, Status

TARGET = ["-p", "flytesnacks", "-d", "development", "--version", "v1"]
ENTITIES = 19  # the sample package: 7 tasks, 5 workflows, 7 launch plans, plus its source archive
CLEAR = "\r\x1b[K"
WAVE_LINE = re.compile(r"^wave (\d)/5: (\d+ [a-z ]+): (.+) \(\d+\.\d s\)$")


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("flyteadmin-ops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flyteadmin_ops.cli"]


def clean_env(home: Path) -> dict[str, str]:
    """The test's environment minus anything that would configure the CLI or make it think it runs in CI."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLYTE", "GITHUB_")) and k not in ("COLUMNS", "LINES")
    }
    env["HOME"] = str(home)
    env["TERM"] = "xterm"  # whatever terminal runs the tests: the pseudo-terminal understands \r and erase
    return env


def read_until_eof(fd: int, deadline_seconds: float = 120) -> bytes:
    """Everything written to the pseudo-terminal until the child closes it (EIO on Linux), or fail at the
    deadline: select waits for data, nothing sleeps."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + deadline_seconds
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no EOF from the terminal; so far: {b''.join(chunks)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every slave descriptor is closed
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_the_bar_is_redrawn_in_place_on_a_terminal_and_cleared(
    flyte_admin: Emulator, pyflyte_package: Path, tmp_path: Path
) -> None:
    master, slave = pty.openpty()
    command = [*cli_command(), "register", str(pyflyte_package), *TARGET]
    command += ["--endpoint", flyte_admin.endpoint, "--insecure"]
    result_file = tmp_path / "stdout"
    try:
        with result_file.open("wb") as result:  # a file, not a pipe: the child never blocks on stdout
            child = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=result, stderr=slave, env=clean_env(tmp_path)
            )
        os.close(slave)
        terminal = read_until_eof(master).decode()
        assert child.wait(timeout=60) == 0
    finally:
        os.close(master)
    stdout = result_file.read_text()

    draws = terminal.split(CLEAR)
    assert terminal.startswith(CLEAR) and terminal.endswith(CLEAR), terminal  # drawn in place, then cleared
    bars = [d for d in draws if d]
    assert len(bars) >= 3, terminal  # the start, at least one redraw, the final state
    assert "\n" not in terminal  # in place: one line, never scrolling
    assert bars[0] == "0 done -/s reading the package"  # at once, before the package is even read
    assert bars[1].startswith("[" + "-" * 24 + f"] 0/{ENTITIES + 1}")  # then the waves are known
    assert "upload" in bars[1]
    final = bars[-1]
    assert final.startswith("[" + "#" * 24 + f"] {ENTITIES + 1}/{ENTITIES + 1}"), final
    assert re.search(r" \d+\.\d/s ", final), final  # the rate
    assert any(re.search(r"wave [1-5]/5 (tasks|workflows|launch plans)", bar) for bar in bars), bars
    # stdout is the result alone
    assert CLEAR not in stdout and "\r" not in stdout
    assert stdout.splitlines()[-1] == f"ok: created {ENTITIES}, uploaded 1"


def test_without_a_terminal_one_plain_line_per_wave(
    flyte_admin: Emulator, pyflyte_package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["register", str(pyflyte_package), *TARGET, "--endpoint", flyte_admin.endpoint, "--insecure"]
    assert main(argv) == 0

    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert "\r" not in captured.err and "\x1b" not in captured.err
    assert re.fullmatch(r"upload: 1 source archive: 1 uploaded \(\d+\.\d s\)", lines[0]), lines
    waves = [WAVE_LINE.match(line) for line in lines[1:]]
    assert all(waves), lines
    assert [m.group(1) for m in waves if m] == ["1", "2", "3", "4", "5"]
    assert [m.group(2) for m in waves if m] == [
        "7 tasks",
        "4 workflows",
        "1 launch plan",
        "1 workflow",
        "6 launch plans",
    ]
    assert {m.group(3).split()[-1] for m in waves if m} == {"created"}
    assert "wave" not in captured.out  # progress never on stdout

    assert main(argv) == 0  # the second time, every wave says so
    second = capsys.readouterr().err.splitlines()
    assert second[1].startswith("wave 1/5: 7 tasks: 7 exists (")


def test_default_table_lists_what_needs_attention_and_verbose_lists_everything(
    flyte_admin: Emulator,
    pyflyte_package: Path,
    pyflyte_variant_package: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connection = ["--endpoint", flyte_admin.endpoint, "--insecure"]
    assert main(["register", str(pyflyte_package), *TARGET, *connection]) == 0
    clean = capsys.readouterr().out.splitlines()
    assert clean[1] == f"nothing needs attention ({ENTITIES + 1} outcomes: --verbose lists them)"
    assert clean[-1] == f"ok: created {ENTITIES}, uploaded 1"

    assert main(["register", str(pyflyte_variant_package), *TARGET, *connection]) == 1
    default = capsys.readouterr().out
    rows = [line.split()[:3] for line in default.splitlines() if line.startswith(("task ", "workflow"))]
    statuses = {status for _kind, _name, status in rows}
    assert statuses == {"conflict"}, default  # not the 'uploaded' row; the 12 skipped are folded:
    folded = "(12 skipped: not attempted: an earlier entity conflicted or failed; --verbose lists them)"
    assert folded in default
    assert ["task", "flytesnacks:development:ops_demo.tasks.square:v1", "conflict"] in rows
    assert "conflict: task flytesnacks:development:ops_demo.tasks.square:v1\n" in default  # the diff below
    counts = default.splitlines()[-1]
    # its source archive differs too, so every task conflicts (its URL is in the task args)
    assert counts == "FAILED: uploaded 1, skipped 12, conflict 7", counts
    assert "(1 more not listed: --verbose lists every outcome)" in default  # the upload

    assert main(["register", str(pyflyte_variant_package), *TARGET, *connection, "--verbose"]) == 1
    verbose = capsys.readouterr().out
    listed = [line for line in verbose.splitlines() if line.startswith(("task ", "workflow", "launch_plan"))]
    assert len(listed) == ENTITIES
    assert [line.split()[2] for line in listed].count("skipped") == 12
    assert verbose.splitlines()[-1] == counts


def test_bar_redraws_are_throttled_and_forced_at_stage_ends() -> None:
    """With a clock that does not move, only the forced draws happen: the plan, each stage change, the
    final count; the plain lines stay off on a terminal."""
    now = [100.0]
    stream = io.StringIO()
    reporter = ProgressReporter(stream, interactive=True, clock=lambda: now[0])
    names = [f"p:d:t{i}:v1" for i in range(50)]
    first, second = Stage("wave 1/2"), Stage("wave 2/2")
    first.expected.update(("task", name) for name in names[:40])
    second.expected.update(("task", name) for name in names[40:])
    reporter.plan([first, second])
    for name in names:
        reporter(Outcome("task", name, Status.CREATED))
    draws_when_frozen = stream.getvalue().count(CLEAR)
    assert draws_when_frozen == 3  # the plan, wave 2 beginning, 50/50

    now[0] += 0.05
    reporter(Outcome("launch_plan", "p:d:lp:v1", Status.ACTIVATED))  # unplanned: counted, not redrawn yet
    now[0] += 0.2
    reporter(Outcome("launch_plan", "p:d:lp2:v1", Status.ACTIVATED))
    reporter.finish()
    text = stream.getvalue()
    assert text.count(CLEAR) == draws_when_frozen + 2  # one throttled redraw, then the clearing
    assert "52/52" in text.split(CLEAR)[-2] and text.endswith(CLEAR)


def test_without_stages_a_line_per_run_of_one_kind() -> None:
    now = [0.0]
    stream = io.StringIO()
    reporter = ProgressReporter(stream, interactive=False, clock=lambda: now[0])
    for name in ("a", "b"):
        reporter(Outcome("task", name, Status.CREATED))
    now[0] = 1.5
    reporter(Outcome("launch_plan", "lp", Status.ACTIVATED))
    reporter.finish()
    assert stream.getvalue().splitlines() == [
        "2 tasks: 2 created (1.5 s)",
        "1 launch plan: 1 activated (0.0 s)",
    ]


def test_promote_without_a_terminal_reports_each_run_of_one_kind(
    flyte_admin: Emulator, pyflyte_package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """promote decides its work on the server (what the launch plan refers to), so its lines follow the
    outcomes: one per run of one kind, the copy first, the activation last; the table shows the activation."""
    connection = ["--endpoint", flyte_admin.endpoint, "--insecure"]
    staging = ["-p", "flytesnacks", "-d", "staging", "--version", "v3"]
    assert main(["register", str(pyflyte_package), *staging, *connection]) == 0
    capsys.readouterr()

    argv = ["promote", "ops_demo.nightly", "-p", "flytesnacks", "-d", "production", "--version", "v3"]
    assert main([*argv, "--from-domain", "staging", *connection]) == 0

    captured = capsys.readouterr()
    lines = [re.sub(r" \(\d+\.\d s\)$", "", line) for line in captured.err.splitlines()]
    assert lines == [
        "3 tasks: 3 created",
        "1 workflow: 1 created",
        "2 launch plans: 1 created, 1 activated",
    ]
    table = captured.out.splitlines()
    assert [row.split()[2] for row in table if row.startswith("launch_plan")] == ["activated"]
    assert table[-1] == "ok: created 5, activated 1"


def test_without_stages_a_long_run_of_one_kind_still_reports_every_batch() -> None:
    stream = io.StringIO()
    reporter = ProgressReporter(stream, interactive=False, clock=lambda: 0.0)
    for index in range(UNPLANNED_BATCH * 2 + 5):
        reporter(Outcome("execution", f"e{index}", Status.LAUNCHED))
    reporter.finish()
    assert stream.getvalue().splitlines() == [
        f"{UNPLANNED_BATCH} executions: {UNPLANNED_BATCH} launched (0.0 s)",
        f"{UNPLANNED_BATCH} executions: {UNPLANNED_BATCH} launched (0.0 s)",
        "5 executions: 5 launched (0.0 s)",
    ]


def test_a_dumb_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as terminal:
            monkeypatch.setenv("TERM", "xterm")
            assert ProgressReporter(terminal).interactive
            monkeypatch.setenv("TERM", "dumb")
            assert not ProgressReporter(terminal).interactive
    finally:
        os.close(master)
        os.close(slave)
