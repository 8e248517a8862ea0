"""Token providers: where the bearer token on each call comes from.

A provider hands out a token and forgets it when told it was rejected. The cached providers refresh a
token *before* it expires (flytekit waits for the server to reject it) and do so single-flight: one
thread fetches while the others wait for its result, instead of every thread hitting the token endpoint.
Tokens live only inside providers and the outgoing metadata; nothing here logs or formats them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import subprocess
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

import grpc
from flyteidl.service import auth_pb2
from google.protobuf.message import Message
from pydantic import SecretStr

from flyteadmin_ops.errors import (
    FlyteAuthenticationException,
    FlyteSystemUnavailableException,
    FlyteTokenEndpointError,
    FlyteUnimplementedException,
)
from flyteadmin_ops.settings import INTERACTIVE_AUTH_MODES, AdminSettings, SettingsError
from flyteadmin_ops.transport.rpc import RpcSpec

if TYPE_CHECKING:
    import urllib.error

logger = logging.getLogger(__name__)

DEFAULT_HEADER_KEY = "authorization"


@runtime_checkable
class TokenProvider(Protocol):
    """The interface the transport needs; implement it to add a new way of getting tokens."""

    def token(self) -> str:
        """A token that is valid now (fetching or refreshing it if needed)."""
        ...

    def invalidate(self, token: str | None = None) -> None:
        """The server rejected `token` (or the current one): the next `token()` must get a fresh one."""
        ...


class StaticTokenProvider:
    """A fixed bearer token; it cannot be refreshed, so invalidation changes nothing."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def token(self) -> str:
        return self._token.get_secret_value()

    def invalidate(self, token: str | None = None) -> None:
        return None

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=**********)"


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float | None
    """Clock reading (time.monotonic by default) after which the token is invalid; None if unknown."""

    def __repr__(self) -> str:
        return f"Token(value=**********, expires_at={self.expires_at})"


