"""The `flyteadmin-ops` command: the edge of the library, for CI steps and operators.

The top-level parser is built from the SUBCOMMANDS table alone (names and one-line help), and only the
module of the subcommand actually chosen is imported: `flyteadmin-ops --help` or `emulator serve` never
pays for gRPC stubs, the package loader or Prefect that other subcommands need.

Exit codes: 0 ok, 1 the operation failed, 2 bad input (or drift, for `sync-attributes --dry-run`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Collection, Sequence
from typing import Any, NoReturn

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
    "get": ("flyteadmin_ops.commands.get", "show projects, tasks, workflows, launch plans, executions"),
    "launch": ("flyteadmin_ops.commands.launch", "launch a launch plan with inputs, optionally --wait"),
    "wait": ("flyteadmin_ops.commands.wait", "wait for an execution: exit 0 SUCCEEDED, 1 failed"),
    "terminate": ("flyteadmin_ops.commands.terminate", "terminate a running execution"),
    "emulator": ("flyteadmin_ops.emulator.cli", "run a local Flyte Admin emulator"),
    "demo": ("flyteadmin_ops.commands.demo", "run every automation against a local emulator"),
    "login": ("flyteadmin_ops.commands.login", "log in as a person (pkce, device_flow); cache the tokens"),
    "logout": ("flyteadmin_ops.commands.logout", "forget the cached tokens for an endpoint"),
    "completion": ("flyteadmin_ops.commands.completion", "print a shell completion script (bash, zsh, fish)"),
}

PAUSED_START_UP = frozenset(
    {"register", "promote", "relaunch-failed", "sync-attributes", "get", "launch", "wait", "terminate"}
)
"""Subcommands whose start-up runs with the cyclic garbage collector paused (`commands.startup`): their work
begins in `commands.common` or `commands.admin_session`, which turn it back on once the client is built.
Not the others: `emulator serve` or `demo` would run paused to the end."""

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

DISTRIBUTION = "flyteadmin-ops"


def package_version() -> str:
    """The installed distribution's version (what pip reports), else the package's own constant (a
    checkout run without installing)."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        from flyteadmin_ops import __version__

        return __version__


class VersionAction(argparse._VersionAction):
    """`--version`, with the version looked up only when the option is given: reading the installed
    distribution's metadata (importlib.metadata) would otherwise cost every command, `--help` included."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.version = f"%(prog)s {package_version()}"
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """argparse, plus: when the command line asks for `-o json` (`JsonErrorsParser`), a usage error also
    prints the JSON error object on stdout, as every other failure does, so a CI step parsing the output
    always gets one. Subcommand parsers are made of the same class as their parent."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        if self.json_errors:
            import json

            document = {"ok": False, "kind": "usage", "message": message, "exit_code": EXIT_BAD_INPUT}
            print(json.dumps(document, indent=2), file=sys.stdout)
        # the message quotes what was typed, which may hold control characters (`-p $'\\r'`): escaped, the
        # error stays one line and cannot drive the terminal
        if not message.isprintable():
            message = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in message)
        super().error(message)


class JsonErrorsParser(Parser):
    json_errors = True


def wants_json(argv: Sequence[str]) -> bool:
    """Whether `-o json` / `--output json` (or `--output=json`, `-ojson`) is on the command line."""
    pairs = zip(argv, [*argv[1:], ""], strict=True)
    return any(
        (flag in ("-o", "--output") and value == "json") or flag in ("--output=json", "-ojson")
        for flag, value in pairs
    )


def build_parser(
    load: Collection[str] | None = None, *, json_errors: bool = False
) -> argparse.ArgumentParser:
    """The parser with every subcommand listed; only those in `load` (all when None) get their module
    imported and their arguments added. `main` loads just the one on the command line."""
    parser_class = JsonErrorsParser if json_errors else Parser
    parser = parser_class(
        prog="flyteadmin-ops",
        description="Operate a Flyte control plane through the Flyte Admin gRPC API.",
        epilog="Exit codes: 0 ok, 1 operation failed, 2 bad input or drift.",
    )
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        required=True,
        parser_class=parser_class,
    )
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if load is not None and name not in load:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def chosen_subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line: the first word that is not an option (the top-level
    parser has no option that takes a value), if it is one of SUBCOMMANDS."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in SUBCOMMANDS else None


def _utf8(argument: str) -> bool:
    """False for an argument that held bytes that are not UTF-8 (Python passes them on as lone surrogates,
    PEP 383)."""
    try:
        argument.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = chosen_subcommand(arguments)
    parser = build_parser(load=() if chosen is None else (chosen,), json_errors=wants_json(arguments))
    undecodable = next((argument for argument in arguments if not _utf8(argument)), None)
    if undecodable is not None:  # names go into protobuf strings, which must be UTF-8
        parser.error(f"argument {undecodable!a} is not UTF-8 text")
    args = parser.parse_args(arguments)
    with _start_up(chosen):
        code: int = args._run(args)
    return code


def _start_up(chosen: str | None) -> contextlib.AbstractContextManager[None]:
    """The collector paused for a command in PAUSED_START_UP (imported only then), else nothing."""
    if chosen not in PAUSED_START_UP:
        return contextlib.nullcontext()
    from flyteadmin_ops.commands.startup import collector_paused

    return collector_paused()


if __name__ == "__main__":
    sys.exit(main())
