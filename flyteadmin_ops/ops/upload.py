"""Upload the fast-register source archive through the data proxy, and prove that the bytes arrived.

Why not PUT with the headers flyteadmin returns and trust the 200: flyteadmin's S3 signer (stow) returns
`headers` whose `Content-Length` is the length of the base64 MD5 *text* ("24", "0" without an MD5), not of
the file. A client that copies it sends `Content-Length: 24` with a longer body; the store reads 24 bytes.
AWS S3 then answers BadDigest, but an S3-compatible store that does not check digests keeps the 24 bytes and
answers 200, and every task registered after it points at a broken archive. So:

- The PUT carries the body's own `Content-Length` and `Content-MD5`. A `Content-Length` (or `Content-MD5`)
  from the server is dropped, never trusted; every other returned header is sent as given, because the
  signer bound it into the URL's signature (`x-amz-meta-flyteContentMD5`).
- After the PUT the object is read back through a signed download URL (`CreateDownloadLocation`) and its
  size and MD5 are compared with the archive's. That is the check that works on every store: a presigned
  GET URL does not allow a HEAD, and an ETag is not the MD5 under SSE-KMS or for multipart uploads. Source
  archives are small, so reading one back costs little. Signing the download URL does not look at the
  object, so with a pool it is asked for while the PUT runs: one round trip less, the read still after.
- `uploaded` therefore means the bytes are there. Anything else is `failed`, naming the archive, and
  `register` creates nothing after it (the task args would point at missing or wrong code).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flyteadmin_ops.errors import FlyteAdminError, FlyteEntityAlreadyExistsException
from flyteadmin_ops.ops.package import FastArchive
from flyteadmin_ops.ops.results import Outcome, Status

if TYPE_CHECKING:
    from flyteidl.service import dataproxy_pb2

    from flyteadmin_ops.client import SynchronousFlyteClient

UPLOAD_KIND = "source archive"
UPLOAD_TIMEOUT_SECONDS = 300.0
_ERROR_BODY_CHARS = 500
_CHUNK = 1 << 16
# Headers describing the body: ours, computed from the bytes we send, replace whatever the server returned.
_BODY_HEADERS = frozenset({"content-length", "content-md5"})


@dataclass(frozen=True)
class Upload:
    """The upload step's outcome, and the URL to substitute (None when the upload failed)."""

    outcome: Outcome
    native_url: str | None


def put_headers(location: dataproxy_pb2.CreateUploadLocationResponse, data: bytes) -> dict[str, str]:
    """The PUT's headers: the server's signed headers, with `Content-Length` and `Content-MD5` of `data`."""
    headers = {name: value for name, value in location.headers.items() if name.lower() not in _BODY_HEADERS}
    headers["Content-Length"] = str(len(data))
    headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
    return headers


def upload_fast_archive(
    client: SynchronousFlyteClient,
    project: str,
    domain: str,
    archive: FastArchive,
    pool: Executor | None = None,
    on_location: Callable[[str], None] | None = None,
    cleared: Callable[[], bool] | None = None,
) -> Upload:
    """Sign, PUT and verify the source archive; see the module docstring. With a `pool`, the download URL
    is signed during the PUT. `on_location` is told the object's URL as soon as it is known, before the
    PUT (register hydrates the package with it while the upload goes on); it does not mean uploaded.
    `cleared`, when given, is asked (and may wait) after the signing, before the PUT, the first write:
    False ends the upload there, failed, with nothing written (register signs while it still checks the
    target, and writes only once the check passed)."""

    def failed(detail: str) -> Upload:
        return Upload(Outcome(UPLOAD_KIND, archive.name, Status.FAILED, detail), None)

    try:
        location = client.get_upload_signed_url(
            project, domain, content_md5=archive.md5, filename=archive.name
        )
    except FlyteEntityAlreadyExistsException as exc:
        return failed(f"a different file already occupies the upload location: {exc.server_message}")
    except FlyteAdminError as exc:
        return failed(str(exc))
    if on_location is not None:
        on_location(location.native_url)
    link = pool.submit(client.get_download_signed_url, location.native_url) if pool is not None else None
    if cleared is not None and not cleared():
        return failed("not uploaded: the target check failed")
    problem = put_archive(location, archive.data) or verify_stored(client, location.native_url, archive, link)
    if problem is not None:
        return failed(problem)
    return Upload(
        Outcome(UPLOAD_KIND, archive.name, Status.UPLOADED, location.native_url), location.native_url
    )


def put_archive(location: dataproxy_pb2.CreateUploadLocationResponse, data: bytes) -> str | None:
    """PUT `data` to the signed URL; None when the store accepted it, else what went wrong."""
    request = urllib.request.Request(
        location.signed_url, data=data, method="PUT", headers=put_headers(location, data)
    )
    try:
        with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read(_ERROR_BODY_CHARS).decode(errors="replace")
        return f"PUT to the signed URL answered HTTP {exc.code} {exc.reason}: {body}".strip()
    except (urllib.error.URLError, OSError) as exc:
        return f"PUT failed: {exc}"
    return None


def verify_stored(
    client: SynchronousFlyteClient,
    native_url: str,
    archive: FastArchive,
    signed: Future[dataproxy_pb2.CreateDownloadLocationResponse] | None = None,
) -> str | None:
    """Read the object back through a signed download URL (`signed`: one already asked for); None when
    it is exactly the archive."""
    try:
        link = signed.result() if signed is not None else client.get_download_signed_url(native_url)
    except FlyteAdminError as exc:
        return f"uploaded, but the stored object could not be checked (no download URL): {exc}"
    digest = hashlib.md5()
    size = 0
    try:
        with urllib.request.urlopen(link.signed_url, timeout=UPLOAD_TIMEOUT_SECONDS) as response:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as exc:
        body = exc.read(_ERROR_BODY_CHARS).decode(errors="replace")
        return f"uploaded, but reading it back answered HTTP {exc.code} {exc.reason}: {body}".strip()
    except (urllib.error.URLError, OSError) as exc:
        return f"uploaded, but reading it back failed: {exc}"
    if size != len(archive.data) or digest.digest() != archive.md5:
        return (
            f"the store kept {size} bytes (md5 {digest.hexdigest()}) at {native_url}, "
            f"not the archive's {len(archive.data)} bytes (md5 {archive.md5.hex()})"
        )
    return None
