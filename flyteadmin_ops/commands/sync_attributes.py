"""Make the matchable attributes on Flyte Admin match a declared file, writing only what differs.

FILE lists the wanted attributes at project, project-domain and workflow scope (format: see the header of
config/attributes.yaml). The plan is printed as a table; with --dry-run nothing is written and the exit
code says whether the server is in sync (0) or drifted (2), so it works as a drift check in CI. --prune
also deletes attributes of the file's projects that the file no longer lists.

Exit codes: 0 ok (or in sync, with --dry-run), 1 a write failed, 2 a bad file or drift (--dry-run).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flyteadmin_ops.commands.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
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
    parser.add_argument("file", metavar="FILE", help="the declared attributes, e.g. config/attributes.yaml")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and write nothing; exit 0 when in sync, 2 on drift",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="also delete attributes of the file's projects that the file does not list",
    )
    add_output_argument(parser)
    add_verbose_argument(parser)
    # Shown in the default table besides conflicts and failures:
    # the drift and the writes, with their field changes, are the report.
    parser.set_defaults(show_statuses=(Status.PLANNED, Status.CREATED, Status.UPDATED, Status.DELETED))
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from flyteadmin_ops.ops.attributes import sync_attributes

    results: list[Result] = []

    def sync(client: SynchronousFlyteClient, progress: ProgressReporter) -> Result:
        progress.set_phase("reading the attributes on the server")
        result = sync_attributes(
            client, args.file, prune=args.prune, dry_run=args.dry_run, on_outcome=progress
        )
        results.append(result)
        return result

    code = execute_with_client(args, sync)
    if code == EXIT_OK and args.dry_run and results and results[0].with_status(Status.PLANNED):
        return EXIT_BAD_INPUT  # drift: documented as exit 2, the same code as a bad file
    return code
