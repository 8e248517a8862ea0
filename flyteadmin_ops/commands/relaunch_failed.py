"""Recover (or relaunch) the failed executions of a project and domain, each exactly once.

Each new execution is named after the failed one (rc-<name>-<hash> for recover, rl-... for relaunch), so
running this twice, or twice at the same time, never launches a failure twice: the second attempt is
reported `exists`. Executions already recovered or relaunched by anyone are skipped.

Examples:
  flyteadmin-ops relaunch-failed -p flytesnacks -d development --since 24h --dry-run
  flyteadmin-ops relaunch-failed -p flytesnacks -d production --from 2024-05-01T00:00:00Z \\
      --to 2024-05-02T00:00:00Z --phase FAILED --phase TIMED_OUT --launch-plan nightly --max 20

Exit codes: 0 every selected failure launched (or already was), 1 a launch failed, 2 bad input (a bad
window or phase, an unknown project or domain, bad settings).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING

from flyteadmin_ops.commands.common import (
    add_connection_arguments,
    add_output_argument,
    add_verbose_argument,
    execute_with_client,
)
from flyteadmin_ops.commands.progress import ProgressReporter
from flyteadmin_ops.ops.relaunch import (
    RETRYABLE_PHASES,
    Selection,
    parse_duration,
    parse_timestamp,
)
from flyteadmin_ops.ops.results import OperationInputError, Result, Status

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("-p", "--project", required=True, help="project of the failed executions")
    parser.add_argument("-d", "--domain", required=True, help="domain of the failed executions")
    window = parser.add_argument_group("window (by execution creation time; default --since 24h)")
    window.add_argument(
        "--since", metavar="DURATION", help="executions created in the last DURATION: 30m, 24h, 7d"
    )
    window.add_argument(
        "--from", dest="start", metavar="TIME", help="window start, RFC 3339 (e.g. 2024-05-01T00:00:00Z)"
    )
    window.add_argument("--to", dest="end", metavar="TIME", help="window end, RFC 3339 (default: now)")
    parser.add_argument(
        "--phase",
        action="append",
        choices=RETRYABLE_PHASES,
        help="phase to select; repeat for several (default: FAILED)",
    )
    parser.add_argument(
        "--launch-plan", metavar="NAME", help="only executions of this launch plan (any version)"
    )
    parser.add_argument(
        "--mode",
        choices=("recover", "relaunch"),
        default="recover",
        help="recover resumes from the failed node, reusing successful outputs (default); "
        "relaunch starts over",
    )
    parser.add_argument(
        "--max", dest="max_launches", type=int, metavar="N", help="launch at most N executions"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be launched; launch nothing")
    add_output_argument(parser)
    add_verbose_argument(parser)
    # Shown in the default table besides conflicts and failures:
    # with --dry-run, what would be launched (a real run lists only its counts and problems).
    parser.set_defaults(show_statuses=(Status.PLANNED,))
    add_connection_arguments(parser)


def selection_from_args(args: argparse.Namespace, now: dt.datetime | None = None) -> Selection:
    if args.since and (args.start or args.end):
        raise OperationInputError("give either --since or --from/--to, not both")
    if args.end and not args.start:
        raise OperationInputError("--to needs --from")
    phases = tuple(dict.fromkeys(args.phase or ["FAILED"]))
    if args.start:
        start = parse_timestamp(args.start)
        end = parse_timestamp(args.end) if args.end else None
        return Selection(args.project, args.domain, start, end, phases, args.launch_plan)
    now = now or dt.datetime.now(dt.timezone.utc)
    since = parse_duration(args.since or "24h")
    return Selection(args.project, args.domain, now - since, None, phases, args.launch_plan)


def run(args: argparse.Namespace) -> int:
    from flyteadmin_ops.ops.relaunch import relaunch_failed

    def relaunch(client: SynchronousFlyteClient, progress: ProgressReporter) -> Result:
        progress.set_phase("selecting failed executions")
        return relaunch_failed(
            client,
            selection_from_args(args),
            mode=args.mode,
            max_launches=args.max_launches,
            dry_run=args.dry_run,
            on_outcome=progress,
        )

    return execute_with_client(args, relaunch)
