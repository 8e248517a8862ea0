"""Wait for an execution to end, for a CI step that must pass or fail with it.

  flyteadmin-ops wait f3a9c1 -p flytesnacks -d development --timeout 1800

Polls with backoff (0.5 s doubling to 10 s). On FAILED, ABORTED or TIMED_OUT it prints Flyte's error code
and message. A timeout ends the wait, not the execution.

Exit codes: 0 SUCCEEDED, 1 FAILED, ABORTED or TIMED_OUT (or still running at --timeout), 2 bad input
(an unknown execution, bad settings).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flyteadmin_ops.commands import views
from flyteadmin_ops.commands.admin_session import not_found, run_with_client
from flyteadmin_ops.commands.common import add_connection_arguments, positive_seconds
from flyteadmin_ops.commands.execution_watch import (
    ending_document,
    id_document,
    phase_to_stderr,
    report_ending,
    wait_for_end,
)
from flyteadmin_ops.ops.results import OperationInputError

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_execution_arguments(parser)
    parser.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="stop waiting after SECONDS (exit 1)"
    )
    views.add_format_argument(parser)
    add_connection_arguments(parser)


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("execution", metavar="EXECUTION", help="execution name")
    parser.add_argument("-p", "--project", required=True, help="project of the execution")
    parser.add_argument("-d", "--domain", required=True, help="domain of the execution")


def run(args: argparse.Namespace) -> int:
    return run_with_client(args, lambda client: wait(client, args))


def wait(client: SynchronousFlyteClient, args: argparse.Namespace) -> int:
    from flyteadmin_ops.client import execution_id

    if args.timeout is not None and args.timeout <= 0:
        raise OperationInputError("--timeout: a positive number of seconds")
    ident = execution_id(args.project, args.domain, args.execution)
    with not_found(f"execution {args.project}/{args.domain}/{args.execution}"):
        ending = wait_for_end(client, ident, args.timeout, on_phase=phase_to_stderr(args.output))
    if args.output == "table":
        report_ending(ending, ident)
    else:
        document = {
            "ok": ending.succeeded,
            "kind": "execution",
            "execution": id_document(ident),
            **ending_document(ending),
        }
        views.print_document(document, args.output)
    return ending.exit_code
