"""Logging a person in: `pkce` (a browser and a loopback redirect) and `device_flow` (a code typed on any
device), with refresh tokens and a token cache shared by every process on the machine.

Order of preference on each fetch, as flytekit and flytectl do: a cached access token that is not about to
expire (another process may have logged in or refreshed), then the refresh token, then a new login. A
refresh the identity provider *refuses* (invalid_grant) leads to a login; one it cannot answer (unreachable,
5xx) is reported as an outage and the cache is left alone (flytekit once deleted it then: flytekit#3443).

The login prompts go to stderr (stdout is for the command's result); the browser URL and the user code are
shown, never a token. The browser is opened with `settings.open_url` or `webbrowser.open` (which honours
`$BROWSER`); the URL is always printed too, for a machine with no browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TextIO

import grpc

from flyteadmin_ops.errors import FlyteAuthenticationException, FlyteSystemUnavailableException
from flyteadmin_ops.settings import AdminSettings, SettingsError
from flyteadmin_ops.transport.auth import CachedTokenProvider, ServerAuthConfig, token_ssl_context
from flyteadmin_ops.transport.token_cache import CachedTokens, TokenCache, store_for

logger = logging.getLogger(__name__)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:0/callback"
SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5: add 5 seconds to the interval on slow_down


class OAuthError(Exception):
    """An RFC 6749 error answer (`error` code and description); never carries a token."""

    def __init__(self, url: str, status: int, error: str, description: str) -> None:
        super().__init__(f"{url}: HTTP {status}: {error}" + (f": {description}" if description else ""))
        self.status = status
        self.error = error


@dataclass(frozen=True)
class LoginTarget:
    """Everything a login needs, settled from the settings first and the server's discovery second."""

    endpoint: str
    mode: str
    client_id: str
    token_endpoint: str
    authorization_endpoint: str | None
    device_authorization_endpoint: str | None
    redirect_uri: str
    scopes: tuple[str, ...]
    audience: str | None
    timeout: float
    login_timeout: float
    ssl_context: ssl.SSLContext | None


def login_target(settings: AdminSettings, server: ServerAuthConfig) -> LoginTarget:
    mode = settings.auth_mode
    client_id = settings.client_id or server.client_id
    if not client_id:
        raise SettingsError(f"auth_mode {mode!r}: the server names no public client id; set client_id")
    if not server.token_endpoint:
        raise SettingsError(f"auth_mode {mode!r} needs a token endpoint; set token_endpoint")
    if mode == "pkce" and not server.authorization_endpoint:
        raise SettingsError(
            "auth_mode 'pkce': the server names no authorization endpoint (GetOAuth2Metadata)"
        )
    if mode == "device_flow" and not server.device_authorization_endpoint:
        raise SettingsError(
            "auth_mode 'device_flow': the server names no device_authorization_endpoint (GetOAuth2Metadata); "
            "its identity provider may not offer the device flow: use pkce"
        )
    endpoints = [server.token_endpoint, server.authorization_endpoint, server.device_authorization_endpoint]
    https = any(url and url.startswith("https:") for url in endpoints)
    return LoginTarget(
        endpoint=settings.endpoint,
        mode=mode,
        client_id=client_id,
        token_endpoint=server.token_endpoint,
        authorization_endpoint=server.authorization_endpoint,
        device_authorization_endpoint=server.device_authorization_endpoint,
        redirect_uri=settings.redirect_uri or server.redirect_uri or DEFAULT_REDIRECT_URI,
        scopes=server.scopes,
        audience=server.audience,
        timeout=settings.deadline_seconds,
        login_timeout=settings.login_timeout_seconds,
        ssl_context=token_ssl_context(settings) if https else None,
    )


