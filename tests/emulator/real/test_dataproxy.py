"""What a real flyteadmin v1.16.8's DataProxyService answered (entries 160-172), and the rules behind it.

CreateUploadLocation returns the storage signer's "required request headers" (stow's S3 container):
`Content-Length` is the length of the base64 MD5 *text* ("24"; "0" and an empty `Content-MD5` without an
MD5), and `add_content_md5_metadata` adds `x-amz-meta-flyteContentMD5` (base64). Bodies are compared whole,
with the signed URL's host and query, the expiry and a random file name masked as the reference masks them.
Download locations are split with Go's URL rules and refused with the AWS SDK's validation texts.
"""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Iterator

import grpc
import pytest
from flyteidl.admin import event_pb2
from flyteidl.event import event_pb2 as engine_event_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import text_format
from google.protobuf.message import Message

from tests.emulator.exec import helpers
from tests.emulator.real.support import Real, case, masked

MD5 = b"f\xac\x878E\xa49\xce`\xb7)\xc4\x93L\xc6D"  # the digest the reference sent
MD5_TEXT = r"f\254\2078E\2449\316`\267)\304\223L\306D"
MD5_B64 = "ZqyHOEWkOc5gtynEk0zGRA=="


def body_text(response: dataproxy_pb2.CreateUploadLocationResponse, project: str, random: str = "") -> str:
    """The response as the reference prints it: `<HOST>`, `<Q>`, `<P>` and `<RANDOM>` masked, no expiry."""
    copy = dataproxy_pb2.CreateUploadLocationResponse()
    copy.CopyFrom(response)
    copy.expires_at.Clear()
    parts = urllib.parse.urlsplit(copy.signed_url)
    copy.signed_url = f"{parts.scheme}://<HOST>{parts.path}?<Q>"
    text = masked(text_format.MessageToString(copy), project)
    return text.replace(random, "<RANDOM>") if random else text


def full(body: str) -> str:
    return body.replace("<MD5>", MD5_TEXT)


