"""`AsyncTransport`: the sync Transport's rules for `grpc.aio`, so asyncio code needs no thread per call.

flytekit has no asyncio client; its users push blocking calls through `run_in_executor`, one thread per
call in flight. Here a call is a coroutine on a `grpc.aio` channel, and everything that decides how it is
sent is shared with the sync `Transport` rather than rewritten: the channel recipe (credentials and
options), `CallPlan` (metadata, auth header, the one refresh on UNAUTHENTICATED), `RetryPolicy`
(`run_async`: the same predicate, delays and overall deadline) and `from_rpc_error` (an `AioRpcError` is a
`grpc.RpcError` with the same accessors). Token providers are the sync ones; their `token()` may block
(an HTTP fetch, a command), so it runs in a worker thread and never stalls the event loop.

The fast path and the circuit breaker are the sync transport's too (see transport.py): attempt 1 is sent
with nothing built per call (a token, when there is one, is fetched off the loop), a failure enters
`run_async` as attempt 1, and every outcome is reported to this transport's `CircuitBreaker`, whose open
state fails calls at once and wakes retry loops asleep on this loop.
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
from flyteadmin_ops.transport.breaker import CircuitBreaker
from flyteadmin_ops.transport.channel import channel_recipe, explain_failure
from flyteadmin_ops.transport.retry import FirstFailure, RetryPolicy
from flyteadmin_ops.transport.rpc import RpcSpec
from flyteadmin_ops.transport.transport import (
    CallPlan,
    Metadata,
    Route,
    _Auth,
    _Outgoing,
    breaker_for,
    ends_unchanged,
    plain_headers,
    settle_auth,
)


class AsyncTransport:
    """Sends unary Admin RPCs as coroutines over one `grpc.aio` channel; share it between coroutines of
    ONE event loop (a grpc.aio channel belongs to the loop it was opened in).

    The channel is opened on the first call, inside the running loop, so the transport may be built
    before `asyncio.run`; certificates are read at construction, so a bad file fails at once. Pass
    `channel` to use a `grpc.aio` channel you made (it is then yours to close), and `token_provider` to
    authenticate with a provider of your own instead of the one `settings.auth_mode` selects. `breaker`
    shares another transport's circuit breaker (as for the sync Transport).
    """

    def __init__(
        self,
        settings: AdminSettings,
        *,
        channel: grpc.aio.Channel | None = None,
        token_provider: TokenProvider | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.settings = settings
        self.retry_policy = RetryPolicy.from_settings(settings)
        self.breaker = breaker if breaker is not None else breaker_for(settings)
        self._owns_channel = channel is None
        self._recipe = channel_recipe(settings) if channel is None else None
        self._channel = channel
        self._routes: dict[str, Route] = {}
        self._base = tuple(settings.default_metadata.items())
        self._plain = _Outgoing(self._base) if self._base else None
        """Attempt 1's metadata without a token: None when there is none (gRPC then skips converting it)."""
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
        if self._closed:
            raise RuntimeError("AsyncTransport is closed")
        auth = self._auth if self._auth_settled else await self._settle_auth()
        return await self._call(spec, request, timeout, metadata, auth)

    async def _call(
        self,
        spec: RpcSpec,
        request: Message,
        timeout: float | None,
        metadata: Metadata,
        auth: _Auth | None,
    ) -> Message:
        route = self._routes.get(spec.path) or self._route(spec)
        per_attempt = self.settings.deadline_seconds if timeout is None else timeout
        plan: CallPlan | None = None
        if self.breaker.is_open:  # no fast path: the retry loop asks the breaker whether to send at all
            plan = CallPlan(self.settings, spec, timeout, metadata, auth)
            return await self._retry(route, spec, request, per_attempt, plan, auth)
        token = None
        if plain_headers(auth):
            headers = self._plain if not metadata else _Outgoing((*self._base, *metadata))
        else:
            plan = CallPlan(self.settings, spec, timeout, metadata, auth)
            try:  # a token endpoint answering 429/5xx is attempt 1's failure: retried like UNAVAILABLE
                headers, token = await asyncio.to_thread(plan.headers)
            except FlyteAdminError as refused:
                first = FirstFailure(time.monotonic(), min(per_attempt, self.retry_policy.deadline), refused)
                return await self._retry(route, spec, request, per_attempt, plan, auth, first)
        started = time.monotonic()
        first_timeout = min(per_attempt, self.retry_policy.deadline)
        try:
            response: Message = await route.method(request, timeout=first_timeout, metadata=headers)
        except grpc.RpcError as exc:  # grpc.aio.AioRpcError
            error = await self._failure(route.rpc, request, exc)
        else:
            self.breaker.reached()
            return response
        # The rest of attempt 1: the one refresh-and-resend on UNAUTHENTICATED shares its deadline.
        if plan is None:
            plan = CallPlan(self.settings, spec, timeout, metadata, auth)
        again = await _off_loop(auth, plan.after_rejection, error, token)
        if again is not None:
            try:
                return await self._send(route, request, started + first_timeout - time.monotonic(), again)
            except FlyteAdminError as resent:
                error = resent
        if ends_unchanged(self.retry_policy, spec, error):  # what the retry loop would end with at once
            try:
                raise error
            finally:
                del error  # no reference cycle through this frame on the error's traceback (see Transport)
        first = FirstFailure(started, first_timeout, error)
        return await self._retry(route, spec, request, per_attempt, plan, auth, first)

    async def _retry(
        self,
        route: Route,
        spec: RpcSpec,
        request: Message,
        per_attempt: float,
        plan: CallPlan,
        auth: _Auth | None,
        first: FirstFailure | None = None,
    ) -> Message:
        """Attempts after the first (or all of them while the breaker is open), under the retry policy."""

        async def attempt(deadline: float) -> Message:
            ends = time.monotonic() + deadline  # refresh and resend share the attempt's deadline
            headers, token = await _off_loop(auth, plan.headers)
            try:
                return await self._send(route, request, ends - time.monotonic(), headers)
            except FlyteAdminError as error:
                again = await _off_loop(auth, plan.after_rejection, error, token)
                if again is None:
                    raise
                return await self._send(route, request, ends - time.monotonic(), again)

        return await self.retry_policy.run_async(
            route.rpc, spec, attempt, per_attempt, breaker=self.breaker, first=first
        )

    async def _send(self, route: Route, request: Message, timeout: float, metadata: _Outgoing) -> Message:
        try:
            response: Message = await route.method(request, timeout=max(timeout, 0.0), metadata=metadata)
        except grpc.RpcError as exc:  # grpc.aio.AioRpcError
            raise await self._failure(route.rpc, request, exc) from exc
        self.breaker.reached()
        return response

    async def _failure(self, rpc: str, request: Message, exc: grpc.RpcError) -> FlyteAdminError:
        """The typed error for a failed attempt, reported to the breaker."""
        error = from_rpc_error(rpc, exc, request=request)
        if self.settings.insecure and looks_like_closed_socket(error):
            # the TLS probe is a blocking handshake: off the event loop
            error = await asyncio.to_thread(explain_failure, self.settings, error)
        error.__cause__ = exc
        self.breaker.report(error)
        return error

    def _route(self, spec: RpcSpec) -> Route:
        # no lock: coroutines of one loop do not interleave here
        route = self._routes[spec.path] = Route.on(self.channel, spec)
        return route

    async def _settle_auth(self) -> _Auth | None:
        """Discovery runs once, in a thread (it is the sync `settle_auth`), its RPCs sent on this loop."""
        if self._auth_settled:
            return self._auth
        async with self._auth_lock:
            if not self._auth_settled:
                loop = asyncio.get_running_loop()

                def discovery_call(spec: RpcSpec, request: Message) -> Message:
                    unauthenticated = self._call(spec, request, None, (), None)
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
