"""The emulator's small HTTP frontend: OAuth2 token endpoint, auth discovery, and routes other modules add.

flyteadmin serves HTTP beside gRPC (port 8088 in the sandbox); clients fetch OAuth2 tokens there, and signed
URLs point at object storage. Here one threaded `http.server` on the same host serves both: `add_route`
lets the data proxy register its signed-URL PUT/GET handlers without this module knowing about them.

A request body is read as an HTTP server reads it: exactly `Content-Length` bytes. A sender whose body is
longer than it declares has the rest left unread (it is not part of this request); one whose body is
shorter (it closed, or went quiet for `BODY_TIMEOUT_SECONDS`) gets what arrived, with the declared length in
`HttpRequest.content_length` so that a route can refuse the short read; the connection is then closed.

`token_fault_rate` makes the token endpoint unreliable the way an identity provider behind a rate limiter or a
restarting proxy is: that share of `POST /oauth2/token` requests (every grant: client credentials, refresh,
device code, authorization code) is refused before it is looked at, alternately 429 with `Retry-After: 1`
and 503, drawn from an RNG seeded with `seed` so a test sees the same sequence on every run.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flyteadmin_ops.emulator.state import EmulatorConfig, EmulatorState

log = logging.getLogger(__name__)

BODY_TIMEOUT_SECONDS = 20.0  # an idle connection (or a stalled body) is dropped after this long
_CHUNK = 1 << 16


@dataclass
class HttpRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # header names lower-cased
    body: bytes  # what arrived, at most `content_length` bytes
    content_length: int | None = None  # as declared; None when the request had no Content-Length


@dataclass
class HttpResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: object, status: int = 200) -> HttpResponse:
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


Route = Callable[[HttpRequest], HttpResponse]


class HttpFrontend:
    """Routes by method and longest path prefix; unknown paths get 404."""

    def __init__(self, host: str, port: int = 0) -> None:
        self._routes: list[tuple[str, str, Route]] = []
        frontend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = BODY_TIMEOUT_SECONDS

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                declared = self.headers.get("Content-Length")
                try:
                    length = None if declared is None else int(declared)
                except ValueError:
                    length = -1
                if length is not None and length < 0:
                    self.close_connection = True
                    self.send_error(400, "Bad Content-Length")
                    return
                body = self._read_body(length or 0)
                if (length is not None and len(body) < length) or "transfer-encoding" in self.headers:
                    self.close_connection = True  # the rest of this body must not be read as a request
                request = HttpRequest(
                    method=self.command,
                    path=parsed.path,
                    query=urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    content_length=length,
                )
                response = frontend.dispatch(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def _read_body(self, length: int) -> bytes:
                """Up to `length` bytes: fewer when the sender closes or stalls before sending them all."""
                chunks: list[bytes] = []
                remaining = length
                while remaining > 0:
                    try:
                        chunk = self.rfile.read1(min(remaining, _CHUNK))
                    except OSError:  # timed out or reset: keep what arrived
                        break
                    if not chunk:
                        break
                    chunks.append(chunk)
                    remaining -= len(chunk)
                return b"".join(chunks)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:  # quiet: tests read stderr
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def add_route(self, method: str, path_prefix: str, handler: Route) -> None:
        self._routes.append((method.upper(), path_prefix, handler))
        self._routes.sort(key=lambda route: len(route[1]), reverse=True)

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        for method, prefix, handler in self._routes:
            if request.method == method and request.path.startswith(prefix):
                try:
                    return handler(request)
                except Exception as error:  # a route bug must not kill the server thread
                    log.exception("emulator HTTP route %s %s failed", method, prefix)
                    return HttpResponse(500, f"{type(error).__name__}: {error}".encode())
        return HttpResponse(404, b"not found")

    def use_tls(self, cert_file: str, key_file: str) -> None:
        """Serve HTTPS: every accepted connection does a TLS handshake with this certificate first."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="emulator-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self.close()

    def close(self) -> None:
        """Release the socket (also for a frontend that never started serving)."""
        self._server.server_close()


