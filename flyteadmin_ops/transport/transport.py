"""One place where every Admin RPC is sent: metadata, auth, deadline, retry and error mapping.

The clients above describe an RPC with an RpcSpec and hand over a request; everything that must be
the same for all ~65 RPCs happens here, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType

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
from flyteadmin_ops.transport.channel import create_channel, explain_failure
from flyteadmin_ops.transport.retry import RetryPolicy
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


class Transport:
    """Sends unary Admin RPCs over one channel; safe to share across threads.

    Pass `channel` to use a channel you made (it is then yours to close), and `token_provider` to
    authenticate with a provider of your own instead of the one `settings.auth_mode` selects.
    """

    def __init__(
        self,
        settings: AdminSettings,
        *,
        channel: grpc.Channel | None = None,
        token_provider: TokenProvider | None = None,
    ) -> None:
        self.settings = settings
        self.retry_policy = RetryPolicy.from_settings(settings)
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else create_channel(settings)
        self._methods: dict[str, grpc.UnaryUnaryMultiCallable] = {}
        self._lock = threading.Lock()
        self._custom_provider = token_provider
        self._auth: _Auth | None = None
        self._auth_settled = False
        self._auth_lock = threading.Lock()
        self._closed = False

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
        return self._call(spec, request, timeout=timeout, metadata=metadata, authenticate=True)

    def _call(
        self,
        spec: RpcSpec,
        request: Message,
        *,
        timeout: float | None,
        metadata: Metadata,
        authenticate: bool,
    ) -> Message:
        if self._closed:
            raise RuntimeError("Transport is closed")
        plan = CallPlan(self.settings, spec, timeout, metadata, self._settle_auth() if authenticate else None)

        def attempt(deadline: float) -> Message:
            # The refresh and the resend belong to this attempt: they share its deadline, so the overall
            # deadline the retry policy enforces still holds.
            ends = time.monotonic() + deadline
            headers, token = plan.headers()
            try:
                return self._send(plan.rpc, spec, request, ends - time.monotonic(), headers)
            except FlyteAdminError as error:
                again = plan.after_rejection(error, token)
                if again is None:
                    raise
                return self._send(plan.rpc, spec, request, ends - time.monotonic(), again)

        return self.retry_policy.run(plan.rpc, spec, attempt, plan.per_attempt)

    def _send(
        self, rpc: str, spec: RpcSpec, request: Message, timeout: float, metadata: _Outgoing
    ) -> Message:
        try:
            response: Message = self._method(spec)(request, timeout=max(timeout, 0.0), metadata=metadata)
        except grpc.RpcError as exc:
            raise explain_failure(self.settings, from_rpc_error(rpc, exc, request=request)) from exc
        return response

    def _method(self, spec: RpcSpec) -> grpc.UnaryUnaryMultiCallable:
        method = self._methods.get(spec.path)
        if method is None:
            with self._lock:
                method = self._methods.get(spec.path)
                if method is None:
                    method = self._channel.unary_unary(
                        spec.path,
                        request_serializer=spec.request_type.SerializeToString,
                        response_deserializer=spec.response_type.FromString,
                    )
                    self._methods[spec.path] = method
        return method

    def _settle_auth(self) -> _Auth | None:
        if self._auth_settled:
            return self._auth
        with self._auth_lock:
            if not self._auth_settled:
                self._auth = settle_auth(self.settings, self._custom_provider, self._discovery_call)
                self._auth_settled = True
        return self._auth

    def _discovery_call(self, spec: RpcSpec, request: Message) -> Message:
        return self._call(spec, request, timeout=None, metadata=(), authenticate=False)

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
