"""Bad input through `cli.main([...])`, the way a new operator gets it wrong: each case must exit with the
documented code (1 failed, 2 bad input) and print ONE `error:` line naming the thing at fault, with no
traceback, no secret and nothing written. One subprocess case checks what only a real process shows: that
gRPC's C core adds no log lines of its own to that one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from flyteidl.admin import matchable_resource_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.cli import main
from flyteadmin_ops.commands.common import exit_code_for
from flyteadmin_ops.emulator import Emulator
from tests.client_core.servers import Pki

TARGET = ["-p", "flytesnacks", "-d", "development"]
PROMOTE = ["promote", demo.SCHEDULED_LAUNCH_PLAN, *TARGET, "--version", "v1"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def plaintext(emulator: Emulator) -> list[str]:
    return ["--endpoint", emulator.endpoint, "--insecure"]


def test_tls_to_a_plaintext_server_is_bad_settings_and_says_use_insecure(
    flyte_admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*PROMOTE, "--endpoint", flyte_admin.endpoint]) == 2
    line = one_error_line(capsys)
    assert "answered without TLS" in line and "--insecure" in line


def test_a_refused_token_is_bad_settings_and_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLYTEADMIN_AUTH_MODE", "static")
    monkeypatch.setenv("FLYTEADMIN_TOKEN", "wrong-token-0xDEADBEEF")
    with Emulator(port=0, auth_token="right-token-0xCAFE") as admin:
        assert main([*PROMOTE, *plaintext(admin)]) == 2
    out, err = capsys.readouterr()
    assert "UNAUTHENTICATED" in err and len(err.strip().splitlines()) == 1
    assert "0xDEADBEEF" not in out + err and "0xCAFE" not in out + err


def test_plaintext_to_a_tls_server_is_bad_settings_at_once_with_a_hint(
    pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server just closes the socket ("Socket closed"), which alone reads like an outage: the client
    tries a TLS handshake to tell them apart, and exits 2 on the first failure, without retries."""
    cert, key = pki.issue("admin", hosts=("127.0.0.1",))
    with Emulator(port=0, tls_cert=str(cert), tls_key=str(key)) as admin:
        assert main([*PROMOTE, *plaintext(admin)]) == 2
        line = one_error_line(capsys)
        assert "the server speaks TLS but the client is plaintext: drop insecure=True (--insecure)" in line
        assert "attempts" not in line  # sent once: no retry can fix a settings error
        # with the right settings the same command reaches the server (which has no such launch plan)
        assert main([*PROMOTE, "--endpoint", admin.endpoint, "--ca-cert", str(pki.ca_file)]) == 2
        assert "version v1 does not exist in flytesnacks/development" in one_error_line(capsys)


def test_nothing_listening_fails_as_an_operation_naming_the_connection(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main([*PROMOTE, "--endpoint", f"127.0.0.1:{port}", "--insecure"]) == 1
    line = one_error_line(capsys)
    assert f"127.0.0.1:{port}" in line and "could not connect" in line


def test_an_unknown_launch_plan_filter_is_bad_input_not_zero_failures(
    flyte_admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["relaunch-failed", *TARGET, "--launch-plan", "nightly_typo", *plaintext(flyte_admin)]
    assert main(argv) == 2
    assert "launch plan 'nightly_typo' does not exist in flytesnacks/development" in one_error_line(capsys)


def test_a_binary_attributes_file_is_bad_input(
    flyte_admin: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "attributes.yaml"
    binary.write_bytes(b"- project: flytesnacks\n\xff\xfe")
    assert main(["sync-attributes", str(binary), *plaintext(flyte_admin)]) == 2
    err = capsys.readouterr().err
    assert f"{binary}: not UTF-8 text" in err and "Traceback" not in err


def test_demo_checks_its_attributes_file_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "attributes.yaml"
    typo.write_text("- project: flytesnacks\n  type: workflow-execution-config\n  max_paralelism: 10\n")
    assert main(["demo", "--attributes", str(typo)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no emulator started, no step run
    assert f"{typo}:3: max_paralelism: unknown key" in err and "Traceback" not in err


def test_a_settings_file_with_broken_yaml_is_one_line_with_its_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "admin.yaml"
    config.write_text("endpoint: localhost:8089\ninsecure: [\n")
    assert main([*PROMOTE, "--config", str(config)]) == 2
    line = one_error_line(capsys)
    assert f"'{config}'" in line and "line 3" in line


def test_a_non_number_option_names_the_option_not_a_function(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*PROMOTE, "--max-concurrency", "many"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--max-concurrency: expected a whole number of at least 1, got 'many'" in err
    assert "_positive_int" not in err


def test_only_expected_failures_are_mapped_a_bug_keeps_its_traceback() -> None:
    assert exit_code_for(KeyError("bug")) is None
    assert exit_code_for(ValueError("not ours")) is None


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--tls-cert", "{garbage}", "--tls-key", "{garbage}"], "not a PEM certificate with its matching"),
        (["--tls-cert", "{missing}", "--tls-key", "{garbage}"], "--tls-cert {missing}: no such file"),
        (["--db", "{missing}/admin.db"], "--db {missing}/admin.db: unable to open database file"),
    ],
    ids=["garbage-tls", "missing-tls-file", "bad-db"],
)
def test_emulator_serve_names_the_option_that_stops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    paths = {"garbage": tmp_path / "garbage.pem", "missing": tmp_path / "missing"}
    paths["garbage"].write_text("not PEM")
    argv = ["emulator", "serve", "--port", "0", *(a.format(**paths) for a in args)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert complaint.format(**paths) in err and len(err.strip().splitlines()) == 1


def test_emulator_serve_on_a_port_in_use_names_host_and_port(
    flyte_admin: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    host, port = flyte_admin.endpoint.rsplit(":", 1)
    assert main(["emulator", "serve", "--host", host, "--port", port]) == 1
    assert f"--host {host} --port {port}: cannot listen there" in capsys.readouterr().err


def test_a_tls_mismatch_prints_exactly_one_line_from_a_real_process(
    flyte_admin: Emulator, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "GRPC_"))}
    env["HOME"] = str(tmp_path)
    process = subprocess.run(
        [sys.executable, "-m", "flyteadmin_ops.cli", *PROMOTE, "--endpoint", flyte_admin.endpoint],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and process.stderr.startswith("error: "), process.stderr


def test_matchable_attributes_untouched_by_a_rejected_file(
    flyte_admin: Emulator, admin_client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with one good entry and one unknown project: the good entry must not be applied."""
    declared = tmp_path / "attributes.yaml"
    declared.write_text(
        "- project: flytesnacks\n  domain: development\n  type: execution-queue\n  tags: [gpu]\n"
        "- project: nosuch\n  type: execution-queue\n  tags: [cpu]\n"
    )
    assert main(["sync-attributes", str(declared), *plaintext(flyte_admin)]) == 2
    assert "unknown project 'nosuch'" in capsys.readouterr().err
    listed = admin_client.list_matchable_attributes(  # type: ignore[attr-defined]
        matchable_resource_pb2.MatchableResource.EXECUTION_QUEUE
    )
    assert list(listed.configurations) == []
