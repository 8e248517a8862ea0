"""The emulator's object store over HTTP: signed-URL PUT and GET answered the way S3 answers them.

A signed URL is path style, `/<bucket>/<key>` (see `presign`), and names the object
`<scheme>://<bucket>/<key>` where the scheme is the configured store's (`config.storage_prefix`): whatever
scheme a reference was signed from, the store that serves the URL is that one, as with flyteadmin's single
stow location. Objects are keyed by (bucket, unescaped key), so `s3://b/a%20b` and `s3://b/a b` are one
object, as on S3.

What a PUT does, and why (the most faithful reading of what a client can observe):
- The store keeps exactly `Content-Length` bytes, as every HTTP server reads a body. A client that declares
  less than it sends (flyteadmin's `Content-Length: 24` copied onto a longer body) has its object cut to
  that length; one that declares more and stops gets 400 IncompleteBody; none at all gets 411
  MissingContentLength. Nothing is stored in either refusal.
- A `Content-MD5` that is not a base64 16-byte digest is 400 InvalidDigest; one that differs from the MD5
  of the bytes kept is 400 BadDigest (AWS S3). The truncated PUT above is therefore refused by S3, while an
  S3-compatible store that does not check digests (`config.object_store_verifies_md5=False`, the store the
  reference run used) silently keeps the cut object. Both are real; the default is S3.
- Errors carry S3's XML body (`<Error><Code>...</Code><Message>...</Message>...</Error>`), and a stored
  object answers with its ETag (the hex MD5, as for a single-part S3 upload).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import urllib.parse
from xml.sax.saxutils import escape

from flyteadmin_ops.emulator.http import HttpFrontend, HttpRequest, HttpResponse
from flyteadmin_ops.emulator.presign import verify
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import get_object, md5_base64, put_object, split_uri

ROUTE_PREFIX = "/"  # the shortest prefix: every path no other route claims is an object path


def s3_error(status: int, code: str, message: str, **details: str) -> HttpResponse:
    """S3's XML error document."""
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in details.items())
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message>{extra}</Error>"
    )
    return HttpResponse(status, body.encode(), {"Content-Type": "application/xml"})


def object_uri(state: EmulatorState, path: str) -> str | None:
    """The object a path-style URL path names (`/<bucket>/<key>`), None when it names no object."""
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        return None
    scheme = split_uri(state.config.storage_prefix)[0]
    return f"{scheme}://{urllib.parse.unquote(bucket)}/{urllib.parse.unquote(key)}"


def _checked(state: EmulatorState, request: HttpRequest) -> str | HttpResponse:
    """The object a properly signed request names, or S3's refusal. An unsigned request outside the store's
    bucket is not for the store at all (flyteadmin's own HTTP paths share this port): plain 404."""
    uri = object_uri(state, request.path)
    query = {key: values[0] for key, values in request.query.items() if values}
    bucket = split_uri(state.config.storage_prefix)[1]
    if "X-Amz-Signature" not in query and request.path.lstrip("/").partition("/")[0] != bucket:
        return HttpResponse(404, b"not found")
    refusal = verify(state, request.method, request.path, query, request.headers)
    if refusal is not None:
        return s3_error(refusal.status, refusal.code, refusal.message)
    if uri is None:
        return s3_error(400, "InvalidRequest", "A key is required.")
    return uri


def _digest(header: str) -> bytes | None:
    try:
        digest = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 16 else None


def register_object_routes(frontend: HttpFrontend, state: EmulatorState) -> None:
    """PUT and GET on signed object URLs."""

    def put(request: HttpRequest) -> HttpResponse:
        checked = _checked(state, request)
        if isinstance(checked, HttpResponse):
            return checked
        if request.content_length is None:
            return s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        if len(request.body) < request.content_length:
            return s3_error(
                400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            )
        kept = request.body
        sent_md5 = request.headers.get("content-md5")
        if sent_md5 is not None and state.config.object_store_verifies_md5:
            expected = _digest(sent_md5)
            if expected is None:
                return s3_error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
            if expected != hashlib.md5(kept).digest():
                return s3_error(
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                    ExpectedDigest=sent_md5,
                    CalculatedDigest=md5_base64(kept),
                )
        with state.db.tx() as conn:
            put_object(conn, checked, kept, state.now())
        return HttpResponse(200, b"", {"ETag": f'"{hashlib.md5(kept).hexdigest()}"'})

    def get(request: HttpRequest) -> HttpResponse:
        checked = _checked(state, request)
        if isinstance(checked, HttpResponse):
            return checked
        with state.db.read() as conn:
            data = get_object(conn, checked)
        if data is None:
            key = urllib.parse.unquote(request.path.lstrip("/").partition("/")[2])
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return HttpResponse(
            200,
            data,
            {"Content-Type": "binary/octet-stream", "ETag": f'"{hashlib.md5(data).hexdigest()}"'},
        )

    frontend.add_route("PUT", ROUTE_PREFIX, put)
    frontend.add_route("GET", ROUTE_PREFIX, get)
