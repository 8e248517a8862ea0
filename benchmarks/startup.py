"""Start-up cost (issue 9): what a CI step or a cron job pays before its first useful RPC, against flytekit.

Three rows, each a median of fresh processes, timed from spawn to exit (interpreter start, imports, the
work, and the interpreter's own shutdown, which grows with what was imported):

- cold start to first RPC: `python -c` that imports the client, builds it from settings for the endpoint
  of an emulator already running in a process of its own (`EmulatorProcess`), and completes one
  `list_projects`. flytekit's counterpart is `SynchronousFlyteClient(PlatformConfig(endpoint=...,
  insecure=True))` and the same RPC;
- `flyteadmin-ops --help` and `flyteadmin-ops register --help` against `pyflyte --help`: the installed
  console scripts, next to this interpreter.

Ours and flytekit's runs alternate, so that a burst of load on a shared machine hits both sides alike, and
each command runs once untimed first (except under --quick, a smoke run). Every process gets an
empty HOME and no FLYTE* variables: neither client finds a config file to read, and both start the same.

The untimed run is what leaves compiled bytecode behind, so it must be allowed to write it: the processes
get no PYTHONDONTWRITEBYTECODE. A package installed by pip has its bytecode compiled at install (flytekit
here has), but this checkout is installed in editable mode, so with that variable set (as in some
sandboxes) every timed process of ours compiled each module changed since bytecode was last written (~10%
of a cold start, measured), a cost no installed copy pays. Both contenders run under the same rule.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from benchmarks.common import Figure, Row
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

OURS_FIRST_RPC = """\
import sys
from flyteadmin_ops import AdminSettings, SynchronousFlyteClient
with SynchronousFlyteClient(AdminSettings(endpoint=sys.argv[1], insecure=True)) as client:
    client.list_projects()
"""

FLYTEKIT_FIRST_RPC = """\
import sys
from flytekit.clients.friendly import SynchronousFlyteClient
from flytekit.configuration import PlatformConfig
client = SynchronousFlyteClient(PlatformConfig(endpoint=sys.argv[1], insecure=True))
client.list_projects()
"""

TARGET = 0.3
"""Each row's target: ours takes at most this fraction of flytekit's time."""

BIN = Path(sys.executable).parent


def isolated_environment(home: str) -> dict[str, str]:
    """This process's environment without any Flyte or gRPC setting, and an empty HOME; bytecode may be
    written (see the module docstring)."""
    dropped = ("FLYTE", "GRPC_", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["HOME"] = home
    return env


def spawn_seconds(command: Sequence[str], env: dict[str, str], cwd: str) -> float:
    """Wall time from spawning `command` to its exit; a failure is an error, never a fast sample."""
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - start


def alternating_medians(
    commands: dict[str, Sequence[str]], repeats: int, env: dict[str, str], cwd: str, *, warm_up: bool
) -> dict[str, float]:
    """Median seconds per command over `repeats` rounds, each round running every command once."""
    for command in commands.values() if warm_up else ():
        spawn_seconds(command, env, cwd)  # bytecode compiled and files in the page cache before timing
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(spawn_seconds(command, env, cwd))
    return {name: statistics.median(times) for name, times in samples.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def fraction_row(scenario: str, compared_with: str, ours: float, theirs: float, repeats: int) -> Row:
    measured = f"ours {ms(ours)}, {compared_with} {ms(theirs)} (median of {repeats} processes)"
    return Row.at_most(scenario, compared_with, ours / theirs, TARGET, measured)


def run(quick: bool) -> list[Row | Figure]:
    repeats = 1 if quick else 11
    have_flytekit = find_spec("flytekit") is not None and (BIN / "pyflyte").exists()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as home:
        env = isolated_environment(home)
        with EmulatorProcess() as emulator:
            first_rpc: dict[str, Sequence[str]] = {
                "ours": [sys.executable, "-c", OURS_FIRST_RPC, emulator.endpoint]
            }
            if have_flytekit:
                first_rpc["flytekit"] = [sys.executable, "-c", FLYTEKIT_FIRST_RPC, emulator.endpoint]
            rpc = alternating_medians(first_rpc, repeats, env, home, warm_up=not quick)
        ours_cli = [str(BIN / "flyteadmin-ops")]
        help_commands: dict[str, Sequence[str]] = {
            "ours": [*ours_cli, "--help"],
            "register": [*ours_cli, "register", "--help"],
        }
        if have_flytekit:
            help_commands["pyflyte"] = [str(BIN / "pyflyte"), "--help"]
        helps = alternating_medians(help_commands, repeats, env, home, warm_up=not quick)

    if not have_flytekit:  # Python 3.13: flytekit 1.16 does not install there, so only our own figures
        return [_figure(rpc, helps)]
    return [
        fraction_row("cold start to first RPC", "flytekit's client", rpc["ours"], rpc["flytekit"], repeats),
        fraction_row("flyteadmin-ops --help", "pyflyte --help", helps["ours"], helps["pyflyte"], repeats),
        fraction_row(
            "flyteadmin-ops register --help", "pyflyte --help", helps["register"], helps["pyflyte"], repeats
        ),
    ]


def _figure(rpc: dict[str, float], helps: dict[str, float]) -> Figure:
    values = {
        "cold start to first RPC": rpc["ours"] * 1000,
        "--help": helps["ours"] * 1000,
        "register --help": helps["register"] * 1000,
    }
    return Figure("start-up (flytekit not installed: no ratio)", values, "ms")
