"""The gRPC face of the emulator: generic handlers for the five flyteidl services, built from the registry.

One function (`processor`) does, for every RPC, what flyteadmin's interceptors and `TransformAndRecordError`
do: bearer-token auth (AuthMetadataService stays open so clients can discover), the AdminError -> status
mapping with details packed as `google.rpc.Status` in `grpc-status-details-bin`, INTERNAL for anything else,
messages cut at 32000 bytes. It also injects `fault_rate` UNAVAILABLE failures, half before the handler runs
and half after its transaction committed (a seeded RNG keeps tests repeatable). A handler answers only after
its transaction committed, so an acknowledged write survives a `kill -9`.

Two transports put it on the wire (`build_server` picks): grpc's threaded server when there is no latency,
and, with `latency_ms`, a grpc.aio server (`latency.py`) that delays each call on an event loop without
holding a thread, so the delay caps no caller's concurrency (a sleeping worker thread would: 16 at a time).

Without auth options, flyteadmin registers neither AuthMetadataService nor IdentityService
(`server/service.go` does so only under `security.useAuth`), so grpc-go answers their RPCs UNIMPLEMENTED
`unknown service <name>` before any interceptor runs; the wrapper answers the same.
"""

from __future__ import annotations

import hmac
import logging
import random
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Protocol

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


@dataclass(frozen=True)
class Refusal:
    """A call's failure as it goes on the wire: status code, message, and trailing metadata."""

    code: grpc.StatusCode
    message: str
    trailing: tuple[tuple[str, bytes], ...] = ()


Process = Callable[[Message, dict[str, str]], Message | Refusal]
"""One RPC's whole server-side behaviour: (request, caller's text headers) -> response or refusal."""
Wrap = Callable[[str, Process, bool], Callable[..., Any]]
"""How a transport turns (service, process, unserved) into the function grpc calls for one RPC."""


def processor(
    state: EmulatorState, service: str, method: str, auth: Authenticator, faults: Faults
) -> Process:
    """What flyteadmin's interceptors and handler do for one RPC, as a plain function of the request and the
    caller's metadata: auth, injected faults, the handler, and the error mapping. Both transports (threaded,
    and the delayed one in `latency.py`) run exactly this, so they cannot answer differently."""
    key = (service, method)

    def process(request: Message, metadata: dict[str, str]) -> Message | Refusal:
        principal = ""
        if state.config.auth_enabled and service != AUTH_METADATA:
            found = auth.principal(metadata)
            if found is None:
                return Refusal(grpc.StatusCode.UNAUTHENTICATED, "Request unauthenticated with bearer token")
            principal = found
        fault = faults.draw()
        if fault == "before":
            return Refusal(grpc.StatusCode.UNAVAILABLE, "injected fault before processing")
        handler = HANDLERS.get(key)
        if handler is None:
            return Refusal(
                grpc.StatusCode.UNIMPLEMENTED, f"{service}/{method} is not implemented by the emulator"
            )
        try:
            response = handler(state, request, CallInfo(principal=principal, metadata=metadata))
        except AdminError as error:
            message = truncate(error.message)
            # `TransformAndRecordError` rebuilds a truncated error from code and message: its details go.
            if error.details and message == error.message:
                details = status_details(error.code, message, error.details)
                return Refusal(error.code, message, (("grpc-status-details-bin", details),))
            return Refusal(error.code, message)
        except Exception as error:  # flyteadmin: any non-admin error becomes INTERNAL
            log.exception("emulator handler %s/%s failed", service, method)
            return Refusal(grpc.StatusCode.INTERNAL, truncate(f"{type(error).__name__}: {error}"))
        if fault == "after":
            return Refusal(grpc.StatusCode.UNAVAILABLE, "injected fault after processing")
        return response

    return process


