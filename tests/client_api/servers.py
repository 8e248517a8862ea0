"""A real gRPC server on 127.0.0.1 that answers every method of the five Flyte services.

Its handlers are built straight from flyteidl's service descriptors (not from the client's catalog), so a
method the client forgot or misnamed shows up as a missing call or an UNIMPLEMENTED answer. Each test can
script a method's behaviour with `server.on(method, fn)`; unscripted methods answer an empty response.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from flyteidl.service import admin_pb2, auth_pb2, dataproxy_pb2, identity_pb2, signal_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

SERVICES = [
    service
    for module in (admin_pb2, dataproxy_pb2, auth_pb2, identity_pb2, signal_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
]
METHODS: list[MethodDescriptor] = [method for service in SERVICES for method in service.methods]

Behaviour = Callable[[Any, grpc.ServicerContext], Message]


@dataclass
class Call:
    method: str
    request: Any
    metadata: dict[str, str]


class RecordingServer:
    """Records (method, request) for every call; `on(method, fn)` scripts an answer."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._behaviours: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        for service in SERVICES:
            handlers = {method.name: self._handler(method) for method in service.methods}
            self._server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service.full_name, handlers),)
            )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def _handler(self, method: MethodDescriptor) -> grpc.RpcMethodHandler:
        request_type = GetMessageClass(method.input_type)
        response_type = GetMessageClass(method.output_type)

        def handle(request: Message, context: grpc.ServicerContext) -> Message:
            with self._lock:
                self.calls.append(Call(method.name, request, dict(context.invocation_metadata())))
                behaviour = self._behaviours.get(method.name)
            return behaviour(request, context) if behaviour else response_type()

        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )

    def on(self, method: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._behaviours[method] = behaviour

    def requests(self, method: str) -> list[Any]:
        with self._lock:
            return [call.request for call in self.calls if call.method == method]

    def last(self, method: str) -> Any:
        found = self.requests(method)
        assert found, f"the server saw no {method} call"
        return found[-1]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._behaviours.clear()

    def stop(self) -> None:
        self._server.stop(grace=None)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