class TokenFaults:
    """Seeded failures of the token endpoint: which requests fail, and alternately how (429, then 503)."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        # its own stream, so turning this knob on does not shift the gRPC fault draws of the same seed
        self._random = random.Random(f"token-endpoint:{seed}")
        self._failed = 0
        self._lock = threading.Lock()

    def draw(self) -> HttpResponse | None:
        """The refusal for this request, or None when it is to be answered as usual."""
        if self.rate <= 0:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            self._failed += 1
            throttled = self._failed % 2 == 1
        if throttled:
            response = HttpResponse.json(
                {"error": "rate_limited", "error_description": "injected token endpoint fault"}, 429
            )
            response.headers["Retry-After"] = "1"
            return response
        return HttpResponse.json(
            {"error": "temporarily_unavailable", "error_description": "injected token endpoint fault"}, 503
        )


def register_oauth_routes(
    frontend: HttpFrontend, state: EmulatorState, issue: Callable[[str], tuple[str, int]]
) -> None:
    """OAuth2 client credentials (`POST /oauth2/token`, Basic or form credentials) and discovery documents.

    Without auth options flyteadmin mounts no OAuth2 handler; its gateway forwards the discovery document to
    the unregistered gRPC AuthMetadataService: HTTP 501 with the gRPC status as JSON."""
    if not state.config.auth_enabled:
        unserved = {
            "code": 12,
            "message": "unknown service flyteidl.service.AuthMetadataService",
            "details": [],
        }
        frontend.add_route(
            "GET", "/.well-known/oauth-authorization-server", lambda _: HttpResponse.json(unserved, 501)
        )
        return
    faults = TokenFaults(state.config.token_fault_rate, state.config.seed)

    def token(request: HttpRequest) -> HttpResponse:
        refusal = faults.draw()
        if refusal is not None:
            return refusal
        client_id = client_secret = ""
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            client_id, _, client_secret = decoded.partition(":")
            client_id, client_secret = urllib.parse.unquote(client_id), urllib.parse.unquote(client_secret)
        form = urllib.parse.parse_qs(request.body.decode(errors="replace"))
        client_id = client_id or form.get("client_id", [""])[0]
        client_secret = client_secret or form.get("client_secret", [""])[0]
        grant_type = form.get("grant_type", [""])[0]
        from flyteadmin_ops.emulator.oauth_interactive import interactive_grant

        interactive = interactive_grant(state, grant_type, request.body)
        if interactive is not None:  # a public client's grant (oauth_interactive.py)
            return interactive
        if grant_type != "client_credentials":
            return HttpResponse.json({"error": "unsupported_grant_type"}, 400)
        config = state.config
        if not config.oauth_client_id or (client_id, client_secret) != (
            config.oauth_client_id,
            config.oauth_client_secret,
        ):
            return HttpResponse.json({"error": "invalid_client"}, 401)
        refused = refused_scope(config, form.get("scope", [""])[0])
        if refused:
            return HttpResponse.json(
                {
                    "error": "invalid_scope",
                    "error_description": "The requested scope is invalid, unknown, or malformed. The OAuth "
                    f"2.0 Client is not allowed to request scope '{refused}'.",
                },
                400,
            )
        access_token, lifetime = issue(client_id)
        return HttpResponse.json(
            {"access_token": access_token, "token_type": "bearer", "expires_in": lifetime}
        )

    def metadata(request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(oauth_metadata(state))

    frontend.add_route("POST", "/oauth2/token", token)
    frontend.add_route("GET", "/.well-known/oauth-authorization-server", metadata)
    from flyteadmin_ops.emulator.oauth_interactive import register_interactive_routes

    register_interactive_routes(frontend, state)


def refused_scope(config: EmulatorConfig, requested: str) -> str:
    """The first requested scope the client-credentials client may not have (fosite's check), or ""."""
    allowed = config.oauth_client_scopes if config.oauth_client_scopes is not None else config.oauth_scopes
    return next((scope for scope in requested.split() if scope not in allowed), "")


def oauth_metadata(state: EmulatorState) -> dict[str, object]:
    base = state.http_base_url
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/oauth2/jwks",
        "response_types_supported": ["code", "token", "code token"],
        "scopes_supported": list(state.config.oauth_scopes),
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["client_credentials", "refresh_token", "authorization_code"],
        **interactive_metadata(state),
    }


def interactive_metadata(state: EmulatorState) -> dict[str, object]:
    """What a server with a public client adds to its metadata: the device endpoint and grant."""
    if not state.config.oauth_public_client_id:
        return {}
    base = state.http_base_url
    return {
        "device_authorization_endpoint": f"{base}/oauth2/device/authorize",
        "grant_types_supported": [
            "client_credentials",
            "refresh_token",
            "authorization_code",
            "urn:ietf:params:oauth:grant-type:device_code",
        ],
    }
