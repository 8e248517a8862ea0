"""DataProxyService: uploads through flytekit's own code path, signed-URL checks (signature, Content-MD5,
expiry on the injected clock), flyteadmin's native URL layout and validation messages, downloads, decks."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from flyteidl.admin import event_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2 as engine_event_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf.duration_pb2 import Duration

from flyteadmin_ops.emulator import Emulator
from tests.emulator.exec.helpers import DOMAIN, PROJECT, Clock, Stubs, create_request, exec_id, refusal, stamp

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def upload_request(body: bytes, **fields: Any) -> dataproxy_pb2.CreateUploadLocationRequest:
    return dataproxy_pb2.CreateUploadLocationRequest(
        project=PROJECT, domain=DOMAIN, content_md5=hashlib.md5(body).digest(), **fields
    )


def put(location: Any, body: bytes, content_md5: bytes | None = None) -> requests.Response:
    """The PUT of flytekit's FlyteRemote.upload_file: Content-Length, Content-MD5 and the returned headers."""
    headers = {"Content-Length": str(len(body))}
    headers.update(location.headers)
    if content_md5 is not None:
        headers["Content-MD5"] = base64.b64encode(content_md5).decode()
    return requests.put(location.signed_url, data=body, headers=headers, timeout=10)


def test_flytekit_upload_then_signed_download(served: tuple[Emulator, Stubs], tmp_path: Path) -> None:
    from flytekit.configuration import Config, PlatformConfig
    from flytekit.remote import FlyteRemote

    emu, calls = served
    archive = tmp_path / "fast1234.tar.gz"
    archive.write_bytes(b"not really a tarball, but bytes all the same" * 100)
    remote = FlyteRemote(
        Config(platform=PlatformConfig(endpoint=emu.endpoint, insecure=True)),
        default_project=PROJECT,
        default_domain=DOMAIN,
    )
    md5_bytes, native_url = remote.upload_file(archive)
    assert md5_bytes == hashlib.md5(archive.read_bytes()).digest()
    prefix = base64.b32encode(md5_bytes).decode()
    assert native_url == f"s3://my-s3-bucket/{PROJECT}/{DOMAIN}/{prefix}/fast1234.tar.gz"

    link = calls.data.CreateDownloadLocation(
        dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
    )
    assert link.signed_url.startswith(emu.http_url + "/my-s3-bucket/")
    downloaded = requests.get(link.signed_url, timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.content == archive.read_bytes()


def test_signed_urls_refuse_tampering_bad_digests_and_expiry(
    served: tuple[Emulator, Stubs], clock: Clock
) -> None:
    _, calls = served
    body = b"payload"
    location = calls.data.CreateUploadLocation(upload_request(body, filename="p.bin"))
    assert location.headers["Content-MD5"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    assert location.expires_at.ToDatetime().replace(tzinfo=clock().tzinfo) == clock() + timedelta(hours=1)

    tampered = dataproxy_pb2.CreateUploadLocationResponse()
    tampered.CopyFrom(location)
    tampered.signed_url = location.signed_url.replace("p.bin", "q.bin")
    assert put(tampered, body).status_code == 403
    parts = urllib.parse.urlsplit(location.signed_url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["X-Amz-Expires"] = str(int(query["X-Amz-Expires"]) + 86400)  # a later expiry than the one signed
    tampered.signed_url = parts._replace(query=urllib.parse.urlencode(query)).geturl()
    extended = put(tampered, body)
    assert (extended.status_code, "SignatureDoesNotMatch" in extended.text) == (403, True)
    other_md5 = hashlib.md5(b"other").digest()
    assert (
        put(location, body, content_md5=other_md5).status_code == 403
    )  # not the Content-MD5 that was signed
    wrong_body = put(location, b"payloaX")
    assert (wrong_body.status_code, "BadDigest" in wrong_body.text) == (400, True)

    clock.advance(hours=1, seconds=1)
    expired = put(location, body)
    assert (expired.status_code, "expired" in expired.text) == (403, True)
    clock.advance(hours=-2)
    assert put(location, body).status_code == 200


def test_upload_location_rules(served: tuple[Emulator, Stubs]) -> None:
    _, calls = served
    create = calls.data.CreateUploadLocation
    first = create(upload_request(b"v1", filename="config.yaml", filename_root="settings"))
    assert first.native_url == f"s3://my-s3-bucket/{PROJECT}/{DOMAIN}/settings/config.yaml"
    assert put(first, b"v1").status_code == 200
    create(upload_request(b"v1", filename="config.yaml", filename_root="settings"))  # same hash: may rewrite
    clash = refusal(create, upload_request(b"v2", filename="config.yaml", filename_root="settings"))
    assert clash.code == grpc.StatusCode.ALREADY_EXISTS
    assert clash.message == (
        f"file already exists at location [{first.native_url}], "
        "specify a matching hash if you wish to rewrite"
    )
    no_hash = dataproxy_pb2.CreateUploadLocationRequest(
        project=PROJECT, domain=DOMAIN, filename="config.yaml", filename_root="settings"
    )
    assert refusal(create, no_hash).code == grpc.StatusCode.ALREADY_EXISTS
    random_name = create(upload_request(b"x"))
    assert len(random_name.native_url.rsplit("/", 1)[1]) == 20
    for request, message in [
        (
            dataproxy_pb2.CreateUploadLocationRequest(domain=DOMAIN, content_md5=b"x"),
            "project and domain are required",
        ),
        (
            dataproxy_pb2.CreateUploadLocationRequest(project=PROJECT, domain=DOMAIN),
            "content_md5 or filename_root",
        ),
        (
            upload_request(b"x", expires_in=Duration(seconds=7200)),
            "expiresIn [2h0m0s] cannot exceed max allowed expiration [1h0m0s]",
        ),
    ]:
        refused = refusal(create, request)
        assert (refused.code, message in refused.message) == (INVALID, True), refused.message


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [
        (Duration(seconds=-1), "expiresIn is invalid. Error: input duration [-1s] should not less than 0"),
        (Duration(seconds=3601), "input duration [1h0m1s] cannot exceed max allowed expiration [1h0m0s]"),
    ],
)
def test_download_location_validates_expiry(
    served: tuple[Emulator, Stubs], expires_in: Duration, message: str
) -> None:
    _, calls = served
    request = dataproxy_pb2.CreateDownloadLocationRequest(
        native_url="s3://my-s3-bucket/x", expires_in=expires_in
    )
    refused = refusal(calls.data.CreateDownloadLocation, request)
    assert refused.code == INVALID
    assert refused.message.startswith("error while validating request: ")
    assert message in refused.message


def test_deck_download_link_and_get_data(served: tuple[Emulator, Stubs], clock: Clock) -> None:
    _, calls = served
    deck = b"<html>deck</html>"
    location = calls.data.CreateUploadLocation(
        upload_request(deck, filename="deck.html", filename_root="decks")
    )
    assert put(location, deck).status_code == 200
    calls.admin.CreateExecution(create_request("ev"))
    node = identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id("ev"), node_id="n0")
    event = engine_event_pb2.NodeExecutionEvent(
        id=node,
        phase=core_execution_pb2.NodeExecution.SUCCEEDED,
        occurred_at=stamp(clock),
        deck_uri=location.native_url,
    )
    calls.admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=event))
    link = calls.data.CreateDownloadLink(
        dataproxy_pb2.CreateDownloadLinkRequest(
            artifact_type=dataproxy_pb2.ArtifactType.ARTIFACT_TYPE_DECK, node_execution_id=node
        )
    )
    assert list(link.signed_url) == list(link.pre_signed_urls.signed_url)
    assert requests.get(link.signed_url[0], timeout=10).content == deck
    resolved = calls.data.GetData(
        dataproxy_pb2.GetDataRequest(flyte_url="flyte://v1/flytesnacks/development/ev/n0/d")
    )
    assert requests.get(resolved.pre_signed_urls.signed_url[0], timeout=10).content == deck
    undefined = dataproxy_pb2.CreateDownloadLinkRequest(node_execution_id=node)
    assert "invalid artifact type" in refusal(calls.data.CreateDownloadLink, undefined).message
    unknown_node = identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id("ev"), node_id="n9")
    absent = dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=1, node_execution_id=unknown_node)
    refused = refusal(calls.data.CreateDownloadLink, absent)
    assert (refused.code, refused.message.startswith("failed to find node execution [")) == (INVALID, True)


def test_unsigned_requests_are_refused(served: tuple[Emulator, Stubs]) -> None:
    emu, _ = served
    path = "/my-s3-bucket/" + urllib.parse.quote("any/key")
    assert requests.get(emu.http_url + path, timeout=10).status_code == 403
    assert requests.put(emu.http_url + path, data=b"x", timeout=10).status_code == 403
