"""Command lines for the CLI fuzz tests, drawn from the real parser: every subcommand, every option it
declares (with its choices), values that are real names, fuzzed text, or paths to fuzzed files (packages,
attribute files, config files, inputs files), plus stray tokens argparse must refuse.

`run_cli` runs one command line in-process against an emulator and reports what a user would see."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import strategies as st

from flyteadmin_ops import demo
from flyteadmin_ops.cli import build_parser, main
from flyteadmin_ops.emulator import Emulator
from tests.fuzz.archives import archives

# Not fuzzed here: `emulator` and `demo` start servers of their own, `login` opens a browser or waits for a
# person; their argument parsing is plain argparse over options they pass on.
SKIPPED = frozenset({"emulator", "demo", "login"})
# Pinned after the fuzzed arguments (argparse keeps the last): a fuzzed endpoint would only test retries.
CONNECTION_DESTS = frozenset({"endpoint", "insecure"})

REAL_NAMES = [
    demo.SCHEDULED_LAUNCH_PLAN,
    demo.FAILING_WORKFLOW,
    "ops_demo.tasks.add",
    "flytesnacks",
    "development",
    "production",
    "nope",
    "FAILED",
    "TIMED_OUT",
]


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    dest: str
    takes_value: bool
    choices: tuple[str, ...]
    required: bool = False


def _subcommands() -> dict[str, tuple[list[Option], list[Option]]]:
    """subcommand -> (options, positionals), read from the parser `main` builds."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    table: dict[str, tuple[list[Option], list[Option]]] = {}
    for name, sub in action.choices.items():
        if name in SKIPPED:
            continue
        options: list[Option] = []
        positionals: list[Option] = []
        for arg in sub._actions:
            if isinstance(arg, argparse._HelpAction) or arg.dest in CONNECTION_DESTS:
                continue
            option = Option(
                tuple(arg.option_strings),
                arg.dest,
                arg.nargs != 0,
                tuple(str(c) for c in arg.choices) if arg.choices else (),
                bool(arg.required),
            )
            (options if arg.option_strings else positionals).append(option)
        table[name] = (options, positionals)
    return table


SUBCOMMANDS = _subcommands()


@dataclass(frozen=True)
class FileSpec:
    """A file the command line names, written just before it runs."""

    kind: str  # package | attributes | config | inputs | missing | folder
    content: bytes


def _yaml_bytes(value: object) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", "surrogatepass")


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_attribute_entries = st.lists(
    st.fixed_dictionaries(
        {
            "project": st.sampled_from(["flytesnacks", "nope", ""]),
            "type": st.sampled_from(["execution-queue", "task-resource", "bogus"]),
        },
        optional={
            "domain": st.sampled_from(["development", "production", "nope"]),
            "tags": _yaml_values,
            "defaults": _yaml_values,
        },
    ),
    max_size=3,
)
_config_documents = st.dictionaries(
    st.sampled_from(
        ["deadline_seconds", "retry_attempts", "max_concurrency", "auth_mode", "token", "scopes", "bogus"]
    ),
    _yaml_values,
    max_size=3,
)


def files() -> st.SearchStrategy[FileSpec]:
    return st.one_of(
        st.builds(FileSpec, st.just("package"), archives().map(lambda a: a.to_bytes())),
        st.builds(FileSpec, st.just("real-package"), st.just(b"")),
        st.builds(FileSpec, st.just("attributes"), _attribute_entries.map(_yaml_bytes)),
        st.builds(FileSpec, st.just("attributes"), st.binary(max_size=60)),
        st.builds(FileSpec, st.just("config"), _config_documents.map(_yaml_bytes)),
        st.builds(
            FileSpec,
            st.just("inputs"),
            st.dictionaries(st.sampled_from(["fail", "label", "x"]), _yaml_values, max_size=2).map(
                _yaml_bytes
            ),
        ),
        st.builds(FileSpec, st.sampled_from(["missing", "folder"]), st.just(b"")),
    )


Token = str | FileSpec
_FILE_DESTS = {"package", "file", "config", "ca_cert", "inputs_file"}


def _value_for(option: Option) -> st.SearchStrategy[Token]:
    if option.dest in _FILE_DESTS:
        return files() | st.text(max_size=8)
    texts = (
        st.text(max_size=16)
        | st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)  # non-UTF-8 bytes in argv
        | st.sampled_from(REAL_NAMES)
        | st.sampled_from(
            ["0", "-1", "nan", "1e999", "24h", "2024-05-01T00:00:00Z", "eq(phase,FAILED)", "x=1", "fail=true"]
        )
    )
    if option.choices:
        return st.sampled_from(option.choices) | texts
    return texts