class CachedTokenProvider(ABC):
    """Caches one token and refreshes it ahead of expiry, one fetch at a time.

    A token is refreshed once less than `refresh_margin` of its lifetime (at most `max_margin` seconds) is
    left, so calls never go out with a token about to lapse in flight.
    """

    refresh_margin = 0.1
    max_margin = 60.0

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._current: Token | None = None
        self._refresh_at: float | None = None

    @abstractmethod
    def fetch(self) -> tuple[str, float | None]:
        """Obtain a new token and its lifetime in seconds (None if unknown)."""

    def token(self) -> str:
        with self._lock:  # single flight: concurrent callers wait here for the one refresh
            if self._current is None or (self._refresh_at is not None and self._clock() >= self._refresh_at):
                now = self._clock()  # before the fetch: the lifetime runs from when it was asked for
                value, lifetime = self.fetch()
                if lifetime is None:
                    lifetime = _jwt_lifetime(value)
                if lifetime is None:
                    self._current, self._refresh_at = Token(value, None), None
                else:
                    margin = min(self.max_margin, lifetime * self.refresh_margin)
                    self._current = Token(value, now + lifetime)
                    self._refresh_at = now + lifetime - margin
                logger.debug("%s obtained a token valid for %s s", type(self).__name__, lifetime)
            return self._current.value

    def invalidate(self, token: str | None = None) -> None:
        with self._lock:
            # Only forget the token that was rejected: another thread may already hold a fresh one.
            if self._current is not None and (token is None or token == self._current.value):
                self._current = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ClientCredentialsTokenProvider(CachedTokenProvider):
    """OAuth2 client credentials grant (RFC 6749 §4.4) with HTTP Basic client authentication.

    `scopes_advertised` says the scopes came from the server's public config rather than from settings.
    flyteadmin advertises `offline` there, which a client-credentials client is often not allowed to ask
    for; when the token endpoint answers `invalid_scope` to advertised scopes, the request is sent once
    more without the refused one (or without any), with a warning, and later fetches keep that choice.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr,
        token_endpoint: str,
        *,
        scopes: Sequence[str] = (),
        scopes_advertised: bool = False,
        audience: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_endpoint = token_endpoint
        self._scopes = list(scopes)
        self._scopes_advertised = scopes_advertised
        self._audience = audience
        self._timeout = timeout
        self._ssl_context = ssl_context

    def fetch(self) -> tuple[str, float | None]:
        try:
            body = self._request(self._scopes)
        except _ScopeRefused as refused:
            if not self._scopes_advertised:
                hint = f"set scopes to ones this client may request (it sent: {refused.sent})"
                raise refused.error(hint) from None
            kept = [scope for scope in self._scopes if scope != refused.scope] if refused.scope else []
            logger.warning(
                "the token endpoint refused the scopes the server advertised (%s); requesting %s instead. "
                "Set scopes to choose them yourself",
                refused.sent,
                " ".join(kept) or "no scope",
            )
            try:
                body = self._request(kept)
            except _ScopeRefused as again:
                raise again.error(f"set scopes (the server advertised: {refused.sent})") from None
            self._scopes = kept
        return body

    def _request(self, scopes: Sequence[str]) -> tuple[str, float | None]:
        """One token request: the token and its lifetime; raises _ScopeRefused for `invalid_scope`, a Flyte
        error for anything else."""
        import urllib.error  # with urllib.request: http.client and email, only when a token is fetched
        import urllib.request

        url = self._token_endpoint
        form = {"grant_type": "client_credentials"}
        if scopes:
            form["scope"] = " ".join(scopes)
        if self._audience:
            form["audience"] = self._audience
        basic = base64.b64encode(
            f"{urllib.parse.quote_plus(self._client_id)}:"
            f"{urllib.parse.quote_plus(self._client_secret.get_secret_value())}".encode()
        ).decode()
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        where = f"token endpoint {url}"
        try:
            with urllib.request.urlopen(
                request, timeout=self._timeout, context=self._ssl_context
            ) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            # 429 and 5xx are the identity provider's trouble, not a verdict on our credentials: report them
            # as a retryable outage, so retries and the CLI's exit code treat them like an unavailable server.
            outage = exc.code == 429 or exc.code >= 500
            error_class, code = (
                (FlyteSystemUnavailableException, grpc.StatusCode.UNAVAILABLE)
                if outage
                else (FlyteAuthenticationException, grpc.StatusCode.UNAUTHENTICATED)
            )
            error, description = _oauth_error_fields(exc)
            if error == "invalid_scope":
                raise _ScopeRefused(where, f"HTTP {exc.code}: {error}: {description}", scopes) from None
            text = ": ".join(part for part in (error, description) if part) or str(exc.reason)
            raise error_class(where, code, f"HTTP {exc.code}: {text}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLError):
                raise _tls_error(where, url, exc.reason) from None
            raise FlyteSystemUnavailableException(
                where, grpc.StatusCode.UNAVAILABLE, f"cannot reach it: {exc}"
            ) from None
        except OSError as exc:
            raise FlyteSystemUnavailableException(
                where, grpc.StatusCode.UNAVAILABLE, f"cannot reach it: {exc}"
            ) from None
        except ValueError:
            raise FlyteAuthenticationException(
                where, grpc.StatusCode.UNAUTHENTICATED, "the response is not JSON"
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise FlyteAuthenticationException(
                where, grpc.StatusCode.UNAUTHENTICATED, "the response has no access_token"
            )
        expires_in = body.get("expires_in")
        return body["access_token"], float(expires_in) if isinstance(expires_in, (int, float, str)) else None

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenProvider(client_id={self._client_id!r}, client_secret=**********)"


class _ScopeRefused(Exception):
    """The token endpoint answered `invalid_scope`; `scope` is the one it named (fosite names the first
    refused scope in quotes), or "" when it named none."""

    def __init__(self, where: str, message: str, sent: Sequence[str]) -> None:
        super().__init__(message)
        self.where = where
        self.message = message
        self.sent = " ".join(sent) or "no scope"
        named = re.search(r"scope '([^']+)'", message)
        self.scope = named.group(1) if named else ""

    def error(self, hint: str) -> FlyteTokenEndpointError:
        return FlyteTokenEndpointError(self.where, grpc.StatusCode.UNAUTHENTICATED, self.message, hint=hint)


def _tls_error(where: str, url: str, reason: ssl.SSLError) -> FlyteTokenEndpointError:
    """A failed TLS handshake with the token endpoint, named for what to change: the certificate's trust,
    or (when the other side does not speak TLS at all) the https URL itself, which `insecure` does not
    govern (it is about gRPC only)."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        hint = (
            "the token endpoint's certificate is not trusted: set ca_cert_file to the CA that signed it "
            "(insecure_skip_verify=True skips the check, for testing only)"
        )
    else:
        plain = "http://" + url.split("://", 1)[-1]
        hint = (
            f"the token endpoint does not speak TLS: set token_endpoint to {plain} (or have the server "
            "advertise it: authorizedUris / the token endpoint in its OAuth2 metadata)"
        )
    return FlyteTokenEndpointError(
        where, grpc.StatusCode.UNAUTHENTICATED, f"TLS handshake failed: {reason.reason or reason}", hint=hint
    )


