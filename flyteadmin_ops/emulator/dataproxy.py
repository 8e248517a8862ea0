"""DataProxyService: signed upload/download URLs, and `flyte://` data lookups.

flyteadmin signs URLs of its object store; the emulator's store is a table (`storage.py`) served over its own
HTTP frontend like S3 (`object_http.py`), and its URLs are signed like flyteadmin's S3 signer signs them
(`presign.py`: path-style URLs, SigV4-shaped queries, and the `headers` stow returns, `Content-Length` of the
MD5 text included). References are split and joined with Go's URL rules (`go_url.py`), so `native_url` has
flyteadmin's content-addressed layout (section 8 of the semantics reference),
`<scheme>://<bucket>/[<prefix>/][<org>/]<project>/<domain>/<base32(md5) or filename_root>/<filename>`, and a
reference the SDK cannot sign fails with the SDK's own validation text.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import timedelta
from typing import TypeAlias, cast

import grpc
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf.duration_pb2 import Duration

from flyteadmin_ops.emulator.common import INVALID, go_text, timestamp
from flyteadmin_ops.emulator.go_url import GoURLError, construct_reference, split_reference
from flyteadmin_ops.emulator.go_url import parse as parse_url
from flyteadmin_ops.emulator.http import HttpFrontend
from flyteadmin_ops.emulator.node_executions import get_node_execution, get_node_execution_data
from flyteadmin_ops.emulator.object_http import register_object_routes
from flyteadmin_ops.emulator.presign import PresignError, presign, put_signed_headers, upload_headers
from flyteadmin_ops.emulator.registry import DATA_PROXY, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import head_object
from flyteadmin_ops.emulator.task_executions import get_task_execution_data, list_task_executions

INTERNAL = grpc.StatusCode.INTERNAL
DownloadRequest: TypeAlias = (
    dataproxy_pb2.CreateDownloadLocationRequest | dataproxy_pb2.CreateDownloadLinkRequest
)
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


# --- object store ----------------------------------------------------------------------------------------


def register_http_routes(frontend: HttpFrontend, state: EmulatorState) -> None:
    """PUT and GET on signed object URLs (emulator-core calls this when it starts the HTTP frontend)."""
    register_object_routes(frontend, state)


def stored_uri(reference: str) -> str:
    """The object a reference names in the store, keyed as S3 keys it (bucket, unescaped key)."""
    scheme, bucket, key = split_reference(reference)
    return f"{scheme}://{bucket}/{key}"


def _go_quote(text: str) -> str:
    """Go's `%q` of a string (enough for URLs: quotes, backslashes and control characters escaped)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = "".join(c if c.isprintable() else named.get(c, f"\\x{ord(c):02x}") for c in out)
    return f'"{out}"'


def upload_location(
    state: EmulatorState, project: str, domain: str, prefix: str, filename: str, org: str = ""
) -> str:
    """`createStorageLocation`: the non-empty parts under the upload storage prefix, joined and resolved
    the way flytestdlib's ConstructReference does it (Go URL rules); raises ValueError with its error."""
    keys = [UPLOAD_STORAGE_PREFIX, *(part for part in (org, project, domain, prefix, filename) if part)]
    joined = "/".join(key.strip("/") for key in keys)
    try:
        return construct_reference(state.config.storage_prefix, *keys)
    except GoURLError as error:
        raise ValueError(
            "failed to construct datastore reference. Error: Reference is of an invalid format "
            f"[{state.config.storage_prefix}]: {_parse_error(joined, error)}"
        ) from None


def _parse_error(raw: str, error: GoURLError) -> str:
    """Go's `*url.Error` text, `parse "<url>": <reason>`, naming the URL without its fragment unless it
    was the fragment that failed."""
    named = raw.partition("#")[0]
    try:
        parse_url(named)
        named = raw
    except GoURLError:
        pass
    return f"parse {_go_quote(named)}: {error}"


# --- RPCs ------------------------------------------------------------------------------------------------


