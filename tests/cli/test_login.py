"""`flyteadmin-ops login` / `logout` in real processes, configured as a flytectl user is (`authType: Pkce` or
`DeviceFlow` in the config file), against the emulator's OAuth endpoints. The browser is `$BROWSER` (what
`webbrowser` honours): a command that fetches the authorize URL, which the emulator approves at once. The
device-flow person reads the prompt on stderr and visits the verification URL. A second process reuses the
cached token (no second login), refreshes it once the server says it expired, and `logout` removes it."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

from flyteadmin_ops.emulator import Emulator
from tests.fixtures.identity_provider import Clock, grants

FETCH_URL = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=30).read()"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def environment(tmp_path: Path, emulator: Emulator, auth_type: str) -> dict[str, str]:
    config = tmp_path / "flytectl.yaml"
    config.write_text(
        f"admin:\n  endpoint: dns:///{emulator.endpoint}\n  insecure: true\n  authType: {auth_type}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "FLYTEADMIN", "FLYTECTL"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        FLYTECTL_CONFIG=str(config),
        FLYTEADMIN_TOKEN_CACHE="file",
        FLYTEADMIN_TOKEN_CACHE_DIR=str(tmp_path / "tokens"),
        FLYTEADMIN_REDIRECT_URI="http://127.0.0.1:0/callback",
        BROWSER=f"{shlex.quote(sys.executable)} -c {shlex.quote(FETCH_URL)} %s",
    )
    return env


def cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "flyteadmin_ops.cli", *argv]


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*argv), capture_output=True, text=True, env=env, timeout=120, check=False)


def cached_tokens(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (path,) = (tmp_path / "tokens").glob("*.json")
    for lock in (tmp_path / "tokens").glob("*.lock"):  # taken by a refresh: private and empty, no token in it
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600 and lock.stat().st_size == 0
    return path, json.loads(path.read_text())["flytectl"]


LIST_FAILED = ("relaunch-failed", "-p", "flytesnacks", "-d", "development", "--since", "1h", "--dry-run")


def test_pkce_login_then_a_second_process_reuses_refreshes_and_logout_forgets(
    idp: Emulator, clock: Clock, tmp_path: Path
) -> None:
    env = environment(tmp_path, idp, "Pkce")
    login = run(env, "login", "-o", "json")
    assert login.returncode == 0, login.stderr
    document = json.loads(login.stdout)
    assert document["ok"] and document["auth_mode"] == "pkce" and document["client_id"] == "flytectl"
    assert document["subject"] == "flytectl" and document["refreshable"]
    assert "in your browser" in login.stderr and "/oauth2/authorize?" in login.stderr
    assert grants(idp) == {"authorization_code": 1}
    path, tokens = cached_tokens(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = run(env, *LIST_FAILED)
    assert second.returncode == 0, second.stderr
    assert "browser" not in second.stderr and grants(idp) == {"authorization_code": 1}

    clock.now += timedelta(hours=2)  # the server now rejects the cached access token
    third = run(env, *LIST_FAILED)
    assert third.returncode == 0, third.stderr
    assert grants(idp) == {"authorization_code": 1, "refresh_token": 1}
    _, refreshed = cached_tokens(tmp_path)
    assert refreshed["access_token"] != tokens["access_token"]

    outputs = login.stdout + login.stderr + second.stdout + second.stderr + third.stdout + third.stderr
    for secret in (*tokens.values(), *refreshed.values()):
        if isinstance(secret, str):
            assert secret not in outputs

    logout = run(env, "logout")
    assert logout.returncode == 0 and "Logged out of" in logout.stdout
    assert not path.exists()
    again = run(env, "logout", "-o", "json")
    assert json.loads(again.stdout)["removed"] is False


def test_device_flow_login_from_a_flytectl_config_with_the_code_on_stderr(
    idp: Emulator, tmp_path: Path
) -> None:
    env = environment(tmp_path, idp, "DeviceFlow")
    process = subprocess.Popen(
        cli("login"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stderr is not None
        prompt = process.stderr.readline()
        found = re.search(r"visit (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})", prompt)
        assert found, prompt
        url = f"{found.group(1)}?user_code={found.group(2)}"
        with urllib.request.urlopen(url, timeout=30) as page:  # the person approves on another device
            page.read()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Logged in to" in stdout and "(device_flow)" in stdout
    assert grants(idp) == {DEVICE_GRANT: 1}
    _, tokens = cached_tokens(tmp_path)
    assert tokens["access_token"] not in stdout + stderr + prompt
    reuse = run(env, *LIST_FAILED)
    assert reuse.returncode == 0, reuse.stderr
    assert "enter the code" not in reuse.stderr and grants(idp) == {DEVICE_GRANT: 1}


def test_login_without_an_interactive_mode_is_bad_input(idp: Emulator, tmp_path: Path) -> None:
    env = environment(tmp_path, idp, "ClientSecret")
    env["FLYTEADMIN_CLIENT_SECRET"] = "unused"
    result = run(env, "login", "-o", "json")
    assert result.returncode == 2
    assert "login needs auth_mode pkce or device_flow" in result.stderr
    assert json.loads(result.stdout)["ok"] is False


def test_login_against_a_server_with_auth_off_says_there_is_nothing_to_log_in_to(
    flyte_admin: Emulator, tmp_path: Path
) -> None:
    result = run(environment(tmp_path, flyte_admin, "Pkce"), "login")
    assert result.returncode == 2
    assert "has auth off" in result.stderr and "browser" not in result.stderr
