"""The emulator's object store: what flyteadmin keeps in S3/GCS, kept in an SQLite table.

Why a table and not a folder: the store must survive restarts with the rest of the state and stay
consistent with it after a `kill -9` (one file, one transaction log), and uploads through signed URLs,
execution inputs and event outputs must be visible to the same transaction that records the execution.

Keys are full URIs (`s3://my-s3-bucket/metadata/<project>/<domain>/<name>/inputs`), the layout flyteadmin
uses, so a client that prints or parses a native URL sees what a real deployment would give it.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

from flyteidl.core import literals_pb2

from flyteadmin_ops.emulator.common import db_time
from flyteadmin_ops.emulator.db import schema

schema(
    """
    CREATE TABLE IF NOT EXISTS objects (
        uri TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        content_md5 TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """
)


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD on the object store tells: size and the base64 MD5 stored with the object."""

    uri: str
    size: int
    content_md5: str
    created_at: str


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def put_object(conn: sqlite3.Connection, uri: str, data: bytes, now: datetime | None = None) -> ObjectInfo:
    """Write (or overwrite) one object, recording its MD5 as S3 records `Content-MD5`."""
    created = db_time(now or datetime.now(timezone.utc))
    digest = md5_base64(data)
    conn.execute(
        "INSERT INTO objects (uri, data, content_md5, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(uri) DO UPDATE SET data = excluded.data, content_md5 = excluded.content_md5, "
        "created_at = excluded.created_at",
        (uri, data, digest, created),
    )
    return ObjectInfo(uri, len(data), digest, created)


def head_object(conn: sqlite3.Connection, uri: str) -> ObjectInfo | None:
    row = conn.execute(
        "SELECT uri, length(data) AS size, content_md5, created_at FROM objects WHERE uri = ?", (uri,)
    ).fetchone()
    if row is None:
        return None
    return ObjectInfo(row["uri"], row["size"], row["content_md5"], row["created_at"])


def get_object(conn: sqlite3.Connection, uri: str) -> bytes | None:
    row = conn.execute("SELECT data FROM objects WHERE uri = ?", (uri,)).fetchone()
    return None if row is None else bytes(row["data"])


def put_literal_map(
    conn: sqlite3.Connection, uri: str, literals: literals_pb2.LiteralMap, now: datetime | None = None
) -> str:
    """Offload a LiteralMap as flyteadmin does (serialized protobuf at `uri`); returns the URI."""
    put_object(conn, uri, literals.SerializeToString(deterministic=True), now)
    return uri


def get_literal_map(conn: sqlite3.Connection, uri: str) -> literals_pb2.LiteralMap:
    """Read an offloaded LiteralMap; an absent object or empty URI reads as an empty map.

    flyteadmin only logs a failed read in GetExecutionData and answers with an empty map, so callers that
    mirror that behaviour need no error path here.
    """
    result = literals_pb2.LiteralMap()
    if uri:
        data = get_object(conn, uri)
        if data:
            result.ParseFromString(data)
    return result


def join_uri(base: str, *parts: str) -> str:
    """`<base>/<part>/<part>...` with empty parts dropped, as flyteadmin's ConstructReference does.

    `base` is the container, e.g. `s3://my-s3-bucket` (the emulator's `config.storage_prefix`).
    """
    return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts if part)])


def split_uri(uri: str) -> tuple[str, str, str]:
    """`s3://bucket/key/x` -> (`s3`, `bucket`, `key/x`); raises ValueError for anything else."""
    scheme, sep, rest = uri.partition("://")
    if not sep or not scheme or not rest:
        raise ValueError(f"not a storage URI: {uri!r}")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"storage URI without a bucket: {uri!r}")
    return scheme, bucket, key
