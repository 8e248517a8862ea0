"""The latency model: a grpc.aio server on an event loop of its own thread, whose calls wait out
`latency_ms` with `asyncio.sleep` before the shared `server.processor` runs.

A real Admin behind a network keeps any number of calls in flight while each waits on the wire; a delay
that slept in one of a thread pool's workers would cap the callers' concurrency at the pool's size. Here a
delayed call is a timer on the loop, so 64 (or 6,400) callers are all delayed at once.

The handler itself runs on the loop thread, not in a pool: the store serializes every transaction behind
one lock anyway, so a pool would add a thread hand-off per call and buy no parallelism. It answers only
after its transaction committed, as in the threaded transport.

Where the CPU of a delayed call goes (GetVersion, 64 callers, instructions counted by callgrind in the
emulator process): ~556k a call, of which the handler, the auth and fault checks and the metadata are
~50k; a bare grpc.aio server answering a constant after the same sleep needs ~500k. The rest is grpc.aio's
tasks and futures (three tasks, six futures a call) and asyncio's pure-Python event loop (six loop turns a
call). Neither pre-registered methods (grpc.aio then keeps a request pending per method: ~920k) nor a
threaded server whose workers sleep (fewer instructions, but more thread switches and GIL hand-offs: more
CPU and a longer round trip) did better. The loop is the one part that can be swapped: with uvloop
installed the loop is uvloop's, and the same call takes ~390k instructions, about a fifth less CPU.
Answers, the delay and cancellation do not depend on the loop (the tests run on either).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from flyteadmin_ops.emulator.server import (
    SERVER_OPTIONS,
    Authenticator,
    Listen,
    Process,
    Refusal,
    Wrap,
    caller_metadata,
    generic_handlers,
)
from flyteadmin_ops.emulator.state import EmulatorState

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Message, Message]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when uvloop is installed (a C loop: the per-call loop turns cost a fraction of
    asyncio's), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class LatencyModel:
    """Every call waits `seconds` on the event loop. `delayed` counts the calls waiting right now (only the
    loop thread changes it; any thread may read it)."""

    def __init__(self, latency_ms: int) -> None:
        self.seconds = latency_ms / 1000
        self.delayed = 0

    async def delay(self) -> None:
        self.delayed += 1
        try:
            await asyncio.sleep(self.seconds)
        finally:  # a cancelled call (the client gave up, the server is stopping) is not delayed any more
            self.delayed -= 1


def delayed_handler(latency: LatencyModel) -> Wrap:
    def wrap(
        service: str, process: Process, unserved: bool
    ) -> Callable[[Message, Context], Awaitable[Message]]:
        async def invoke(request: Message, context: Context) -> Message:
            if unserved:  # grpc-go refuses an unregistered service before any interceptor: no delay
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"unknown service {service}")
            metadata = caller_metadata(context)
            await latency.delay()
            outcome = process(request, metadata)
            if isinstance(outcome, Refusal):
                await context.abort(outcome.code, outcome.message, outcome.trailing)
            return outcome

        return invoke

    return wrap


class DelayedServer:
    """The transport with latency. Synchronous to its owner: the Emulator's start/stop are plain calls,
    made from tests that have no event loop. A bind failure raises from the constructor, leaving no
    thread or loop behind."""

    def __init__(self, state: EmulatorState, auth: Authenticator, listen: Listen) -> None:
        self.latency = LatencyModel(state.config.latency_ms)
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="emulator-grpc-aio", daemon=True)
        self._thread.start()
        try:
            self._server, self.port = self._run(self._bind(state, auth, listen))
        except BaseException:
            self._close_loop()
            raise

    @property
    def delayed_calls(self) -> int:
        return self.latency.delayed

    async def _bind(
        self, state: EmulatorState, auth: Authenticator, listen: Listen
    ) -> tuple[grpc.aio.Server, int]:
        # created on the loop's thread: a grpc.aio server belongs to the loop it was made on
        server = grpc.aio.server(
            handlers=generic_handlers(state, auth, delayed_handler(self.latency)), options=SERVER_OPTIONS
        )
        return server, listen.bind(server)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def start(self) -> None:
        self._run(self._server.start())

    def stop(self, grace: float | None) -> None:
        """Calls in flight (delayed ones too) get `grace` seconds, then are cancelled; returns once the loop
        has ended, so the store can be closed after it."""
        try:
            self._run(self._server.stop(grace))
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
