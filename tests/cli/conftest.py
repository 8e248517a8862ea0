"""CLI tests run `flyteadmin_ops.cli.main([...])` in-process; settings sources are read from the environment
and ~/.flyte, so each test gets an empty HOME and no FLYTE*/FLYTEADMIN* variables: only the options the test
passes (or the config file it writes) configure the connection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.client_core.servers import pki

__all__ = ["pki"]  # a test CA (session-scoped), for TLS emulators


@pytest.fixture(autouse=True)
def clean_settings_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("FLYTE", "FLYTEADMIN", "FLYTECTL")):
            monkeypatch.delenv(name)
    # Run on GitHub Actions, the CLI would append to the job summary and print annotations: tests that
    # want them set these variables themselves (tests/cli/test_ci_output.py).
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
