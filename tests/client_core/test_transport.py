"""Transport behaviour seen by the server: metadata, sharing across threads, size limits, closing."""

from __future__ import annotations

import socket
import threading

import pytest
from flyteidl.admin import project_pb2, version_pb2

from flyteadmin_ops import __version__, errors
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport, create_channel
from tests.client_core.servers import GET_VERSION, LIST_PROJECTS, ScriptedAdmin, fast_settings

VERSION = version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(Build="t"))


def test_default_and_per_call_metadata_and_the_user_agent_reach_the_server(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", VERSION)
    settings = fast_settings(admin.port, default_metadata={"X-Team": "ml"})
    with Transport(settings) as transport:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest(), metadata=[("x-request-id", "r-1")])
    [call] = admin.calls("GetVersion")
    assert call.metadata["x-team"] == "ml"
    assert call.metadata["x-request-id"] == "r-1"
    assert call.metadata["user-agent"].startswith(f"flyteadmin-ops/{__version__}")


def test_one_transport_serves_many_threads(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", VERSION)
    results: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            response = transport.call(GET_VERSION, version_pb2.GetVersionRequest())
            with lock:
                results.append(response)

    with Transport(fast_settings(admin.port)) as transport:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert results == [VERSION] * 80
    assert len(admin.calls("GetVersion")) == 80


def test_a_response_over_the_receive_limit_is_a_clear_error_and_not_retried(admin: ScriptedAdmin) -> None:
    big = project_pb2.Projects(
        projects=[project_pb2.Project(id=f"p{i}", name="x" * 1000) for i in range(100)]
    )
    admin.on("ListProjects", big)
    with (
        Transport(fast_settings(admin.port, max_receive_message_bytes=10_000)) as transport,
        pytest.raises(errors.FlyteResourceExhaustedException) as raised,
    ):
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert "max_receive_message_bytes" in str(raised.value)
    assert len(admin.calls("ListProjects")) == 1


def test_a_closed_transport_refuses_calls_and_a_given_channel_stays_open(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", VERSION)
    settings = fast_settings(admin.port)
    channel = create_channel(settings)
    try:
        with Transport(settings, channel=channel) as borrowed:
            borrowed.call(GET_VERSION, version_pb2.GetVersionRequest())
        with pytest.raises(RuntimeError, match="closed"):
            borrowed.call(GET_VERSION, version_pb2.GetVersionRequest())
        # The channel was handed in, so closing the transport left it usable for its owner.
        ping = channel.unary_unary(
            GET_VERSION.path,
            request_serializer=version_pb2.GetVersionRequest.SerializeToString,
            response_deserializer=version_pb2.GetVersionResponse.FromString,
        )
        assert ping(version_pb2.GetVersionRequest(), timeout=5) == VERSION
    finally:
        channel.close()


def test_an_unreachable_endpoint_is_unavailable_after_the_retries(unused_port: int) -> None:
    settings = fast_settings(unused_port, retry_attempts=2)
    with Transport(settings) as transport, pytest.raises(errors.FlyteSystemUnavailableException) as raised:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    assert "could not connect" in str(raised.value)


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (the kernel picked it for a socket that is closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_replace_validates_changes_and_keeps_sources() -> None:
    settings = AdminSettings.isolated(endpoint="a.example:1", token="t0k", default_metadata={"x-k": "v"})
    changed = settings.replace(page_size=7)
    assert (changed.page_size, changed.endpoint, changed.default_metadata) == (7, "a.example:1", {"x-k": "v"})
    assert changed.token is not None and changed.token.get_secret_value() == "t0k"
    assert changed.source_of("page_size") == "argument"
    assert changed.source_of("auth_mode") == "inferred from token (argument)"
    with pytest.raises(ValueError, match="endpoint 'nope' from argument: has no port"):
        settings.replace(endpoint="nope")
    # A python-mode dump round-trips (secrets stay wrapped), a JSON dump shows no values.
    copy = AdminSettings.isolated(**settings.model_dump())
    assert {n: getattr(copy, n) for n in AdminSettings.model_fields} == {
        n: getattr(settings, n) for n in AdminSettings.model_fields
    }
    assert '"x-k":"**********"' in settings.model_dump_json()
