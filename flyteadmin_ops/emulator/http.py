"""The emulator's small HTTP frontend: OAuth2 token endpoint, auth discovery, and routes other modules add.

flyteadmin serves HTTP beside gRPC (port 8088 in the sandbox); clients fetch OAuth2 tokens there, and signed
URLs point at object storage. Here one threaded `http.server` on the same host serves both: `add_route`
lets the data proxy register its signed-URL PUT/GET handlers without this module knowing about them.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flyteadmin_ops.emulator.state import EmulatorState

log = logging.getLogger(__name__)


@dataclass
class HttpRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # header names lower-cased
    body: bytes


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

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = HttpRequest(
                    method=self.command,
                    path=parsed.path,
                    query=urllib.parse.parse_qs(parsed.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response = frontend.dispatch(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

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


def register_oauth_routes(
    frontend: HttpFrontend, state: EmulatorState, issue: Callable[[str], tuple[str, int]]
) -> None:
    """OAuth2 client credentials (`POST /oauth2/token`, Basic or form credentials) and discovery documents."""

    def token(request: HttpRequest) -> HttpResponse:
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
        if form.get("grant_type", [""])[0] != "client_credentials":
            return HttpResponse.json({"error": "unsupported_grant_type"}, 400)
        config = state.config
        if not config.oauth_client_id or (client_id, client_secret) != (
            config.oauth_client_id,
            config.oauth_client_secret,
        ):
            return HttpResponse.json({"error": "invalid_client"}, 401)
        access_token, lifetime = issue(client_id)
        return HttpResponse.json(
            {"access_token": access_token, "token_type": "bearer", "expires_in": lifetime}
        )

    def metadata(request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(oauth_metadata(state))

    frontend.add_route("POST", "/oauth2/token", token)
    frontend.add_route("GET", "/.well-known/oauth-authorization-server", metadata)


def oauth_metadata(state: EmulatorState) -> dict[str, object]:
    base = state.http_base_url
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/oauth2/jwks",
        "response_types_supported": ["code", "token", "code token"],
        "scopes_supported": ["all"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["client_credentials", "refresh_token", "authorization_code"],
    }
