"""DataProxyService: signed upload/download URLs served by the emulator itself, and `flyte://` data lookups.

flyteadmin signs URLs of its object store (S3, GCS); the emulator's object store is a table (`storage.py`)
and its signed URLs point at the emulator's own HTTP frontend:

    <http_base_url>/data/<scheme>/<bucket>/<key>?X-Expires=<unix>&X-Content-MD5=<base64>&X-Signature=<hex>

The signature is an HMAC-SHA256 (key `state.signing_key`) over method, path, expiry and the bound
Content-MD5, so a PUT with a tampered URL, an expired URL, or a body whose MD5 differs from the one signed is
refused like S3 refuses it (403 SignatureDoesNotMatch / AccessDenied, 400 BadDigest). `native_url` has
flyteadmin's content-addressed layout (section 8 of the semantics reference):
`<scheme>://<bucket>/[<prefix>/][<org>/]<project>/<domain>/<base32(md5) or filename_root>/<filename>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import urllib.parse
from datetime import timedelta
from typing import cast

import grpc
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf.duration_pb2 import Duration

from flyteadmin_ops.emulator.common import INVALID, go_text, timestamp
from flyteadmin_ops.emulator.http import HttpFrontend, HttpRequest, HttpResponse
from flyteadmin_ops.emulator.node_executions import get_node_execution, get_node_execution_data
from flyteadmin_ops.emulator.registry import DATA_PROXY, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import (
    get_object,
    head_object,
    join_uri,
    md5_base64,
    put_object,
    split_uri,
)
from flyteadmin_ops.emulator.task_executions import get_task_execution_data, list_task_executions

ROUTE_PREFIX = "/data/"
UPLOAD_STORAGE_PREFIX = ""  # flyteadmin `server.dataProxy.upload.storagePrefix` default
_RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_DURATION_SECONDS = 315_576_000_000  # protobuf Duration range


# --- durations as Go prints them -------------------------------------------------------------------------


def go_duration(delta: timedelta) -> str:
    """Go's `time.Duration.String()` (`1h0m0s`, `1m30s`, `1.5s`, `500ms`, `0s`)."""
    nanos = round(delta.total_seconds() * 1e9)
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos == 0:
        return "0s"
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return f"{sign}{_trim(nanos / size)}{unit}"
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = f"{_trim(rest / 1e9)}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return f"{sign}{seconds}"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def _valid_duration(duration: Duration) -> bool:
    seconds, nanos = duration.seconds, duration.nanos
    if abs(seconds) > _MAX_DURATION_SECONDS or abs(nanos) >= 1_000_000_000:
        return False
    return not ((seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0))


def _proto_text(duration: Duration) -> str:
    return (
        f"seconds:{duration.seconds} nanos:{duration.nanos}"
        if duration.nanos
        else f"seconds:{duration.seconds}"
    )


def validate_expiry(duration: Duration | None, maximum: timedelta) -> timedelta:
    """`validateDuration` of the download RPCs: absent -> max; invalid, negative or over max -> ValueError."""
    if duration is None:
        return maximum
    if not _valid_duration(duration):
        raise ValueError(f"input duration [{_proto_text(duration)}] is invalid")
    value = duration.ToTimedelta()
    if value < timedelta(0):
        raise ValueError(f"input duration [{go_duration(value)}] should not less than 0")
    if value > maximum:
        raise ValueError(
            f"input duration [{go_duration(value)}] cannot exceed max allowed expiration "
            f"[{go_duration(maximum)}]"
        )
    return value


# --- signing ---------------------------------------------------------------------------------------------


def _signature(state: EmulatorState, method: str, path: str, expires: int, content_md5: str) -> str:
    payload = f"{method}\n{path}\n{expires}\n{content_md5}".encode()
    return hmac.new(state.signing_key, payload, hashlib.sha256).hexdigest()


def _object_path(native_url: str) -> str:
    scheme, bucket, key = split_uri(native_url)
    return ROUTE_PREFIX + "/".join(urllib.parse.quote(part, safe="/") for part in (scheme, bucket, key))


