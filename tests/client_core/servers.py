"""Real servers for the client-core tests (fixtures in conftest.py): a scripted Admin gRPC server,
a CA with certificates, and an OAuth2 token endpoint, all on 127.0.0.1 with kernel-chosen ports."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flyteidl.admin import common_pb2, execution_pb2, project_pb2, task_pb2, version_pb2, workflow_pb2
from flyteidl.service import auth_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc_status import rpc_status

from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import RpcSpec

ADMIN = "flyteidl.service.AdminService"
AUTH = "flyteidl.service.AuthMetadataService"


def spec_for(method: str, *, retry_safe: bool = True, read_only: bool = False) -> RpcSpec:
    """An RpcSpec for one of the scripted AdminService methods."""
    request_type, response_type = _METHODS[(ADMIN, method)]
    return RpcSpec(ADMIN, method, request_type, response_type, retry_safe, read_only)


_METHODS: dict[tuple[str, str], tuple[type[Message], type[Message]]] = {
    (ADMIN, "GetVersion"): (version_pb2.GetVersionRequest, version_pb2.GetVersionResponse),
    (ADMIN, "ListProjects"): (project_pb2.ProjectListRequest, project_pb2.Projects),
    (ADMIN, "CreateExecution"): (execution_pb2.ExecutionCreateRequest, execution_pb2.ExecutionCreateResponse),
    (ADMIN, "TerminateExecution"): (
        execution_pb2.ExecutionTerminateRequest,
        execution_pb2.ExecutionTerminateResponse,
    ),
    (ADMIN, "CreateTask"): (task_pb2.TaskCreateRequest, task_pb2.TaskCreateResponse),
    (ADMIN, "GetTask"): (common_pb2.ObjectGetRequest, task_pb2.Task),
    (ADMIN, "CreateWorkflow"): (workflow_pb2.WorkflowCreateRequest, workflow_pb2.WorkflowCreateResponse),
    (AUTH, "GetPublicClientConfig"): (
        auth_pb2.PublicClientAuthConfigRequest,
        auth_pb2.PublicClientAuthConfigResponse,
    ),
    (AUTH, "GetOAuth2Metadata"): (auth_pb2.OAuth2MetadataRequest, auth_pb2.OAuth2MetadataResponse),
}


GET_VERSION = spec_for("GetVersion", read_only=True)
LIST_PROJECTS = spec_for("ListProjects", read_only=True)
CREATE_EXECUTION = spec_for("CreateExecution")  # as the clients send it: always named, so safe to resend
UNNAMED_CREATE_EXECUTION = spec_for("CreateExecution", retry_safe=False)


@dataclass
class Arrival:
    method: str
    at: float
    metadata: dict[str, str]
    request: Message
    time_remaining: float | None = None
    """Seconds left of the deadline the client sent with the call (None without one)."""


Outcome = Message | grpc.StatusCode | status_pb2.Status | Callable[[Message, grpc.ServicerContext], Message]


@dataclass
class ScriptedAdmin:
    """Answers each method from a script: the outcomes are used in order and the last one repeats.

    An outcome is a response message, a status code to fail with, a google.rpc.Status (sent with its
    details in the grpc-status-details-bin trailer), or a function of (request, context).
    """

    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    scripts: dict[str, list[Outcome]] = field(default_factory=dict)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, *outcomes: Outcome) -> None:
        self.scripts[method] = list(outcomes)

    def calls(self, method: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.method == method]

    def gaps(self, method: str) -> list[float]:
        times = [a.at for a in self.calls(method)]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def hang(self, request: Message, context: grpc.ServicerContext) -> Message:
        """An outcome that keeps the call open until the test ends (the client's deadline fires first)."""
        self.released.wait(10)
        context.abort(grpc.StatusCode.INTERNAL, "released")
        raise AssertionError("unreachable")

    def handle(self, method: str, request: Message, context: grpc.ServicerContext) -> Message:
        with self.lock:
            self.arrivals.append(
                Arrival(
                    method,
                    time.monotonic(),
                    dict(context.invocation_metadata()),
                    request,
                    context.time_remaining(),
                )
            )
            script = self.scripts.get(method)
            if not script:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not scripted")
            outcome = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(outcome, grpc.StatusCode):
            context.abort(outcome, f"scripted {outcome.name}")
        if isinstance(outcome, status_pb2.Status):
            context.abort_with_status(rpc_status.to_status(outcome))
        if callable(outcome) and not isinstance(outcome, Message):
            return outcome(request, context)
        assert isinstance(outcome, Message)
        return outcome


def _handler(server: ScriptedAdmin, service: str) -> grpc.GenericRpcHandler:
    handlers = {}
    for (svc, method), (request_type, response_type) in _METHODS.items():
        if svc != service:
            continue

        def behaviour(request: Message, context: grpc.ServicerContext, _method: str = method) -> Message:
            return server.handle(_method, request, context)

        handlers[method] = grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service, handlers)


