"""How each side of the registration benchmark registers a package once, timed (`benchmarks.register`).

- `cli_register`: ours as a user runs it, the `flyteadmin-ops register` console script in a subprocess
  (process start included), configured by `FLYTEADMIN_ENDPOINT` and `FLYTEADMIN_INSECURE` only.
- `library_register`: ours in-process, `register_package` with a `SynchronousFlyteClient`.
- `flytekit_register`: flytekit's `RawSynchronousFlyteClient`, one create at a time in file order, after
  the same upload and hydration as ours. ALREADY_EXISTS is caught per entity, as `FlyteRemote.raw_register`
  does; flytekit's retry interceptor has by then sent the call four times (no pause between), which is
  part of its time.

Each checks that every entity came out as expected (created, or already there), so a fast wrong answer
cannot pass for a fast right one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, WORKFLOW, Package, hydrate
from flyteadmin_ops.ops.package import load_package as load
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.upload import upload_fast_archive
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.testing.emulator_process import EmulatorProcess

PROJECT, DOMAIN = "flytesnacks", "development"
CLI_TIMEOUT_SECONDS = 900


# ------------------------------------------------------------------------------------------ workload


@dataclass(frozen=True)
class Workload:
    path: Path
    package: Package
    repeats: int
    quick: bool

    @property
    def size(self) -> int:
        return len(self.package)

    def describe(self) -> str:
        kinds = {TASK: 0, WORKFLOW: 0, LAUNCH_PLAN: 0}
        for entity in self.package:
            kinds[entity.resource_type] += 1
        return f"{kinds[TASK]} tasks, {kinds[WORKFLOW]} workflows, {kinds[LAUNCH_PLAN]} launch plans"


def workload(quick: bool) -> Workload:
    if quick:
        return Workload(SAMPLE_PACKAGE_PATH, load(SAMPLE_PACKAGE_PATH), 1, True)
    from benchmarks.register_package import package_path

    path = package_path()
    return Workload(path, load(path), 3, False)


class Versions:
    """Fresh, unique versions for first registrations within one server."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return f"{self.prefix}-{self.count}"


@contextmanager
def server(latency_ms: int) -> Iterator[EmulatorProcess]:
    args = ("--latency-ms", str(latency_ms)) if latency_ms else ()
    with EmulatorProcess(*args) as emulator:
        yield emulator


# ------------------------------------------------------------------------------------------ ours


def cli_command() -> list[str]:
    """The console script next to this interpreter (as installed), else the module."""
    script = Path(sys.executable).parent / "flyteadmin-ops"
    if script.is_file():
        return [str(script)]
    found = shutil.which("flyteadmin-ops")
    return [found] if found else [sys.executable, "-m", "flyteadmin_ops.cli"]


def cli_environment(endpoint: str) -> dict[str, str]:
    """This environment without any Flyte settings of the caller's, plus the two that name the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTEADMIN_", "FLYTE_", "FLYTECTL_"))}
    env.update(FLYTEADMIN_ENDPOINT=endpoint, FLYTEADMIN_INSECURE="true")
    return env


def cli_register(endpoint: str, path: Path, version: str, expect: str, size: int) -> float:
    """Wall seconds of one `flyteadmin-ops register` process; checks every entity came out as `expect`."""
    command = [*cli_command(), "register", str(path), "-p", PROJECT, "-d", DOMAIN, "--version", version]
    start = time.perf_counter()
    proc = subprocess.run(
        [*command, "-o", "json"],
        env=cli_environment(endpoint),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    check_totals(json.loads(proc.stdout)["totals"], expect, size)
    return seconds


EXISTING = ("exists", "unchanged")
"""Statuses an entity that was already registered may come back with."""


def check_totals(totals: dict[str, int], expect: str, size: int) -> None:
    """Every entity came out as `expect` ("created", or "exists": one of EXISTING)."""
    accepted = EXISTING if expect == "exists" else (expect,)
    if sum(totals.get(status, 0) for status in accepted) != size:
        raise RuntimeError(f"expected {size} {expect}, got {totals}")


def client(endpoint: str, **settings: Any) -> SynchronousFlyteClient:
    return SynchronousFlyteClient(AdminSettings.isolated(endpoint=endpoint, insecure=True, **settings))


def library_register(
    endpoint: str,
    source: Path | Package,
    version: str,
    expect: str,
    size: int,
    max_concurrency: int | None = None,
) -> float:
    """Wall seconds of `register_package` in this process, client construction included; given a path,
    reading the package is included too (as for a library user), given a `Package` it is not."""
    start = time.perf_counter()
    with client(endpoint) as ours:
        result = register_package(ours, source, PROJECT, DOMAIN, version, max_concurrency=max_concurrency)
    seconds = time.perf_counter() - start
    check_totals(result.totals, expect, size)
    return seconds


# ------------------------------------------------------------------------------------------ flytekit


@dataclass(frozen=True)
class FlytekitRun:
    seconds: float
    created: int
    existing: int


def flytekit_register(endpoint: str, package: Package, version: str) -> FlytekitRun:
    """flytekit's way: upload once, hydrate, then one create RPC per entity in file order, sequentially."""
    from flytekit.clients.raw import RawSynchronousFlyteClient
    from flytekit.configuration import PlatformConfig
    from flytekit.exceptions.user import FlyteEntityAlreadyExistsException

    start = time.perf_counter()
    with client(endpoint) as uploader:
        assert package.fast_archive is not None
        upload = upload_fast_archive(uploader, PROJECT, DOMAIN, package.fast_archive)
    if upload.native_url is None:
        raise RuntimeError(f"upload failed: {upload.outcome}")
    hydrated = hydrate(package, PROJECT, DOMAIN, version, source_url=upload.native_url)
    flytekit = RawSynchronousFlyteClient(PlatformConfig(endpoint=endpoint, insecure=True))
    creates: dict[int, Callable[[Any], object]] = {
        TASK: flytekit.create_task,
        WORKFLOW: flytekit.create_workflow,
        LAUNCH_PLAN: flytekit.create_launch_plan,
    }
    created = existing = 0
    for entity in sorted(hydrated, key=lambda e: e.source):
        try:
            creates[entity.resource_type](entity.request)
            created += 1
        except FlyteEntityAlreadyExistsException:
            existing += 1
    seconds = time.perf_counter() - start
    flytekit._channel.close()
    return FlytekitRun(seconds, created, existing)
