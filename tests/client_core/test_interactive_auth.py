"""pkce and device_flow against the emulator's OAuth endpoints: the endpoints themselves (as an identity
provider answers), then the client logging in, caching, reusing, refreshing ahead of expiry and after a
rejection, and logging in again only when a refresh is refused. The "person" is the test: it fetches the
authorize URL (the emulator approves at once) or visits the device verification URL."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import stat
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import FlyteAuthenticationException
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.auth import discover
from flyteadmin_ops.transport.interactive_auth import InteractiveTokenProvider, interactive_provider
from flyteadmin_ops.transport.token_cache import FileStore
from tests.fixtures.identity_provider import Clock, grants

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Browser:
    """The person's browser: fetches the authorize URL; the emulator redirects to our listener at once."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
        return True


def pkce_settings(emulator: Emulator, cache_dir: Path, browser: Browser, **extra: Any) -> AdminSettings:
    return AdminSettings.isolated(
        endpoint=emulator.endpoint,
        insecure=True,
        auth_mode="pkce",
        redirect_uri="http://127.0.0.1:0/callback",
        token_cache="file",
        token_cache_dir=cache_dir,
        open_url=browser,
        **extra,
    )


def post(url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, urllib.parse.urlencode(form).encode(), timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def authorize(emulator: Emulator, **params: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(emulator.http_url.removeprefix("http://"), timeout=30)
    connection.request("GET", "/oauth2/authorize?" + urllib.parse.urlencode(params))
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("Location") or ""


def challenge_for(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# --- the emulator as an identity provider ---------------------------------------------------------------


def test_metadata_advertises_the_device_endpoint_and_the_public_client(idp: Emulator) -> None:
    with urllib.request.urlopen(idp.http_url + "/.well-known/oauth-authorization-server") as response:
        document = json.loads(response.read())
    assert document["device_authorization_endpoint"] == idp.http_url + "/oauth2/device/authorize"
    assert DEVICE_GRANT in document["grant_types_supported"]
    settings = AdminSettings.isolated(endpoint=idp.endpoint, insecure=True, auth_mode="device_flow")
    with Transport(settings.replace(auth_mode="none")) as transport:
        server = discover(settings, transport.call)
    assert server.client_id == "flytectl"
    assert server.device_authorization_endpoint == document["device_authorization_endpoint"]
    assert server.authorization_endpoint == idp.http_url + "/oauth2/authorize"


def test_authorize_checks_pkce_and_the_code_works_once(idp: Emulator) -> None:
    redirect = "http://127.0.0.1:9/callback"
    base = {"response_type": "code", "client_id": "flytectl", "redirect_uri": redirect, "state": "s"}
    status, _ = authorize(idp, **{**base, "redirect_uri": "https://evil.example/cb"})
    assert status == 400  # never redirects to a URI that is not loopback
    status, location = authorize(idp, **base, code_challenge="x", code_challenge_method="plain")
    assert status == 302 and "error=invalid_request" in location
    verifier = "v" * 60
    status, location = authorize(
        idp, **base, code_challenge=challenge_for(verifier), code_challenge_method="S256"
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert status == 302 and location.startswith(redirect) and query["state"] == ["s"]
    exchange = {
        "grant_type": "authorization_code",
        "client_id": "flytectl",
        "code": query["code"][0],
        "redirect_uri": redirect,
    }
    token_url = idp.http_url + "/oauth2/token"
    assert post(token_url, {**exchange, "code_verifier": "w" * 60}) == (
        400,
        {"error": "invalid_grant", "error_description": "code_verifier does not match the code_challenge"},
    )
    status, body = authorize(
        idp, **base, code_challenge=challenge_for(verifier), code_challenge_method="S256"
    )
    exchange["code"] = urllib.parse.parse_qs(urllib.parse.urlsplit(body).query)["code"][0]
    status, tokens = post(token_url, {**exchange, "code_verifier": verifier})
    assert status == 200 and tokens["refresh_token"] and tokens["expires_in"] == 3600
    assert post(token_url, {**exchange, "code_verifier": verifier})[1]["error"] == "invalid_grant"
    refresh = {
        "grant_type": "refresh_token",
        "client_id": "flytectl",
        "refresh_token": tokens["refresh_token"],
    }
    status, again = post(token_url, refresh)
    assert status == 200 and again["refresh_token"] != tokens["refresh_token"]
    assert post(token_url, refresh)[1]["error"] == "invalid_grant"  # rotated: the old one works once


def test_device_flow_pending_slow_down_approval_denial_and_expiry(idp: Emulator, clock: Clock) -> None:
    device_url, token_url = idp.http_url + "/oauth2/device/authorize", idp.http_url + "/oauth2/token"
    status, grant = post(device_url, {"client_id": "flytectl", "scope": "all"})
    assert status == 200 and grant["interval"] == 1 and re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", grant["user_code"])
    poll = {"grant_type": DEVICE_GRANT, "client_id": "flytectl", "device_code": grant["device_code"]}
    assert post(token_url, poll)[1]["error"] == "authorization_pending"
    assert post(token_url, poll)[1]["error"] == "slow_down"  # polled again within the interval
    with urllib.request.urlopen(grant["verification_uri_complete"]) as page:
        assert b"approved" in page.read()
    clock.advance(timedelta(seconds=2))
    status, tokens = post(token_url, poll)
    assert status == 200 and tokens["access_token"] and tokens["refresh_token"]

    _, denied = post(device_url, {"client_id": "flytectl"})
    assert idp.approve_device_code(denied["user_code"], allow=False)
    poll["device_code"] = denied["device_code"]
    assert post(token_url, poll)[1]["error"] == "access_denied"

    _, late = post(device_url, {"client_id": "flytectl"})
    clock.advance(timedelta(minutes=11))
    poll["device_code"] = late["device_code"]
    assert post(token_url, poll)[1]["error"] == "expired_token"
    assert not idp.approve_device_code(late["user_code"])


# --- the client ---------------------------------------------------------------------------------------------


def test_pkce_logs_in_once_caches_in_a_private_file_and_a_second_client_reuses_it(
    idp: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    browser = Browser()
    settings = pkce_settings(idp, tmp_path / "cache", browser)
    with SynchronousFlyteClient(settings) as client:
        assert client.list_projects().projects
    with SynchronousFlyteClient(settings) as client:  # a new client, as a new process would be
        assert client.list_projects().projects
    assert len(browser.opened) == 1 and grants(idp) == {"authorization_code": 1}
    assert "code_challenge_method=S256" in browser.opened[0]
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    cached = json.loads(files[0].read_text())["flytectl"]
    shown = capsys.readouterr()
    assert "in your browser" in shown.err
    for secret in (cached["access_token"], cached["refresh_token"]):
        assert secret not in shown.out + shown.err + caplog.text


def test_a_token_the_server_rejects_is_refreshed_once_without_a_new_login(
    idp: Emulator, tmp_path: Path, clock: Clock
) -> None:
    browser = Browser()
    settings = pkce_settings(idp, tmp_path, browser)
    with SynchronousFlyteClient(settings) as client:
        client.list_projects()
        clock.advance(timedelta(hours=2))  # the server's clock: its access token has expired
        assert client.list_projects().projects
    assert len(browser.opened) == 1
    assert grants(idp) == {"authorization_code": 1, "refresh_token": 1}


def test_the_token_is_refreshed_ahead_of_expiry(idp: Emulator, tmp_path: Path, clock: Clock) -> None:
    browser = Browser()
    settings = pkce_settings(idp, tmp_path, browser)
    now = [datetime.now(timezone.utc).timestamp()]
    with Transport(settings.replace(auth_mode="none")) as anonymous:
        server = discover(settings, anonymous.call)
    provider = interactive_provider(settings, server, clock=lambda: now[0])
    with SynchronousFlyteClient(transport=Transport(settings, token_provider=provider)) as client:
        client.list_projects()
        now[0] += 3600 - 30  # inside the last minute of the client's view of the lifetime
        clock.advance(timedelta(seconds=3600 - 30))
        client.list_projects()
        client.transport.close()
    assert grants(idp) == {"authorization_code": 1, "refresh_token": 1}


def test_processes_sharing_a_cache_spend_a_rotating_refresh_token_once(
    idp: Emulator, tmp_path: Path, clock: Clock
) -> None:
    """Each provider has a cache object of its own on the same directory, as separate processes would; the
    emulator's refresh tokens work once. Without the lock, every provider but the first would find its
    refresh token spent and log in again."""
    browser = Browser()
    settings = pkce_settings(idp, tmp_path, browser)
    with Transport(settings.replace(auth_mode="none")) as anonymous:
        server = discover(settings, anonymous.call)
    interactive_provider(settings, server).token()  # the one login
    later = datetime.now(timezone.utc).timestamp() + 7200  # the access token has expired for everyone
    clock.advance(timedelta(hours=2))
    providers = [interactive_provider(settings, server, clock=lambda: later) for _ in range(4)]
    start = threading.Barrier(len(providers))

    def refresh(provider: InteractiveTokenProvider) -> str:
        start.wait()
        return provider.token()

    with ThreadPoolExecutor(len(providers)) as pool:
        tokens = list(pool.map(refresh, providers))
    assert len(set(tokens)) == 1 and len(browser.opened) == 1
    assert grants(idp) == {"authorization_code": 1, "refresh_token": 1}


def test_a_refused_refresh_token_leads_to_a_new_login(idp: Emulator, tmp_path: Path, clock: Clock) -> None:
    browser = Browser()
    settings = pkce_settings(idp, tmp_path, browser)
    with SynchronousFlyteClient(settings) as client:
        client.list_projects()
        clock.advance(timedelta(days=2))  # access and refresh token both expired on the server
        assert client.list_projects().projects
    assert len(browser.opened) == 2 and grants(idp) == {"authorization_code": 2}


class Person(io.StringIO):
    """Reads the device-flow prompt on stderr and approves the code at the verification page."""

    def write(self, text: str) -> int:
        found = re.search(r"\(or open (\S+)\)", text)
        if found:
            with urllib.request.urlopen(found.group(1)) as page:
                page.read()
        return super().write(text)


def test_device_flow_prompts_with_the_code_polls_and_caches(idp: Emulator, tmp_path: Path) -> None:
    settings = AdminSettings.isolated(
        endpoint=idp.endpoint,
        insecure=True,
        auth_mode="device_flow",
        token_cache="file",
        token_cache_dir=tmp_path,
    )
    with Transport(settings.replace(auth_mode="none")) as anonymous:
        server = discover(settings, anonymous.call)
    person = Person()
    provider = interactive_provider(settings, server, prompt=person)
    assert isinstance(provider, InteractiveTokenProvider)
    with SynchronousFlyteClient(transport=Transport(settings, token_provider=provider)) as client:
        assert client.list_projects().projects
        client.transport.close()
    assert re.search(
        r"visit \S+/oauth2/device/verify and enter the code [A-Z]{4}-[A-Z]{4}", person.getvalue()
    )
    assert grants(idp) == {DEVICE_GRANT: 1}
    cached = FileStore(tmp_path).read(idp.endpoint)["flytectl"]
    assert cached["access_token"] not in person.getvalue()
    with SynchronousFlyteClient(settings) as client:  # the cache serves the next client: no prompt
        assert client.list_projects().projects
    assert grants(idp) == {DEVICE_GRANT: 1}


def test_a_denied_device_login_is_an_authentication_error(idp: Emulator, tmp_path: Path) -> None:
    class Refuser(io.StringIO):
        def write(self, text: str) -> int:
            found = re.search(r"enter the code (\S+)", text)
            if found:
                assert idp.approve_device_code(found.group(1), allow=False)
            return super().write(text)

    settings = AdminSettings.isolated(
        endpoint=idp.endpoint, insecure=True, auth_mode="device_flow", token_cache="none"
    )
    with Transport(settings.replace(auth_mode="none")) as anonymous:
        server = discover(settings, anonymous.call)
    provider = interactive_provider(settings, server, prompt=Refuser())
    with pytest.raises(FlyteAuthenticationException, match="access_denied"):
        provider.token()


def test_pkce_against_a_server_without_auth_never_logs_in(flyte_admin: Emulator, tmp_path: Path) -> None:
    browser = Browser()
    settings = pkce_settings(flyte_admin, tmp_path, browser)
    with SynchronousFlyteClient(settings) as client:
        assert client.list_projects().projects
    assert browser.opened == [] and not list(tmp_path.iterdir())


def test_the_async_client_logs_in_through_the_same_provider_and_cache(idp: Emulator, tmp_path: Path) -> None:
    import asyncio

    from flyteadmin_ops.client import AsyncFlyteClient

    browser = Browser()
    settings = pkce_settings(idp, tmp_path, browser)

    async def twice() -> None:
        for _ in range(2):
            async with AsyncFlyteClient(settings) as client:
                assert (await client.list_projects()).projects

    asyncio.run(twice())
    assert len(browser.opened) == 1 and grants(idp) == {"authorization_code": 1}
