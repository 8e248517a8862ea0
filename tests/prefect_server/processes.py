"""Long-running processes of the deployment test (Prefect server, emulator, worker), each in its own session
so that stopping one stops its children too, with its output in a log file the failure messages quote.

`Processes` is a context manager: whatever happens in the test, every process it started is stopped on exit
(SIGTERM to the process group, then SIGKILL after a grace period), in reverse start order, so a worker is
stopped while the server it reports to is still up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.2


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool | None:
    """True once something accepts TCP connections on the loopback port, else None (for `wait_for`)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return None


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    long_running: bool  # a server or worker: its exit while waiting for something else is a failure

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 30) -> str:
        text = self.output()
        return f"--- last lines of {self.name} ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_seconds: float) -> None:
        if not self.running():
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)  # the session leader's pid is its group id


class Processes:
    """Starts services and commands with one environment, and stops every service on exit."""

    def __init__(self, env: Mapping[str, str], logs: Path) -> None:
        self.env = dict(env)
        self.logs = logs
        self.services: list[Service] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: Sequence[str], *, cwd: Path, long_running: bool = True) -> Service:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name, process, log, long_running)
        self.services.append(service)
        return service

    def run(
        self,
        commands: Mapping[str, Sequence[str]],
        *,
        cwd: Path,
        timeout: float,
        expected_to_fail: Collection[str] = (),
    ) -> dict[str, Service]:
        """Run commands side by side to completion. A command that fails, unless named in `expected_to_fail`,
        raises an AssertionError quoting its output and the services' logs."""
        started = [self.start(name, args, cwd=cwd, long_running=False) for name, args in commands.items()]
        deadline = time.monotonic() + timeout
        for command in started:
            command.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            code = command.process.returncode
            if command.name not in expected_to_fail:
                assert code == 0, f"{command.name} exited {code}:\n{command.output()[-4000:]}\n{self.tails()}"
        return {command.name: command for command in started}

    def tails(self) -> str:
        return "\n".join(service.tail() for service in self.services)

    def wait_for(self, what: str, probe: Callable[[], T | None], *, timeout: float) -> T:
        """Poll `probe` until it returns something other than None, for at most `timeout` seconds; fail early,
        with the logs, when a service has died."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value is not None:
                return value
            dead = [s.name for s in self.services if s.long_running and not s.running()]
            assert not dead, f"{', '.join(dead)} exited while waiting for {what}\n{self.tails()}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s\n{self.tails()}"
            time.sleep(POLL_SECONDS)

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for service in reversed(self.services):
            service.stop(grace_seconds=10.0)
