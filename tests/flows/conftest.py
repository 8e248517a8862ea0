"""Prefect telemetry off for these tests. The session-wide `prefect_server` fixture (one Prefect test
harness for every directory) lives in tests/fixtures/prefect_server.py, a suite-wide plugin."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
