"""What the transport needs to know about one RPC: its path, message types and whether a resend is safe."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from google.protobuf.message import Message


@dataclass(frozen=True)
class RpcSpec:
    service: str
    """Full service name, e.g. `flyteidl.service.AdminService`."""
    method: str
    """Method name as in the proto, e.g. `CreateTask`."""
    request_type: type[Message]
    response_type: type[Message]
    retry_safe: bool
    """True when sending the same request twice cannot change the outcome (reads, deletes, idempotent
    updates, and creates that carry a client-chosen name or identifier)."""
    read_only: bool
    """Reads may also be retried after DEADLINE_EXCEEDED; writes may not (the server may still apply them)."""

    @functools.cached_property
    def path(self) -> str:
        """`/service/method`; computed once, since every call looks its multicallable up by it."""
        return f"/{self.service}/{self.method}"

    @property
    def short_service(self) -> str:
        return self.service.rsplit(".", 1)[-1]
