"""The storage signer behind the data proxy: what flyteadmin's S3 stow container signs, and how it is checked.

What flyteadmin v1.16.8 does (flytestdlib `StowStore.CreateSignedURL` -> stow `s3.container.PreSignRequest`
-> aws-sdk-go `Presign`), and the emulator with it:
- A reference is split Go's way (`DataReference.Split`: host = bucket, path trimmed of `/` = key). The SDK
  validates the input before signing, so an empty bucket or key fails with its own text (`InvalidParameter:
  2 validation error(s) found.` then `- minimum field size of 1, GetObjectInput.Bucket.`, one line each).
- The URL is path style on the store's endpoint (`http://<endpoint>/<bucket>/<key>`, the key escaped as the
  SDK escapes it) with a SigV4 presign query (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
  `X-Amz-Expires`, `X-Amz-SignedHeaders`, then `X-Amz-Signature`). Here the store is the emulator's own HTTP
  frontend (or `config.signed_url_endpoint`, flyteadmin's `signedUrl.stowConfigOverride.endpoint`).
- For a PUT, stow returns "required request headers": `Content-Length` = the length of the base64 MD5
  *text* (`"24"`, `"0"` without an MD5: a stow bug, not the body's length), `Content-MD5` (empty without an
  MD5), and with `add_content_md5_metadata` also `x-amz-meta-flyteContentMD5`. `Content-MD5` (when given)
  and the metadata header are signed headers: a PUT must carry them with exactly those values.

The signature is an HMAC-SHA256 (key `state.signing_key`) over the method, the path, the query and the signed
headers' values: a tampered URL, a pushed-back expiry or a different signed header is refused with S3's 403
SignatureDoesNotMatch. The host is listed as signed but not checked, so a URL keeps working through a proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flyteadmin_ops.emulator.go_url import split_reference
from flyteadmin_ops.emulator.state import EmulatorState

FLYTE_CONTENT_MD5 = "flyteContentMD5"  # stow.FlyteContentMD5, the metadata key of the uploaded MD5
METADATA_HEADER = f"x-amz-meta-{FLYTE_CONTENT_MD5}"
ALGORITHM = "AWS4-HMAC-SHA256"
ACCESS_KEY = "flyteadmin-emulator"
REGION = "us-east-1"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SIGNATURE = "X-Amz-Signature"


class PresignError(ValueError):
    """The SDK refused to sign (its message is what flyteadmin wraps in `failed to create a signed url`)."""


def upload_headers(content_md5: str, add_metadata: bool) -> dict[str, str]:
    """stow's `RequiredRequestHeaders` for a PUT, as flyteadmin returns them in `headers`."""
    headers = {"Content-Length": str(len(content_md5)), "Content-MD5": content_md5}
    if add_metadata:
        headers[METADATA_HEADER] = content_md5
    return headers


def put_signed_headers(content_md5: str, add_metadata: bool) -> dict[str, str]:
    """The headers the SDK binds into a PUT's signature (lower-cased names): an empty MD5 is not sent."""
    signed = {"content-md5": content_md5} if content_md5 else {}
    if add_metadata:
        signed[METADATA_HEADER.lower()] = content_md5
    return signed


def object_key(reference: str) -> tuple[str, str]:
    """(bucket, key) of a storage reference as the signer splits it; PresignError as the SDK validates."""
    _, bucket, key = split_reference(reference)
    return bucket, key


def presign(
    state: EmulatorState,
    method: str,
    reference: str,
    expires_in: timedelta,
    signed_headers: Mapping[str, str] | None = None,
) -> str:
    """A signed URL allowing `method` (GET or PUT) on `reference` for `expires_in`."""
    bucket, key = object_key(reference)
    operation = "PutObjectInput" if method == "PUT" else "GetObjectInput"
    fields = (("Bucket", bucket), ("Key", key))
    problems = [f"minimum field size of 1, {operation}.{name}." for name, value in fields if not value]
    if problems:
        lines = "".join(f"- {problem}\n" for problem in problems)
        raise PresignError(f"InvalidParameter: {len(problems)} validation error(s) found.\n{lines}")
    path = f"/{urllib.parse.quote(bucket, safe='')}/{urllib.parse.quote(key, safe='/')}"
    headers = {name.lower(): value for name, value in (signed_headers or {}).items()}
    now = state.now().astimezone(timezone.utc)
    query = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{ACCESS_KEY}/{now:%Y%m%d}/{REGION}/s3/aws4_request",
        "X-Amz-Date": now.strftime(_DATE_FORMAT),
        "X-Amz-Expires": str(int(expires_in.total_seconds())),
        "X-Amz-SignedHeaders": ";".join(sorted({"host", *headers})),
    }
    signature = _signature(state, method, path, query, headers)
    endpoint = state.config.signed_url_endpoint or state.http_base_url
    return f"{endpoint.rstrip('/')}{path}?{urllib.parse.urlencode(query)}&{_SIGNATURE}={signature}"


def _signature(
    state: EmulatorState, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str:
    canonical_query = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in sorted(headers))
    payload = f"{method}\n{path}\n{canonical_query}\n{canonical_headers}".encode()
    return hmac.new(state.signing_key, payload, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Refusal:
    """Why S3 refuses a presigned request: HTTP status, S3 error code and message."""

    status: int
    code: str
    message: str


def verify(
    state: EmulatorState, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> Refusal | None:
    """None when `method` on `path` with this query and these (lower-cased) headers is properly signed and
    not expired; otherwise S3's refusal. The signed headers' values are taken from the request itself, so a
    missing or different `Content-MD5` or metadata header breaks the signature, as on S3."""
    if _SIGNATURE not in query:
        return Refusal(403, "AccessDenied", "Access Denied")
    try:
        signed_at = datetime.strptime(query.get("X-Amz-Date", ""), _DATE_FORMAT).replace(tzinfo=timezone.utc)
        expires = int(query.get("X-Amz-Expires", ""))
    except ValueError:
        return Refusal(400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
    names = [name for name in query.get("X-Amz-SignedHeaders", "").split(";") if name and name != "host"]
    unsigned = {key: value for key, value in query.items() if key != _SIGNATURE}
    sent = {name: headers.get(name, "") for name in names}
    expected = _signature(state, method, path, unsigned, sent)
    if not hmac.compare_digest(expected, query[_SIGNATURE]):
        return Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    if state.now() > signed_at + timedelta(seconds=expires):
        return Refusal(403, "AccessDenied", "Request has expired")
    return None
