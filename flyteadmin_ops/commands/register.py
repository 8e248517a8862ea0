"""Register a `pyflyte package` archive (or a folder of .pb files) in a project and domain at a version.

Entities are registered in dependency waves, each wave concurrently: the calls in flight start at the
max_concurrency setting and grow while the server keeps up (up to max_concurrency_ceiling), halving when it
pushes back; --max-concurrency N pins them to N. What already exists at the version is listed first, so a
re-run sends no create for a task or launch plan that is already there, and what was written is read
back. An identical entity already on the server counts as success (`exists`); a different one under the
same version is a `conflict`, shown as the fields that differ, one per line
(`node n1 (maybe_fail): metadata.retries: 0 -> 3`); `-o json` lists them under `changes` (path, old, new)
and keeps flyteadmin's own message in `server_message`. By default nothing after a conflict or failure is
attempted, so no launch plan is created from a broken package; --continue-on-error goes on. The
fast-register source archive (fast*.tar.gz) is uploaded through the data proxy first and its URL put into
the task args.

Progress goes to stderr: a bar redrawn in place on a terminal, one line per wave otherwise. The table
lists what needs attention (conflicts, failures, what was not attempted) and a count per status;
--verbose lists every entity, and -o json has every outcome.

Examples:
  flyteadmin-ops register pkg.tgz -p flytesnacks -d development --version v1 --dry-run
  flyteadmin-ops register pkg.tgz -p flytesnacks -d development --version "$GIT_SHA" --activate-schedules

Exit codes: 0 every entity created or already there, 1 a conflict or failure, 2 bad input (unreadable
package, unknown project or domain, bad settings). Admin going away mid-run is a failure (1): what was not
attempted is listed as skipped; re-run once it is back.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flyteadmin_ops.commands.common import (
    add_connection_arguments,
    add_output_argument,
    add_verbose_argument,
    execute,
    execute_with_client,
)

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.commands.progress import ProgressReporter
    from flyteadmin_ops.ops.results import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "package", metavar="PACKAGE", help="a pyflyte package (.tgz/.tar.gz/.tar) or a folder of .pb files"
    )
    parser.add_argument("-p", "--project", required=True, help="project to register into")
    parser.add_argument("-d", "--domain", required=True, help="domain to register into")
    parser.add_argument(
        "-v",
        "--version",
        required=True,
        help="version for every entity whose version the package leaves open",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="load, hydrate and order everything offline and print the plan (--verbose: every entity "
        "with its wave); no RPC, no upload",
    )
    parser.add_argument(
        "--continue-on-error",
        action="store_true",
        help="keep registering after a conflict or failure (default: stop before any launch plan)",
    )
    parser.add_argument(
        "--activate-schedules",
        action="store_true",
        help="activate launch plans that have a schedule (also when they already existed)",
    )
    parser.add_argument(
        "--dest-dir",
        default=".",
        metavar="DIR",
        help="where the source archive is unpacked in the task container ({{ .dest_dir }}; default .)",
    )
    add_output_argument(parser)
    add_verbose_argument(parser)
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from flyteadmin_ops.commands.progress import register_stages
    from flyteadmin_ops.ops.package import load_package
    from flyteadmin_ops.ops.register import register_package

    def register(client: SynchronousFlyteClient | None, progress: ProgressReporter | None) -> Result:
        if progress is not None:
            progress.set_phase("reading the package")
        package = load_package(args.package)
        if progress is not None:  # the waves are known before the first RPC: the bar can show them
            stages = register_stages(package, args.project, args.domain, args.version)
            progress.plan(stages, phase="checking the project, uploading" if package.fast_archive else "")
        return register_package(
            client,
            package,
            args.project,
            args.domain,
            args.version,
            dry_run=args.dry_run,
            continue_on_error=args.continue_on_error,
            activate_schedules=args.activate_schedules,
            dest_dir=args.dest_dir,
            max_concurrency=args.max_concurrency,  # given: a fixed number in flight; else adaptive
            on_outcome=progress,
        )

    if args.dry_run:  # offline: no channel is even opened, and nothing worth a progress bar
        return execute(args, lambda _settings: register(None, None))
    return execute_with_client(args, register)
