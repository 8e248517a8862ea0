"""The token-fault knob: a share of OAuth2 token requests refused 429 (Retry-After: 1) or 503, alternately,
drawn from the seed; everything else on the HTTP side answers as it does without the knob.

Raw HTTP (urllib) on purpose: what is under test is the wire answer, not how a client copes with it.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass

import grpc
import pytest
from flyteidl.admin import version_pb2
from flyteidl.service import admin_pb2_grpc

from flyteadmin_ops.emulator import Emulator
from tests.emulator.support import serve, started

CLIENT = "ops:pa55"


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    body: dict[str, object]


def _post_token(url: str, body: bytes, client: str | None = CLIENT) -> Answer:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if client is not None:
        headers["Authorization"] = f"Basic {base64.b64encode(client.encode()).decode()}"
    request = urllib.request.Request(f"{url}/oauth2/token", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.headers.get("Retry-After"), json.load(response))
    except urllib.error.HTTPError as refused:
        with refused:
            return Answer(refused.code, refused.headers.get("Retry-After"), json.load(refused))


def _client_credentials(url: str, client: str = CLIENT) -> Answer:
    return _post_token(url, b"grant_type=client_credentials&scope=all", client)


def test_every_token_request_fails_alternating_429_with_retry_after_and_503() -> None:
    with Emulator(oauth_client=CLIENT, token_fault_rate=1.0) as emu:
        answers = [_client_credentials(emu.http_url) for _ in range(6)]
        discovery = urllib.request.urlopen(
            f"{emu.http_url}/.well-known/oauth-authorization-server", timeout=10
        )
        with discovery:
            assert discovery.status == 200  # only the token endpoint is unreliable
    assert [answer.status for answer in answers] == [429, 503] * 3
    assert [answer.retry_after for answer in answers] == ["1", None] * 3
    assert all("access_token" not in answer.body for answer in answers)


def test_a_partial_rate_is_deterministic_per_seed_and_the_rest_issue_working_tokens() -> None:
    def statuses(seed: int) -> list[int]:
        with Emulator(oauth_client=CLIENT, token_fault_rate=0.5, seed=seed) as emu:
            answers = [_client_credentials(emu.http_url) for _ in range(24)]
            stub = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(emu.endpoint))
            for answer in answers:
                if answer.status == 200:
                    token = (("authorization", f"Bearer {answer.body['access_token']}"),)
                    assert stub.GetVersion(version_pb2.GetVersionRequest(), metadata=token, timeout=10)
            return [answer.status for answer in answers]

    first = statuses(seed=3)
    assert first == statuses(seed=3)
    assert {200, 429, 503} == set(first)
    failures = [status for status in first if status != 200]
    assert failures == [429, 503] * (len(failures) // 2) + [429] * (len(failures) % 2)
    assert first != statuses(seed=4)


def test_the_faults_come_before_the_credentials_are_checked() -> None:
    """A refused request says nothing about the credentials it carried; without the fault the same wrong
    secret is the usual 401."""
    with Emulator(oauth_client=CLIENT, token_fault_rate=1.0) as emu:
        assert _client_credentials(emu.http_url, "ops:wrong").status == 429
    with Emulator(oauth_client=CLIENT) as emu:
        assert _client_credentials(emu.http_url, "ops:wrong").status == 401


def test_refresh_and_device_grants_are_refused_too() -> None:
    with Emulator(oauth_public_client="flytectl", token_fault_rate=1.0) as emu:
        refresh = _post_token(
            emu.http_url, b"grant_type=refresh_token&client_id=flytectl&refresh_token=x", None
        )
        device = _post_token(
            emu.http_url,
            b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=flytectl&device_code=x",
            None,
        )
    assert (refresh.status, refresh.retry_after, device.status) == (429, "1", 503)


@pytest.mark.parametrize("rate", [-0.1, 1.5, math.nan])
def test_an_out_of_range_rate_is_refused_by_name(rate: float) -> None:
    with pytest.raises(ValueError, match="token_fault_rate must be between 0 and 1"):
        Emulator(oauth_client=CLIENT, token_fault_rate=rate)


@pytest.mark.parametrize("text", ["2", "-1", "nan", "often"])
def test_serve_refuses_a_bad_token_fault_rate(text: str) -> None:
    process = serve("--port", "0", "--token-fault-rate", text)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"argument --token-fault-rate: expected a number between 0 and 1, got '{text}'" in stderr


def test_serve_passes_the_token_fault_rate_through() -> None:
    process = serve("--port", "0", "--oauth-client", CLIENT, "--token-fault-rate", "1", "--seed", "9")
    try:
        _, http_url = started(process)
        assert [_client_credentials(http_url).status for _ in range(2)] == [429, 503]
    finally:
        process.kill()
        process.communicate(timeout=30)
