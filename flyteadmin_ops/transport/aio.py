"""`AsyncTransport`: the sync Transport's rules for `grpc.aio`, so asyncio code needs no thread per call.

flytekit has no asyncio client; its users push blocking calls through `run_in_executor`, one thread per
call in flight. Here a call is a coroutine on a `grpc.aio` channel, and everything that decides how it is
sent is shared with the sync `Transport` rather than rewritten: the channel recipe (credentials and
options), `CallPlan` (metadata, auth header, the one refresh on UNAUTHENTICATED), `RetryPolicy`
(`run_async`: the same predicate, delays and overall deadline) and `from_rpc_error` (an `AioRpcError` is a
`grpc.RpcError` with the same accessors). Token providers are the sync ones; their `token()` may block
(an HTTP fetch, a command), so it runs in a worker thread and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import Message

from flyteadmin_ops.errors import FlyteAdminError, from_rpc_error, looks_like_closed_socket
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport.auth import TokenProvider
from flyteadmin_ops.transport.channel import channel_recipe, explain_failure
from flyteadmin_ops.transport.retry import RetryPolicy
from flyteadmin_ops.transport.rpc import RpcSpec
from flyteadmin_ops.transport.transport import CallPlan, Metadata, _Auth, _Outgoing, settle_auth


class AsyncTransport:
    """Sends unary Admin RPCs as coroutines over one `grpc.aio` channel; share it between coroutines of
    ONE event loop (a grpc.aio channel belongs to the loop it was opened in).

    The channel is opened on the first call, inside the running loop, so the transport may be built
    before `asyncio.run`; certificates are read at construction, so a bad file fails at once. Pass
    `channel` to use a `grpc.aio` channel you made (it is then yours to close), and `token_provider` to
    authenticate with a provider of your own instead of the one `settings.auth_mode` selects.
    """

    def __init__(
        self,
        settings: AdminSettings,
        *,
        channel: grpc.aio.Channel | None = None,
        token_provider: TokenProvider | None = None,
    ) -> None:
        self.settings = settings
        self.retry_policy = RetryPolicy.from_settings(settings)
        self._owns_channel = channel is None
        self._recipe = channel_recipe(settings) if channel is None else None
        self._channel = channel
        self._methods: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}
        self._custom_provider = token_provider
        self._auth: _Auth | None = None
        self._auth_settled = False
        self._auth_lock = asyncio.Lock()
        self._closed = False

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel, opened in the running event loop if this is its first use."""
        if self._channel is None:
            assert self._recipe is not None
            self._channel = self._recipe.open(grpc.aio.insecure_channel, grpc.aio.secure_channel)
        return self._channel

    async def call(
        self,
        spec: RpcSpec,
        request: Message,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
    ) -> Message:
        """Send `request`, resending per the retry policy; raises a flyteadmin_ops.errors class on failure.

        `timeout` bounds each attempt (default settings.deadline_seconds); settings.retry_deadline_seconds
        bounds all attempts together.
        """
        return await self._call(spec, request, timeout=timeout, metadata=metadata, authenticate=True)

    async def _call(
        self,
        spec: RpcSpec,
        request: Message,
        *,
        timeout: float | None,
        metadata: Metadata,
        authenticate: bool,
    ) -> Message:
        if self._closed:
            raise RuntimeError("AsyncTransport is closed")
        auth = await self._settle_auth() if authenticate else None
        plan = CallPlan(self.settings, spec, timeout, metadata, auth)

        async def attempt(deadline: float) -> Message:
            ends = time.monotonic() + deadline  # refresh and resend share the attempt's deadline
            headers, token = await _off_loop(auth, plan.headers)
            try:
                return await self._send(plan.rpc, spec, request, ends - time.monotonic(), headers)
            except FlyteAdminError as error:
                again = await _off_loop(auth, plan.after_rejection, error, token)
                if again is None:
                    raise
                return await self._send(plan.rpc, spec, request, ends - time.monotonic(), again)

        return await self.retry_policy.run_async(plan.rpc, spec, attempt, plan.per_attempt)

    async def _send(
        self, rpc: str, spec: RpcSpec, request: Message, timeout: float, metadata: _Outgoing
    ) -> Message:
        try:
            response: Message = await self._method(spec)(
                request, timeout=max(timeout, 0.0), metadata=metadata
            )
        except grpc.RpcError as exc:  # grpc.aio.AioRpcError
            error = from_rpc_error(rpc, exc, request=request)
            if self.settings.insecure and looks_like_closed_socket(error):
                # the TLS probe is a blocking handshake: off the event loop
                error = await asyncio.to_thread(explain_failure, self.settings, error)
            raise error from exc
        return response

    def _method(self, spec: RpcSpec) -> grpc.aio.UnaryUnaryMultiCallable:
        method = self._methods.get(spec.path)
        if method is None:  # no lock: coroutines of one loop do not interleave here
            method = self.channel.unary_unary(
                spec.path,
                request_serializer=spec.request_type.SerializeToString,
                response_deserializer=spec.response_type.FromString,
            )
            self._methods[spec.path] = method
        return method

    async def _settle_auth(self) -> _Auth | None:
        """Discovery runs once, in a thread (it is the sync `settle_auth`), its RPCs sent on this loop."""
        if self._auth_settled:
            return self._auth
        async with self._auth_lock:
            if not self._auth_settled:
                loop = asyncio.get_running_loop()

                def discovery_call(spec: RpcSpec, request: Message) -> Message:
                    unauthenticated = self._call(spec, request, timeout=None, metadata=(), authenticate=False)
                    return asyncio.run_coroutine_threadsafe(unauthenticated, loop).result()

                self._auth = await asyncio.to_thread(
                    settle_auth, self.settings, self._custom_provider, discovery_call
                )
                self._auth_settled = True
        return self._auth

    async def close(self) -> None:
        """Close the channel if this transport opened it. Safe to call twice."""
        self._closed = True
        if self._owns_channel and self._channel is not None:
            await self._channel.close(None)

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncTransport(endpoint={self.settings.endpoint!r}, auth_mode={self.settings.auth_mode!r})"


async def _off_loop(auth: _Auth | None, step: Any, *args: Any) -> Any:
    """Run a CallPlan step that may fetch a token in a worker thread; without auth it cannot block."""
    if auth is None:
        return step(*args)
    return await asyncio.to_thread(step, *args)
