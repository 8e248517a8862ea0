"""Terminate a running execution (flyteadmin marks it ABORTING; the engine then aborts it).

  flyteadmin-ops terminate f3a9c1 -p flytesnacks -d development --cause "bad inputs"

An execution that has already ended is left as it is and reported (`already SUCCEEDED`), exit 0: what the
user wanted, that it not run, holds. So a cleanup step can run it unconditionally.

Exit codes: 0 terminated or already ended, 1 the server failed, 2 bad input (an unknown execution).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flyteadmin_ops.commands import views
from flyteadmin_ops.commands.admin_session import TERMINAL_PHASES, not_found, run_with_client
from flyteadmin_ops.commands.common import add_connection_arguments
from flyteadmin_ops.commands.execution_watch import id_document, id_text
from flyteadmin_ops.commands.wait import add_execution_arguments

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

DEFAULT_CAUSE = "terminated with flyteadmin-ops"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_execution_arguments(parser)
    parser.add_argument(
        "--cause", default=DEFAULT_CAUSE, help=f"why, recorded on the execution ({DEFAULT_CAUSE!r})"
    )
    views.add_format_argument(parser)
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_with_client(args, lambda client: terminate(client, args))


def terminate(client: SynchronousFlyteClient, args: argparse.Namespace) -> int:
    from flyteadmin_ops.client import execution_id
    from flyteadmin_ops.errors import FlyteFailedPreconditionException

    ident = execution_id(args.project, args.domain, args.execution)
    with not_found(f"execution {args.project}/{args.domain}/{args.execution}"):
        phase = views.workflow_phase(client.get_execution(ident).closure.phase)
        terminated = False
        if phase not in TERMINAL_PHASES:
            try:
                client.terminate_execution(ident, args.cause)
                terminated = True
            except FlyteFailedPreconditionException:  # it ended between the read and the terminate
                pass
            phase = views.workflow_phase(client.get_execution(ident).closure.phase)
    if args.output == "table":
        print(f"{'terminated' if terminated else 'already ' + phase} {id_text(ident)}")
    else:
        document = {
            "ok": True,
            "kind": "execution",
            "execution": id_document(ident),
            "terminated": terminated,
            "phase": phase,
        }
        views.print_document(document, args.output)
    return 0
