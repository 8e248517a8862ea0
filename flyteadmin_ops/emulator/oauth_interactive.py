"""OAuth2 for people, so PKCE and the device flow can be tested without one.

With a public client configured (`Emulator(oauth_public_client="flytectl")`) the HTTP side serves:
- `GET /oauth2/authorize`: authorization code with PKCE (S256 only), approved at once (as if the person were
  logged in at the identity provider and clicked "allow"): a 302 to the loopback `redirect_uri` with `code`
  and `state`. A redirect URI that is not an http loopback URL gets a 400 page and no redirect.
- `POST /oauth2/device/authorize`: RFC 8628 device authorization (`device_code`, `user_code`,
  `verification_uri`, `verification_uri_complete`, `expires_in`, `interval`).
- `GET|POST /oauth2/device/verify?user_code=...`: the page the person visits; it approves the code
  (`&deny=1` refuses it). `Emulator.approve_device_code(user_code)` does the same from a test.
- token grants `authorization_code` (the `code_verifier` checked against the challenge), `refresh_token`
  (rotated: each refresh token works once) and `urn:ietf:params:oauth:grant-type:device_code`
  (`authorization_pending`, `slow_down` when polled faster than the interval, `expired_token`,
  `access_denied`), dispatched from the token endpoint in `http.py`.
Every lifetime (codes, access and refresh tokens) runs on the emulator's clock, so a test moves time
instead of waiting. Secrets are random and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flyteadmin_ops.emulator.http import HttpFrontend, HttpRequest, HttpResponse
from flyteadmin_ops.emulator.state import EmulatorState

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=10)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: datetime


@dataclass
class _DeviceGrant:
    client_id: str
    user_code: str
    scope: str
    expires_at: datetime
    approved: bool | None = None  # None: pending; False: denied
    last_poll: datetime | None = None


@dataclass
class InteractiveOAuth:
    """The grants in flight and the refresh tokens out; one per emulator, in `state.extensions`."""

    state: EmulatorState
    codes: dict[str, _Code] = field(default_factory=dict)
    devices: dict[str, _DeviceGrant] = field(default_factory=dict)  # by device_code
    refresh_tokens: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)
    grants: dict[str, int] = field(default_factory=dict)
    """How many tokens each grant type issued, for tests ("refreshed once, no second login")."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client_id(self) -> str:
        return self.state.config.oauth_public_client_id or ""

    def approve(self, user_code: str, *, allow: bool = True) -> bool:
        """Approve (or deny) a pending device authorization; False if no such pending code."""
        wanted = _normalise_user_code(user_code)
        with self.lock:
            for grant in self.devices.values():
                if grant.user_code == wanted and grant.approved is None:
                    grant.approved = allow
                    return True
        return False

    # --- HTTP routes ------------------------------------------------------------------------------------

    def authorize(self, request: HttpRequest) -> HttpResponse:
        query = {key: values[0] for key, values in request.query.items()}
        redirect_uri = query.get("redirect_uri", "")
        if not _is_loopback_http(redirect_uri):
            return _page(400, "redirect_uri must be an http loopback URL (RFC 8252)")
        if query.get("client_id") != self.client_id:
            return _page(400, "unknown client_id")
        if query.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=query.get("state"))
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="PKCE with code_challenge_method S256 is required",
                state=query.get("state"),
            )
        code = secrets.token_urlsafe(24)
        with self.lock:
            self._drop_expired()
            self.codes[code] = _Code(
                self.client_id,
                redirect_uri,
                query["code_challenge"],
                query.get("scope", ""),
                self.state.now() + AUTHORIZATION_CODE_LIFETIME,
            )
        return _redirect(redirect_uri, code=code, state=query.get("state"))

    def device_authorize(self, request: HttpRequest) -> HttpResponse:
        form = _form(request)
        if form.get("client_id") != self.client_id:
            return HttpResponse.json({"error": "invalid_client"}, 401)
        config = self.state.config
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(8))
        with self.lock:
            self._drop_expired()
            self.devices[device_code] = _DeviceGrant(
                self.client_id,
                user_code,
                form.get("scope", ""),
                self.state.now() + config.device_code_lifetime,
            )
        verify = f"{self.state.http_base_url}/oauth2/device/verify"
        shown = f"{user_code[:4]}-{user_code[4:]}"
        return HttpResponse.json(
            {
                "device_code": device_code,
                "user_code": shown,
                "verification_uri": verify,
                "verification_uri_complete": f"{verify}?{urllib.parse.urlencode({'user_code': shown})}",
                "expires_in": int(config.device_code_lifetime.total_seconds()),
                "interval": config.device_poll_interval,
            }
        )

    def verify(self, request: HttpRequest) -> HttpResponse:
        values = {key: items[0] for key, items in request.query.items()}
        values.update(_form(request))
        allow = values.get("deny", "") in ("", "0", "false")
        if not self.approve(values.get("user_code", ""), allow=allow):
            return _page(404, "no pending login with this code")
        return _page(200, "approved: you may close this window" if allow else "denied")

    # --- token grants (called by the token endpoint) --------------------------------------------------

    def grant(self, grant_type: str, form: dict[str, str]) -> HttpResponse:
        if form.get("client_id") != self.client_id:
            return HttpResponse.json({"error": "invalid_client"}, 401)
        if grant_type == "authorization_code":
            return self._authorization_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return self._device_code(form)

    def _authorization_code(self, form: dict[str, str]) -> HttpResponse:
        with self.lock:
            code = self.codes.pop(form.get("code", ""), None)  # single use, even when the exchange fails
        if code is None or code.expires_at <= self.state.now():
            return _oauth_error("invalid_grant", "the authorization code is unknown, used or expired")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri differs from the authorization request")
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or not hmac.compare_digest(digest, code.challenge):
            return _oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
        return self._tokens("authorization_code", code.scope)

    def _refresh(self, form: dict[str, str]) -> HttpResponse:
        with self.lock:
            held = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotated: works once
        if held is None or held[2] <= self.state.now():
            return _oauth_error("invalid_grant", "the refresh token is unknown, used or expired")
        return self._tokens("refresh_token", held[1])

    def _device_code(self, form: dict[str, str]) -> HttpResponse:
        now = self.state.now()
        device_code = form.get("device_code", "")
        with self.lock:
            grant = self.devices.get(device_code)
            if grant is None:
                return _oauth_error("invalid_grant", "unknown device_code")
            if grant.expires_at <= now:
                del self.devices[device_code]
                return _oauth_error("expired_token", "the device code expired; start again")
            if grant.approved is False:
                del self.devices[device_code]
                return _oauth_error("access_denied", "the login was refused")
            too_soon = grant.last_poll is not None and now - grant.last_poll < timedelta(
                seconds=self.state.config.device_poll_interval
            )
            grant.last_poll = now
            if grant.approved is None:
                return _oauth_error("slow_down" if too_soon else "authorization_pending", "")
            del self.devices[device_code]
        return self._tokens(DEVICE_CODE_GRANT, grant.scope)

    def _tokens(self, grant_type: str, scope: str) -> HttpResponse:
        auth = self.state.extensions["auth"]
        access_token, lifetime = auth.issue(self.client_id)
        refresh_token = secrets.token_urlsafe(32)
        with self.lock:
            self.refresh_tokens[refresh_token] = (
                self.client_id,
                scope,
                self.state.now() + self.state.config.refresh_token_lifetime,
            )
            self.grants[grant_type] = self.grants.get(grant_type, 0) + 1
        return HttpResponse.json(
            {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": lifetime,
                "refresh_token": refresh_token,
                "scope": scope,
            }
        )

    def _drop_expired(self) -> None:
        now = self.state.now()
        self.codes = {key: code for key, code in self.codes.items() if code.expires_at > now}
        self.devices = {key: grant for key, grant in self.devices.items() if grant.expires_at > now}


