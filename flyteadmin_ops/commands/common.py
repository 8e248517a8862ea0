"""What every `flyteadmin-ops` subcommand shares: connection options, output options, exit codes.

Connection options only override: when an option is absent the settings sources still apply (FLYTEADMIN_*
and flytekit environment variables, the file named by FLYTEADMIN_CONFIG, ~/.flyte/config.yaml), so a user
with a working flytectl config types no connection options at all.

Exit codes (documented in `flyteadmin-ops --help`): 0 ok, 1 the operation failed (a conflict, a failed
RPC, an unverifiable activation), 2 bad input (a broken package, bad settings including a TLS handshake the
client rejects or a refused credential, an unknown project, invalid arguments). argparse itself exits 2 on
invalid arguments, which keeps the meaning. `exit_code_for` is the one place that decides.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from flyteadmin_ops.errors import FlyteAdminError
from flyteadmin_ops.ops.results import (
    OperationInputError,
    Outcome,
    Result,
    render_json,
    render_table,
)

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.settings import AdminSettings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

CONFIG_ENV = "FLYTEADMIN_CONFIG"

# option dest -> AdminSettings field; only options the user actually gave are passed on.
_SETTINGS_OPTIONS: dict[str, str] = {
    "endpoint": "endpoint",
    "insecure": "insecure",
    "ca_cert": "ca_cert_file",
    "max_concurrency": "max_concurrency",
}


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "connection",
        "Override the settings sources (FLYTEADMIN_* variables, FLYTEADMIN_CONFIG, ~/.flyte/config.yaml).",
    )
    group.add_argument(
        "--endpoint", metavar="HOST:PORT", help="Flyte Admin gRPC endpoint, e.g. localhost:8089"
    )
    group.add_argument(
        "--insecure",
        action="store_const",
        const=True,
        default=None,
        help="plaintext gRPC (no TLS), as for a local sandbox or the emulator",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        help=f"a TOML or YAML settings file (sets {CONFIG_ENV} for this command)",
    )
    group.add_argument(
        "--ca-cert", metavar="FILE", help="PEM file with the CA that signed the server certificate"
    )
    group.add_argument(
        "--max-concurrency",
        type=_positive_int,
        metavar="N",
        help="at most N RPCs in flight at once (default from settings)",
    )


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default="table",
        help="table for people (default), json for scripts",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def settings_from_args(args: argparse.Namespace) -> AdminSettings:
    """AdminSettings from the options given, with every other field left to the settings sources."""
    from flyteadmin_ops.settings import AdminSettings

    overrides = {
        field: getattr(args, dest)
        for dest, field in _SETTINGS_OPTIONS.items()
        if getattr(args, dest, None) is not None
    }
    with _config_file(getattr(args, "config", None)):
        return AdminSettings(**overrides)


@contextlib.contextmanager
def _config_file(path: str | None) -> Iterator[None]:
    """Point FLYTEADMIN_CONFIG at `path` while settings are read, then restore it, so that an in-process
    `main([...])` call does not leave the process configured for the next one."""
    if path is None:
        yield
        return
    if not os.path.isfile(path):
        raise OperationInputError(f"--config {path}: no such file")
    previous = os.environ.get(CONFIG_ENV)
    os.environ[CONFIG_ENV] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CONFIG_ENV, None)
        else:
            os.environ[CONFIG_ENV] = previous


def exit_code_for(exc: BaseException) -> int | None:
    """The one mapping from an expected failure to its exit code; None for anything else (a bug, which
    should surface with its traceback rather than as a tidy one-liner that hides where it came from).

    Bad input (2) is whatever the user can fix in what they typed or configured: an unreadable package or
    file, an unknown project, bad settings, and the two server answers that only a settings change cures: a
    TLS handshake the client rejects (wrong CA, TLS to a plaintext server) and a refused credential. Every
    other RPC failure is the operation failing (1). Imported lazily: the package loader pulls in archive
    handling that `promote` does not need."""
    from pydantic import ValidationError

    from flyteadmin_ops.errors import FlyteAuthenticationException, is_tls_failure
    from flyteadmin_ops.ops.package import PackageError
    from flyteadmin_ops.settings import SettingsError

    if isinstance(exc, OperationInputError | PackageError | SettingsError | ValidationError):
        return EXIT_BAD_INPUT
    if isinstance(exc, FlyteAuthenticationException) or (
        isinstance(exc, FlyteAdminError) and is_tls_failure(exc)
    ):
        return EXIT_BAD_INPUT
    if isinstance(exc, FlyteAdminError):
        return EXIT_FAILED
    return None


def report_failure(exc: BaseException, stream: TextIO | None = None) -> int:
    """Print an expected failure as `error: ...` and return its exit code; re-raise anything else."""
    code = exit_code_for(exc)
    if code is None:
        raise exc
    print(f"error: {exc}", file=stream or sys.stderr)
    return code


def execute(
    args: argparse.Namespace,
    operation: Callable[[AdminSettings], Result],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Build settings, run the operation, print its result, and turn the outcome into an exit code."""
    try:
        result = operation(settings_from_args(args))
    except Exception as exc:  # report_failure re-raises what it does not know
        return report_failure(exc, stderr)
    emit(result, args.output, stdout)
    return EXIT_OK if result.ok else EXIT_FAILED


def execute_with_client(
    args: argparse.Namespace, call: Callable[[SynchronousFlyteClient, Progress], Result]
) -> int:
    """`execute` for the automations: `call` gets a client built from the options and a progress line to
    pass as `on_outcome`; the client is closed and the progress line cleared before the result prints."""

    def operation(settings: AdminSettings) -> Result:
        from flyteadmin_ops.client import SynchronousFlyteClient

        progress = Progress()
        try:
            with SynchronousFlyteClient(settings) as client:
                return call(client, progress)
        finally:
            progress.finish()

    return execute(args, operation)


def emit(result: Result, output: str, stream: TextIO | None = None) -> None:
    text = render_json(result) if output == "json" else render_table(result)
    print(text, file=stream or sys.stdout)


class Progress:
    """A one-line progress indicator on stderr, drawn only when stderr is a terminal (so CI logs and
    `--output json` pipes stay clean). Pass an instance as an operation's `on_outcome` callback; it may be
    called from worker threads (register runs a wave on a pool), hence the lock."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._count = 0
        self._total = 0
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self._total = total

    def __call__(self, outcome: Outcome) -> None:
        with self._lock:
            self._count += 1
            if not self._enabled:
                return
            total = f"/{self._total}" if self._total else ""
            line = f"[{self._count}{total}] {outcome.status.value:<9} {outcome.kind} {outcome.name}"
            self._stream.write("\r\x1b[K" + line[:120])
            self._stream.flush()

    def finish(self) -> None:
        if self._enabled and self._count:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
