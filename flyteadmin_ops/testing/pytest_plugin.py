"""A local Flyte Admin for your own tests: a pytest plugin, active as soon as flyteadmin-ops is installed
(entry point ``pytest11``; disable it with ``-p no:flyteadmin_ops``).

Fixtures
--------
- ``flyte_admin``: a running :class:`flyteadmin_ops.emulator.Emulator`, fresh for each test (in-memory
  store, a free port, project ``flytesnacks``, domains development/staging/production, no auth, executor
  "none"). ``flyte_admin.endpoint`` is ``"127.0.0.1:PORT"`` for any gRPC client, e.g. flytekit's
  ``PlatformConfig(endpoint=flyte_admin.endpoint, insecure=True)``; ``flyte_admin.state`` is its store.
- ``flyte_admin_session``: one emulator shared by the whole session. Faster; your tests must then not rely on
  an empty store (use unique names or versions).
- ``admin_client``: a ``flyteadmin_ops.client.SynchronousFlyteClient`` connected to ``flyte_admin`` (the
  same fresh emulator within a test), closed after the test.

Need other options (a file database, auth, TLS, latency, faults, the simulate executor)? Build your own
fixture from the class; ``Emulator`` takes the same options as ``flyteadmin-ops emulator serve``::

    @pytest.fixture
    def running_admin():
        with Emulator(executor="simulate") as emulator:
            yield emulator

    def test_nightly_fails(running_admin, ...):
        ...                                    # create an execution of launch plan "nightly_fails"
        assert running_admin.wait_idle(10)     # wait on the engine, never sleep
        ...                                    # its phase is now FAILED

With ``executor="simulate"`` an execution FAILS when an input ``fail`` is true (or ``"true"``), a top-level
string input equals ``"fail"``, the launch plan name ends with ``_fails`` (a single-task execution's is
``.flytegen.<task>``), or an input ``fail_always`` is true / a string input equals ``"fail_always"``. A
relaunch or recovery of a failed execution succeeds unless the ``fail_always`` rule holds. Everything else
SUCCEEDS. With the default executor "none", executions stay UNDEFINED until your test reports events, as on
a flyteadmin with no engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flyteadmin_ops.emulator import Emulator


@pytest.fixture
def flyte_admin() -> Iterator[Emulator]:
    """A fresh local Flyte Admin (in-memory) for this test; `.endpoint` is where it listens."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def flyte_admin_session() -> Iterator[Emulator]:
    """One local Flyte Admin for the whole session: do not rely on an empty store."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def admin_client(flyte_admin: Emulator) -> Iterator[Any]:
    """flyteadmin_ops' SynchronousFlyteClient connected to this test's `flyte_admin`."""
    from flyteadmin_ops.client import SynchronousFlyteClient  # imported lazily: the client is optional here

    client = SynchronousFlyteClient(endpoint=flyte_admin.endpoint, insecure=True)
    try:
        yield client
    finally:
        client.close()