GRANT_TYPES = ("authorization_code", "refresh_token", DEVICE_CODE_GRANT)


def register_interactive_routes(frontend: HttpFrontend, state: EmulatorState) -> InteractiveOAuth | None:
    """Serve the interactive endpoints when the emulator has a public client; returns the grant store."""
    if not state.config.oauth_public_client_id:
        return None
    oauth = InteractiveOAuth(state)
    state.extensions["oauth_interactive"] = oauth
    frontend.add_route("GET", "/oauth2/authorize", oauth.authorize)
    frontend.add_route("POST", "/oauth2/device/authorize", oauth.device_authorize)
    frontend.add_route("GET", "/oauth2/device/verify", oauth.verify)
    frontend.add_route("POST", "/oauth2/device/verify", oauth.verify)
    return oauth


def interactive_grant(state: EmulatorState, grant_type: str, body: bytes) -> HttpResponse | None:
    """The token endpoint's answer for an interactive grant, or None when `grant_type` is not one."""
    oauth = state.extensions.get("oauth_interactive")
    if grant_type not in GRANT_TYPES or not isinstance(oauth, InteractiveOAuth):
        return None
    form = {key: values[0] for key, values in urllib.parse.parse_qs(body.decode(errors="replace")).items()}
    return oauth.grant(grant_type, form)


def _form(request: HttpRequest) -> dict[str, str]:
    parsed = urllib.parse.parse_qs(request.body.decode(errors="replace"))
    return {key: values[0] for key, values in parsed.items()}


def _normalise_user_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _is_loopback_http(uri: str) -> bool:
    parts = urllib.parse.urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS and not parts.fragment


def _redirect(uri: str, **params: str | None) -> HttpResponse:
    query = urllib.parse.urlencode({key: value for key, value in params.items() if value is not None})
    separator = "&" if urllib.parse.urlsplit(uri).query else "?"
    return HttpResponse(302, b"", {"Location": f"{uri}{separator}{query}"})


def _page(status: int, text: str) -> HttpResponse:
    return HttpResponse(
        status, f"<html><body><p>{text}</p></body></html>".encode(), {"Content-Type": "text/html"}
    )


def _oauth_error(error: str, description: str) -> HttpResponse:
    body = {"error": error, **({"error_description": description} if description else {})}
    return HttpResponse.json(body, 400)
