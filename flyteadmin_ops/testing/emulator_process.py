"""The emulator in a process of its own, for tests and benchmarks that must not share a GIL with it, and
for chaos tests that kill it (SIGKILL) and start it again on the same port and database file.

An in-process `Emulator` competes with the client for the interpreter, so a benchmark would measure both;
and a server that dies with the test process cannot be killed on its own. This runs
`python -m flyteadmin_ops.cli emulator serve ...`, waits (bounded) for the endpoint it prints, and keeps
its port and `--db` so that `restart()` brings the same server back, as a real Admin restarts behind the
same address.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType


class EmulatorProcessError(RuntimeError):
    """The emulator process did not start (its stderr is in the message) or did not stop in time."""


class EmulatorProcess:
    """`flyteadmin-ops emulator serve` as a child process; a context manager that stops it on exit.

    `args` are further `serve` options (e.g. `"--latency-ms", "20"`); `db` is the SQLite file (default: a
    new file in a temporary folder, so that a restart finds the same data). The port is picked on the
    first start and reused by every restart.
    """

    def __init__(self, *args: str, db: str | Path | None = None, start_timeout: float = 60.0) -> None:
        self.args = list(args)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="emulator-process-")
            db = Path(self._tmp.name) / "admin.db"
        self.db = Path(db)
        self.start_timeout = start_timeout
        self.port = 0
        self.endpoint = ""
        self.http_url = ""
        self.process: subprocess.Popen[str] | None = None
        self._stderr_path = Path(tempfile.mkstemp(prefix="emulator-stderr-", suffix=".log")[1])

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> EmulatorProcess:
        """Start the server (on the port of the first start, if any) and wait until it serves."""
        if self.running:
            raise EmulatorProcessError("the emulator process is already running")
        command = [
            sys.executable,
            "-m",
            "flyteadmin_ops.cli",
            "emulator",
            "serve",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            *self.args,
        ]
        stderr = self._stderr_path.open("a")
        try:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ}
            )
        finally:
            stderr.close()
        lines = self._read_lines(2)
        endpoint, http = lines[0].strip(), lines[1].strip()
        if not http.startswith("http "):
            raise EmulatorProcessError(f"unexpected start-up output {lines!r}")
        self.endpoint = endpoint
        self.http_url = http.split(" ", 1)[1]
        self.port = int(endpoint.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies mid-call, as on a node failure; nothing is flushed or closed."""
        self._end(signal.SIGKILL)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait; SIGKILL if it has not stopped within `timeout` seconds."""
        self._end(signal.SIGTERM, timeout)

    def restart(self) -> EmulatorProcess:
        """Start again on the same port and database file (after `kill` or `stop`)."""
        if self.running:
            self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def stderr(self) -> str:
        """What the server wrote to stderr over all its starts (for failure messages)."""
        return self._stderr_path.read_text(errors="replace")

    def close(self) -> None:
        if self.running:
            self.stop()
        self._stderr_path.unlink(missing_ok=True)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals -------------------------------------------------------------------------------------

    def _end(self, sig: signal.Signals, timeout: float = 15.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def _read_lines(self, count: int) -> list[str]:
        """The first `count` stdout lines, or EmulatorProcessError when the process exits or the start
        timeout passes first. A reader thread hands lines over a queue (and keeps draining stdout after,
        so a chatty server never blocks on a full pipe): a wedged child cannot hang the caller."""
        assert self.process is not None and self.process.stdout is not None
        stream = self.process.stdout
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in iter(stream.readline, ""):
                lines.put(line)
            lines.put("")  # end of output: the process exited

        threading.Thread(target=read, daemon=True, name="emulator-stdout").start()
        deadline = time.monotonic() + self.start_timeout
        read_lines: list[str] = []
        while len(read_lines) < count:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                self.kill()
                raise EmulatorProcessError(
                    f"emulator did not start within {self.start_timeout}s: {self.stderr[-2000:]}"
                ) from None
            if not line:
                self.process.wait()
                raise EmulatorProcessError(
                    f"emulator exited with {self.process.returncode} before serving: {self.stderr[-2000:]}"
                )
            read_lines.append(line)
        return read_lines

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmulatorProcess({self.endpoint or 'not started'}, {state}, db={str(self.db)!r})"
