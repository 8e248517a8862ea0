"""The latency model holds no thread, and the delayed transport answers exactly as the threaded one.

With `latency_ms` the emulator serves through grpc.aio (`emulator/latency.py`): a delayed call is a timer on
an event loop, so any number of calls are delayed at once (the old model slept in one of 16 worker threads,
so at most 16 were). No timing is asserted: the emulator counts the calls it is delaying, and the tests
poll that count with a bounded deadline.

The parity tests run every transport-level behaviour (auth, the services absent without auth, seeded
faults before and after the commit, error details in `grpc-status-details-bin`, truncation, INTERNAL, TLS)
through both transports: latency 0 (threaded) and 1 ms (delayed).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, project_pb2, version_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc
from google.rpc import status_pb2

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.latency import new_event_loop
from flyteadmin_ops.emulator.registry import AdminError
from flyteadmin_ops.emulator.server import MAX_MESSAGE_BYTES, Faults
from flyteadmin_ops.testing.emulator_process import EmulatorProcess
from tests.emulator.support import RT, Caller, Failure, ident, task_request

VERSION = version_pb2.GetVersionRequest()
TRANSPORTS = pytest.mark.parametrize("latency_ms", [0, 1], ids=["threaded", "delayed"])


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)  # a polling interval, not a wait for the condition itself


def _stub(channel: grpc.Channel) -> Any:
    return admin_pb2_grpc.AdminServiceStub(channel)


def test_forty_calls_are_delayed_at_once_where_the_old_model_held_sixteen() -> None:
    with Emulator(latency_ms=60_000) as emu, grpc.insecure_channel(emu.endpoint) as channel:
        calls = [_stub(channel).GetVersion.future(VERSION, timeout=120) for _ in range(40)]
        _until(lambda: emu.delayed_calls == 40, "40 calls are delayed at once")
        assert not any(call.done() for call in calls)
        for call in calls:
            call.cancel()
        _until(lambda: emu.delayed_calls == 0, "the cancelled calls are no longer delayed")


def test_stop_cancels_delayed_calls_after_the_grace_period() -> None:
    emu = Emulator(latency_ms=60_000).start()
    with grpc.insecure_channel(emu.endpoint) as channel:
        call = _stub(channel).GetVersion.future(VERSION, timeout=120)
        _until(lambda: emu.delayed_calls == 1, "the call is delayed")
        emu.stop(grace=0)
        with pytest.raises(grpc.RpcError) as ended:
            call.result(timeout=30)
        assert ended.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)
        assert emu.delayed_calls == 0
    emu.stop()  # idempotent


def test_the_delayed_transport_runs_on_uvloop_exactly_when_it_is_installed() -> None:
    loop = new_event_loop()
    try:
        if importlib.util.find_spec("uvloop") is not None:
            assert type(loop).__module__.startswith("uvloop")
        else:
            assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
    with Emulator(latency_ms=1) as emu:
        assert type(emu._server._loop) is type(loop)  # the transport made its loop the same way


def test_a_delayed_call_answers_after_the_delay() -> None:
    with Emulator(latency_ms=50) as emu, grpc.insecure_channel(emu.endpoint) as channel:
        assert _stub(channel).GetVersion(VERSION, timeout=30).control_plane_version.Version
        assert emu.delayed_calls == 0


@TRANSPORTS
def test_auth_is_required_except_for_discovery(latency_ms: int) -> None:
    with (
        Emulator(auth_token="s3cret", latency_ms=latency_ms) as emu,
        grpc.insecure_channel(emu.endpoint) as ch,
    ):
        with pytest.raises(grpc.RpcError) as refused:
            _stub(ch).GetVersion(VERSION, timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert refused.value.details() == "Request unauthenticated with bearer token"
        token = (("authorization", "Bearer s3cret"),)
        assert _stub(ch).GetVersion(VERSION, metadata=token, timeout=30).control_plane_version
        discovery = auth_pb2_grpc.AuthMetadataServiceStub(ch).GetOAuth2Metadata(
            auth_pb2.OAuth2MetadataRequest()
        )
        assert discovery.token_endpoint == f"{emu.http_url}/oauth2/token"
        identity = identity_pb2_grpc.IdentityServiceStub(ch)
        assert identity.UserInfo(identity_pb2.UserInfoRequest(), metadata=token).subject == "static-token"


@TRANSPORTS
def test_auth_services_are_unknown_without_auth(latency_ms: int) -> None:
    with Emulator(latency_ms=latency_ms) as emu, grpc.insecure_channel(emu.endpoint) as channel:
        for call in (
            lambda: identity_pb2_grpc.IdentityServiceStub(channel).UserInfo(identity_pb2.UserInfoRequest()),
            lambda: auth_pb2_grpc.AuthMetadataServiceStub(channel).GetOAuth2Metadata(
                auth_pb2.OAuth2MetadataRequest()
            ),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert refused.value.details().startswith("unknown service flyteidl.service.")


@TRANSPORTS
def test_seeded_faults_fail_before_or_after_the_commit(latency_ms: int, tmp_path: Path) -> None:
    db = str(tmp_path / "faults.db")
    faults = Faults(0.5, 11)  # the same seeded stream the emulator draws from, one draw per call in order
    expected = [faults.draw() or "ok" for _ in range(24)]
    outcomes = []
    with Emulator(db=db, fault_rate=0.5, seed=11, latency_ms=latency_ms) as emu:
        caller = Caller("raw", emu.endpoint)
        for index in range(24):
            try:
                caller.call("CreateTask", task_request(f"t{index}"))
                outcomes.append("ok")
            except Failure as failure:
                assert failure.code == grpc.StatusCode.UNAVAILABLE
                outcomes.append(failure.message.removeprefix("injected fault ").removesuffix(" processing"))
        caller.close()
    assert outcomes == expected and {"ok", "before", "after"} == set(outcomes)
    with Emulator(db=db) as emu:  # without faults: what did each call leave in the store?
        caller = Caller("raw", emu.endpoint)
        for index, outcome in enumerate(outcomes):
            request = common_pb2.ObjectGetRequest(id=ident(RT.TASK, f"t{index}"))
            if outcome == "before":  # failed before the handler ran: nothing written
                caller.fails("GetTask", request, grpc.StatusCode.NOT_FOUND)
            else:  # "after" lost only the reply: the write had committed
                assert caller.call("GetTask", request).id.name == f"t{index}"
        caller.close()


@TRANSPORTS
def test_errors_keep_their_details_truncate_and_become_internal(
    latency_ms: int, broken_version: list[Exception]
) -> None:
    detail = project_pb2.InactiveProject(id="p", org="o")
    roomy = [("grpc.max_metadata_size", 64 * 1024)]
    with (
        Emulator(latency_ms=latency_ms) as emu,
        grpc.insecure_channel(emu.endpoint, options=roomy) as channel,
    ):
        broken_version.append(AdminError(grpc.StatusCode.INVALID_ARGUMENT, "project is archived", [detail]))
        with pytest.raises(grpc.RpcError) as detailed:
            _stub(channel).GetVersion(VERSION, timeout=30)
        assert (detailed.value.code(), detailed.value.details()) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "project is archived",
        )
        trailers = dict(detailed.value.trailing_metadata() or ())  # type: ignore[attr-defined]
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert (status.code, status.message) == (
            grpc.StatusCode.INVALID_ARGUMENT.value[0],
            "project is archived",
        )
        unpacked = project_pb2.InactiveProject()
        assert status.details[0].Unpack(unpacked) and unpacked == detail

        broken_version[0] = AdminError(grpc.StatusCode.INVALID_ARGUMENT, "x" * 40000, [detail])
        with pytest.raises(grpc.RpcError) as long:
            _stub(channel).GetVersion(VERSION, timeout=30)
        assert len(long.value.details().encode()) == MAX_MESSAGE_BYTES
        assert "grpc-status-details-bin" not in dict(long.value.trailing_metadata() or ())  # type: ignore[attr-defined]

        broken_version[0] = KeyError("boom")
        with pytest.raises(grpc.RpcError) as internal:
            _stub(channel).GetVersion(VERSION, timeout=30)
        assert (internal.value.code(), internal.value.details()) == (
            grpc.StatusCode.INTERNAL,
            "KeyError: 'boom'",
        )


@TRANSPORTS
def test_tls(latency_ms: int, tmp_path: Path) -> None:
    from tests.emulator.test_server import _certificate

    cert, key = _certificate(tmp_path)
    with Emulator(tls_cert=str(cert), tls_key=str(key), latency_ms=latency_ms) as emu:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(emu.endpoint, credentials) as channel:
            assert _stub(channel).GetVersion(VERSION, timeout=30).control_plane_version
        with grpc.insecure_channel(emu.endpoint) as plain, pytest.raises(grpc.RpcError):
            _stub(plain).GetVersion(VERSION, timeout=5)


@TRANSPORTS
def test_a_busy_port_fails_start_and_leaves_nothing_running(latency_ms: int) -> None:
    with Emulator() as holder:
        busy = Emulator(port=holder.port, latency_ms=latency_ms)
        with pytest.raises(RuntimeError):
            busy.start()
        assert busy.port == 0 and busy.delayed_calls == 0


def test_acknowledged_writes_through_the_delayed_transport_survive_a_kill(tmp_path: Path) -> None:
    """Answers leave only after the commit: every CreateTask a client saw succeed is there after SIGKILL."""
    with EmulatorProcess("--latency-ms", "5", db=tmp_path / "admin.db") as server:
        with grpc.insecure_channel(server.endpoint) as channel:
            stub = _stub(channel)
            pending = [stub.CreateTask.future(task_request(f"t{i}"), timeout=60) for i in range(48)]
            acknowledged = {f"t{i}" for i, call in enumerate(pending[:24]) if call.result() is not None}
            server.kill()
            for call in pending[24:]:
                try:
                    call.result()
                    acknowledged.add(f"t{pending.index(call)}")
                except grpc.RpcError:
                    pass
        server.restart()
        with grpc.insecure_channel(server.endpoint) as channel:
            for name in sorted(acknowledged):
                got = _stub(channel).GetTask(common_pb2.ObjectGetRequest(id=ident(RT.TASK, name)), timeout=30)
                assert got.id.name == name