def caller_metadata(context: grpc.ServicerContext | grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    """The text headers of a call (binary `-bin` headers carry nothing a handler reads)."""
    return {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}


def threaded_handler(
    service: str, process: Process, unserved: bool
) -> Callable[[Message, grpc.ServicerContext], Message]:
    def invoke(request: Message, context: grpc.ServicerContext) -> Message:
        if unserved:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"unknown service {service}")
        outcome = process(request, caller_metadata(context))
        if isinstance(outcome, Refusal):
            if outcome.trailing:
                context.set_trailing_metadata(outcome.trailing)
            context.abort(outcome.code, outcome.message)
        return outcome

    return invoke


def generic_handlers(state: EmulatorState, auth: Authenticator, wrap: Wrap) -> list[grpc.GenericRpcHandler]:
    """The five services' method tables, every RPC through `processor` and the transport's `wrap`."""
    faults = Faults(state.config.fault_rate, state.config.seed)
    handlers = []
    for service in SERVICES:
        unserved = service.full_name in AUTH_ONLY_SERVICES and not state.config.auth_enabled
        methods = {}
        for method in service.methods:
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            process = processor(state, service.full_name, method.name, auth, faults)
            methods[method.name] = grpc.unary_unary_rpc_method_handler(
                wrap(service.full_name, process, unserved),
                request_deserializer=request_class.FromString,
                response_serializer=response_class.SerializeToString,
            )
        handlers.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return handlers


SERVER_OPTIONS = [("grpc.so_reuseport", 0)]  # a second emulator on a busy port must fail, not share it


@dataclass(frozen=True)
class Listen:
    """Where a transport listens: the address, and a PEM certificate and key for TLS (both or neither)."""

    address: str
    tls_cert: bytes | None = None
    tls_key: bytes | None = None

    def bind(self, server: grpc.Server | grpc.aio.Server) -> int:
        """Add the port to `server`; the port bound (for an address ending in :0, the one chosen)."""
        if self.tls_cert is not None and self.tls_key is not None:
            credentials = grpc.ssl_server_credentials([(self.tls_key, self.tls_cert)])
            port = server.add_secure_port(self.address, credentials)
        else:
            port = server.add_insecure_port(self.address)
        if port == 0:
            raise OSError(f"could not bind the gRPC server to {self.address}")
        return port


class GrpcServer(Protocol):
    """What the Emulator needs of a transport: the bound port, start, stop, and the delayed-call count."""

    port: int

    @property
    def delayed_calls(self) -> int: ...

    def start(self) -> None: ...

    def stop(self, grace: float | None) -> None: ...


class ThreadedServer:
    """The transport without latency: grpc's threaded server, each call handled on a worker thread."""

    delayed_calls = 0

    def __init__(self, state: EmulatorState, auth: Authenticator, listen: Listen) -> None:
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="emulator-grpc"),
            handlers=generic_handlers(state, auth, threaded_handler),
            options=SERVER_OPTIONS,
        )
        self.port = listen.bind(self._server)

    def start(self) -> None:
        self._server.start()

    def stop(self, grace: float | None) -> None:
        self._server.stop(grace).wait()


def build_server(state: EmulatorState, auth: Authenticator, listen: Listen) -> GrpcServer:
    """A bound, not yet started server. With latency, the asyncio transport (`latency.py`), whose delays
    hold no thread; without, grpc's threaded server, which costs a quarter less CPU per call than
    grpc.aio's (measured on GetVersion/GetTask: about 100 us a call), so the no-latency emulator that
    nearly every test and the RPS benchmark use stays as fast as it was."""
    if state.config.latency_ms:
        from flyteadmin_ops.emulator.latency import DelayedServer

        return DelayedServer(state, auth, listen)
    return ThreadedServer(state, auth, listen)


def unimplemented() -> list[str]:
    """RPCs of the five services without a registered handler (the goal: none)."""
    return [
        f"{service.full_name}/{method.name}"
        for service in SERVICES
        for method in service.methods
        if (service.full_name, method.name) not in HANDLERS
    ]