HEADERS_24 = (
    'headers {\n  key: "Content-Length"\n  value: "24"\n}\n'
    'headers {\n  key: "Content-MD5"\n  value: "ZqyHOEWkOc5gtynEk0zGRA=="\n}\n'
)
HEADERS_0 = 'headers {\n  key: "Content-Length"\n  value: "0"\n}\nheaders {\n  key: "Content-MD5"\n}\n'
MD5_ROOT = "M2WIOOCFUQ444YFXFHCJGTGGIQ"


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        case(
            160,
            "md5 + filename",
            'project: "<P>" domain: "development" filename: "blob.bin" content_md5: "<MD5>"',
            f'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/{MD5_ROOT}%3D%3D%3D%3D%3D%3D/blob.bin?<Q>"\n'
            f'native_url: "s3://my-s3-bucket/<P>/development/{MD5_ROOT}======/blob.bin"\n'
            f"expires_at {{\n}}\n{HEADERS_24}",
        ),
        case(
            161,
            "filename_root, no md5",
            'project: "<P>" domain: "development" filename: "blob.bin" filename_root: "root1"',
            'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/root1/blob.bin?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>/development/root1/blob.bin"\n'
            f"expires_at {{\n}}\n{HEADERS_0}",
        ),
        case(
            162,
            "filename_root + md5",
            'project: "<P>" domain: "development" filename: "blob.bin" content_md5: "<MD5>" '
            'filename_root: "root1"',
            'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/root1/blob.bin?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>/development/root1/blob.bin"\n'
            f"expires_at {{\n}}\n{HEADERS_24}",
        ),
        case(
            164,
            "expires 60s",
            'project: "<P>" domain: "development" filename: "x" expires_in { seconds: 60 } '
            'filename_root: "r"',
            'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/r/x?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>/development/r/x"\n'
            f"expires_at {{\n}}\n{HEADERS_0}",
        ),
        case(
            165,
            "bad md5 size",
            'project: "<P>" domain: "development" filename: "x" content_md5: "short"',
            'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/ONUG64TU/x?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>/development/ONUG64TU/x"\n'
            "expires_at {\n}\n"
            'headers {\n  key: "Content-Length"\n  value: "8"\n}\n'
            'headers {\n  key: "Content-MD5"\n  value: "c2hvcnQ="\n}\n',
        ),
        case(
            166,
            "add_content_md5_metadata",
            'project: "<P>" domain: "development" filename: "x" content_md5: "<MD5>" filename_root: "r" '
            "add_content_md5_metadata: true",
            'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/r/x?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>/development/r/x"\n'
            f"expires_at {{\n}}\n{HEADERS_24}"
            'headers {\n  key: "x-amz-meta-flyteContentMD5"\n  value: "ZqyHOEWkOc5gtynEk0zGRA=="\n}\n',
        ),
        case(
            167,
            "org",
            'project: "<P>" domain: "development" filename: "x" filename_root: "r" org: "o"',
            'signed_url: "http://<HOST>/my-s3-bucket/o/<P>/development/r/x?<Q>"\n'
            'native_url: "s3://my-s3-bucket/o/<P>/development/r/x"\n'
            f"expires_at {{\n}}\n{HEADERS_0}",
        ),
        case(
            168,
            "unknown project",
            'project: "<P>-nope" domain: "development" filename: "x" filename_root: "r"',
            'signed_url: "http://<HOST>/my-s3-bucket/<P>-nope/development/r/x?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>-nope/development/r/x"\n'
            f"expires_at {{\n}}\n{HEADERS_0}",
        ),
        case(
            169,
            "for download",
            'project: "<P>" domain: "development" filename: "dl.bin" content_md5: "<MD5>" '
            'filename_root: "dlroot"',
            'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/dlroot/dl.bin?<Q>"\n'
            'native_url: "s3://my-s3-bucket/<P>/development/dlroot/dl.bin"\n'
            f"expires_at {{\n}}\n{HEADERS_24}",
        ),
    ],
)
def test_upload_location_answers_with_the_signers_headers(
    real: Real, request_text: str, expected: str
) -> None:
    request = real.parse(dataproxy_pb2.CreateUploadLocationRequest, full(request_text))
    response = real.call("CreateUploadLocation", request)
    assert body_text(response, real.project) == expected


@pytest.mark.parametrize(
    "request_text",
    [
        case(
            163,
            "no filename (random name masked)",
            'project: "<P>" domain: "development" content_md5: "<MD5>"',
        )
    ],
)
def test_upload_location_without_a_file_name(real: Real, request_text: str) -> None:
    """No filename: a random one (masked), in the folder named by the base32 of the MD5."""
    request = real.parse(dataproxy_pb2.CreateUploadLocationRequest, full(request_text))
    response = real.call("CreateUploadLocation", request)
    random = response.native_url.rsplit("/", 1)[1]
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{20}", random)
    assert body_text(response, real.project, random) == (
        f'signed_url: "http://<HOST>/my-s3-bucket/<P>/development/{MD5_ROOT}%3D%3D%3D%3D%3D%3D/<RANDOM>?<Q>"\n'
        f'native_url: "s3://my-s3-bucket/<P>/development/{MD5_ROOT}======/<RANDOM>"\n'
        f"expires_at {{\n}}\n{HEADERS_24}"
    )


# --- the same rule with other inputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digest", "add_metadata", "length"),
    [
        (b"", False, "0"),
        (b"", True, "0"),
        (hashlib.md5(b"other").digest(), False, "24"),
        (hashlib.sha256(b"any").digest(), True, "44"),
    ],
    ids=["no md5", "metadata without md5", "another md5", "a 32-byte digest"],
)
def test_content_length_is_the_length_of_the_digest_text_not_of_any_body(
    real: Real, digest: bytes, add_metadata: bool, length: str
) -> None:
    request = dataproxy_pb2.CreateUploadLocationRequest(
        project=real.project,
        domain="staging",
        filename="data.csv",
        filename_root="any",
        content_md5=digest,
        add_content_md5_metadata=add_metadata,
    )
    response = real.call("CreateUploadLocation", request)
    text = base64.b64encode(digest).decode()
    expected = {"Content-Length": length, "Content-MD5": text}
    if add_metadata:
        expected["x-amz-meta-flyteContentMD5"] = text
    assert dict(response.headers) == expected


