"""Run a local Flyte Admin emulator: `flyteadmin-ops emulator serve [options]`.

The first line printed is the gRPC endpoint (host:port), so scripts can start it with `--port 0` and read
where it listens. It serves until SIGINT or SIGTERM and then exits 0.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sqlite3
import ssl
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from flyteadmin_ops.emulator.state import DEFAULT_DOMAINS, DEFAULT_PROJECTS

N = TypeVar("N", int, float)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="emulator_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve the emulator until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8089, help="gRPC port; 0 picks a free one (default 8089)"
    )
    serve.add_argument("--http-port", type=_port, default=0, help="HTTP port (token endpoint, signed URLs)")
    serve.add_argument("--db", default=":memory:", help="SQLite file, or :memory: (default)")
    serve.add_argument(
        "--domains",
        default=",".join(DEFAULT_DOMAINS),
        type=_domains,
        help="comma-separated domains (default development,staging,production)",
    )
    serve.add_argument(
        "--project",
        action="append",
        dest="projects",
        metavar="NAME",
        help="project to pre-register (repeatable; default flytesnacks)",
    )
    serve.add_argument("--auth-token", help="require 'authorization: Bearer TOKEN' on every call")
    serve.add_argument(
        "--oauth-client",
        type=_oauth_client,
        metavar="ID:SECRET",
        help="enable the OAuth2 client-credentials token endpoint for this client",
    )
    serve.add_argument(
        "--oauth-public-client",
        metavar="ID",
        help="log people in as this public client (e.g. flytectl): PKCE authorize (approved at once), "
        "device flow (approve at the printed verification URL), refresh tokens",
    )
    serve.add_argument("--tls-cert", help="PEM certificate file (with --tls-key)")
    serve.add_argument("--tls-key", help="PEM private key file (with --tls-cert)")
    serve.add_argument(
        "--latency-ms",
        type=_non_negative_int,
        default=0,
        help="delay added to every RPC (no limit on how many are delayed at once)",
    )
    serve.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        help="fraction of RPCs failing UNAVAILABLE (half before, half after processing)",
    )
    serve.add_argument(
        "--token-fault-rate",
        type=_fraction,
        default=0.0,
        help="fraction of OAuth2 token requests answered 429 (Retry-After: 1) or 503, alternately",
    )
    serve.add_argument(
        "--executor",
        choices=("none", "simulate"),
        default="none",
        help="'simulate' drives executions through their phases (default none)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed for fault injection and the simulator")
    serve.set_defaults(_emulator_parser=serve)


def _bounded(convert: Callable[[str], N], low: N, high: N | None, what: str) -> Callable[[str], N]:
    """An argparse type: `convert` the text and require low <= value <= high, naming what was expected."""

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            value = None
        # written as "not inside" so that NaN, which compares False with everything, is refused too
        if value is None or not (low <= value and (high is None or value <= high)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


_port = _bounded(int, 0, 65535, "a port number 0..65535")
_non_negative_int = _bounded(int, 0, None, "an integer >= 0")
_fraction = _bounded(float, 0.0, 1.0, "a number between 0 and 1")


def _domains(text: str) -> list[str]:
    domains = [d.strip() for d in text.split(",") if d.strip()]
    if not domains:
        raise argparse.ArgumentTypeError("at least one domain is required")
    return domains


def _oauth_client(text: str) -> str:
    from flyteadmin_ops.emulator import parse_oauth_client

    try:
        parse_oauth_client(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def run(args: argparse.Namespace) -> int:
    from flyteadmin_ops.emulator import Emulator

    if (args.tls_cert is None) != (args.tls_key is None):
        args._emulator_parser.error("--tls-cert and --tls-key must be given together")
    tls_problem = _tls_pair_problem(args.tls_cert, args.tls_key)
    if tls_problem:
        print(f"flyteadmin-ops emulator: cannot start: {tls_problem}", file=sys.stderr)
        return 1
    emulator = Emulator(
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        db=args.db,
        domains=args.domains,
        projects=args.projects or DEFAULT_PROJECTS,
        auth_token=args.auth_token,
        oauth_client=args.oauth_client,
        oauth_public_client=args.oauth_public_client,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        token_fault_rate=args.token_fault_rate,
        executor=args.executor,
        seed=args.seed,
    )
    try:
        emulator.start()
    except (OSError, ValueError, RuntimeError, sqlite3.Error) as error:
        print(f"flyteadmin-ops emulator: cannot start: {_start_problem(args, error)}", file=sys.stderr)
        return 1
    print(emulator.endpoint, flush=True)
    print(f"http {emulator.http_url}", flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    return 0


def _tls_pair_problem(cert: str | None, key: str | None) -> str:
    """Checked before the server starts: gRPC reports an unusable certificate only as "Failed to bind to
    address", which sends the user looking at the port instead of the PEM files."""
    if cert is None or key is None:
        return ""
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            return f"{option} {path}: no such file"
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (OSError, ValueError):  # ssl.SSLError is an OSError; its text ("PEM lib") says nothing more
        return f"--tls-cert {cert} / --tls-key {key}: not a PEM certificate with its matching private key"
    return ""


def _start_problem(args: argparse.Namespace, error: BaseException) -> str:
    """The start failure with the option at fault named: sqlite, gRPC and the socket layer each describe
    what failed but not which of our options caused it."""
    if isinstance(error, sqlite3.Error):
        return f"--db {args.db}: {error}"
    if isinstance(error, RuntimeError) and "bind" in str(error).lower():
        where = f"--host {args.host} --port {args.port}"
        return f"{where}: cannot listen there (port in use, or not this host's address)"
    if isinstance(error, socket.gaierror):
        return f"--host {args.host}: {error.strerror}"
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return f"--http-port {args.http_port}: address already in use"
    return str(error)