def signed_url(
    state: EmulatorState, method: str, native_url: str, expires_in: timedelta, content_md5: str = ""
) -> str:
    """A URL on the emulator's HTTP frontend allowing `method` on `native_url` until now + `expires_in`."""
    path = _object_path(native_url)
    expires = int((state.now() + expires_in).timestamp())
    query = {"X-Expires": str(expires), "X-Signature": _signature(state, method, path, expires, content_md5)}
    if content_md5:
        query["X-Content-MD5"] = content_md5
    return f"{state.http_base_url}{path}?{urllib.parse.urlencode(query)}"


def _native_from_path(path: str) -> str:
    parts = urllib.parse.unquote(path[len(ROUTE_PREFIX) :]).split("/", 2)
    if len(parts) < 3 or not parts[0] or not parts[1]:
        raise ValueError(path)
    return f"{parts[0]}://{parts[1]}/{parts[2]}"


def _s3_error(status: int, code: str, message: str) -> HttpResponse:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
    body += "</Error>"
    return HttpResponse(status, body.encode(), {"Content-Type": "application/xml"})


def _authorize(state: EmulatorState, request: HttpRequest) -> tuple[str, str] | HttpResponse:
    """Check a signed URL; returns (native_url, bound Content-MD5) or the S3-style refusal."""
    query = {key: values[0] for key, values in request.query.items() if values}
    try:
        expires = int(query.get("X-Expires", ""))
        native = _native_from_path(request.path)
    except ValueError:
        return _s3_error(403, "AccessDenied", "Request is not signed")
    content_md5 = query.get("X-Content-MD5", "")
    expected = _signature(state, request.method, request.path, expires, content_md5)
    if not hmac.compare_digest(expected, query.get("X-Signature", "")):
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    if state.now().timestamp() > expires:
        return _s3_error(403, "AccessDenied", "Request has expired")
    return native, content_md5


def register_http_routes(frontend: HttpFrontend, state: EmulatorState) -> None:
    """PUT and GET on signed object URLs (emulator-core calls this when it starts the HTTP frontend)."""

    def put(request: HttpRequest) -> HttpResponse:
        checked = _authorize(state, request)
        if isinstance(checked, HttpResponse):
            return checked
        native, bound_md5 = checked
        sent_md5 = request.headers.get("content-md5", "")
        if bound_md5 and sent_md5 != bound_md5:
            return _s3_error(403, "SignatureDoesNotMatch", "Content-MD5 differs from the signed Content-MD5")
        actual = md5_base64(request.body)
        if sent_md5 and sent_md5 != actual:
            return _s3_error(400, "BadDigest", "The Content-MD5 you specified did not match what we received")
        with state.db.tx() as conn:
            put_object(conn, native, request.body, state.now())
        etag = binascii.hexlify(base64.b64decode(actual)).decode()
        return HttpResponse(200, b"", {"ETag": f'"{etag}"'})

    def get(request: HttpRequest) -> HttpResponse:
        checked = _authorize(state, request)
        if isinstance(checked, HttpResponse):
            return checked
        native, _ = checked
        with state.db.read() as conn:
            data = get_object(conn, native)
        if data is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return HttpResponse(
            200, data, {"Content-Type": "application/octet-stream", "Content-MD5": md5_base64(data)}
        )

    frontend.add_route("PUT", ROUTE_PREFIX, put)
    frontend.add_route("GET", ROUTE_PREFIX, get)


# --- RPCs ------------------------------------------------------------------------------------------------


def upload_location(
    state: EmulatorState, project: str, domain: str, prefix: str, filename: str, org: str = ""
) -> str:
    return join_uri(
        state.config.storage_prefix, UPLOAD_STORAGE_PREFIX, org, project, domain, prefix, filename
    )


