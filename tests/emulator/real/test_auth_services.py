"""Finding 3 of the reference: without auth, flyteadmin serves neither AuthMetadataService nor
IdentityService.

`server/service.go` registers both only under `security.useAuth`, so grpc-go answers their RPCs for an unknown
service (UNIMPLEMENTED `unknown service <full name>`), and the HTTP gateway forwards the OAuth2 discovery
document to that same missing service (HTTP 501 with the status as JSON). With auth options the emulator
serves them as before.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import pytest
from flyteidl.service import auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc
from google.protobuf.message import Message

from flyteadmin_ops.emulator import Emulator
from tests.emulator.real.support import Real

AUTH = "flyteidl.service.AuthMetadataService"
IDENTITY = "flyteidl.service.IdentityService"


@pytest.mark.parametrize(
    ("rpc", "request_message", "service"),
    [
        pytest.param("GetOAuth2Metadata", auth_pb2.OAuth2MetadataRequest(), AUTH, id="GetOAuth2Metadata"),
        pytest.param(
            "GetPublicClientConfig",
            auth_pb2.PublicClientAuthConfigRequest(),
            AUTH,
            id="GetPublicClientConfig",
        ),
        pytest.param("UserInfo", identity_pb2.UserInfoRequest(), IDENTITY, id="UserInfo"),
    ],
)
def test_auth_services_are_unknown_without_auth(
    real: Real, rpc: str, request_message: Message, service: str
) -> None:
    failure = real.refused(rpc, request_message)
    assert (failure.code, failure.message, failure.details) == (
        grpc.StatusCode.UNIMPLEMENTED,
        f"unknown service {service}",
        [],
    )


def test_the_http_discovery_document_is_not_served_without_auth(real: Real) -> None:
    url = f"{real.emulator.http_url}/.well-known/oauth-authorization-server"
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(url, timeout=5)
    assert answer.value.code == 501
    body = json.loads(answer.value.read())
    assert body == {"code": 12, "message": f"unknown service {AUTH}", "details": []}


def test_with_auth_the_services_answer() -> None:
    with Emulator(auth_token="s3cret") as emulator, grpc.insecure_channel(emulator.endpoint) as channel:
        discovery = auth_pb2_grpc.AuthMetadataServiceStub(channel)
        metadata = discovery.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest())
        assert metadata.token_endpoint == f"{emulator.http_url}/oauth2/token"
        config = discovery.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest())
        assert config.authorization_metadata_key == "authorization"
        identity = identity_pb2_grpc.IdentityServiceStub(channel)
        token = (("authorization", "Bearer s3cret"),)
        assert identity.UserInfo(identity_pb2.UserInfoRequest(), metadata=token).subject == "static-token"
        with urllib.request.urlopen(f"{emulator.http_url}/.well-known/oauth-authorization-server") as answer:
            assert json.loads(answer.read())["token_endpoint"] == metadata.token_endpoint
