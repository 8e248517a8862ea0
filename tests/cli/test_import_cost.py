"""Start-up cost, as what gets imported (issue 9): `--help` answers from argparse alone, `register --help`
loads only its own command module, and a script that makes one RPC with the synchronous client loads
neither the asyncio client, nor the automations, nor anything of the emulator, Prefect or flytekit.

Each case runs in a fresh interpreter and reports `sys.modules` as it exits (the atexit hook is registered
before anything else runs, so it runs after everything else). No timing is asserted here: the figures
are `python -m benchmarks --only startup`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from flyteadmin_ops.emulator import Emulator

REPORT_MODULES_AT_EXIT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n"))
"""

# What the console script runs (.venv/bin/flyteadmin-ops), after the report hook.
CONSOLE_SCRIPT = REPORT_MODULES_AT_EXIT + "from flyteadmin_ops.cli import main\nsys.exit(main())\n"

FIRST_RPC = (
    REPORT_MODULES_AT_EXIT
    + """
from flyteadmin_ops import AdminSettings, SynchronousFlyteClient
with SynchronousFlyteClient(AdminSettings(endpoint=sys.argv[1], insecure=True)) as client:
    client.list_projects()
"""
)

NEVER_ON_THE_CLIENT_PATH = {
    "prefect",
    "flytekit",
    "flyteadmin_ops.emulator",
    "flyteadmin_ops.ops",
    "flyteadmin_ops.commands",
    "flyteadmin_ops.cli",
    "flyteadmin_ops.client.aio",
    "flyteadmin_ops.transport.aio",
    "flyteadmin_ops.transport.interactive_auth",
    "yaml",
    "tomllib",
    "tomli",
}
"""What one RPC with the synchronous client, configured by arguments alone, has no use for."""

NEVER_FOR_HELP = NEVER_ON_THE_CLIENT_PATH - {"flyteadmin_ops.commands", "flyteadmin_ops.cli"} | {
    "grpc",
    "grpc_status",
    "google.protobuf",
    "flyteidl",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "asyncio",
    "logging",
    "json",
    "dataclasses",
    "importlib.metadata",
    "flyteadmin_ops.client",
    "flyteadmin_ops.transport",
    "flyteadmin_ops.settings",
    "flyteadmin_ops.errors",
    "flyteadmin_ops.commands.progress",
    "flyteadmin_ops.commands.tables",
    "flyteadmin_ops.commands.ci_output",
}
"""What printing help has no use for: gRPC, protobuf, pydantic, the settings, the client and its errors,
the result model and its renderers, and the installed distribution's metadata (only `--version` reads it)."""


def modules_at_exit(code: str, *args: str, home: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "GRPC_"))}
    env["HOME"] = str(home)  # no ~/.flyte/config.yaml: the settings read no file
    process = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert process.returncode == 0, process.stderr
    report = next(line for line in reversed(process.stderr.splitlines()) if line.startswith("MODULES "))
    return set(report.split()[1:])


def loaded(modules: set[str], packages: Iterable[str]) -> set[str]:
    """The modules of `modules` that are one of `packages` or inside one."""
    return {m for m in modules for p in packages if m == p or m.startswith(p + ".")}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The empty HOME that tests/cli/conftest.py gives every CLI test."""
    return tmp_path / "home"


def test_top_level_help_imports_argparse_and_nothing_heavy(home: Path) -> None:
    modules = modules_at_exit(CONSOLE_SCRIPT, "--help", home=home)
    assert "flyteadmin_ops.cli" in modules  # the report did see the command run
    assert loaded(modules, NEVER_FOR_HELP) == set()
    assert loaded(modules, ["flyteadmin_ops.commands"]) == set()


def test_register_help_imports_only_registers_own_command_module(home: Path) -> None:
    modules = modules_at_exit(CONSOLE_SCRIPT, "register", "--help", home=home)
    commands = loaded(modules, ["flyteadmin_ops.commands"])
    assert commands == {
        "flyteadmin_ops.commands",
        "flyteadmin_ops.commands.common",
        "flyteadmin_ops.commands.register",
    }
    assert loaded(modules, NEVER_FOR_HELP) == set()


HEAVY = {
    "grpc",
    "google.protobuf",
    "flyteidl",
    "pydantic",
    "yaml",
    "asyncio",
    "prefect",
    "flytekit",
    "flyteadmin_ops.emulator",
    "flyteadmin_ops.client",
    "flyteadmin_ops.transport",
    "flyteadmin_ops.settings",
    "flyteadmin_ops.errors",
}
"""What no command's help text needs (a few commands still load the light result model to declare theirs)."""


@pytest.mark.parametrize(
    "command", ["get", "launch", "wait", "terminate", "promote", "sync-attributes", "demo", "completion"]
)
def test_other_commands_help_loads_nothing_heavy(command: str, home: Path) -> None:
    """`relaunch-failed`, `login` and `logout` are left out: their options are declared from protobuf
    enums or the settings' auth modes, so their help still loads those."""
    modules = modules_at_exit(CONSOLE_SCRIPT, command, "--help", home=home)
    assert loaded(modules, HEAVY) == set()


def test_version_still_reads_the_installed_distribution(home: Path) -> None:
    """`--version` is where the distribution metadata went: it is read when asked for, and only then."""
    modules = modules_at_exit(CONSOLE_SCRIPT, "--version", home=home)
    assert "importlib.metadata" in modules


def test_one_rpc_with_the_sync_client_loads_only_the_sync_path(home: Path) -> None:
    with Emulator(port=0) as emulator:
        modules = modules_at_exit(FIRST_RPC, emulator.endpoint, home=home)
    assert "flyteadmin_ops.client.friendly" in modules  # the report did see the client
    assert loaded(modules, NEVER_ON_THE_CLIENT_PATH) == set()


def test_the_client_package_resolves_every_public_name_lazily(home: Path) -> None:
    code = (
        REPORT_MODULES_AT_EXIT
        + """
import flyteadmin_ops.client as client
assert "flyteadmin_ops.client.friendly" not in sys.modules, "import alone loaded the client"
for name in client.__all__:
    assert getattr(client, name) is not None, name
assert set(client.__all__) <= set(dir(client))
from flyteadmin_ops.client import SynchronousFlyteClient, values
assert SynchronousFlyteClient.__module__ == "flyteadmin_ops.client.friendly"
assert values.__name__ == "flyteadmin_ops.client.values"
try:
    client.no_such_name
except AttributeError as exc:
    assert "no_such_name" in str(exc)
else:
    raise AssertionError("an unknown name resolved")
"""
    )
    modules = modules_at_exit(code, home=home)
    assert "flyteadmin_ops.client.aio" in modules  # every name was resolved, the asyncio ones too