@rpc(DATA_PROXY, "CreateUploadLocation")
def create_upload_location(
    state: EmulatorState, request: dataproxy_pb2.CreateUploadLocationRequest, call: CallInfo
) -> dataproxy_pb2.CreateUploadLocationResponse:
    if not request.project or not request.domain:
        raise AdminError(INVALID, "project and domain are required parameters")
    if not request.filename_root and not request.content_md5:
        raise AdminError(INVALID, "content_md5 or filename_root is a required parameter")
    md5_b64 = base64.b64encode(request.content_md5).decode() if request.content_md5 else ""
    if request.filename and request.filename_root:
        known = upload_location(
            state, request.project, request.domain, request.filename_root, request.filename, request.org
        )
        with state.db.read() as conn:
            existing = head_object(conn, known)
        if existing is not None and (not md5_b64 or md5_b64 != existing.content_md5):
            raise AdminError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"file already exists at location [{known}], specify a matching hash if you wish to rewrite",
            )
    maximum = state.config.upload_max_expiry
    if request.HasField("expires_in"):
        if not _valid_duration(request.expires_in):
            raise AdminError(INVALID, f"expiresIn [{_proto_text(request.expires_in)}] is invalid")
        expires_in = request.expires_in.ToTimedelta()
        if expires_in > maximum:
            raise AdminError(
                INVALID,
                f"expiresIn [{go_duration(expires_in)}] cannot exceed max allowed expiration "
                f"[{go_duration(maximum)}]",
            )
    else:
        expires_in = maximum
    length = state.config.upload_filename_length
    filename = request.filename or "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(length))
    prefix = request.filename_root or base64.b32encode(request.content_md5).decode()
    native = upload_location(state, request.project, request.domain, prefix, filename, request.org)
    response = dataproxy_pb2.CreateUploadLocationResponse(
        signed_url=signed_url(state, "PUT", native, expires_in, md5_b64),
        native_url=native,
        expires_at=timestamp(state.now() + expires_in),
    )
    if md5_b64:
        response.headers["Content-MD5"] = md5_b64
        if request.add_content_md5_metadata:
            response.headers["x-amz-meta-flytecontentmd5"] = request.content_md5.hex()
    return response


def _download_expiry(state: EmulatorState, request: object, prefix: str) -> timedelta:
    duration = request.expires_in if request.HasField("expires_in") else None  # type: ignore[attr-defined]
    try:
        return validate_expiry(duration, state.config.download_max_expiry)
    except ValueError as error:
        raise AdminError(INVALID, f"{prefix}expiresIn is invalid. Error: {error}") from None


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _sign_download(state: EmulatorState, native_url: str, expires_in: timedelta) -> str:
    try:
        return signed_url(state, "GET", native_url, expires_in)
    except ValueError as error:
        raise AdminError(grpc.StatusCode.INTERNAL, f"failed to create a signed url. Error: {error}") from None


@rpc(DATA_PROXY, "CreateDownloadLocation")
def create_download_location(
    state: EmulatorState, request: dataproxy_pb2.CreateDownloadLocationRequest, call: CallInfo
) -> dataproxy_pb2.CreateDownloadLocationResponse:
    expires_in = _download_expiry(state, request, "error while validating request: ")
    if _BAD_ESCAPE.search(request.native_url) or any(
        ord(c) < 0x20 or ord(c) == 0x7F for c in request.native_url
    ):
        raise AdminError(
            INVALID, f"error while validating request: failed to parse native_url [{request.native_url}]"
        )
    return dataproxy_pb2.CreateDownloadLocationResponse(
        signed_url=_sign_download(state, request.native_url, expires_in),
        expires_at=timestamp(state.now() + expires_in),
    )


@rpc(DATA_PROXY, "CreateDownloadLink")
def create_download_link(
    state: EmulatorState, request: dataproxy_pb2.CreateDownloadLinkRequest, call: CallInfo
) -> dataproxy_pb2.CreateDownloadLinkResponse:
    expires_in = _download_expiry(state, request, "error while validating request. Error: ")
    if request.artifact_type == dataproxy_pb2.ArtifactType.ARTIFACT_TYPE_UNDEFINED:
        raise AdminError(
            INVALID, "error while validating request. Error: invalid artifact type [ARTIFACT_TYPE_UNDEFINED]"
        )
    if not request.HasField("node_execution_id"):
        raise AdminError(INVALID, "error while validating request. Error: source is required. Provided nil")
    try:
        node = cast(
            node_execution_pb2.NodeExecution,
            get_node_execution(
                state, node_execution_pb2.NodeExecutionGetRequest(id=request.node_execution_id), CallInfo()
            ),
        )
    except AdminError as error:
        raise AdminError(
            INVALID,
            f"failed to find node execution [{go_text(request.node_execution_id)}]. Error: {error.message}",
        ) from None
    deck_uri = node.closure.deck_uri
    if not deck_uri:
        raise AdminError(grpc.StatusCode.NOT_FOUND, f"no deckUrl found for request [{go_text(request)}]")
    with state.db.read() as conn:
        exists = head_object(conn, deck_uri) is not None
    if not exists:
        raise AdminError(grpc.StatusCode.NOT_FOUND, "object not found")
    url = _sign_download(state, deck_uri, expires_in)
    expires_at = timestamp(state.now() + expires_in)
    return dataproxy_pb2.CreateDownloadLinkResponse(
        signed_url=[url],
        expires_at=expires_at,
        pre_signed_urls=dataproxy_pb2.PreSignedURLs(signed_url=[url], expires_at=expires_at),
    )


