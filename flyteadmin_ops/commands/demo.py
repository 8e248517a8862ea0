"""Run the four automations end to end against a local, in-process Flyte Admin emulator.

Starts the emulator (free port, simulated executor), registers the bundled sample package (made with
`pyflyte package`) in staging, promotes the scheduled launch plan `ops_demo.nightly` to production, launches
executions of which some fail on purpose, recovers each failure exactly once with relaunch-failed, syncs
the matchable attributes of config/attributes.yaml (bundled with the package, so any folder will do), and
prints what happened. Needs no Docker, no Kubernetes and no Flyte cluster.

Exit codes: 0 the demo ran as described, 1 a step did not, 2 bad input (an --attributes file that cannot be
read or has mistakes, or --prefect without the `prefect` extra installed; checked before the demo starts).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from flyteadmin_ops.commands.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, report_failure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--prefect",
        action="store_true",
        help="run the steps through the Prefect flows (starts a temporary Prefect server unless "
        "PREFECT_API_URL is set; adds 10-20 s)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the emulator running afterwards (Ctrl-C stops it), to explore it with the other commands",
    )
    parser.add_argument(
        "--attributes",
        type=Path,
        metavar="FILE",
        help="matchable attributes to sync (default: the copy of config/attributes.yaml bundled with the "
        "package, so the demo runs from any folder)",
    )


def run(args: argparse.Namespace) -> int:
    from flyteadmin_ops.demo.run import run_demo
    from flyteadmin_ops.ops.attribute_file import load_attribute_file

    if args.prefect and (missing := _prefect_missing()):  # checked before the emulator starts
        print(f"error: demo --prefect: {missing}", file=sys.stderr)
        return EXIT_BAD_INPUT
    stop = threading.Event() if args.keep_running else None
    try:
        if args.attributes is not None:  # checked offline first: a bad file fails before the demo starts
            load_attribute_file(args.attributes)
        result = run_demo(attributes=args.attributes, prefect=args.prefect, keep_running=stop)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # report_failure re-raises what it does not know
        return report_failure(exc, sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def _prefect_missing() -> str | None:
    """The Prefect guard's own message (which extra to install) when Prefect is not installed, else None."""
    try:
        import flyteadmin_ops._prefect_required  # noqa: F401
    except ImportError as missing:
        return str(missing)
    return None
