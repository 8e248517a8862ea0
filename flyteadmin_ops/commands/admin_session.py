"""One client for the length of a `get`/`launch`/`wait`/`terminate` command, and their shared meanings.

These commands read or act on one thing the user named, so "no such thing" is bad input (exit 2, naming
it), not an operation that failed: `not_found` turns the server's NOT_FOUND into that. Every other failure
goes through `common.report_failure`, the one place that prints errors and picks exit codes (with `-o json`
it also prints the JSON error object on stdout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flyteadmin_ops.commands.common import report_failure, settings_from_args
from flyteadmin_ops.commands.startup import work_begins
from flyteadmin_ops.ops.results import OperationInputError

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

TERMINAL_PHASES = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})
UNSUCCESSFUL_PHASES = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def run_with_client(args: argparse.Namespace, body: Callable[[SynchronousFlyteClient], int]) -> int:
    """Build the client from the options, run `body`, and map an expected failure to its exit code. Building
    the client ends the start-up (`commands.startup.work_begins`)."""
    try:
        from flyteadmin_ops.client import SynchronousFlyteClient

        with SynchronousFlyteClient(settings_from_args(args)) as client:
            work_begins()
            return body(client)
    except KeyboardInterrupt:  # e.g. tired of waiting: the execution itself goes on
        print("interrupted (an execution already launched goes on)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # report_failure re-raises what it does not know
        return report_failure(exc, output=getattr(args, "output", "table"))


@contextmanager
def not_found(what: str) -> Iterator[None]:
    """Report the server's NOT_FOUND for `what` (e.g. "execution flytesnacks/development/abc") as bad
    input, exit 2; and its INVALID_ARGUMENT too: here it can only be about the names the user typed (an
    empty launch plan name, a project with a space), not an operation that failed."""
    from flyteadmin_ops.errors import FlyteEntityNotExistException, FlyteInvalidInputException

    try:
        yield
    except FlyteEntityNotExistException as exc:
        raise OperationInputError(f"{what}: not found ({exc.server_message})") from None
    except FlyteInvalidInputException as exc:
        raise OperationInputError(f"{what}: refused by the server ({exc.server_message})") from None