# --- GetData ---------------------------------------------------------------------------------------------

_SEGMENT = r"[a-zA-Z0-9_-]+"
_FLYTE_URL = re.compile(
    rf"^flyte://v1/(?P<project>{_SEGMENT})/(?P<domain>{_SEGMENT})/(?P<name>{_SEGMENT})/(?P<node>{_SEGMENT})"
    rf"(?:/(?P<attempt>[0-9]+))?/(?P<io>[iod])(?:/(?P<literal>{_SEGMENT}))?$"
)


@rpc(DATA_PROXY, "GetData")
def get_data(
    state: EmulatorState, request: dataproxy_pb2.GetDataRequest, call: CallInfo
) -> dataproxy_pb2.GetDataResponse:
    url = request.flyte_url
    if not url:
        raise AdminError(
            INVALID,
            "failed to validate resolve artifact request. Error: source is required. Provided empty string",
        )
    if not url.startswith("flyte://"):
        raise AdminError(
            INVALID,
            "failed to validate resolve artifact request. Error: request does not start with the correct "
            "prefix",
        )
    match = _FLYTE_URL.match(url)
    if match is None or (match["io"] == "d" and match["literal"]):
        raise AdminError(INVALID, f"failed to parse artifact url Error: failed to parse [{url}]")
    node_id = identifier_pb2.NodeExecutionIdentifier(
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project=match["project"], domain=match["domain"], name=match["name"]
        ),
        node_id=match["node"],
    )
    io, name = match["io"], match["literal"] or ""
    literals: literals_pb2.LiteralMap
    if match["attempt"] is None:
        if io == "d":
            link_request = dataproxy_pb2.CreateDownloadLinkRequest(
                artifact_type=dataproxy_pb2.ArtifactType.ARTIFACT_TYPE_DECK, node_execution_id=node_id
            )
            link = cast(
                dataproxy_pb2.CreateDownloadLinkResponse, create_download_link(state, link_request, call)
            )
            return dataproxy_pb2.GetDataResponse(pre_signed_urls=link.pre_signed_urls)
        node_request = node_execution_pb2.NodeExecutionGetDataRequest(id=node_id)
        node_data = cast(
            node_execution_pb2.NodeExecutionGetDataResponse,
            get_node_execution_data(state, node_request, call),
        )
        literals = node_data.full_inputs if io == "i" else node_data.full_outputs
        where = f"node execution [{go_text(node_id)}]"
    else:
        partial = identifier_pb2.TaskExecutionIdentifier(
            node_execution_id=node_id, retry_attempt=int(match["attempt"])
        )
        list_request = task_execution_pb2.TaskExecutionListRequest(
            node_execution_id=node_id, limit=1, filters=f"eq(retry_attempt,{partial.retry_attempt})"
        )
        attempts = cast(task_execution_pb2.TaskExecutionList, list_task_executions(state, list_request, call))
        if not attempts.task_executions:
            raise AdminError(INVALID, f"no task executions were listed [{go_text(partial)}]. Error: <nil>")
        if io == "d":
            raise AdminError(
                INVALID, "deck type cannot be specified with a retry attempt, just use the node instead"
            )
        task_id = attempts.task_executions[0].id
        task_request = task_execution_pb2.TaskExecutionGetDataRequest(id=task_id)
        task_data = cast(
            task_execution_pb2.TaskExecutionGetDataResponse,
            get_task_execution_data(state, task_request, call),
        )
        literals = task_data.full_inputs if io == "i" else task_data.full_outputs
        where = f"task execution [{go_text(task_id)}]"
    if name:
        if name not in literals.literals:
            raise AdminError(INVALID, f"name [{name}] not found in {where}")
        return dataproxy_pb2.GetDataResponse(literal=literals.literals[name])
    return dataproxy_pb2.GetDataResponse(literal_map=literals)