def post_form(target: LoginTarget, url: str, form: dict[str, str]) -> dict[str, Any]:
    """POST a form to an OAuth endpoint; the JSON answer, or OAuthError / an outage exception."""
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=target.timeout, context=target.ssl_context) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise FlyteSystemUnavailableException(
                url, grpc.StatusCode.UNAVAILABLE, f"HTTP {exc.code} from the identity provider"
            ) from None
        error, description = _error_fields(exc)
        raise OAuthError(url, exc.code, error, description) from None
    except (urllib.error.URLError, OSError) as exc:
        raise FlyteSystemUnavailableException(
            url, grpc.StatusCode.UNAVAILABLE, f"cannot reach it: {exc}"
        ) from None
    except ValueError:
        raise FlyteAuthenticationException(
            url, grpc.StatusCode.UNAUTHENTICATED, "the answer is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise FlyteAuthenticationException(
            url, grpc.StatusCode.UNAUTHENTICATED, "the answer is not an object"
        )
    return body


def _error_fields(exc: urllib.error.HTTPError) -> tuple[str, str]:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        return str(exc.reason), ""
    if not isinstance(body, dict):
        return str(exc.reason), ""
    return str(body.get("error", exc.reason)), str(body.get("error_description", ""))


def _scope_form(target: LoginTarget) -> dict[str, str]:
    form = {"client_id": target.client_id}
    if target.scopes:
        form["scope"] = " ".join(target.scopes)
    if target.audience:
        form["audience"] = target.audience
    return form


# --- PKCE ----------------------------------------------------------------------------------------------


class RedirectListener:
    """A one-shot HTTP server on loopback that waits for the identity provider's redirect.

    It binds the redirect URI's port, or a free one when that is 0 or busy (RFC 8252 §7.3: loopback redirect
    URIs may use any port). Requests to other paths (a browser's favicon) are answered 404 and ignored, and
    so is a redirect whose `state` does not match (a forged one)."""

    def __init__(self, redirect_uri: str, state: str) -> None:
        parts = urllib.parse.urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SettingsError(
                f"redirect_uri {redirect_uri!r}: must be an http URL on a loopback host "
                "(127.0.0.1, localhost)"
            )
        self._path = parts.path or "/"
        self._state = state
        self._result: dict[str, str] | None = None
        self._arrived = threading.Event()
        host = "::1" if parts.hostname == "::1" else "127.0.0.1"
        self._server = self._bind(host, parts.port or 0)
        port = self._server.server_address[1]
        netloc = f"[{parts.hostname}]:{port}" if parts.hostname == "::1" else f"{parts.hostname}:{port}"
        self.redirect_uri = urllib.parse.urlunsplit(("http", netloc, self._path, "", ""))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def _bind(self, host: str, port: int) -> HTTPServer:
        listener = self
        family = socket.AF_INET6 if host == "::1" else socket.AF_INET
        server_class = type("_Server", (HTTPServer,), {"address_family": family})

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                query = {key: values[0] for key, values in urllib.parse.parse_qs(parsed.query).items()}
                if parsed.path != listener._path or query.get("state") != listener._state:
                    self.send_error(404)
                    return
                listener._result = query
                page = b"<html><body><p>Logged in; you may close this window.</p></body></html>"
                if "error" in query:
                    page = b"<html><body><p>The login failed; see the terminal.</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                listener._arrived.set()

            def log_message(self, format: str, *args: object) -> None:  # the query holds the code
                return

        try:
            return server_class((host, port), Handler)
        except OSError:
            if port == 0:
                raise
            logger.warning("redirect port %s is busy; listening on a free port instead", port)
            return server_class((host, 0), Handler)

    def wait(self, timeout: float) -> dict[str, str] | None:
        """The redirect's query parameters, or None when none arrived within `timeout` seconds."""
        self._arrived.wait(timeout)
        return self._result

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def pkce_login(target: LoginTarget, *, open_url: Callable[[str], object], prompt: TextIO) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 asks for 43 to 128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    listener = RedirectListener(target.redirect_uri, state)
    try:
        query = {
            "response_type": "code",
            **_scope_form(target),
            "redirect_uri": listener.redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        assert target.authorization_endpoint is not None  # login_target checked it
        separator = "&" if "?" in target.authorization_endpoint else "?"
        url = f"{target.authorization_endpoint}{separator}{urllib.parse.urlencode(query)}"
        print(f"Logging in to {target.endpoint} in your browser. If none opens, visit:\n  {url}", file=prompt)
        prompt.flush()
        try:
            open_url(url)
        except Exception as exc:  # no browser is not an error: the URL is printed
            logger.debug("could not open a browser: %s", type(exc).__name__)
        answer = listener.wait(target.login_timeout)
    finally:
        listener.close()
    if answer is None:
        raise FlyteAuthenticationException(
            "pkce login",
            grpc.StatusCode.UNAUTHENTICATED,
            f"no answer from the browser within {target.login_timeout:g} s (login_timeout_seconds)",
        )
    if "error" in answer:
        description = answer.get("error_description", "")
        raise FlyteAuthenticationException(
            "pkce login", grpc.StatusCode.UNAUTHENTICATED, f"{answer['error']} {description}".strip()
        )
    form = {
        "grant_type": "authorization_code",
        "client_id": target.client_id,
        "code": answer.get("code", ""),
        "redirect_uri": listener.redirect_uri,
        "code_verifier": verifier,
    }
    return _token_request(target, form, "pkce login")


# --- device flow ---------------------------------------------------------------------------------------


def device_login(
    target: LoginTarget, *, prompt: TextIO, wait: Callable[[float], object] | None = None
) -> dict[str, Any]:
    assert target.device_authorization_endpoint is not None  # login_target checked it
    pause = wait or threading.Event().wait  # the protocol's interval between polls
    started = time.monotonic()
    try:
        grant = post_form(target, target.device_authorization_endpoint, _scope_form(target))
    except OAuthError as exc:
        raise FlyteAuthenticationException(
            "device login", grpc.StatusCode.UNAUTHENTICATED, str(exc)
        ) from None
    device_code, user_code = grant.get("device_code"), grant.get("user_code")
    uri = grant.get("verification_uri") or grant.get("verification_url")
    if not (isinstance(device_code, str) and isinstance(user_code, str) and isinstance(uri, str)):
        raise FlyteAuthenticationException(
            "device login", grpc.StatusCode.UNAUTHENTICATED, "the device authorization answer is incomplete"
        )
    complete = grant.get("verification_uri_complete")
    print(f"To log in to {target.endpoint}, visit {uri} and enter the code {user_code}", file=prompt)
    if isinstance(complete, str):
        print(f"  (or open {complete})", file=prompt)
    prompt.flush()
    interval = float(grant.get("interval") or 5)
    expires_in = float(grant.get("expires_in") or target.login_timeout)
    ends = started + min(expires_in, target.login_timeout)
    form = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, "client_id": target.client_id}
    while time.monotonic() + interval < ends:
        pause(interval)
        try:
            return post_form(target, target.token_endpoint, form)
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            raise FlyteAuthenticationException(
                "device login", grpc.StatusCode.UNAUTHENTICATED, str(exc)
            ) from None
    raise FlyteAuthenticationException(
        "device login", grpc.StatusCode.UNAUTHENTICATED, "the code was not approved in time; log in again"
    )


