"""Suite-wide settings. Area fixtures live in each tests/<area>/conftest.py."""

import os

# Prefect telemetry off for every test process, including subprocesses they start.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

pytest_plugins = [
    "tests.fixtures.packages",  # real `pyflyte package` archives for every test directory
    "tests.fixtures.prefect_server",  # the one Prefect test harness of the session
    "tests.fixtures.identity_provider",  # an emulator with a public OAuth client, on a movable clock
]
