"""`flyteadmin-ops register | promote | demo` through `cli.main([...])` in-process, plus one real subprocess
run of the README's first command. Exit codes: 0 ok, 1 operation failed, 2 bad input."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flyteadmin_ops import demo
from flyteadmin_ops.cli import build_parser, main
from flyteadmin_ops.demo.run import DemoRun, run_demo
from flyteadmin_ops.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
TARGET = ["-p", "flytesnacks", "-d", "development"]


def connection(emulator: Emulator) -> list[str]:
    return ["--endpoint", emulator.endpoint, "--insecure"]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*argv, "--output", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_register_exit_codes_and_json(
    flyte_admin: Emulator,
    pyflyte_package: Path,
    pyflyte_variant_package: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["register", str(pyflyte_package), *TARGET, "--version", "v1", *connection(flyte_admin)]

    code, first = run_json(capsys, argv)
    assert code == 0 and first["ok"]
    assert first["totals"] == {"created": 19, "uploaded": 1}

    code, second = run_json(capsys, argv)
    assert code == 0 and second["totals"] == {"exists": 19, "uploaded": 1}

    code = main(
        ["register", str(pyflyte_variant_package), *TARGET, "--version", "v1", *connection(flyte_admin)]
    )
    table = capsys.readouterr().out
    assert code == 1
    assert "conflict" in table and "skipped" in table
    assert "conflict: task flytesnacks:development:ops_demo.tasks.square:v1" in table  # its diff, in full
    assert table.rstrip().splitlines()[-1].startswith("FAILED:")


def test_register_dry_run_needs_no_server(pyflyte_package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing listens on this port: a dry run must not try to connect.
    argv = [
        "register",
        str(pyflyte_package),
        *TARGET,
        "--version",
        "v1",
        "--dry-run",
        "--endpoint",
        "127.0.0.1:9",
    ]
    code, plan = run_json(capsys, argv)
    assert code == 0 and plan["dry_run"]
    assert set(plan["totals"]) == {"planned"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["register", "{broken}", *TARGET, "--version", "v1"], "broken.tgz"),
        (["register", "{package}", "-p", "nosuch", "-d", "development", "--version", "v1"], "nosuch"),
        (["register", "{package}", *TARGET, "--version", "v1", "--endpoint", "no-port-here"], "endpoint"),
        (["promote", demo.SCHEDULED_LAUNCH_PLAN, *TARGET, "--version", "v9"], "v9"),
        (["register", "{package}", *TARGET, "--version", "v1", "--config", "/no/such.toml"], "/no/such.toml"),
    ],
    ids=["corrupt-archive", "unknown-project", "bad-endpoint", "unknown-version", "missing-config"],
)
def test_bad_input_exits_2_naming_the_culprit(
    flyte_admin: Emulator,
    pyflyte_package: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    argv = [a.format(broken=broken, package=pyflyte_package) for a in argv]
    if "--endpoint" not in argv:
        argv += connection(flyte_admin)

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1  # one line: tarfile's "tried gz, bz2, xz, tar" list is not repeated


def test_invalid_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["register", "pkg.tgz", "-p", "flytesnacks"])  # no domain, no version
    assert exit_info.value.code == 2


def test_promote_through_a_config_file(
    flyte_admin: Emulator, pyflyte_package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "admin.toml"
    config.write_text(f'endpoint = "{flyte_admin.endpoint}"\ninsecure = true\n')
    assert main(["register", str(pyflyte_package), *TARGET, "--version", "v1", "--config", str(config)]) == 0
    capsys.readouterr()

    promote = ["promote", demo.SCHEDULED_LAUNCH_PLAN, *TARGET, "--version", "v1", "--config", str(config)]
    code, first = run_json(capsys, promote)
    assert code == 0 and [o["status"] for o in first["outcomes"]] == ["activated"]
    code, again = run_json(capsys, promote)
    assert code == 0 and [o["status"] for o in again["outcomes"]] == ["unchanged"]
    assert "FLYTEADMIN_CONFIG" not in os.environ  # --config applies to its own command only


def test_promote_across_domains(
    flyte_admin: Emulator, pyflyte_package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staging = ["-p", "flytesnacks", "-d", "staging"]
    assert (
        main(["register", str(pyflyte_package), *staging, "--version", "v3", *connection(flyte_admin)]) == 0
    )
    capsys.readouterr()

    code = main(
        [
            "promote",
            demo.SCHEDULED_LAUNCH_PLAN,
            "-p",
            "flytesnacks",
            "-d",
            "production",
            "--version",
            "v3",
            "--from-domain",
            "staging",
            *connection(flyte_admin),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "activated" in out and "previously active: none" in out


def test_demo_in_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no config/ here: the demo uses the attributes file bundled with the package
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for expected in ("== register", "== promote", "== relaunch-failed", "demo succeeded"):
        assert expected in out
    synced = out.split("== sync-attributes", 1)[1]
    assert "ok: 9 created" in synced, synced


def test_bundled_attributes_file_is_the_repository_one() -> None:
    """One file, two places: the package data is config/attributes.yaml (a symlink, copied into wheels)."""
    from importlib import resources

    bundled = resources.files("flyteadmin_ops.demo") / "attributes.yaml"
    assert bundled.read_bytes() == (REPO / "config" / "attributes.yaml").read_bytes()


def test_readme_first_command_in_a_subprocess(tmp_path: Path) -> None:
    """`flyteadmin-ops demo` as the README runs it: the installed console script, a fresh process, started
    outside the clone (as after `pip install .`), so nothing may be read relative to the working folder."""
    script = Path(sys.executable).with_name("flyteadmin-ops")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "flyteadmin_ops.cli"]
    proc = subprocess.run(
        [*command, "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo succeeded" in proc.stdout
    assert "skipped" not in proc.stdout.split("== sync-attributes", 1)[1]


class _Watch(io.StringIO):
    """A stream that sets `seen` once `text` has been written to it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def write(self, s: str) -> int:
        written = super().write(s)
        if self.text in self.getvalue():
            self.seen.set()
        return written


def test_demo_keep_running_leaves_an_explorable_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    out, stop = _Watch("keeps running"), threading.Event()
    results: list[DemoRun] = []
    worker = threading.Thread(target=lambda: results.append(run_demo(out, keep_running=stop)))
    worker.start()
    try:
        assert out.seen.wait(timeout=60), out.getvalue()
        endpoint = out.getvalue().split("--endpoint ", 1)[1].split()[0]
        # The promoted launch plan is still active there: promoting it again changes nothing.
        argv = ["promote", demo.SCHEDULED_LAUNCH_PLAN, "-p", "flytesnacks", "-d", "production"]
        code, again = run_json(capsys, [*argv, "--version", "demo-1", "--endpoint", endpoint, "--insecure"])
        assert code == 0 and [o["status"] for o in again["outcomes"]] == ["unchanged"]
    finally:
        stop.set()
        worker.join(timeout=30)
    assert results and results[0].ok


@pytest.mark.parametrize("command", ["register", "promote", "relaunch-failed", "sync-attributes", "demo"])
def test_help_explains_every_option_and_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    # Laid out as written (not reflowed into one paragraph), with all three codes explained.
    (codes,) = [line for line in text.splitlines() if line.startswith("Exit codes:")]
    assert all(f"{code} " in codes for code in ("0", "1", "2")), codes
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = subparsers.choices[command]._actions
    unexplained = [a.dest for a in options if not a.help or a.help == argparse.SUPPRESS]
    assert unexplained == [], f"options without help: {unexplained}"
