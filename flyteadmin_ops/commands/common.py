"""What every `flyteadmin-ops` subcommand shares: connection options, output options, exit codes.

Connection options only override: when an option is absent the settings sources still apply (FLYTEADMIN_*
and flytekit environment variables, the file named by FLYTEADMIN_CONFIG, ~/.flyte/config.yaml), so a user
with a working flytectl config types no connection options at all.

Exit codes (documented in `flyteadmin-ops --help`): 0 ok, 1 the operation failed (a conflict, a failed
RPC, an unverifiable activation), 2 bad input (a broken package, bad settings including a TLS handshake the
client rejects or a refused credential, an unknown project, invalid arguments). argparse itself exits 2 on
invalid arguments, which keeps the meaning. `exit_code_for` is the one place that decides.

Every subcommand imports this module to declare its options, so it imports nothing heavy at module level
(no gRPC, no protobuf, no pydantic, no result model): `flyteadmin-ops register --help` pays only for argparse.
What running a command needs is imported inside the functions that run it.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.commands.progress import ProgressReporter
    from flyteadmin_ops.ops.results import Result, Status
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


def positive_seconds(text: str) -> float:
    """`--timeout SECONDS`: a finite number above 0. argparse's `float` alone lets `nan` through (which
    compares false with everything, so the wait would never end) and `inf` or `1e999`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
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
        from flyteadmin_ops.ops.results import OperationInputError

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

    from flyteadmin_ops.client.filters import FilterError
    from flyteadmin_ops.errors import FlyteAdminError, FlyteAuthenticationException, is_tls_failure
    from flyteadmin_ops.ops.package import PackageError
    from flyteadmin_ops.ops.results import OperationInputError
    from flyteadmin_ops.settings import SettingsError

    # FilterError: a name typed on the command line that no filter can carry (`--launch-plan 'a+b'`)
    if isinstance(exc, OperationInputError | PackageError | SettingsError | ValidationError | FilterError):
        return EXIT_BAD_INPUT
    if isinstance(exc, FlyteAuthenticationException) or (
        isinstance(exc, FlyteAdminError) and is_tls_failure(exc)
    ):
        return EXIT_BAD_INPUT
    if isinstance(exc, FlyteAdminError):
        return EXIT_FAILED
    return None


def report_failure(
    exc: BaseException,
    stream: TextIO | None = None,
    *,
    output: str = "table",
    stdout: TextIO | None = None,
) -> int:
    """Print an expected failure as `error: ...` and return its exit code; re-raise anything else.

    With `output="json"` a JSON error object also goes to stdout, so a CI step that parses the output
    gets a document for a failure as well (`failure_document` says what is in it)."""
    code = exit_code_for(exc)
    if code is None:
        raise exc
    print(f"error: {error_text(exc, code)}", file=stream or sys.stderr)
    if output == "json":
        import json

        print(json.dumps(failure_document(exc, code), indent=2), file=stdout or sys.stdout)
    return code


def error_text(exc: BaseException, code: int) -> str:
    """The error's message as printed: names typed by the user or read from their files may hold control
    characters (`-p $'\\r'`), which are escaped so they can neither split the one error line nor drive the
    terminal. Line breaks are kept only where they are the message's own layout: an attributes file's list
    of problems (each already one escaped line), and failures of the operation (exit 1)."""
    from flyteadmin_ops.ops.attribute_file import AttributeFileError

    keeps_lines = code != EXIT_BAD_INPUT or isinstance(exc, AttributeFileError)
    lines = str(exc).split("\n") if keeps_lines else [str(exc)]
    return "\n".join(_escaped(line) for line in lines)


def _escaped(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def failure_document(exc: BaseException, exit_code: int) -> dict[str, object]:
    """`{"ok": false, "kind", "message", "exit_code"}`: `kind` is the error's class name (e.g.
    `FlyteAuthenticationException`, `SettingsError`, `usage` for invalid arguments); the message is the
    one printed on stderr, which never holds a secret."""
    return {"ok": False, "kind": type(exc).__name__, "message": str(exc), "exit_code": exit_code}


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
        return report_failure(exc, stderr, output=args.output, stdout=stdout)
    emit(
        result,
        args.output,
        stdout,
        verbose=getattr(args, "verbose", False),
        also=getattr(args, "show_statuses", ()),
        stderr=stderr,
    )
    return EXIT_OK if result.ok else EXIT_FAILED


def execute_with_client(
    args: argparse.Namespace, call: Callable[[SynchronousFlyteClient, ProgressReporter], Result]
) -> int:
    """`execute` for the automations: `call` gets a client built from the options and a progress
    reporter to pass as `on_outcome` (and to `plan` its batches, when it knows them); the client is closed
    and the progress bar cleared before the result prints. Building the client ends the start-up
    (`commands.startup.work_begins`)."""

    def operation(settings: AdminSettings) -> Result:
        from flyteadmin_ops.client import SynchronousFlyteClient
        from flyteadmin_ops.commands.progress import ProgressReporter
        from flyteadmin_ops.commands.startup import work_begins

        progress = ProgressReporter()
        try:
            with SynchronousFlyteClient(settings) as client:
                work_begins()
                return call(client, progress)
        finally:
            progress.finish()

    return execute(args, operation)


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="list every entity in the table (default: only what needs attention, and a count per status)",
    )


def emit(
    result: Result,
    output: str,
    stream: TextIO | None = None,
    *,
    verbose: bool = False,
    also: Collection[Status] = (),
    stderr: TextIO | None = None,
) -> None:
    """Print the result on stdout (`commands.tables` for people, the complete JSON for scripts), then
    the GitHub Actions summary and annotations when running there (`commands.ci_output`)."""
    from flyteadmin_ops.commands.ci_output import publish
    from flyteadmin_ops.commands.tables import render_result
    from flyteadmin_ops.ops.results import render_json

    out = stream or sys.stdout
    text = render_json(result) if output == "json" else render_result(result, verbose=verbose, also=also)
    print(text, file=out)
    publish(result, output=output, stdout=out, stderr=stderr or sys.stderr)
