"""One place where every Admin RPC is sent: metadata, auth, deadline, retry and error mapping.

The clients above describe an RPC with an RpcSpec and hand over a request; everything that must be
the same for all ~65 RPCs happens here, once.

Fast path. Most calls succeed at the first attempt, so that attempt goes straight to the cached
multicallable with metadata precomputed per transport (the token, when there is one, is asked per call) and
the first attempt's timeout; nothing per call is built for it. Only a failure builds the `CallPlan` and
enters the retry loop (`RetryPolicy.run`, with the failure as attempt 1), where the UNAUTHENTICATED
refresh-and-resend-once, the delays, the overall deadline and the error mapping are exactly those of every
later attempt. A failure the loop would end at once with that same error (nothing to resend, such as the
ALREADY_EXISTS of a create already done) is raised directly instead (`ends_unchanged`). Every attempt's
outcome is reported to the transport's `CircuitBreaker` (breaker.py): an answer of any kind resets it, a
failure to reach the server extends the unreachable streak, and while it is open every call fails at once
with FlyteAdminUnreachable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import Message
from pydantic import SecretStr

from flyteadmin_ops.errors import FlyteAdminError, from_rpc_error
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport.auth import (
    TokenProvider,
    UnservedTokenProvider,
    discover,
    provider_from_settings,
)
from flyteadmin_ops.transport.breaker import CircuitBreaker
from flyteadmin_ops.transport.channel import create_channel, explain_failure
from flyteadmin_ops.transport.retry import FirstFailure, RetryPolicy
from flyteadmin_ops.transport.rpc import RpcSpec

logger = logging.getLogger(__name__)

Metadata = Sequence[tuple[str, str]]


class _Outgoing(tuple[tuple[str, str], ...]):
    """Call metadata whose repr shows header names only: it holds the bearer token and maybe API keys,
    and tracebacks (pytest's, Sentry's) print function arguments."""

    def __repr__(self) -> str:
        return f"<metadata {', '.join(key for key, _ in self)}>"


class _Auth:
    """The header name and provider, settled on the first call (discovery is an RPC itself).

    A `deferred` auth sends no token until the server answers UNAUTHENTICATED (then `demanded` turns on for
    good), as flytectl and flytekit do; it is used for a server whose auth is off (no AuthMetadataService).
    """

    def __init__(self, header_key: str, provider: TokenProvider, *, deferred: bool = False) -> None:
        self.header_key = header_key
        self.provider = provider
        self.deferred = deferred
        self.demanded = False

    def metadata(self, base: Metadata, token: SecretStr) -> _Outgoing:
        return _Outgoing([*base, (self.header_key, f"Bearer {token.get_secret_value()}")])


def settle_auth(
    settings: AdminSettings, custom: TokenProvider | None, call: Callable[[RpcSpec, Message], Message]
) -> _Auth | None:
    """The header and provider for `settings` (or `custom`), asking the server through `call` what the
    settings leave open; None when calls go out without a token."""
    if custom is None and settings.auth_mode == "none":
        return None
    server = discover(settings, call)
    provider = custom or provider_from_settings(settings, server)
    if provider is None:
        return None
    if isinstance(provider, UnservedTokenProvider):
        logger.info(
            "%s does not serve AuthMetadataService (auth is off): calls go without a token", settings.endpoint
        )
        return _Auth(server.header_key, provider, deferred=True)
    logger.debug("authenticating with %r in metadata %r", provider, server.header_key)
    return _Auth(server.header_key, provider)


class CallPlan:
    """What every attempt of one call shares, for the sync and the asyncio transport alike: the RPC's
    label, the per-attempt deadline, the metadata, and the single refresh-and-resend on UNAUTHENTICATED
    (at most one per call, whatever the retries do).

    `headers` and `after_rejection` may block (a token fetch): the asyncio transport runs them in a thread.
    """

    def __init__(
        self,
        settings: AdminSettings,
        spec: RpcSpec,
        timeout: float | None,
        metadata: Metadata,
        auth: _Auth | None,
    ) -> None:
        self.rpc = f"{spec.short_service}/{spec.method}"
        self.per_attempt = timeout if timeout is not None else settings.deadline_seconds
        self.base = [*settings.default_metadata.items(), *metadata]
        self.auth = auth
        self.refreshed = False

    def headers(self) -> tuple[_Outgoing, SecretStr | None]:
        """The metadata for an attempt, and the token in it (kept wrapped, so frame-capturing error
        reporters such as Sentry see no value)."""
        if self.auth is None or (self.auth.deferred and not self.auth.demanded):
            return _Outgoing(self.base), None
        token = SecretStr(self.auth.provider.token())
        return self.auth.metadata(self.base, token), token

    def after_rejection(self, error: FlyteAdminError, token: SecretStr | None) -> _Outgoing | None:
        """The metadata for the one resend after the server rejected `token` (or, for a deferred auth, asked
        for one), or None when `error` stands."""
        if self.auth is None or self.refreshed or error.code is not grpc.StatusCode.UNAUTHENTICATED:
            return None
        if token is None:
            if not self.auth.deferred:
                return None
            self.refreshed = self.auth.demanded = True
            return self.auth.metadata(self.base, SecretStr(self.auth.provider.token()))
        self.refreshed = True
        self.auth.provider.invalidate(token.get_secret_value())
        fresh = SecretStr(self.auth.provider.token())
        if fresh == token:  # nothing new to offer (e.g. a static token): resending cannot help
            return None
        logger.info("%s: token rejected, resending once with a refreshed token", self.rpc)
        return self.auth.metadata(self.base, fresh)


class Route(NamedTuple):
    """One RPC as a transport sends it: its label for errors and logs, and its cached multicallable."""

    rpc: str
    method: Callable[..., Any]
    """A sync multicallable (returns the response) or a grpc.aio one (returns an awaitable call)."""

    @classmethod
    def on(cls, channel: grpc.Channel | grpc.aio.Channel, spec: RpcSpec) -> Route:
        """The route of `spec` on `channel` (a sync or an asyncio one: both make multicallables alike)."""
        method = channel.unary_unary(
            spec.path,
            request_serializer=spec.request_type.SerializeToString,
            response_deserializer=spec.response_type.FromString,
        )
        return cls(f"{spec.short_service}/{spec.method}", method)


def breaker_for(settings: AdminSettings) -> CircuitBreaker:
    """The circuit breaker of one transport (sync or asyncio): opens after an unreachable streak longer
    than the retry deadline, and then probes every `breaker_probe_interval_seconds`."""
    return CircuitBreaker(
        settings.endpoint,
        open_after=settings.retry_deadline_seconds,
        probe_interval=settings.breaker_probe_interval_seconds,
    )


_DECIDED_BY_THE_RETRY_LOOP = frozenset({grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE})
"""Codes whose failure the retry loop may end with another error even when it resends nothing: the overall
deadline's FlyteTimeout (a deadline cut short by it), the open breaker's FlyteAdminUnreachable."""


def ends_unchanged(policy: RetryPolicy, spec: RpcSpec, error: FlyteAdminError) -> bool:
    """Whether attempt 1's failure `error` ends the call as it is: what `RetryPolicy.run` would decide
    at its first judgement (no resend, the error returned unchanged), decided without building the retry
    loop (and importing tenacity) only to replay the failure and raise it. Every workflow create of a
    re-registration answers ALREADY_EXISTS, and that detour was most of the client CPU such a call cost.
    DEADLINE_EXCEEDED and UNAVAILABLE still go through the loop (`_DECIDED_BY_THE_RETRY_LOOP`)."""
    return error.code not in _DECIDED_BY_THE_RETRY_LOOP and not policy.should_retry(spec, error)


def plain_headers(auth: _Auth | None) -> bool:
    """Whether a call goes without a token (no auth, or a deferred one the server has not asked for)."""
    return auth is None or (auth.deferred and not auth.demanded)


class Transport:
    """Sends unary Admin RPCs over one channel; safe to share across threads.

    Pass `channel` to use a channel you made (it is then yours to close), and `token_provider` to
    authenticate with a provider of your own instead of the one `settings.auth_mode` selects. Every call
    of a transport shares its circuit breaker (see breaker.py); pass `breaker` (another transport's
    `.breaker`, sync or asyncio) to share one between transports of the same Admin, so that they learn
    together that it went away.
    """

    def __init__(
        self,
        settings: AdminSettings,
        *,
        channel: grpc.Channel | None = None,
        token_provider: TokenProvider | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.settings = settings
        self.retry_policy = RetryPolicy.from_settings(settings)
        self.breaker = breaker if breaker is not None else breaker_for(settings)
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else create_channel(settings)
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._custom_provider = token_provider
        self._auth: _Auth | None = None
        self._auth_settled = False
        self._auth_lock = threading.Lock()
        self._closed = False
        self._base = tuple(settings.default_metadata.items())
        self._plain = _Outgoing(self._base) if self._base else None
        """Attempt 1's metadata without a token: None when there is none (gRPC then skips converting it)."""
        self._first_timeout = min(settings.deadline_seconds, self.retry_policy.deadline)
        """Attempt 1's timeout when the call gives none: the per-attempt one, within the overall deadline."""

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    def call(
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
            raise RuntimeError("Transport is closed")
        auth = self._auth if self._auth_settled else self._settle_auth()
        return self._call(spec, request, timeout, metadata, auth)

    def _call(
        self,
        spec: RpcSpec,
        request: Message,
        timeout: float | None,
        metadata: Metadata,
        auth: _Auth | None,
    ) -> Message:
        route = self._routes.get(spec.path) or self._route(spec)
        breaker = self.breaker
        if breaker.is_open:  # no fast path: the retry loop asks the breaker whether to send at all
            plan = CallPlan(self.settings, spec, timeout, metadata, auth)
            return self._retry(route, spec, request, self._per_attempt(timeout), plan)
        # The fast path: attempt 1, with nothing built per call (the default timeouts were computed once).
        token: SecretStr | None = None
        started = time.monotonic()
        first_timeout = self._first_timeout if timeout is None else min(timeout, self.retry_policy.deadline)
        if plain_headers(auth):
            headers = self._plain if not metadata else _Outgoing((*self._base, *metadata))
        else:
            assert auth is not None
            try:  # a token endpoint answering 429/5xx is attempt 1's failure: retried like UNAVAILABLE
                token = SecretStr(auth.provider.token())
            except FlyteAdminError as refused:
                plan = CallPlan(self.settings, spec, timeout, metadata, auth)
                first = FirstFailure(started, first_timeout, refused)
                return self._retry(route, spec, request, self._per_attempt(timeout), plan, first)
            headers = auth.metadata((*self._base, *metadata), token)
        try:
            response: Message = route.method(request, timeout=first_timeout, metadata=headers)
        except grpc.RpcError as exc:
            error = self._failure(route.rpc, request, exc)
        else:
            breaker.reached()
            return response
        # The rest of attempt 1: the one refresh-and-resend on UNAUTHENTICATED shares its deadline.
        plan = CallPlan(self.settings, spec, timeout, metadata, auth)
        again = plan.after_rejection(error, token)
        if again is not None:
            try:
                return self._send(route, request, started + first_timeout - time.monotonic(), again)
            except FlyteAdminError as resent:
                error = resent
        if ends_unchanged(self.retry_policy, spec, error):
            try:
                raise error
            finally:
                # This frame goes on the error's traceback: still holding the error, it would make a cycle
                # that only the garbage collector frees (a quarter of what an ALREADY_EXISTS cost the client).
                del error
        first = FirstFailure(started, first_timeout, error)
        return self._retry(route, spec, request, self._per_attempt(timeout), plan, first)

    def _per_attempt(self, timeout: float | None) -> float:
        return self.settings.deadline_seconds if timeout is None else timeout

    def _retry(
        self,
        route: Route,
        spec: RpcSpec,
        request: Message,
        per_attempt: float,
        plan: CallPlan,
        first: FirstFailure | None = None,
    ) -> Message:
        """Attempts after the first (or all of them while the breaker is open), under the retry policy."""

        def attempt(deadline: float) -> Message:
            # The refresh and the resend belong to this attempt: they share its deadline, so the overall
            # deadline the retry policy enforces still holds.
            ends = time.monotonic() + deadline
            headers, token = plan.headers()
            try:
                return self._send(route, request, ends - time.monotonic(), headers)
            except FlyteAdminError as error:
                again = plan.after_rejection(error, token)
                if again is None:
                    raise
                return self._send(route, request, ends - time.monotonic(), again)

        return self.retry_policy.run(route.rpc, spec, attempt, per_attempt, breaker=self.breaker, first=first)

    def _send(self, route: Route, request: Message, timeout: float, metadata: _Outgoing) -> Message:
        try:
            response: Message = route.method(request, timeout=max(timeout, 0.0), metadata=metadata)
        except grpc.RpcError as exc:
            raise self._failure(route.rpc, request, exc) from exc
        self.breaker.reached()
        return response

    def _failure(self, rpc: str, request: Message, exc: grpc.RpcError) -> FlyteAdminError:
        """The typed error for a failed attempt, reported to the breaker."""
        error = explain_failure(self.settings, from_rpc_error(rpc, exc, request=request))
        error.__cause__ = exc
        self.breaker.report(error)
        return error

    def _route(self, spec: RpcSpec) -> Route:
        with self._lock:
            route = self._routes.get(spec.path)
            if route is None:
                route = self._routes[spec.path] = Route.on(self._channel, spec)
        return route

    def _settle_auth(self) -> _Auth | None:
        if self._auth_settled:
            return self._auth
        with self._auth_lock:
            if not self._auth_settled:
                self._auth = settle_auth(self.settings, self._custom_provider, self._discovery_call)
                self._auth_settled = True
        return self._auth

    def _discovery_call(self, spec: RpcSpec, request: Message) -> Message:
        return self._call(spec, request, None, (), None)

    def close(self) -> None:
        """Close the channel if this transport created it. Safe to call twice."""
        self._closed = True
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.settings.endpoint!r}, auth_mode={self.settings.auth_mode!r})"
