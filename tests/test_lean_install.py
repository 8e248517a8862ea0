"""The lean install, as a new user gets it: `pip install flyteadmin-ops` (no extras) into a fresh virtual
environment gives the client, the CLI, the emulator and the automations, without Prefect; the Prefect layer
then says which extra to install instead of failing deep inside with "No module named 'prefect'".

One test, marked slow: it creates a venv and installs a copy of this source tree into it (pip's cache is
allowed, so a second run is quicker; the README's figures were measured by hand with no cache). The copy
leaves out the tests and any build leftovers, so what is installed is what a wheel would contain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.client.identifiers import launch_plan_id
from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH, SCHEDULED_LAUNCH_PLAN
from flyteadmin_ops.emulator import Emulator

Run = Callable[..., "subprocess.CompletedProcess[str]"]

ROOT = Path(__file__).resolve().parents[1]
EXTRA_HINT = "pip install 'flyteadmin-ops[prefect]'"
INSTALL_SECONDS = 240  # a bound for a slow network, not a measurement: the install takes ~10-20 s
LEFT_OUT = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    ".tox",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "tests",
    "benchmarks",
)


def _clean_environment(home: Path) -> dict[str, str]:
    """No settings, CI variables or virtualenv of the test run leak into the fresh one; HOME is empty."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FLYTE", "FLYTEADMIN", "FLYTECTL", "GITHUB_", "PREFECT_"))
        and name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def lean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install <this source tree>`: no extras."""
    work = tmp_path_factory.mktemp("lean")
    source = work / "flyteadmin-ops"
    shutil.copytree(ROOT, source, ignore=LEFT_OUT, symlinks=True)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.fixture
def run_in(lean_venv: Path, tmp_path: Path) -> Run:
    """Run a program of the lean venv from an empty folder (so no checkout is importable), clean env."""
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_environment(home)

    def run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(lean_venv / "bin" / program), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    return run


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_SECONDS + 300)
def test_lean_install_runs_the_cli_and_the_demo_without_prefect(
    run_in: Run, flyte_admin: Emulator, admin_client: SynchronousFlyteClient
) -> None:
    has_prefect = run_in("python", "-c", "import importlib.util as u; print(u.find_spec('prefect') is None)")
    assert has_prefect.stdout.strip() == "True", "the lean install pulled in Prefect"

    lean_parts = run_in(
        "python", "-c", "import flyteadmin_ops.client, flyteadmin_ops.ops, flyteadmin_ops.emulator"
    )
    assert lean_parts.returncode == 0, lean_parts.stderr

    registered = run_in(
        "flyteadmin-ops",
        "register",
        str(SAMPLE_PACKAGE_PATH),
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "-v",
        "lean-1",
        "-o",
        "json",
        "--endpoint",
        flyte_admin.endpoint,
        "--insecure",
    )
    assert registered.returncode == 0, registered.stdout + registered.stderr
    registered_plan = launch_plan_id("flytesnacks", "development", SCHEDULED_LAUNCH_PLAN, "lean-1")
    assert admin_client.get_launch_plan(registered_plan).id.version == "lean-1"  # the server's side

    demo = run_in("flyteadmin-ops", "demo")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "demo succeeded" in demo.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "module",
    [
        "flyteadmin_ops.tasks",
        "flyteadmin_ops.blocks",
        "flyteadmin_ops.flows.register_all",
        "flyteadmin_ops.jobs",
    ],
)
def test_the_prefect_layer_names_the_extra_without_prefect(run_in: Run, module: str) -> None:
    imported = run_in("python", "-c", f"import {module}")
    assert imported.returncode == 1
    last_line = imported.stderr.strip().splitlines()[-1]
    assert last_line.startswith("flyteadmin_ops._prefect_required.PrefectNotInstalledError:"), last_line
    assert EXTRA_HINT in last_line


@pytest.mark.slow
def test_demo_with_prefect_says_which_extra_to_install(run_in: Run) -> None:
    demo = run_in("flyteadmin-ops", "demo", "--prefect")
    assert demo.returncode == 2
    assert EXTRA_HINT in demo.stderr
    assert "Traceback" not in demo.stderr
    assert demo.stdout == ""  # nothing started: the emulator would have printed its endpoint
