"""A real gRPC server in front of the emulator, for tests that must see or bend the traffic.

It forwards every call byte for byte (status details included), records each call with its start and end
time, counts calls in flight, and lets a test replace one method's answer (`server.on("UpdateLaunchPlan",
fn)`). Tests use it to prove what the client sent (no write RPC in a dry run, never more than N creates
in flight) and to make the server fail on purpose where the emulator would not (an activation that cannot
be verified), without mocking our own client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc

Forward = Callable[[bytes], bytes]
"""Sends request bytes on to the emulator and returns its answer's bytes."""
# (request bytes, context, forward) -> response bytes; `forward(request)` calls the emulator.
Override = Callable[[bytes, grpc.ServicerContext, Forward], bytes]

WRITE_PREFIXES = ("Create", "Update", "Delete", "Register", "Relaunch", "Recover", "Terminate", "Set")


@dataclass(frozen=True)
class Call:
    method: str  # short name, e.g. "CreateTask"
    request: bytes
    started: float
    ended: float
    code: grpc.StatusCode


class AdminProxy(grpc.GenericRpcHandler):
    def __init__(self, upstream: str) -> None:
        self._channel = grpc.insecure_channel(upstream)
        self._lock = threading.Condition()
        self._overrides: dict[str, Override] = {}
        self.calls: list[Call] = []
        self._active: dict[str, int] = {}
        self.peak_in_flight: dict[str, int] = {}
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        self._server.add_generic_rpc_handlers((self,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> AdminProxy:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop(None).wait()
        self._channel.close()

    def on(self, method: str, override: Override | None) -> None:
        """Answer `method` (short name) with `override` from now on; None restores plain forwarding."""
        with self._lock:
            if override is None:
                self._overrides.pop(method, None)
            else:
                self._overrides[method] = override

    def methods(self) -> list[str]:
        with self._lock:
            return [call.method for call in self.calls]

    def writes(self) -> list[str]:
        return [m for m in self.methods() if m.startswith(WRITE_PREFIXES)]

    def wait_for_call(self, method: str, timeout: float) -> bool:
        """Block the calling handler until a call of `method` has arrived (in flight or answered), or
        `timeout` passes. Used from an override to hold an answer until the client sent something else."""
        with self._lock:
            return self._lock.wait_for(
                lambda: self._active.get(method, 0) > 0 or any(c.method == method for c in self.calls),
                timeout=timeout,
            )

    def wait_for_in_flight(self, method: str, count: int, timeout: float) -> bool:
        """Block the calling handler until `count` calls of `method` are in flight, or `timeout` passes.
        Used from an override to hold calls together, so real concurrency becomes observable."""
        deadline = time.monotonic() + timeout
        with self._lock:
            return self._lock.wait_for(
                lambda: self._active.get(method, 0) >= count, timeout=max(0.0, deadline - time.monotonic())
            )

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        path = handler_call_details.method
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self._handle(path, request, context)
        )

    def _forward(self, path: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        call = self._channel.unary_unary(path)
        metadata = tuple((m.key, m.value) for m in context.invocation_metadata())
        response: bytes = call(request, metadata=metadata, timeout=30)
        return response

    def _handle(self, path: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        method = path.rsplit("/", 1)[-1]
        with self._lock:
            self._active[method] = self._active.get(method, 0) + 1
            self.peak_in_flight[method] = max(self.peak_in_flight.get(method, 0), self._active[method])
            self._lock.notify_all()
            override = self._overrides.get(method)
        started = time.monotonic()
        code = grpc.StatusCode.OK
        try:
            if override is not None:
                return override(request, context, lambda req: self._forward(path, req, context))
            return self._forward(path, request, context)
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            context.set_trailing_metadata(exc.trailing_metadata() or ())  # type: ignore[attr-defined]
            context.abort(code, exc.details())  # type: ignore[attr-defined]
            raise  # unreachable: abort raises
        finally:
            with self._lock:
                self._active[method] -= 1
                self.calls.append(Call(method, request, started, time.monotonic(), code))
                self._lock.notify_all()
