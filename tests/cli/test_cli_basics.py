"""What a user expects of any command line: `--version`, shell completion, a `--help` that answers without
importing every subcommand, a JSON document for a failure under `-o json`, and settings mistakes (plaintext
against TLS) reported at once as bad input."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from flyteadmin_ops import demo
from flyteadmin_ops.cli import SUBCOMMANDS, build_parser, main
from flyteadmin_ops.commands.completion import script_for
from flyteadmin_ops.emulator import Emulator
from tests.client_core.servers import Pki

TARGET = ["-p", "flytesnacks", "-d", "development"]
PROMOTE = ["promote", demo.SCHEDULED_LAUNCH_PLAN, *TARGET, "--version", "v1"]
SUBCOMMAND_MODULES = sorted({module for module, _help in SUBCOMMANDS.values()})


def run_cli(*args: str, home: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "GRPC_"))}
    env["HOME"] = str(home)
    command = ["-c", code, *args] if code is not None else ["-m", "flyteadmin_ops.cli", *args]
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env, timeout=120)


IMPORTED_AFTER_MAIN = """
import json, sys
from flyteadmin_ops import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("flyteadmin_ops", "grpc", "prefect")))),
      file=sys.stderr)
"""


def imported_modules(tmp_path: Path, *args: str) -> set[str]:
    process = run_cli(*args, home=tmp_path, code=IMPORTED_AFTER_MAIN)
    return set(json.loads(process.stderr.strip().splitlines()[-1]))


def test_top_level_help_lists_every_subcommand_and_imports_none(tmp_path: Path) -> None:
    process = run_cli("--help", home=tmp_path)
    assert process.returncode == 0
    assert all(name in process.stdout for name in SUBCOMMANDS), process.stdout
    imported = imported_modules(tmp_path, "--help")
    assert imported & set(SUBCOMMAND_MODULES) == set()
    assert not any(m.startswith(("grpc", "prefect", "flyteadmin_ops.client")) for m in imported), imported


def test_a_subcommand_imports_only_its_own_module(tmp_path: Path) -> None:
    imported = imported_modules(tmp_path, "completion", "--help")
    assert imported & set(SUBCOMMAND_MODULES) == {"flyteadmin_ops.commands.completion"}


def test_version_is_the_installed_distributions(tmp_path: Path) -> None:
    process = run_cli("--version", home=tmp_path)
    assert process.returncode == 0
    assert process.stdout.strip() == f"flyteadmin-ops {metadata.version('flyteadmin-ops')}"


def complete(script: str, *words: str) -> list[str]:
    """What bash offers for the last of `words`, through the generated completion function."""
    line = " ".join(words)
    program = (
        f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _flyteadmin_ops; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


def test_bash_completion_offers_subcommands_actions_and_options(tmp_path: Path) -> None:
    process = run_cli("completion", "bash", home=tmp_path)
    assert process.returncode == 0
    script = process.stdout
    assert complete(script, "flyteadmin-ops", "re") == ["register", "relaunch-failed"]
    assert complete(script, "flyteadmin-ops", "register", "--dry") == ["--dry-run"]
    assert complete(script, "flyteadmin-ops", "emulator", "se") == ["serve"]
    assert complete(script, "flyteadmin-ops", "completion", "f") == ["fish"]
    assert "--output" in complete(script, "flyteadmin-ops", "promote", "--o")


def test_zsh_and_fish_scripts_cover_every_subcommand() -> None:
    zsh = script_for("zsh")
    assert "bashcompinit" in zsh and "complete -o default -F _flyteadmin_ops flyteadmin-ops" in zsh
    fish = script_for("fish")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        assert f"-n __fish_use_subcommand -a {name} -d '{help_text}'" in fish
    assert "-n '__fish_seen_subcommand_from register' -l dry-run" in fish


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["completion", "tcsh"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err


# --- JSON error objects -------------------------------------------------------------------------------


def json_failure(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["ok"] is False and set(document) == {"ok", "kind", "message", "exit_code"}
    assert err.startswith("error: ") or document["kind"] == "usage"
    return document


@pytest.mark.parametrize(
    ("argv", "kind", "says"),
    [
        (["register", "{missing}", *TARGET, "--version", "v1"], "PackageError", "{missing}"),
        (PROMOTE, "OperationInputError", "version v1 does not exist in flytesnacks/development"),
        (["relaunch-failed", *TARGET, "--launch-plan", "typo"], "OperationInputError", "launch plan 'typo'"),
        (["sync-attributes", "{missing}"], "AttributeFileError", "{missing}"),
    ],
    ids=["register", "promote", "relaunch-failed", "sync-attributes"],
)
def test_every_json_command_prints_a_json_error_object(
    flyte_admin: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    kind: str,
    says: str,
) -> None:
    missing = str(tmp_path / "missing.yaml")
    args = [a.format(missing=missing) for a in argv]
    assert main([*args, "-o", "json", "--endpoint", flyte_admin.endpoint, "--insecure"]) == 2
    document = json_failure(capsys)
    assert document["exit_code"] == 2
    assert says.format(missing=missing) in str(document["message"])
    assert document["kind"] == kind


def test_a_failed_operation_is_a_json_error_with_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLYTEADMIN_RETRY_ATTEMPTS", "1")
    with socket.socket() as probe:  # a loopback port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main([*PROMOTE, "--output", "json", "--endpoint", f"127.0.0.1:{port}", "--insecure"]) == 1
    document = json_failure(capsys)
    assert document == {
        "ok": False,
        "kind": "FlyteSystemUnavailableException",
        "message": document["message"],
        "exit_code": 1,
    }
    assert f"127.0.0.1:{port}" in str(document["message"])


def test_a_usage_error_under_json_is_a_json_error_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["promote", "-o", "json", "--max-concurrency", "many"])
    assert exit_info.value.code == 2
    document = json_failure(capsys)
    assert document["kind"] == "usage" and document["exit_code"] == 2
    assert "--max-concurrency" in str(document["message"])


def test_without_json_a_failure_leaves_stdout_empty(
    flyte_admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*PROMOTE, "--endpoint", flyte_admin.endpoint, "--insecure"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ")


# --- settings mismatches from a real process ----------------------------------------------------------


def test_plaintext_against_tls_exits_2_at_once_with_a_json_error(pki: Pki, tmp_path: Path) -> None:
    cert, key = pki.issue("admin-cli", hosts=("127.0.0.1",))
    with Emulator(tls_cert=str(cert), tls_key=str(key)) as admin:
        process = run_cli(*PROMOTE, "-o", "json", "--endpoint", admin.endpoint, "--insecure", home=tmp_path)
    assert process.returncode == 2, process.stderr
    assert process.stderr.count("\n") == 1 and "the server speaks TLS" in process.stderr
    document = json.loads(process.stdout)
    assert document["kind"] == "FlyteTlsMismatchException" and document["exit_code"] == 2
    assert "attempts" not in document["message"]


def test_an_https_token_endpoint_on_plain_http_exits_2_naming_token_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Emulator(oauth_client="ci-bot:s3cret-0xFEED") as admin:
        https = admin.http_url.replace("http://", "https://") + "/oauth2/token"
        for name, value in {
            "AUTH_MODE": "client_credentials",
            "CLIENT_ID": "ci-bot",
            "CLIENT_SECRET": "s3cret-0xFEED",
            "TOKEN_ENDPOINT": https,
        }.items():
            monkeypatch.setenv(f"FLYTEADMIN_{name}", value)
        assert main([*PROMOTE, "-o", "json", "--endpoint", admin.endpoint, "--insecure"]) == 2
    document = json_failure(capsys)
    assert document["kind"] == "FlyteTokenEndpointError"
    assert "set token_endpoint to http://" in str(document["message"])
    assert "insecure=True" not in str(document["message"]) and "0xFEED" not in str(document["message"])


def minimal_argv(parser: argparse.ArgumentParser) -> list[str]:
    """The shortest command line argparse accepts: a placeholder (or the first choice) for each required
    argument, the first action of nested subcommands."""
    argv: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name, nested = next(iter(action.choices.items()))
            return [*argv, name, *minimal_argv(nested)]
        if not action.required and action.option_strings:
            continue
        if action.nargs == 0 or isinstance(action, argparse._HelpAction):
            continue
        value = str(next(iter(action.choices))) if action.choices else "x"
        argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


def json_commands() -> dict[str, argparse.ArgumentParser]:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: parser
        for name, parser in subparsers.choices.items()
        if any("--output" in a.option_strings and "json" in (a.choices or ()) for a in parser._actions)
    }


def test_the_json_commands_are_found() -> None:
    assert {"register", "promote", "relaunch-failed", "sync-attributes"} <= set(json_commands())


@pytest.mark.parametrize("command", sorted(json_commands()))
def test_any_command_that_takes_json_answers_a_failure_with_a_json_error(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever fails first (an argument, the missing settings file), stdout holds one JSON error."""
    parser = json_commands()[command]
    argv = [command, *minimal_argv(parser), "-o", "json"]
    if any("--config" in a.option_strings for a in parser._actions):
        argv += ["--config", str(tmp_path / "missing.toml")]
    code = main(argv)
    document = json_failure(capsys)
    assert code == document["exit_code"] and code in (1, 2), document