def _token_request(target: LoginTarget, form: dict[str, str], what: str) -> dict[str, Any]:
    try:
        return post_form(target, target.token_endpoint, form)
    except OAuthError as exc:
        raise FlyteAuthenticationException(what, grpc.StatusCode.UNAUTHENTICATED, str(exc)) from None


# --- the provider --------------------------------------------------------------------------------------


class InteractiveTokenProvider(CachedTokenProvider):
    """A person's tokens: cached, refreshed ahead of expiry (one refresh across threads), logged in again
    only when there is nothing to refresh with."""

    def __init__(
        self,
        target: LoginTarget,
        cache: TokenCache,
        *,
        open_url: Callable[[str], object] | None = None,
        prompt: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)  # wall clock: cached expiry times are shared with other processes
        self.target = target
        self.cache = cache
        self._open_url = open_url
        self._prompt = prompt
        self._last: CachedTokens | None = None

    def fetch(self) -> tuple[str, float | None]:
        now = self._clock()
        cached = self.cache.load() or self._last  # _last: when the cache could not be written
        if cached is not None and self._usable(cached, now):
            logger.debug("using the cached token for %s", self.target.endpoint)
            return cached.access_token, None if cached.expires_at is None else cached.expires_at - now
        if cached is not None and cached.refresh_token:
            with self.cache.exclusive():  # one process at a time spends a (rotating) refresh token
                latest = self.cache.load() or cached
                if self._usable(latest, self._clock()):  # another process refreshed while we waited
                    now = self._clock()
                    return latest.access_token, None if latest.expires_at is None else latest.expires_at - now
                refreshed = self._refresh(latest.refresh_token or cached.refresh_token)
            if refreshed is not None:
                return refreshed
        return self._store(self.login(), now)

    def login(self) -> dict[str, Any]:
        """Run the interactive flow and return the token answer (not stored: `fetch` and `force_login` do)."""
        prompt = self._prompt or sys.stderr
        if self.target.mode == "pkce":
            return pkce_login(self.target, open_url=self._open_url or webbrowser.open, prompt=prompt)
        return device_login(self.target, prompt=prompt)

    def force_login(self) -> CachedTokens:
        """Log in now even with valid tokens cached (`flyteadmin-ops login`); the new tokens are cached."""
        with self._lock:
            now = self._clock()
            self._store(self.login(), now)
            self._current = None  # the next token() takes the new one from the cache
            assert self._last is not None
            return self._last

    def invalidate(self, token: str | None = None) -> None:
        super().invalidate(token)
        if token is not None:
            self.cache.forget_access_token(token)
            last = self._last
            if last is not None and last.access_token == token:
                self._last = CachedTokens("", 0.0, last.refresh_token, last.issued_at)

    def _usable(self, tokens: CachedTokens, now: float) -> bool:
        if not tokens.access_token:
            return False
        if tokens.expires_at is None:
            return True
        lifetime = tokens.expires_at - (tokens.issued_at if tokens.issued_at is not None else now)
        return tokens.expires_at - now > min(self.max_margin, max(lifetime, 0.0) * self.refresh_margin)

    def _refresh(self, refresh_token: str) -> tuple[str, float | None] | None:
        now = self._clock()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.target.client_id,
        }
        try:
            body = post_form(self.target, self.target.token_endpoint, form)
        except OAuthError as exc:
            # Refused (expired, revoked, or used by another process that rotated it): that process may
            # have cached a fresh pair meanwhile; otherwise a login is the way out.
            logger.info("the refresh token was refused (%s); logging in again", exc.error)
            again = self.cache.load()
            if again is not None and again.refresh_token != refresh_token and self._usable(again, now):
                return again.access_token, None if again.expires_at is None else again.expires_at - now
            return None
        logger.debug("refreshed the token for %s", self.target.endpoint)
        return self._store(body, now, previous_refresh=refresh_token)

    def _store(
        self, body: dict[str, Any], now: float, previous_refresh: str | None = None
    ) -> tuple[str, float | None]:
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise FlyteAuthenticationException(
                self.target.token_endpoint, grpc.StatusCode.UNAUTHENTICATED, "the answer has no access_token"
            )
        expires_in = body.get("expires_in")
        lifetime = (
            float(expires_in) if isinstance(expires_in, (int, float, str)) and expires_in != "" else None
        )
        refresh = body.get("refresh_token")
        self._last = CachedTokens(
            access_token=access_token,
            expires_at=None if lifetime is None else now + lifetime,
            refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh,
            issued_at=now,
        )
        self.cache.save(self._last)
        return access_token, lifetime

    def __repr__(self) -> str:
        return f"InteractiveTokenProvider(mode={self.target.mode!r}, client_id={self.target.client_id!r})"


def interactive_provider(
    settings: AdminSettings,
    server: ServerAuthConfig,
    *,
    prompt: TextIO | None = None,
    clock: Callable[[], float] = time.time,
) -> InteractiveTokenProvider:
    """The provider for auth_mode pkce or device_flow, with the cache `settings.token_cache` names."""
    target = login_target(settings, server)
    cache = TokenCache(store_for(settings), settings.endpoint, target.client_id)
    return InteractiveTokenProvider(target, cache, open_url=settings.open_url, prompt=prompt, clock=clock)