class CommandTokenProvider(CachedTokenProvider):
    """Runs a command that prints a token (flytekit's ExternalCommand); a JWT's `exp` drives refresh."""

    def __init__(self, command: Sequence[str], *, timeout: float = 60.0) -> None:
        super().__init__()
        self._command = list(command)
        self._timeout = timeout

    def fetch(self) -> tuple[str, float | None]:
        where = f"token command {self._command[0]!r}"
        try:
            done = subprocess.run(
                self._command, capture_output=True, text=True, timeout=self._timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FlyteAuthenticationException(
                where, grpc.StatusCode.UNAUTHENTICATED, f"could not run: {type(exc).__name__}"
            ) from None
        # stderr is left out on purpose: token helpers sometimes echo credentials there.
        if done.returncode != 0:
            raise FlyteAuthenticationException(
                where, grpc.StatusCode.UNAUTHENTICATED, f"exited with status {done.returncode}"
            )
        value = done.stdout.strip()
        if not value:
            raise FlyteAuthenticationException(where, grpc.StatusCode.UNAUTHENTICATED, "printed no token")
        return value, None

    def __repr__(self) -> str:
        return f"CommandTokenProvider(command={self._command[0]!r})"


def _jwt_lifetime(token: str) -> float | None:
    """Seconds until a JWT's `exp`, read without verification (only to schedule the refresh)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return float(claims["exp"]) - time.time()
    except (ValueError, KeyError, TypeError):
        return None


def _oauth_error_fields(exc: urllib.error.HTTPError) -> tuple[str, str]:
    """The RFC 6749 `error` and `error_description`, without anything else from the response."""
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error", "")), str(body.get("error_description", ""))


def _oauth_error(exc: urllib.error.HTTPError) -> str:
    """The RFC 6749 error code and description, without echoing anything else from the response."""
    try:
        body = json.loads(exc.read())
        return ": ".join(str(body[k]) for k in ("error", "error_description") if k in body) or exc.reason
    except (ValueError, OSError):
        return str(exc.reason)


def token_ssl_context(settings: AdminSettings) -> ssl.SSLContext:
    """HTTPS to the token endpoint trusts what the gRPC channel trusts (often it is the same host): the CA
    file, and with `insecure_skip_verify` any certificate, as flytekit's token request does (testing only)."""
    context = ssl.create_default_context(cafile=str(settings.ca_cert_file) if settings.ca_cert_file else None)
    if settings.insecure_skip_verify:
        logger.warning("insecure_skip_verify=True: the token request does not verify the token endpoint")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.client_cert_file and settings.client_key_file:
        context.load_cert_chain(settings.client_cert_file, settings.client_key_file)
    return context


@dataclass(frozen=True)
class ServerAuthConfig:
    """What the server says about its auth (AuthMetadataService), merged under the user's settings."""

    header_key: str = DEFAULT_HEADER_KEY
    token_endpoint: str | None = None
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    serves_auth: bool = True
    """False when the server answered discovery UNIMPLEMENTED: flyteadmin registers AuthMetadataService only
    with auth on, so such a server takes calls without a token."""
    client_id: str | None = None
    """The public client people log in with (pkce, device_flow), from GetPublicClientConfig."""
    redirect_uri: str | None = None
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None


PUBLIC_CLIENT_CONFIG = RpcSpec(
    "flyteidl.service.AuthMetadataService",
    "GetPublicClientConfig",
    auth_pb2.PublicClientAuthConfigRequest,
    auth_pb2.PublicClientAuthConfigResponse,
    retry_safe=True,
    read_only=True,
)
OAUTH2_METADATA = RpcSpec(
    "flyteidl.service.AuthMetadataService",
    "GetOAuth2Metadata",
    auth_pb2.OAuth2MetadataRequest,
    auth_pb2.OAuth2MetadataResponse,
    retry_safe=True,
    read_only=True,
)

Call = Callable[[RpcSpec, Message], Message]


def discover(settings: AdminSettings, call: Call) -> ServerAuthConfig:
    """Ask the server (without a token) for the header name, scopes, audience and token endpoint.

    Only what the settings leave open is asked for; a server without AuthMetadataService (UNIMPLEMENTED: a
    flyteadmin with auth off) gets the defaults, as flytectl does, and is marked `serves_auth=False`.
    """
    header_key, scopes, audience, token_endpoint = (
        settings.auth_header_key,
        tuple(settings.scopes),
        settings.audience,
        settings.token_endpoint,
    )
    interactive = settings.auth_mode in INTERACTIVE_AUTH_MODES  # needs the public client and endpoints
    wants_oauth = settings.auth_mode == "client_credentials" or interactive
    serves_auth = True
    public = auth_pb2.PublicClientAuthConfigResponse()
    metadata = auth_pb2.OAuth2MetadataResponse()
    if header_key is None or (wants_oauth and not scopes) or interactive:
        try:
            public = cast(
                auth_pb2.PublicClientAuthConfigResponse,
                call(PUBLIC_CLIENT_CONFIG, auth_pb2.PublicClientAuthConfigRequest()),
            )
            header_key = header_key or public.authorization_metadata_key or None
            scopes = scopes or tuple(public.scopes)
            audience = audience or public.audience or None
        except FlyteUnimplementedException:
            logger.debug("server has no GetPublicClientConfig; using the default header key")
            serves_auth = False
    if wants_oauth and (token_endpoint is None or interactive):
        try:
            metadata = cast(
                auth_pb2.OAuth2MetadataResponse, call(OAUTH2_METADATA, auth_pb2.OAuth2MetadataRequest())
            )
        except FlyteUnimplementedException:
            metadata, serves_auth = auth_pb2.OAuth2MetadataResponse(), False
        if not (metadata.token_endpoint or token_endpoint) and serves_auth:
            raise SettingsError(
                f"auth_mode {settings.auth_mode!r}: the server does not name a token endpoint "
                "(AuthMetadataService.GetOAuth2Metadata); set token_endpoint"
            )
        token_endpoint = token_endpoint or metadata.token_endpoint or None
    header = (header_key or DEFAULT_HEADER_KEY).lower()
    return ServerAuthConfig(
        header,
        token_endpoint,
        scopes,
        audience,
        serves_auth,
        client_id=public.client_id or None,
        redirect_uri=public.redirect_uri or None,
        authorization_endpoint=metadata.authorization_endpoint or None,
        device_authorization_endpoint=metadata.device_authorization_endpoint or None,
    )


class UnservedTokenProvider:
    """Client credentials for a server that does not serve AuthMetadataService, with no token endpoint
    configured: there is nowhere to get a token from. The transport sends calls without one (the server
    has auth off) and asks this provider only if the server answers UNAUTHENTICATED after all."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint

    def token(self) -> str:
        raise FlyteAuthenticationException(
            "client credentials",
            grpc.StatusCode.UNAUTHENTICATED,
            f"{self._endpoint} asks for a token but does not serve AuthMetadataService to name its token "
            "endpoint; set token_endpoint (FLYTEADMIN_TOKEN_ENDPOINT)",
        )

    def invalidate(self, token: str | None = None) -> None:
        return None

    def __repr__(self) -> str:
        return "UnservedTokenProvider()"


def provider_from_settings(settings: AdminSettings, server: ServerAuthConfig) -> TokenProvider | None:
    """The provider for `settings.auth_mode`, completed with what the server said."""
    if settings.auth_mode == "static" and settings.token is not None:
        return StaticTokenProvider(settings.token)
    if settings.auth_mode == "client_credentials" and settings.client_id and settings.client_secret:
        if not server.token_endpoint and not server.serves_auth:
            return UnservedTokenProvider(settings.endpoint)
        if not server.token_endpoint:
            raise SettingsError("auth_mode 'client_credentials' needs a token endpoint; set token_endpoint")
        return ClientCredentialsTokenProvider(
            settings.client_id,
            settings.client_secret,
            server.token_endpoint,
            scopes=server.scopes,
            scopes_advertised=not settings.scopes,
            audience=server.audience,
            timeout=settings.deadline_seconds,
            ssl_context=token_ssl_context(settings),
        )
    if settings.auth_mode in INTERACTIVE_AUTH_MODES:
        if not server.serves_auth:  # auth off: no login unless the server asks for a token after all
            return UnservedTokenProvider(settings.endpoint)
        from flyteadmin_ops.transport.interactive_auth import interactive_provider

        return interactive_provider(settings, server)
    if settings.auth_mode == "external_command" and settings.command:
        return CommandTokenProvider(settings.command, timeout=settings.deadline_seconds)
    return None
