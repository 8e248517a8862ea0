"""The emulator's object store answers signed-URL PUTs and GETs the way an S3 store does.

It keeps exactly `Content-Length` bytes: flyteadmin's upload `headers` carry `Content-Length` = the length of
the MD5 text ("24"), so a client that copies them onto its PUT has its object cut to 24 bytes. AWS S3 then
refuses with BadDigest (the default here); a store that does not check digests keeps the cut object
(`object_store_verifies_md5=False`, the S3-compatible store the reference run used).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc

from flyteadmin_ops.emulator import Emulator

PROJECT, DOMAIN = "flytesnacks", "development"
BODY = b"a source archive, longer than the twenty-four bytes of an MD5's base64 text" * 3


@dataclasses.dataclass
class Store:
    emulator: Emulator
    data: dataproxy_pb2_grpc.DataProxyServiceStub

    def location(self, body: bytes = BODY, **fields: object) -> dataproxy_pb2.CreateUploadLocationResponse:
        request = dataproxy_pb2.CreateUploadLocationRequest(
            project=PROJECT, domain=DOMAIN, filename="fast.tar.gz", content_md5=hashlib.md5(body).digest()
        )
        for name, value in fields.items():
            setattr(request, name, value)
        return self.data.CreateUploadLocation(request)

    def download(self, native_url: str) -> tuple[int, bytes]:
        link = self.data.CreateDownloadLocation(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
        )
        return fetch(link.signed_url)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def naive_put(location: dataproxy_pb2.CreateUploadLocationResponse, body: bytes) -> tuple[int, bytes]:
    """The PUT our client used to make: its own headers, then every header the server returned on top."""
    headers = {
        "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        "Content-Length": str(len(body)),
        **dict(location.headers),
    }
    request = urllib.request.Request(location.signed_url, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def raw_put(url: str, head: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """A PUT written by hand on a socket (any Content-Length, or none), its sending side then closed."""
    parts = urllib.parse.urlsplit(url)
    lines = [f"PUT {parts.path}?{parts.query} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def _store(**config: object) -> Iterator[Store]:
    emulator = Emulator(port=0)
    emulator.config = dataclasses.replace(emulator.config, **config)  # type: ignore[arg-type]
    with emulator, grpc.insecure_channel(emulator.endpoint) as channel:
        yield Store(emulator, dataproxy_pb2_grpc.DataProxyServiceStub(channel))


@pytest.fixture
def s3() -> Iterator[Store]:
    """The default store: checks Content-MD5 like AWS S3."""
    yield from _store()


@pytest.fixture
def lenient() -> Iterator[Store]:
    """A store that keeps what it is sent without checking digests."""
    yield from _store(object_store_verifies_md5=False)


def test_the_returned_content_length_is_that_of_the_md5_text(s3: Store) -> None:
    location = s3.location()
    assert location.headers["Content-Length"] == "24" != str(len(BODY))


def test_a_store_that_does_not_check_digests_keeps_content_length_bytes(lenient: Store) -> None:
    location = lenient.location()
    assert naive_put(location, BODY)[0] == 200
    assert lenient.download(location.native_url) == (200, BODY[:24])


def test_s3_refuses_the_cut_body_with_bad_digest_and_keeps_nothing(s3: Store) -> None:
    location = s3.location()
    status, body = naive_put(location, BODY)
    assert status == 400
    assert b"<Code>BadDigest</Code>" in body and body.startswith(b"<?xml")
    status, body = s3.download(location.native_url)
    assert (status, b"<Code>NoSuchKey</Code>" in body) == (404, True)


@pytest.mark.parametrize("store", ["s3", "lenient"])
def test_the_bodys_own_length_keeps_every_byte(store: str, request: pytest.FixtureRequest) -> None:
    target: Store = request.getfixturevalue(store)
    location = target.location(add_content_md5_metadata=True)
    headers = {k: v for k, v in location.headers.items() if k != "Content-Length"}
    headers["Content-Length"] = str(len(BODY))
    assert raw_put(location.signed_url, headers, BODY)[0] == 200
    assert target.download(location.native_url) == (200, BODY)


def test_a_body_shorter_than_its_content_length_is_an_incomplete_body(lenient: Store) -> None:
    location = lenient.location()
    headers = {"Content-MD5": location.headers["Content-MD5"], "Content-Length": str(len(BODY) + 10)}
    status, body = raw_put(location.signed_url, headers, BODY)
    assert (status, b"<Code>IncompleteBody</Code>" in body) == (400, True)
    assert lenient.download(location.native_url)[0] == 404


def test_a_put_without_content_length_is_refused(s3: Store) -> None:
    location = s3.location()
    status, body = raw_put(location.signed_url, {"Content-MD5": location.headers["Content-MD5"]}, BODY)
    assert (status, b"<Code>MissingContentLength</Code>" in body) == (411, True)


def test_a_content_md5_that_is_no_digest_is_invalid(s3: Store) -> None:
    """The reference's `content_md5: "short"` (n165) signs `Content-MD5: c2hvcnQ=`, which S3 cannot use."""
    location = s3.location(content_md5=b"short")
    assert location.headers["Content-MD5"] == "c2hvcnQ="
    headers = {"Content-MD5": "c2hvcnQ=", "Content-Length": str(len(BODY))}
    status, body = raw_put(location.signed_url, headers, BODY)
    assert (status, b"<Code>InvalidDigest</Code>" in body) == (400, True)


def test_signed_headers_must_be_sent_as_signed(s3: Store) -> None:
    """`Content-MD5` and `x-amz-meta-flyteContentMD5` are in the signature: leaving one out breaks it."""
    location = s3.location(add_content_md5_metadata=True)
    assert "x-amz-meta-flytecontentmd5" in urllib.parse.parse_qs(
        urllib.parse.urlsplit(location.signed_url).query
    )["X-Amz-SignedHeaders"][0].split(";")
    without = {"Content-MD5": location.headers["Content-MD5"], "Content-Length": str(len(BODY))}
    status, body = raw_put(location.signed_url, without, BODY)
    assert (status, b"<Code>SignatureDoesNotMatch</Code>" in body) == (403, True)


def test_signed_urls_point_at_the_configured_endpoint() -> None:
    """flyteadmin's `signedUrl.stowConfigOverride.endpoint`: URLs name another host, same path and query."""
    for store in _store(signed_url_endpoint="http://objects.example:9000"):
        location = store.location()
        assert location.signed_url.startswith(
            "http://objects.example:9000/my-s3-bucket/flytesnacks/development/"
        )


def test_unsigned_paths_outside_the_bucket_are_not_the_stores(s3: Store) -> None:
    """flyteadmin's own HTTP paths share the port: an unsigned path outside the bucket is a plain 404, while
    an unsigned request for an object is S3's 403."""
    base = s3.emulator.http_url
    assert fetch(base + "/healthcheck")[0] == 404
    status, body = fetch(base + "/my-s3-bucket/any/key")
    assert (status, b"<Code>AccessDenied</Code>" in body) == (403, True)
