"""pytest plugin (entry point `pytest11`, active once flyteadmin-ops is installed): a local Flyte
Admin for tests.

Fixtures:

- ``flyte_admin``: a running :class:`flyteadmin_ops.emulator.Emulator` (in-memory database, free port,
  project ``flytesnacks``, domains development/staging/production), fresh for each test. Use
  ``flyte_admin.endpoint`` (``"127.0.0.1:PORT"``) with any gRPC client, e.g. flytekit's
  ``PlatformConfig(endpoint=flyte_admin.endpoint, insecure=True)``.
- ``flyte_admin_session``: the same, shared by the whole test session (faster; tests must not depend on
  an empty store).
- ``admin_client``: ``flyteadmin_ops.client.SynchronousFlyteClient`` connected to ``flyte_admin``.

Example::

    def test_register(admin_client, flyte_admin):
        admin_client.create_task(...)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flyteadmin_ops.emulator import Emulator


@pytest.fixture
def flyte_admin() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def flyte_admin_session() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def admin_client(flyte_admin: Emulator) -> Iterator[Any]:
    from flyteadmin_ops.client import SynchronousFlyteClient  # imported lazily: the client is optional here

    client = SynchronousFlyteClient(endpoint=flyte_admin.endpoint, insecure=True)
    try:
        yield client
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
