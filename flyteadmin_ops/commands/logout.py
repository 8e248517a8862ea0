"""Forget the tokens `flyteadmin-ops login` (or any pkce/device_flow command) cached for an endpoint.

Removes every cached token for the endpoint (each client id used there), from the OS keyring or the token
file, without contacting the server. The next command that needs a token logs in again.

Exit codes: 0 done (also when nothing was cached), 2 bad settings.
"""

from __future__ import annotations

import argparse

from flyteadmin_ops.commands.common import add_connection_arguments, add_output_argument
from flyteadmin_ops.commands.login import run_logout


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_argument(parser)
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_logout(args)
