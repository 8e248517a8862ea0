"""Fixtures for the client-api tests: one recording server per session, a fresh client per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.client.cache import EntityCache
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import FakeClock, RecordingServer


@pytest.fixture(scope="session")
def _server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.stop()


@pytest.fixture
def server(_server: RecordingServer) -> Iterator[RecordingServer]:
    _server.reset()
    yield _server
    _server.reset()


@pytest.fixture
def settings(server: RecordingServer) -> AdminSettings:
    return AdminSettings.isolated(
        endpoint=f"127.0.0.1:{server.port}",
        insecure=True,
        deadline_seconds=5,
        retry_initial_backoff=0.01,
        retry_max_backoff=0.05,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(settings: AdminSettings, clock: FakeClock) -> Iterator[SynchronousFlyteClient]:
    with SynchronousFlyteClient(settings, cache=EntityCache(4, 60, clock=clock)) as c:
        yield c