_REQUIRED_VALUES: dict[str, st.SearchStrategy[Token]] = {
    "version": st.sampled_from(["v1", "v2", "v1"]) | st.text(max_size=6),
}


def argv_for(name: str) -> st.SearchStrategy[list[Token]]:
    options, positionals = SUBCOMMANDS[name]
    option_tokens = (
        st.sampled_from(options).flatmap(
            lambda o: (
                st.tuples(st.sampled_from(o.flags), _value_for(o)).map(list)
                if o.takes_value
                else st.sampled_from(o.flags).map(lambda flag: [flag])
            )
        )
        if options
        else st.just([])
    )
    positional_tokens = st.tuples(*(_value_for(p) for p in positionals)).map(list)
    noise = st.sampled_from(["--", "-", "--bogus", "-o", "--output=json", "-ojson", "--help-me", "-p"]).map(
        lambda t: [t]
    )
    targets = st.sampled_from(
        [["-p", "flytesnacks", "-d", "development"], ["-p", "flytesnacks", "-d", "production"], []]
    )
    required = [o for o in options if o.required and o.takes_value and o.flags[0] not in ("-p", "-d")]
    required_tokens = st.tuples(
        *(st.tuples(st.just(o.flags[-1]), _REQUIRED_VALUES.get(o.dest, _value_for(o))) for o in required)
    ).map(lambda pairs: [t for pair in pairs for t in pair])
    rarely_noise: st.SearchStrategy[list[str]] = st.one_of(
        st.just([]), st.just([]), st.just([]), noise
    )  # mostly parseable lines
    return st.tuples(
        positional_tokens,
        targets,
        st.lists(option_tokens, max_size=4),
        rarely_noise,
        st.integers(0, 9),
        required_tokens,
    ).map(
        lambda parts: [
            name,
            *(parts[0] if parts[4] else parts[0][:1]),  # mostly every positional, sometimes one missing
            *parts[1],
            *(parts[5] if parts[4] else []),  # required options, mostly
            *[t for group in parts[2] for t in group],
            *parts[3],
        ]
    )


def subcommand_argv(names: list[str]) -> st.SearchStrategy[list[Token]]:
    return st.sampled_from(names).flatmap(argv_for)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def materialize(tokens: list[Token], folder: Path) -> list[str]:
    argv = []
    for i, token in enumerate(tokens):
        if isinstance(token, str):
            argv.append(token)
            continue
        path = folder / f"arg{i}"
        if token.kind == "real-package":
            path = demo.SAMPLE_PACKAGE_PATH
        elif token.kind == "folder":
            path.mkdir()
        elif token.kind != "missing":
            suffix = {"package": ".tgz", "config": ".yaml", "inputs": ".yaml", "attributes": ".yaml"}[
                token.kind
            ]
            path = path.with_suffix(suffix)
            path.write_bytes(token.content)
        argv.append(str(path))
    return argv


def run_cli(argv: list[str], emulator: Emulator) -> Outcome:
    """`flyteadmin-ops ARGV --endpoint E --insecure`, in-process; SystemExit (argparse) becomes its code."""
    full = (
        [*argv, "--endpoint", emulator.endpoint, "--insecure"]
        if argv[0] not in ("completion", "logout")
        else argv
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(full)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    return Outcome(code, out.getvalue(), err.getvalue())


def snapshot(emulator: Emulator) -> list[str]:
    """Everything the emulator holds (entities, executions, attributes, uploaded objects), as SQL."""
    assert emulator.state is not None
    assert emulator.wait_idle(30), "the simulated executions did not settle"
    with emulator.state.db.read() as conn:
        return list(conn.iterdump())


@contextlib.contextmanager
def quiet_environment(home: str) -> Iterator[None]:
    """Settings from the command line only (no developer config), with short retry deadlines, and not on
    GitHub Actions (whose summary file the CLI would append to)."""
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith(("FLYTE", "GITHUB_")):
                del os.environ[name]
        os.environ.update(HOME=home, FLYTEADMIN_RETRY_DEADLINE_SECONDS="3", FLYTEADMIN_DEADLINE_SECONDS="10")
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def describe(argv: list[str], outcome: Outcome) -> str:
    return json.dumps({"argv": argv, "code": outcome.code, "stderr": outcome.stderr[-2000:]}, indent=1)