@contextlib.contextmanager
def serve(
    credentials: grpc.ServerCredentials | None = None, *, services: tuple[str, ...] = (ADMIN, AUTH)
) -> Iterator[ScriptedAdmin]:
    """A ScriptedAdmin on 127.0.0.1 (plaintext unless server credentials are given)."""
    admin = ScriptedAdmin()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers([_handler(admin, service) for service in services])
    address = "127.0.0.1:0"
    admin.port = (
        server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    )
    server.start()
    try:
        yield admin
    finally:
        admin.released.set()
        server.stop(grace=None)


@pytest.fixture
def admin() -> Iterator[ScriptedAdmin]:
    with serve() as scripted:
        yield scripted


def fast_settings(port: int, **overrides: Any) -> AdminSettings:
    """Plaintext settings with tiny backoffs (10 ms doubling to 80 ms, no jitter) so retry tests are quick."""
    values: dict[str, Any] = {
        "endpoint": f"127.0.0.1:{port}",
        "insecure": True,
        "retry_attempts": 5,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.08,
        "retry_multiplier": 2.0,
        "retry_jitter": 0.0,
        "deadline_seconds": 5.0,
    }
    values.update(overrides)
    return AdminSettings.isolated(**values)


# --- certificates ----------------------------------------------------------------------------------


@dataclass
class Pki:
    """A CA and PEM files written under a temporary directory."""

    directory: Path
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    def issue(self, name: str, *, hosts: tuple[str, ...], client: bool = False) -> tuple[Path, Path]:
        """A leaf certificate and key signed by the CA, valid for `hosts` (DNS names or IP addresses)."""
        key = ec.generate_private_key(ec.SECP256R1())
        alt_names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                alt_names.append(x509.DNSName(host))
        usage = x509.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            _builder(name, key)
            .issuer_name(self.ca_cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        return self._write(name, cert, key)

    def _write(self, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
        cert_file = self.directory / f"{name}.crt"
        key_file = self.directory / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


def _builder(common_name: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return new_pki(tmp_path_factory.mktemp("pki"))


def new_pki(directory: Path) -> Pki:
    """A fresh CA writing its files under `directory` (a second one is a CA the client does not know)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder("flyteadmin-ops test CA", key)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flyteadmin-ops test CA")]))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pki = Pki(directory, key, cert)
    pki.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pki


# --- OAuth2 token endpoint -------------------------------------------------------------------------


@dataclass
class TokenEndpoint:
    """A loopback OAuth2 token endpoint that mints `tok-1`, `tok-2`, ... and records each request."""

    url: str = ""
    expires_in: float = 3600.0
    requests: list[dict[str, str]] = field(default_factory=list)
    delay: threading.Event | None = None
    """When set, each request waits (up to 0.3 s) on this event before answering: a slow endpoint."""
    reject: bool = False
    outage_status: int | None = None
    """When set, every request is answered with this HTTP status (e.g. 503, 429): the provider is down."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mint(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        if self.delay is not None:
            self.delay.wait(0.3)
        with self.lock:
            self.requests.append({**form, "authorization": authorization})
            count = len(self.requests)
        if self.outage_status is not None:
            return self.outage_status, {"error": "temporarily_unavailable"}
        if self.reject:
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        return 200, {"access_token": f"tok-{count}", "token_type": "bearer", "expires_in": self.expires_in}


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            status, body = endpoint.mint(form, self.headers.get("Authorization", ""))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{httpd.server_address[1]}/oauth2/token"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        httpd.shutdown()
        httpd.server_close()