@pytest.mark.parametrize(
    ("filename", "native", "url_path"),
    [
        ("my file.txt", "root/my%20file.txt", "root/my%20file.txt"),
        ("dir/sub/f.txt", "root/dir/sub/f.txt", "root/dir/sub/f.txt"),
        ("a?b", "root/a?b", "root/a"),
        ("../x", "x", "x"),
    ],
)
def test_upload_locations_are_joined_and_resolved_as_go_urls(
    real: Real, filename: str, native: str, url_path: str
) -> None:
    """ConstructReference parses the joined keys as a URL: a space prints escaped, `?` starts a query the
    signer leaves out of the key, `..` climbs a folder."""
    request = dataproxy_pb2.CreateUploadLocationRequest(
        project=real.project, domain="development", filename=filename, filename_root="root"
    )
    response = real.call("CreateUploadLocation", request)
    assert response.native_url == f"s3://my-s3-bucket/{real.project}/development/{native}"
    assert (
        urllib.parse.urlsplit(response.signed_url).path
        == f"/my-s3-bucket/{real.project}/development/{url_path}"
    )


def test_an_unparseable_upload_location_is_an_internal_error(real: Real) -> None:
    request = dataproxy_pb2.CreateUploadLocationRequest(
        project=real.project, domain="development", filename="100%", content_md5=MD5
    )
    refused = real.refused("CreateUploadLocation", request)
    assert (refused.code, refused.message) == (
        grpc.StatusCode.INTERNAL,
        "failed to create shardedStorageLocation, Error: failed to construct datastore reference. Error: "
        "Reference is of an invalid format [s3://my-s3-bucket]: "
        f'parse "/<P>/development/{MD5_ROOT}======/100%": invalid URL escape "%"',
    )


# --- download locations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        case(
            171,
            "empty url",
            "",
            "failed to create a signed url. Error: InvalidParameter: 2 validation error(s) found.\n"
            "- minimum field size of 1, GetObjectInput.Bucket.\n"
            "- minimum field size of 1, GetObjectInput.Key.\n",
        ),
        case(
            172,
            "bad url",
            'native_url: "not a url"',
            "failed to create a signed url. Error: InvalidParameter: 1 validation error(s) found.\n"
            "- minimum field size of 1, GetObjectInput.Bucket.\n",
        ),
    ],
)
def test_download_location_refusals_are_the_sdks_validation(
    real: Real, request_text: str, message: str
) -> None:
    request = real.parse(dataproxy_pb2.CreateDownloadLocationRequest, request_text)
    refused = real.refused("CreateDownloadLocation", request)
    assert (refused.code, refused.message) == (grpc.StatusCode.INTERNAL, message)


@pytest.mark.parametrize(
    ("native_url", "missing"),
    [
        ("s3://my-s3-bucket", ["Key"]),
        ("s3://my-s3-bucket/", ["Key"]),
        ("/just/a/path", ["Bucket"]),
        ("s3:opaque/key", ["Bucket", "Key"]),
        ("s3:///key", ["Bucket"]),
    ],
)
def test_which_urls_the_sdk_cannot_sign(real: Real, native_url: str, missing: list[str]) -> None:
    """Go splits a reference into host (bucket) and path (key); whatever lacks one cannot be signed."""
    request = dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
    refused = real.refused("CreateDownloadLocation", request)
    lines = "".join(f"- minimum field size of 1, GetObjectInput.{name}.\n" for name in missing)
    assert refused.message == (
        "failed to create a signed url. Error: InvalidParameter: "
        f"{len(missing)} validation error(s) found.\n{lines}"
    )


