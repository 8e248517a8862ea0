"""Make a launch plan version the active one, optionally copying it from another domain first.

Prints the previously active version, and reads the active version back after the change. If the new
version cannot be verified as active, what was active before is re-activated and the command exits 1.
Promoting a version that is already active changes nothing (`unchanged`).

With --from-domain, the launch plan and everything it refers to in that domain (workflow, subworkflows,
tasks, launch plans it calls) are registered in the target domain at the same versions before activation;
a version already there with a different structure is a conflict naming the fields that differ, as in
`register`, and nothing is activated.

Examples:
  flyteadmin-ops promote ops_demo.nightly --version v7 -p flytesnacks -d development
  flyteadmin-ops promote ops_demo.nightly --version v7 -p flytesnacks -d production --from-domain staging

Exit codes: 0 active (or already was), 1 a copy or the activation failed, 2 bad input (no such launch
plan version, unknown project or domain).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flyteadmin_ops.commands.common import (
    add_connection_arguments,
    add_output_argument,
    add_verbose_argument,
    execute_with_client,
)
from flyteadmin_ops.commands.progress import ProgressReporter
from flyteadmin_ops.ops.results import Result, Status

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("name", metavar="NAME", help="launch plan name, e.g. ops_demo.nightly")
    parser.add_argument("-v", "--version", required=True, help="the version to activate")
    parser.add_argument("-p", "--project", required=True, help="project of the launch plan")
    parser.add_argument("-d", "--domain", required=True, help="domain to activate it in")
    parser.add_argument(
        "--from-domain",
        metavar="DOMAIN",
        help="copy the launch plan and what it refers to from DOMAIN first (e.g. staging)",
    )
    add_output_argument(parser)
    add_verbose_argument(parser)
    # Shown in the default table besides conflicts and failures:
    # the activation (or that it already was) is what the user came for.
    parser.set_defaults(show_statuses=(Status.ACTIVATED, Status.UNCHANGED))
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from flyteadmin_ops.ops.promote import promote_launch_plan

    def promote(client: SynchronousFlyteClient, progress: ProgressReporter) -> Result:
        progress.set_phase(f"copying from {args.from_domain}" if args.from_domain else "activating")
        return promote_launch_plan(
            client,
            args.name,
            args.version,
            args.project,
            args.domain,
            from_domain=args.from_domain,
            on_outcome=progress,
        )

    return execute_with_client(args, promote)
