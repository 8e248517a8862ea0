"""One Prefect test server for the whole session (starting one costs ~12 s), entered only when a test asks
for `prefect_server`, so the rest of the suite never pays for it.

The flow heartbeat is switched off: in Prefect 3.9 it adds a ~1 s floor to every sync flow run, and the
environment variable cannot express "off" (reference B7), hence `temporary_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_HOME, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    with (
        temporary_settings(updates={PREFECT_HOME: home, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        prefect_test_harness(server_startup_timeout=60),
    ):
        yield
