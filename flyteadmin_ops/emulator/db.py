"""The emulator's SQLite store: one connection, serialized access, explicit transactions.

Why one connection behind a lock: the gRPC server runs handlers on a thread pool, and flyteadmin's
semantics are read-then-write (look up the active launch plan, then swap it). Serializing every
transaction gives the same outcome as flyteadmin's row-level transactions without SQLite's
"database is locked" retries.

Durability: a file store runs in WAL mode with synchronous=NORMAL. A COMMIT has written the transaction to
the WAL (the kernel's page cache) before the handler answers, so a `kill -9` of the emulator at any moment
loses no acknowledged write and leaves a consistent file (tests/emulator/test_durability.py). What NORMAL
gives up against FULL is an fsync per commit, i.e. durability across an OS crash or power cut, which no
test models; FULL cost about 2 ms of wall time per write, all of it under the store's one lock, which made
the store the bottleneck of a concurrent registration.

Modules declare their tables with :func:`schema`; `Database` creates all of them on open.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SCHEMAS: list[str] = []


def schema(ddl: str) -> str:
    """Declare tables/indexes (idempotent DDL: `CREATE TABLE IF NOT EXISTS ...`) created on open."""
    _SCHEMAS.append(ddl)
    return ddl


class Database:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self.tx() as conn:
            for ddl in _SCHEMAS:
                _exec_script(conn, ddl)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: commits on success, rolls back on any exception (AdminError included)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (no transaction needed: the lock keeps writers out)."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _exec_script(conn: sqlite3.Connection, ddl: str) -> None:
    # executescript() would COMMIT our open transaction; run statement by statement instead.
    for statement in ddl.split(";"):
        if statement.strip():
            conn.execute(statement)
