"""Command lines through `flyteadmin_ops.cli.main(argv)`, against an in-process emulator: whatever the
arguments (every subcommand and option of the real parser, fuzzed values, fuzzed files), the command exits
0, 1 or 2 and never with a traceback; a refused input (exit 2) says why in one line on stderr, and leaves
the server exactly as it was (uploads included) and no file behind."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given

from flyteadmin_ops import demo
from flyteadmin_ops.emulator import Emulator
from tests.fuzz.cli_argv import (
    Outcome,
    Token,
    describe,
    materialize,
    quiet_environment,
    run_cli,
    snapshot,
    subcommand_argv,
)
from tests.fuzz.support import bounded, fuzz_settings
from tests.fuzz.targets import says_why

pytestmark = pytest.mark.fuzz

TARGET = ["-p", "flytesnacks", "-d", "development"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module, holding the real package, so names in the command lines can hit."""
    with (
        Emulator(executor="simulate") as running,
        tempfile.TemporaryDirectory() as home,
        quiet_environment(home),
    ):
        registered = run_cli(["register", str(demo.SAMPLE_PACKAGE_PATH), *TARGET, "--version", "v1"], running)
        assert registered.code == 0, registered.stderr
        yield running


def check(tokens: list[Token], emulator: Emulator) -> Outcome:
    with tempfile.TemporaryDirectory() as folder, quiet_environment(folder):
        argv = materialize(tokens, Path(folder))
        before, files_before = snapshot(emulator), sorted(Path(folder).rglob("*"))
        with bounded(60):
            outcome = run_cli(argv, emulator)
        where = describe(argv, outcome)
        assert outcome.code in (0, 1, 2), where
        assert "Traceback" not in outcome.stderr, where
        if outcome.code == 2:
            assert snapshot(emulator) == before, f"a refused command changed the server:\n{where}"
            # the folder is also HOME: no token cache, no partial output file, nothing extracted
            assert sorted(Path(folder).rglob("*")) == files_before, f"a refused command wrote files:\n{where}"
            drift = argv[0] == "sync-attributes" and "--dry-run" in argv
            assert drift or says_why(outcome.stderr), f"exit 2 without an error line:\n{where}"
    return outcome


@given(tokens=subcommand_argv(["get", "wait", "completion", "logout"]))
@fuzz_settings(0.5)
def test_reading_commands_exit_0_1_or_2_with_one_error_line(tokens: list[Token], emulator: Emulator) -> None:
    check(tokens, emulator)


@given(tokens=subcommand_argv(["register", "sync-attributes", "relaunch-failed"]))
@fuzz_settings(0.5)
def test_automations_refuse_bad_input_before_writing(tokens: list[Token], emulator: Emulator) -> None:
    check(tokens, emulator)


@given(tokens=subcommand_argv(["promote", "launch", "terminate"]))
@fuzz_settings(0.5)
def test_launching_and_promoting_refuse_bad_input_before_writing(
    tokens: list[Token], emulator: Emulator
) -> None:
    check(tokens, emulator)


def test_a_valid_command_line_still_works(emulator: Emulator) -> None:
    outcome = check(["get", "launch-plans", *TARGET], emulator)
    assert outcome.code == 0 and demo.SCHEDULED_LAUNCH_PLAN in outcome.stdout