@rpc(DATA_PROXY, "CreateUploadLocation")
def create_upload_location(
    state: EmulatorState, request: dataproxy_pb2.CreateUploadLocationRequest, call: CallInfo
) -> dataproxy_pb2.CreateUploadLocationResponse:
    if not request.project or not request.domain:
        raise AdminError(INVALID, "project and domain are required parameters")
    if not request.filename_root and not request.content_md5:
        raise AdminError(INVALID, "content_md5 or filename_root is a required parameter")
    md5_b64 = base64.b64encode(request.content_md5).decode()
    if request.filename and request.filename_root:
        try:
            known = upload_location(
                state, request.project, request.domain, request.filename_root, request.filename, request.org
            )
        except ValueError as error:
            raise AdminError(INTERNAL, f"failed to create storage location, Error: {error}") from None
        with state.db.read() as conn:
            existing = head_object(conn, stored_uri(known))
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
    try:
        native = upload_location(state, request.project, request.domain, prefix, filename, request.org)
    except ValueError as error:
        raise AdminError(INTERNAL, f"failed to create shardedStorageLocation, Error: {error}") from None
    add_metadata = request.add_content_md5_metadata
    url = _sign(state, "PUT", native, expires_in, put_signed_headers(md5_b64, add_metadata))
    return dataproxy_pb2.CreateUploadLocationResponse(
        signed_url=url,
        native_url=native,
        expires_at=timestamp(state.now() + expires_in),
        headers=upload_headers(md5_b64, add_metadata),
    )


def _download_expiry(state: EmulatorState, request: DownloadRequest, prefix: str) -> timedelta:
    """`validateDuration`, which also writes the defaulted expiry back into the request (flyteadmin prints
    the request, expiry included, in later messages)."""
    duration = request.expires_in if request.HasField("expires_in") else None
    try:
        expires_in = validate_expiry(duration, state.config.download_max_expiry)
    except ValueError as error:
        raise AdminError(INVALID, f"{prefix}expiresIn is invalid. Error: {error}") from None
    if duration is None:
        request.expires_in.FromTimedelta(expires_in)
    return expires_in


def _sign(
    state: EmulatorState,
    method: str,
    reference: str,
    expires_in: timedelta,
    signed_headers: dict[str, str] | None = None,
) -> str:
    try:
        return presign(state, method, reference, expires_in, signed_headers)
    except (PresignError, GoURLError) as error:
        raise AdminError(INTERNAL, f"failed to create a signed url. Error: {error}") from None


@rpc(DATA_PROXY, "CreateDownloadLocation")
def create_download_location(
    state: EmulatorState, request: dataproxy_pb2.CreateDownloadLocationRequest, call: CallInfo
) -> dataproxy_pb2.CreateDownloadLocationResponse:
    expires_in = _download_expiry(state, request, "error while validating request: ")
    try:
        parse_url(request.native_url)
    except GoURLError:
        raise AdminError(
            INVALID, f"error while validating request: failed to parse native_url [{request.native_url}]"
        ) from None
    return dataproxy_pb2.CreateDownloadLocationResponse(
        signed_url=_sign(state, "GET", request.native_url, expires_in),
        expires_at=timestamp(state.now() + expires_in),
    )


@rpc(DATA_PROXY, "CreateDownloadLink")
def create_download_link(
    state: EmulatorState, request: dataproxy_pb2.CreateDownloadLinkRequest, call: CallInfo
) -> dataproxy_pb2.CreateDownloadLinkResponse:
    validated = dataproxy_pb2.CreateDownloadLinkRequest()
    validated.CopyFrom(request)
    expires_in = _download_expiry(state, validated, "error while validating request. Error: ")
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
        raise AdminError(grpc.StatusCode.NOT_FOUND, f"no deckUrl found for request [{go_text(validated)}]")
    try:
        key = stored_uri(deck_uri)
    except GoURLError as error:
        raise AdminError(
            INTERNAL, f"failed to head object before signing url. Error: {_parse_error(deck_uri, error)}"
        ) from None
    with state.db.read() as conn:
        exists = head_object(conn, key) is not None
    if not exists:
        raise AdminError(grpc.StatusCode.NOT_FOUND, "object not found")
    url = _sign(state, "GET", deck_uri, expires_in)
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
