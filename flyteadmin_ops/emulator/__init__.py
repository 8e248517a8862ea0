"""A local Flyte Admin: a real gRPC server on loopback, with an SQLite store, that behaves like
flyteadmin v1.16.

    from flyteadmin_ops.emulator import Emulator

    with Emulator(executor="simulate") as emu:       # port=0: a free port
        channel = grpc.insecure_channel(emu.endpoint)
        ...                                          # create executions
        assert emu.wait_idle(timeout=10)             # every execution has reached its end

It imports only flyteidl, grpc, protobuf and the standard library (never the client layers), so the client
and the emulator cannot silently agree on a mistake. Semantics: `shared/reference/flyteadmin-semantics.md`.

Executions: with ``executor="none"`` (the default) nothing runs, exactly as flyteadmin without an engine: an
execution stays UNDEFINED until a test reports events (CreateWorkflowEvent/NodeEvent/TaskEvent). With
``executor="simulate"`` a built-in engine reports QUEUED, RUNNING, then SUCCEEDED or FAILED through the same
event handlers. Which executions FAIL is decided by these rules (see `executor.py` for what a run produces):

1. an input named ``fail`` is the boolean ``true`` (or the string ``"true"``);
2. any top-level string input equals ``"fail"``;
3. the launch plan name ends with ``_fails`` (single-task executions run ``.flytegen.<task name>``, so a
   task whose name ends with ``_fails`` fails too);
4. an input named ``fail_always`` is ``true``, or any top-level string input equals ``"fail_always"``.

A RELAUNCH or RECOVERED execution of a FAILED execution succeeds unless rule 4 holds, so relaunch and recover
can be shown end to end; ``fail_always`` keeps failing. Everything else succeeds.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from flyteadmin_ops.emulator.db import Database
from flyteadmin_ops.emulator.state import DEFAULT_DOMAINS, DEFAULT_PROJECTS, EmulatorConfig, EmulatorState

if TYPE_CHECKING:
    from flyteadmin_ops.emulator.server import GrpcServer

# Every module that registers @rpc handlers. Importing them fills registry.HANDLERS.
SEMANTICS_MODULES = (
    "projects",
    "tasks",
    "workflows",
    "launch_plans",
    "named_entities",
    "descriptions",
    "attributes",
    "meta",
    "executions",
    "execution_metrics",
    "node_executions",
    "task_executions",
    "events",
    "signals",
    "dataproxy",
)


def load_semantics() -> None:
    """Import every module that registers @rpc handlers (idempotent)."""
    for name in SEMANTICS_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def parse_oauth_client(value: str | tuple[str, str] | None) -> tuple[str | None, str | None]:
    """`"ID:SECRET"` (the command line's form) or an (id, secret) pair; the error never echoes the secret."""
    if value is None:
        return None, None
    if isinstance(value, tuple):
        return value
    client_id, sep, secret = value.partition(":")
    if not sep or not client_id or not secret:
        raise ValueError("oauth_client must be 'ID:SECRET' with both parts non-empty")
    return client_id, secret


class Emulator:
    """A running (after `start()`, or inside `with`) emulator: gRPC at `endpoint`, HTTP at `http_url`.

    The keyword arguments are the options of `flyteadmin-ops emulator serve`: `db` a file for a store that
    survives restarts (":memory:" by default), `projects`/`domains` what is registered (the sandbox's
    flytesnacks and development/staging/production), `auth_token` or `oauth_client="ID:SECRET"` to require
    bearer tokens, `oauth_public_client="flytectl"` to also log people in (PKCE, device flow, refresh tokens;
    see `oauth_interactive.py`), `tls_cert`/`tls_key` for TLS. To model a remote Admin: `latency_ms` (every
    call waits that long on an event loop, holding no thread, so any number of calls are delayed at once;
    `delayed_calls` counts them) and `fault_rate` (UNAVAILABLE, half before the request is handled and half
    after it committed); to model a flaky identity provider, `token_fault_rate` (that share of OAuth2 token
    requests answered 429 with `Retry-After: 1` or 503, alternately; see `http.py`). `executor` "none" or
    "simulate" (failure rules in the module docstring), `seed` for the fault draws, and `clock` to move time
    in tests.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: int = 0,
        db: str = ":memory:",
        domains: tuple[str, ...] | list[str] = DEFAULT_DOMAINS,
        projects: tuple[str, ...] | list[str] = DEFAULT_PROJECTS,
        auth_token: str | None = None,
        oauth_client: str | tuple[str, str] | None = None,
        oauth_public_client: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        latency_ms: int = 0,
        fault_rate: float = 0.0,
        token_fault_rate: float = 0.0,
        executor: str = "none",
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if executor not in ("none", "simulate"):
            raise ValueError(f"executor must be 'none' or 'simulate', not {executor!r}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, not {fault_rate}")
        if not 0.0 <= token_fault_rate <= 1.0:
            raise ValueError(f"token_fault_rate must be between 0 and 1, not {token_fault_rate}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, not {latency_ms}")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if not domains:
            raise ValueError("at least one domain is required")
        client_id, client_secret = parse_oauth_client(oauth_client)
        self.host = host
        self._port = port
        self._http_port = http_port
        self._db_path = db
        self._tls = (tls_cert, tls_key)
        self.config = EmulatorConfig(
            domains=tuple(domains),
            projects=tuple(projects),
            executor=executor,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            token_fault_rate=token_fault_rate,
            seed=seed,
            auth_token=auth_token,
            oauth_client_id=client_id,
            oauth_client_secret=client_secret,
            oauth_public_client_id=oauth_public_client,
        )
        self._clock = clock
        self._server: GrpcServer | None = None
        self._frontend: object | None = None
        self.state: EmulatorState | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        """`host:port` of the gRPC server, with the port actually bound (`port=0` asks for a free one)."""
        return f"{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP side (OAuth2 token endpoint, signed upload/download URLs); "" before start."""
        return self.state.http_base_url if self.state else ""

    def start(self) -> Emulator:
        """Open the store, seed projects, bind HTTP and gRPC, then start serving (and the simulate engine).

        Everything that can fail (a bad database path, a busy port, unreadable TLS files) fails before
        anything serves, and releases what it had opened, so a failed start leaves nothing behind."""
        from flyteadmin_ops.emulator import dataproxy, executor
        from flyteadmin_ops.emulator.http import HttpFrontend, register_oauth_routes
        from flyteadmin_ops.emulator.projects import seed_projects
        from flyteadmin_ops.emulator.server import Authenticator, Listen, build_server

        load_semantics()
        state = EmulatorState(db=Database(self._db_path), config=self.config)
        if self._clock is not None:
            state.clock = self._clock
        self.state = state
        frontend: HttpFrontend | None = None
        try:
            seed_projects(state)
            frontend = HttpFrontend(self.host, self._http_port)
            cert, key = self._tls
            scheme = "http"
            if self.config.http_tls and cert and key:
                frontend.use_tls(cert, key)
                scheme = "https"
            state.http_base_url = f"{scheme}://{self.host}:{frontend.port}"
            auth = Authenticator(state)
            state.extensions["auth"] = auth
            register_oauth_routes(frontend, state, auth.issue)
            dataproxy.register_http_routes(frontend, state)
            cert, key = self._tls
            listen = Listen(
                f"{self.host}:{self._port}", _read(cert) if cert else None, _read(key) if key else None
            )
            server = build_server(state, auth, listen)
        except BaseException:
            # a half-started emulator must not leak its database handle or HTTP socket
            if frontend is not None:
                frontend.close()
            state.db.close()
            raise
        frontend.start()
        server.start()
        self.port = server.port
        self._server, self._frontend = server, frontend
        if self.config.executor == "simulate":
            executor.start_executor(state)
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop the engine first (it writes through the store), then gRPC (in-flight calls get `grace`
        seconds), then HTTP, and close the store last. Idempotent."""
        if self._server is None:
            return
        from flyteadmin_ops.emulator import executor

        if self.state is not None:
            executor.stop_executor(self.state)
        self._server.stop(grace)
        from flyteadmin_ops.emulator.http import HttpFrontend

        if isinstance(self._frontend, HttpFrontend):
            self._frontend.stop()
        if self.state is not None:
            self.state.db.close()
        self._server = None

    @property
    def delayed_calls(self) -> int:
        """How many calls the latency model is delaying right now (0 without `latency_ms`, or when stopped):
        lets a test see that the delay holds no thread, so it caps no caller's concurrency."""
        return self._server.delayed_calls if self._server is not None else 0

    def approve_device_code(self, user_code: str, *, allow: bool = True) -> bool:
        """Act as the person who visits the verification page: approve (or deny) a device login by its
        user code. False when no such login is pending (or the emulator has no `oauth_public_client`)."""
        oauth = self.state.extensions.get("oauth_interactive") if self.state else None
        return bool(oauth is not None and oauth.approve(user_code, allow=allow))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the simulate executor has driven every execution created or terminated so far to its
        end, so tests wait on the engine instead of sleeping. True at once with `executor="none"` (nothing
        runs); False on timeout. Raises RuntimeError before `start()`."""
        if self.state is None:
            raise RuntimeError("the emulator is not started: call start() or use it in a `with` block")
        from flyteadmin_ops.emulator import executor

        return executor.wait_idle(self.state, timeout)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _read(path: str) -> bytes:
    if not os.path.exists(path):
        raise FileNotFoundError(f"TLS file not found: {path}")
    with open(path, "rb") as handle:
        return handle.read()


__all__ = ["Emulator", "EmulatorConfig", "EmulatorState"]
