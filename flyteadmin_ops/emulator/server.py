"""The gRPC face of the emulator: generic handlers for the five flyteidl services, built from the registry.

One wrapper does, for every RPC, what flyteadmin's interceptors and `TransformAndRecordError` do: bearer-token
auth (AuthMetadataService stays open so clients can discover), the AdminError -> status mapping with details
packed as `google.rpc.Status` in `grpc-status-details-bin`, INTERNAL for anything else, messages cut at 32000
bytes. It also injects the emulator's knobs: `latency_ms` per call, and `fault_rate` UNAVAILABLE failures,
half before the handler runs and half after its transaction committed (a seeded RNG keeps tests repeatable).

Without auth options, flyteadmin registers neither AuthMetadataService nor IdentityService
(`server/service.go` does so only under `security.useAuth`), so grpc-go answers their RPCs UNIMPLEMENTED
`unknown service <name>` before any interceptor runs; the wrapper answers the same.
"""

from __future__ import annotations

import hmac
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from flyteidl.service import admin_pb2, auth_pb2, dataproxy_pb2, identity_pb2, signal_pb2
from google.protobuf import any_pb2, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import status_pb2

from flyteadmin_ops.emulator.registry import AUTH_METADATA, HANDLERS, IDENTITY, AdminError, CallInfo
from flyteadmin_ops.emulator.state import EmulatorState

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32000
SERVICES: tuple[ServiceDescriptor, ...] = tuple(
    service
    for module in (admin_pb2, dataproxy_pb2, auth_pb2, identity_pb2, signal_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
)
AUTH_HEADERS = ("authorization", "flyte-authorization")
AUTH_ONLY_SERVICES = frozenset({AUTH_METADATA, IDENTITY})


def truncate(message: str) -> str:
    encoded = message.encode()
    return (
        message if len(encoded) <= MAX_MESSAGE_BYTES else encoded[:MAX_MESSAGE_BYTES].decode(errors="ignore")
    )


def status_details(code: grpc.StatusCode, message: str, details: list[Message]) -> bytes:
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status.SerializeToString()


class Authenticator:
    """Valid bearer tokens: the configured static token and tokens issued by the OAuth2 token endpoint."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._issued: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, subject: str) -> tuple[str, int]:
        import secrets

        token = secrets.token_urlsafe(32)
        lifetime = int(self._state.config.token_lifetime.total_seconds())
        now = self._state.now().timestamp()  # the emulator's clock, so tests can make tokens expire
        with self._lock:
            # drop expired tokens, so a long-running emulator that keeps issuing does not grow without bound
            self._issued = {t: issued for t, issued in self._issued.items() if issued[1] > now}
            self._issued[token] = (subject, now + lifetime)
        return token, lifetime

    def principal(self, metadata: dict[str, str]) -> str | None:
        """The caller's identity, or None when the call carries no valid bearer token."""
        for header in AUTH_HEADERS:
            value = metadata.get(header, "")
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token:
                continue
            static = self._state.config.auth_token
            if static and hmac.compare_digest(token.encode(), static.encode()):  # no timing side channel
                return "static-token"
            with self._lock:
                issued = self._issued.get(token)
            if issued and issued[1] > self._state.now().timestamp():
                return issued[0]
        return None


class Faults:
    """Seeded fault injection: decides per call whether to fail before, after, or not at all."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> str:
        if self.rate <= 0:
            return ""
        with self._lock:
            hit = self._random.random() < self.rate
            when = "before" if self._random.random() < 0.5 else "after"
        return when if hit else ""


def _wrap(
    state: EmulatorState, service: str, method: str, auth: Authenticator, faults: Faults
) -> Callable[..., Any]:
    key = (service, method)

    def invoke(request: Message, context: grpc.ServicerContext) -> Message:
        if service in AUTH_ONLY_SERVICES and not state.config.auth_enabled:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"unknown service {service}")
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        if state.config.latency_ms:
            time.sleep(state.config.latency_ms / 1000)  # models a remote Admin's round trip
        principal = ""
        if state.config.auth_enabled and service != AUTH_METADATA:
            found = auth.principal(metadata)
            if found is None:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "Request unauthenticated with bearer token")
            principal = found or ""
        fault = faults.draw()
        if fault == "before":
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected fault before processing")
        handler = HANDLERS.get(key)
        if handler is None:
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED, f"{service}/{method} is not implemented by the emulator"
            )
        try:
            response = handler(state, request, CallInfo(principal=principal, metadata=metadata))
        except AdminError as error:
            message = truncate(error.message)
            # `TransformAndRecordError` rebuilds a truncated error from code and message: its details go.
            if error.details and message == error.message:
                context.set_trailing_metadata(
                    (("grpc-status-details-bin", status_details(error.code, message, error.details)),)
                )
            context.abort(error.code, message)
        except Exception as error:  # flyteadmin: any non-admin error becomes INTERNAL
            log.exception("emulator handler %s/%s failed", service, method)
            context.abort(grpc.StatusCode.INTERNAL, truncate(f"{type(error).__name__}: {error}"))
        if fault == "after":
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected fault after processing")
        return response

    return invoke


def generic_handlers(state: EmulatorState, auth: Authenticator) -> list[grpc.GenericRpcHandler]:
    faults = Faults(state.config.fault_rate, state.config.seed)
    handlers = []
    for service in SERVICES:
        methods = {}
        for method in service.methods:
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            methods[method.name] = grpc.unary_unary_rpc_method_handler(
                _wrap(state, service.full_name, method.name, auth, faults),
                request_deserializer=request_class.FromString,
                response_serializer=response_class.SerializeToString,
            )
        handlers.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return handlers


def build_server(
    state: EmulatorState,
    auth: Authenticator,
    address: str,
    *,
    tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
    max_workers: int = 16,
) -> tuple[grpc.Server, int]:
    """A started-ready (not started) server bound to `address`; returns it with the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="emulator-grpc"),
        handlers=generic_handlers(state, auth),
        options=[("grpc.so_reuseport", 0)],
    )
    if tls_cert is not None and tls_key is not None:
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(tls_key, tls_cert)]))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind the gRPC server to {address}")
    return server, port


def unimplemented() -> list[str]:
    """RPCs of the five services without a registered handler (the goal: none)."""
    return [
        f"{service.full_name}/{method.name}"
        for service in SERVICES
        for method in service.methods
        if (service.full_name, method.name) not in HANDLERS
    ]
