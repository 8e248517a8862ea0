"""register's source-archive upload: the PUT sends the archive's own length, and `uploaded` means the bytes
are in the store (read back and compared), else nothing is registered.

flyteadmin's upload `headers` carry `Content-Length: 24` (the length of the MD5 text). The emulator returns
them as the real server does, so the old PUT (server headers copied on top of ours) is reproduced here
against a store that keeps `Content-Length` bytes without checking digests, as the reference's store did.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flyteidl.service import dataproxy_pb2

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.package import FastArchive, load_package
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.results import Status
from flyteadmin_ops.ops.upload import put_headers

PROJECT, DOMAIN = "flytesnacks", "development"
Rewrite = Callable[[bytes], bytes]


class StoreProxy:
    """An HTTP proxy in front of the emulator's object store that rewrites PUT bodies (a broken middlebox):
    the store then keeps bytes other than those the client sent, with a Content-Length that matches them."""

    def __init__(self, rewrite: Rewrite) -> None:
        self.target = ""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "PUT":
                    body = rewrite(body)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                if self.command == "PUT":
                    headers["Content-Length"] = str(len(body))
                target = urllib.parse.urlsplit(proxy.target)
                upstream = http.client.HTTPConnection(target.netloc, timeout=10)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = _forward

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> StoreProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def emulator_with(**config: object) -> Emulator:
    emulator = Emulator(port=0)
    emulator.config = dataclasses.replace(emulator.config, **config)  # type: ignore[arg-type]
    return emulator


@pytest.fixture
def archive(pyflyte_package: Path) -> FastArchive:
    found = load_package(pyflyte_package).fast_archive
    assert found is not None and len(found.data) > 24
    return found


def download(client: SynchronousFlyteClient, native_url: str) -> bytes:
    with urllib.request.urlopen(
        client.get_download_signed_url(native_url).signed_url, timeout=10
    ) as response:
        return bytes(response.read())


def naive_put(signed_url: str, headers: dict[str, str], archive: FastArchive) -> int:
    """The PUT register used to make: its own headers, then every header the server returned on top."""
    merged = {
        "Content-MD5": base64.b64encode(archive.md5).decode(),
        "Content-Length": str(len(archive.data)),
        **headers,
    }
    request = urllib.request.Request(signed_url, data=archive.data, method="PUT", headers=merged)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def registered_names(client: SynchronousFlyteClient) -> set[str]:
    names: set[str] = set()
    for kind in ("task", "workflow", "launch_plan"):
        names.update(named.name for named in getattr(client, f"iter_{kind}_ids")(PROJECT, DOMAIN))
    return names


def test_the_old_put_kept_24_bytes_ours_keeps_the_archive(
    pyflyte_package: Path, archive: FastArchive
) -> None:
    with (
        emulator_with(object_store_verifies_md5=False) as emulator,
        SynchronousFlyteClient(endpoint=emulator.endpoint, insecure=True) as client,
    ):
        location = client.get_upload_signed_url(
            PROJECT, DOMAIN, content_md5=archive.md5, filename=archive.name
        )
        assert location.headers["Content-Length"] == "24"
        assert naive_put(location.signed_url, dict(location.headers), archive) == 200
        assert download(client, location.native_url) == archive.data[:24]  # the old `uploaded`

        result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")

        assert result.ok, result.to_json()
        upload = result.outcomes[0]
        assert (upload.kind, upload.name, upload.status) == ("source archive", archive.name, Status.UPLOADED)
        assert upload.detail == location.native_url
        assert download(client, location.native_url) == archive.data


def test_s3_refuses_the_old_put_and_accepts_ours(pyflyte_package: Path, archive: FastArchive) -> None:
    with (
        emulator_with() as emulator,
        SynchronousFlyteClient(endpoint=emulator.endpoint, insecure=True) as client,
    ):
        location = client.get_upload_signed_url(
            PROJECT, DOMAIN, content_md5=archive.md5, filename=archive.name
        )
        assert naive_put(location.signed_url, dict(location.headers), archive) == 400  # BadDigest
        result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")
        assert result.ok, result.to_json()
        assert download(client, location.native_url) == archive.data


@pytest.mark.parametrize(
    ("verifies_md5", "expected"),
    [(False, "the store kept"), (True, "BadDigest")],
    ids=["store keeps the wrong bytes", "S3 refuses them"],
)
def test_an_upload_whose_stored_bytes_differ_fails_and_registers_nothing(
    pyflyte_package: Path, archive: FastArchive, verifies_md5: bool, expected: str
) -> None:
    with StoreProxy(lambda body: body[: len(body) // 2]) as proxy:
        emulator = emulator_with(signed_url_endpoint=proxy.url, object_store_verifies_md5=verifies_md5)
        with emulator, SynchronousFlyteClient(endpoint=emulator.endpoint, insecure=True) as client:
            proxy.target = emulator.http_url
            result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")
            names = registered_names(client)

    upload, *entities = result.outcomes
    assert (upload.kind, upload.name, upload.status) == ("source archive", archive.name, Status.FAILED)
    assert expected in upload.detail, upload.detail
    assert {o.status for o in entities} == {Status.SKIPPED}
    assert len(entities) == len(load_package(pyflyte_package))
    assert not result.ok
    assert names == set()


def test_the_put_sends_the_bodys_length_and_keeps_the_signed_headers() -> None:
    location = dataproxy_pb2.CreateUploadLocationResponse(
        headers={"Content-Length": "24", "Content-MD5": "stale", "x-amz-meta-flyteContentMD5": "signed"}
    )
    data = b"x" * 1000
    assert put_headers(location, data) == {
        "Content-Length": "1000",
        "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
        "x-amz-meta-flyteContentMD5": "signed",
    }
