"""The emulator as a server: auth (static token, OAuth2 client credentials through flytekit), TLS, latency,
fault injection, error mapping, the `serve` command line and the pytest fixtures users get."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flyteidl.admin import common_pb2, execution_pb2, project_pb2, version_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.registry import ADMIN, HANDLERS, AdminError
from flyteadmin_ops.emulator.server import MAX_MESSAGE_BYTES
from tests.emulator.support import (
    RT,
    Caller,
    Failure,
    ident,
    launch_plan_request,
    register_basic,
    serve,
    started,
    task_request,
    workflow_request,
)

VERSION = version_pb2.GetVersionRequest()


def _stub(endpoint: str) -> Any:
    return admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(endpoint))


def test_static_token_guards_every_admin_call_but_not_discovery() -> None:
    with Emulator(auth_token="s3cret") as emu:
        stub = _stub(emu.endpoint)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetVersion(VERSION)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError):
            stub.GetVersion(VERSION, metadata=(("authorization", "Bearer wrong"),))
        assert stub.GetVersion(VERSION, metadata=(("authorization", "Bearer s3cret"),)).control_plane_version
        discovery = auth_pb2_grpc.AuthMetadataServiceStub(grpc.insecure_channel(emu.endpoint))
        metadata = discovery.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest())
        assert metadata.token_endpoint == f"{emu.http_url}/oauth2/token"


def _token(url: str, client: str, secret: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
    request = urllib.request.Request(
        f"{url}/oauth2/token",
        data=b"grant_type=client_credentials&scope=all",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def test_oauth_client_credentials_token_endpoint() -> None:
    with Emulator(oauth_client="ops:pa55") as emu:
        with pytest.raises(urllib.error.HTTPError) as denied:
            _token(emu.http_url, "ops", "wrong")
        assert denied.value.code == 401
        issued = _token(emu.http_url, "ops", "pa55")
        assert issued["expires_in"] == 3600
        stub = _stub(emu.endpoint)
        headers = (("authorization", f"Bearer {issued['access_token']}"),)
        assert stub.GetVersion(VERSION, metadata=headers).control_plane_version
        with urllib.request.urlopen(
            f"{emu.http_url}/.well-known/oauth-authorization-server", timeout=10
        ) as doc:
            assert json.load(doc)["token_endpoint"].endswith("/oauth2/token")


def test_flytekit_authenticates_with_client_credentials() -> None:
    from flytekit.clients.raw import RawSynchronousFlyteClient
    from flytekit.configuration import AuthType, PlatformConfig

    with Emulator(oauth_client="ops:pa55") as emu:
        config = PlatformConfig(
            endpoint=emu.endpoint,
            insecure=True,
            auth_mode=AuthType.CLIENTSECRET,
            client_id="ops",
            client_credentials_secret="pa55",
        )
        client = RawSynchronousFlyteClient(config)
        client.create_task(task_request())
        assert client.get_task(common_pb2.ObjectGetRequest(id=ident(RT.TASK, "t"))).id.name == "t"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    with Emulator(tls_cert=str(cert), tls_key=str(key)) as emu:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        stub = admin_pb2_grpc.AdminServiceStub(grpc.secure_channel(emu.endpoint, credentials))
        assert stub.GetVersion(VERSION, timeout=10).control_plane_version
        with pytest.raises(grpc.RpcError):
            _stub(emu.endpoint).GetVersion(VERSION, timeout=2)  # plaintext is refused


def test_latency_is_added_to_every_call() -> None:
    with Emulator(latency_ms=150) as emu:
        stub = _stub(emu.endpoint)
        stub.GetVersion(VERSION)
        started = time.perf_counter()
        stub.GetVersion(VERSION)
        assert time.perf_counter() - started >= 0.15


def test_faults_fail_half_before_and_half_after_the_commit(tmp_path: Path) -> None:
    db = str(tmp_path / "faults.db")
    messages = {}
    with Emulator(db=db, fault_rate=1.0, seed=7) as emu:
        caller = Caller("raw", emu.endpoint)
        for index in range(20):
            try:
                caller.call("CreateTask", task_request(f"t{index}"))
            except Failure as failure:
                assert failure.code == grpc.StatusCode.UNAVAILABLE
                messages[f"t{index}"] = failure.message
        caller.close()
    assert len(messages) == 20
    with Emulator(db=db) as emu:
        caller = Caller("raw", emu.endpoint)
        for name, message in messages.items():
            if "after" in message:
                caller.call("GetTask", common_pb2.ObjectGetRequest(id=ident(RT.TASK, name)))
            else:
                caller.fails(
                    "GetTask", common_pb2.ObjectGetRequest(id=ident(RT.TASK, name)), grpc.StatusCode.NOT_FOUND
                )
        caller.close()
    after = sum("after" in m for m in messages.values())
    assert 0 < after < 20
    # the same seed gives the same decisions
    with Emulator(fault_rate=1.0, seed=7) as emu:
        caller = Caller("raw", emu.endpoint)
        replay = []
        for index in range(20):
            with pytest.raises(Failure) as failed:
                caller.call("CreateTask", task_request(f"t{index}"))
            replay.append(failed.value.message)
        assert replay == list(messages.values())
        caller.close()


def test_error_mapping(emulator: Emulator, broken_version: list[Exception]) -> None:
    stub = _stub(emulator.endpoint)
    broken_version.append(KeyError("boom"))
    with pytest.raises(grpc.RpcError) as internal:
        stub.GetVersion(VERSION)
    assert internal.value.code() == grpc.StatusCode.INTERNAL
    broken_version[0] = AdminError(grpc.StatusCode.INVALID_ARGUMENT, "x" * 40000)
    # clients must accept 32 KB of metadata for flyteadmin's longest messages (flytekit sets this too)
    roomy = grpc.insecure_channel(emulator.endpoint, options=[("grpc.max_metadata_size", 64 * 1024)])
    with pytest.raises(grpc.RpcError) as long:
        admin_pb2_grpc.AdminServiceStub(roomy).GetVersion(VERSION)
    assert len(long.value.details().encode()) == MAX_MESSAGE_BYTES


def test_every_rpc_of_the_five_services_has_a_handler() -> None:
    from flyteadmin_ops.emulator import load_semantics
    from flyteadmin_ops.emulator.server import unimplemented

    load_semantics()
    assert unimplemented() == []


def test_serve_prints_the_endpoint_first_and_exits_0_on_sigterm() -> None:
    process = serve("--port", "0", "--project", "alpha", "--domains", "dev,prod")
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        caller = Caller("raw", endpoint)
        caller.call("CreateTask", task_request(project="alpha", domain="prod"))
        caller.fails(
            "CreateTask",
            task_request(project="alpha", domain="development"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "domain [development] is unrecognized",
        )
        caller.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_identity_service_is_absent_without_auth(emulator: Emulator) -> None:
    """flyteadmin registers IdentityService only with auth on (the principal "" without auth shows in
    execution metadata instead: test_checklist)."""
    identity = identity_pb2_grpc.IdentityServiceStub(grpc.insecure_channel(emulator.endpoint))
    with pytest.raises(grpc.RpcError) as refused:
        identity.UserInfo(identity_pb2.UserInfoRequest())
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert refused.value.details() == "unknown service flyteidl.service.IdentityService"


def test_serve_reports_an_unusable_database(tmp_path: Path) -> None:
    process = serve("--port", "0", "--db", str(tmp_path / "missing-dir" / "admin.db"))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1 and "cannot start" in stderr


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--fault-rate", "2"], "between 0 and 1"),
        (["--oauth-client", "nosecret"], "ID:SECRET"),
        (["--tls-cert", "c.pem"], "--tls-cert and --tls-key must be given together"),
        (["--port", "70000"], "expected a port number 0..65535, got '70000'"),
        (["--latency-ms", "-5"], "expected an integer >= 0"),
        (["--executor", "k8s"], "invalid choice"),
    ],
)
def test_serve_rejects_bad_arguments(args: list[str], complaint: str) -> None:
    process = serve(*args)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert complaint in stderr


def test_pytest_fixtures(flyte_admin: Emulator, admin_client: Any) -> None:
    caller = Caller("raw", flyte_admin.endpoint)
    caller.call("CreateTask", task_request())
    caller.close()
    assert admin_client.get_task(ident(RT.TASK, "t")).id.version == "v1"


def test_a_port_in_use_fails_start_cleanly(emulator: Emulator) -> None:
    busy = Emulator(port=emulator.port)
    with pytest.raises(RuntimeError):
        busy.start()
    assert busy.port == 0


def test_an_rpc_without_a_handler_is_unimplemented(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(HANDLERS, (ADMIN, "GetVersion"))
    with pytest.raises(grpc.RpcError) as missing:
        _stub(emulator.endpoint).GetVersion(VERSION)
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _launch(caller: Caller, name: str, plan: str) -> None:
    caller.call(
        "CreateExecution",
        execution_pb2.ExecutionCreateRequest(
            project="flytesnacks",
            domain="development",
            name=name,
            spec=execution_pb2.ExecutionSpec(launch_plan=ident(RT.LAUNCH_PLAN, plan)),
            inputs=literals_pb2.LiteralMap(),
        ),
    )


def _phase(caller: Caller, name: str) -> int:
    execution = caller.call(
        "GetExecution",
        execution_pb2.WorkflowExecutionGetRequest(
            id=identifier_pb2.WorkflowExecutionIdentifier(
                project="flytesnacks", domain="development", name=name
            )
        ),
    )
    return int(execution.closure.phase)


def test_wait_idle_waits_for_the_simulated_runs_and_the_documented_failure_rule() -> None:
    phases = core_execution_pb2.WorkflowExecution
    with pytest.raises(RuntimeError, match="not started"):
        Emulator(executor="simulate").wait_idle(1)
    with Emulator(executor="simulate") as emu:
        caller = Caller("raw", emu.endpoint)
        register_basic(caller)
        caller.call(
            "CreateLaunchPlan", launch_plan_request("nightly_fails", workflow=ident(RT.WORKFLOW, "wf"))
        )
        _launch(caller, "good", "lp")
        _launch(caller, "bad", "nightly_fails")
        assert emu.wait_idle(timeout=20)
        assert (_phase(caller, "good"), _phase(caller, "bad")) == (phases.SUCCEEDED, phases.FAILED)
        caller.close()
    with Emulator() as idle:  # executor "none": nothing runs, so nothing to wait for
        caller = Caller("raw", idle.endpoint)
        register_basic(caller)
        _launch(caller, "never", "lp")
        assert idle.wait_idle(timeout=0)
        assert _phase(caller, "never") == phases.UNDEFINED
        caller.close()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[str], signum: int) -> int:
    process.send_signal(signum)
    try:
        return process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_options_auth_projects_http_port_latency_executor_and_db(tmp_path: Path) -> None:
    http_port, db = _free_port(), tmp_path / "served.db"
    process = serve(
        *("--port", "0", "--http-port", str(http_port), "--db", str(db)),
        *("--project", "alpha", "--project", "beta", "--auth-token", "tok"),
        *("--latency-ms", "120", "--executor", "simulate"),
    )
    try:
        endpoint, http_url = started(process)
        assert http_url == f"http://127.0.0.1:{http_port}"
        stub = _stub(endpoint)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetVersion(VERSION)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        token = (("authorization", "Bearer tok"),)
        began = time.perf_counter()
        listed = stub.ListProjects(project_pb2.ProjectListRequest(), metadata=token)
        assert time.perf_counter() - began >= 0.12
        assert [p.id for p in listed.projects] == ["alpha", "beta"]
        ids = {"project": "alpha", "domain": "development"}
        stub.CreateTask(task_request(**ids), metadata=token)
        workflow = workflow_request(task=ident(RT.TASK, "t", **ids), **ids)
        stub.CreateWorkflow(workflow, metadata=token)
        plan = launch_plan_request(workflow=workflow.id)
        plan.id.project = "alpha"
        stub.CreateLaunchPlan(plan, metadata=token)
        execution = execution_pb2.ExecutionCreateRequest(
            project="alpha",
            domain="development",
            name="run",
            spec=execution_pb2.ExecutionSpec(launch_plan=plan.id),
            inputs=literals_pb2.LiteralMap(),
        )
        stub.CreateExecution(execution, metadata=token)
        run = identifier_pb2.WorkflowExecutionIdentifier(project="alpha", domain="development", name="run")
        deadline = time.monotonic() + 30
        phase = core_execution_pb2.WorkflowExecution.UNDEFINED
        while phase != core_execution_pb2.WorkflowExecution.SUCCEEDED and time.monotonic() < deadline:
            got = stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=run), metadata=token)
            phase = got.closure.phase  # polled: the simulate engine runs in the server process
        assert phase == core_execution_pb2.WorkflowExecution.SUCCEEDED
    finally:
        assert _stop(process, signal.SIGINT) == 0
    with Emulator(db=str(db), projects=()) as again:  # the file kept what the served process wrote
        assert [
            p.id for p in _stub(again.endpoint).ListProjects(project_pb2.ProjectListRequest()).projects
        ] == [
            "alpha",
            "beta",
        ]


def test_serve_options_tls_oauth_client_and_fault_rate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    process = serve(
        *("--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)),
        *("--oauth-client", "ops:pa55", "--fault-rate", "1", "--seed", "3"),
    )
    try:
        endpoint, http_url = started(process)
        issued = _token(http_url, "ops", "pa55")
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        stub = admin_pb2_grpc.AdminServiceStub(grpc.secure_channel(endpoint, credentials))
        with pytest.raises(grpc.RpcError) as anonymous:
            stub.GetVersion(VERSION, timeout=10)
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
        bearer = (("authorization", f"Bearer {issued['access_token']}"),)
        for _ in range(3):  # authenticated, every call meets the injected fault (rate 1)
            with pytest.raises(grpc.RpcError) as faulted:
                stub.GetVersion(VERSION, metadata=bearer, timeout=10)
            assert faulted.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "injected fault" in (faulted.value.details() or "")
        with pytest.raises(grpc.RpcError):
            _stub(endpoint).GetVersion(VERSION, timeout=2)  # plaintext is refused
    finally:
        assert _stop(process, signal.SIGTERM) == 0


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    emulator = Emulator(auth_token="t0ken-s3cret", oauth_client="ops:pa55-s3cret")
    assert "s3cret" not in repr(emulator.config)
    with Emulator(auth_token="t0ken-s3cret") as running:
        assert running.state is not None and "s3cret" not in repr(running.state)
        assert running.state.signing_key.hex() not in repr(running.state)
    with pytest.raises(ValueError) as refused:
        Emulator(oauth_client="ops-pa55-s3cret")
    assert "s3cret" not in str(refused.value)
    process = serve("--oauth-client", "nosecret-s3cret")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2 and "s3cret" not in stderr
