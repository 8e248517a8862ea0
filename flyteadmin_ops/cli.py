"""The `flyteadmin-ops` command: the edge of the library, for CI steps and operators.

Subcommands import their modules lazily so that `flyteadmin-ops emulator serve` or a registration step
never pays for Prefect (only `--prefect` paths import it).

Exit codes: 0 ok, 1 the operation failed, 2 bad input (or drift, for `sync-attributes --dry-run`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# gRPC's C core logs handshake and bind failures straight to stderr (read once, when grpc is imported), in
# addition to the one-line error this command prints for them. As flytekit's CLI does; set it to see them.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

# subcommand -> (module, help). Each module exposes `add_arguments(parser)` and `run(args) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "register": ("flyteadmin_ops.commands.register", "register a pyflyte package, idempotently"),
    "promote": ("flyteadmin_ops.commands.promote", "activate a launch plan version, verified"),
    "relaunch-failed": (
        "flyteadmin_ops.commands.relaunch_failed",
        "recover or relaunch failed executions, each exactly once",
    ),
    "sync-attributes": (
        "flyteadmin_ops.commands.sync_attributes",
        "make matchable attributes match a declared file",
    ),
    "emulator": ("flyteadmin_ops.emulator.cli", "run a local Flyte Admin emulator"),
    "demo": ("flyteadmin_ops.commands.demo", "run every automation against a local emulator"),
}

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flyteadmin-ops",
        description="Operate a Flyte control plane through the Flyte Admin gRPC API.",
        epilog="Exit codes: 0 ok, 1 operation failed, 2 bad input or drift.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