@pytest.mark.parametrize(
    "native_url", ["s3://b/%zz", "s3://b:port/k", "s3://b{x}/k", ":no-scheme", "s3://b/k\x01"]
)
def test_download_urls_go_cannot_parse_are_invalid_arguments(real: Real, native_url: str) -> None:
    refused = real.refused(
        "CreateDownloadLocation", dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
    )
    assert (refused.code, refused.message) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"error while validating request: failed to parse native_url [{native_url}]",
    )


@pytest.mark.parametrize("native_url", ["s3://other-bucket/k", "gs://b/k?query=1", "not-s3://b/a b"])
def test_any_bucket_and_key_is_signed(real: Real, native_url: str) -> None:
    """The signer loads any bucket by name without looking it up (stow with a region set), so these sign."""
    response = real.call(
        "CreateDownloadLocation", dataproxy_pb2.CreateDownloadLocationRequest(native_url=native_url)
    )
    assert response.signed_url.startswith(real.emulator.http_url + "/")


# --- download links ---------------------------------------------------------------------------------------


def _in_project(message: Message, project: str) -> Message:
    """A helper-built request moved from `flytesnacks` to the test's project."""
    text = text_format.MessageToString(message).replace(f'"{helpers.PROJECT}"', f'"{project}"')
    return text_format.Parse(text, type(message)())


@pytest.fixture
def overrides(real: Real) -> Iterator[Real]:
    """Execution `e-overrides` in the test's project with node n0 running and no deck."""
    admin = real.admin
    admin.CreateTask(_in_project(helpers.task_request(), real.project))
    admin.CreateWorkflow(_in_project(helpers._workflow(), real.project))
    admin.CreateLaunchPlan(_in_project(helpers.launch_plan_request(helpers.LP), real.project))
    admin.CreateExecution(_in_project(helpers.create_request("e-overrides"), real.project))
    node = real.parse(
        engine_event_pb2.NodeExecutionEvent,
        'id { node_id: "n0" execution_id { project: "<P>" domain: "development" name: "e-overrides" } } '
        "phase: RUNNING occurred_at { seconds: 1767323045 }",
    )
    admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=node))
    yield real


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        case(
            170,
            "deck of n0 (none)",
            'artifact_type: ARTIFACT_TYPE_DECK node_execution_id { node_id: "n0" '
            'execution_id { project: "<P>" domain: "development" name: "e-overrides" } }',
            "no deckUrl found for request [artifact_type:ARTIFACT_TYPE_DECK  expires_in:{seconds:3600}  "
            'node_execution_id:{node_id:"n0"  execution_id:{project:"<P>"  domain:"development"  '
            'name:"e-overrides"}}]',
        ),
    ],
)
def test_a_node_without_a_deck_prints_the_request_with_its_defaulted_expiry(
    overrides: Real, request_text: str, message: str
) -> None:
    """validateCreateDownloadLinkRequest writes the default expiry (1h) into the request before it is printed.
    Go randomises single/double spaces in printed protobufs, so runs of spaces are compared as one."""
    request = overrides.parse(dataproxy_pb2.CreateDownloadLinkRequest, request_text)
    refused = overrides.refused("CreateDownloadLink", request)
    assert refused.code == grpc.StatusCode.NOT_FOUND
    assert re.sub(r"\s+", " ", refused.message) == re.sub(r"\s+", " ", message)


def test_a_given_expiry_is_printed_as_given(overrides: Real) -> None:
    request = overrides.parse(
        dataproxy_pb2.CreateDownloadLinkRequest,
        'artifact_type: ARTIFACT_TYPE_DECK expires_in { seconds: 90 } node_execution_id { node_id: "n0" '
        'execution_id { project: "<P>" domain: "development" name: "e-overrides" } }',
    )
    refused = overrides.refused("CreateDownloadLink", request)
    assert (refused.code, "expires_in:{seconds:90}" in refused.message) == (grpc.StatusCode.NOT_FOUND, True)
