"""One function per input parser that takes raw bytes and checks the property every input must meet:
the parser's documented typed error or a result, nothing else. They are shared by the coverage-guided
harness (`scripts/fuzz.py`, atheris) and the replay of kept crashes (`test_regressions.py`); the hypothesis
tests build structured inputs and reach the same parsers.

A check raises AssertionError (or lets an unexpected exception through) when the property fails. No check
sets a time bound itself: libFuzzer has `-timeout`, and the tests wrap them in `support.bounded`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH

Check = Callable[[bytes], None]


def _sample_pb_members() -> list[tuple[str, bytes]]:
    with tarfile.open(SAMPLE_PACKAGE_PATH, "r:gz") as archive:
        members = []
        for member in archive:
            handle = archive.extractfile(member)
            assert handle is not None
            members.append((member.name, handle.read()))
    return sorted(members)


SAMPLE_MEMBERS = _sample_pb_members()
PB_MEMBERS = [(name, data) for name, data in SAMPLE_MEMBERS if name.endswith(".pb")]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _one_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message, f"a multi-line error: {message!r}"


# ---- packages -----------------------------------------------------------------------------------------


def _load_package_checked(path: Path) -> None:
    from flyteadmin_ops.ops.package import PackageError, dependency_waves, hydrate, load_package

    before = sorted(path.parent.rglob("*"))
    try:
        package = load_package(path)
        dependency_waves(package)
        hydrate(package, "flytesnacks", "development", "v1", source_url="s3://bucket/fast.tar.gz")
    except PackageError as exc:
        assert str(exc).startswith(str(path)), f"the error does not name the package: {exc}"
        _one_line(str(exc))
    finally:
        assert sorted(path.parent.rglob("*")) == before, "loading a package wrote files"


def check_package(data: bytes) -> None:
    """The bytes as a package archive (any compression tarfile reads, or none)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "package.tgz"
        path.write_bytes(data)
        _load_package_checked(path)


def check_pb(data: bytes) -> None:
    """The real package, its `.pb` member number `data[0]` replaced by `data[1:]` (one uncompressed tar,
    so the run spends its time in protobuf parsing and the package checks, not in gzip or the disk)."""
    if not data:
        return
    replaced = PB_MEMBERS[data[0] % len(PB_MEMBERS)][0]
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for name, content in SAMPLE_MEMBERS:
            body = data[1:] if name == replaced else content
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "package.tar"
        path.write_bytes(stream.getvalue())
        _load_package_checked(path)


# ---- attribute files ----------------------------------------------------------------------------------


def check_attributes(data: bytes) -> None:
    from flyteadmin_ops.ops.attribute_file import AttributeFileError, load_attribute_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attributes.yaml"
        path.write_bytes(data)
        try:
            load_attribute_file(path)
        except AttributeFileError as exc:
            assert exc.problems, "an AttributeFileError lists its problems"
            for problem in exc.problems:
                _one_line(str(problem))
                assert str(problem).startswith(str(path))


# ---- config files -------------------------------------------------------------------------------------

SECRET = "s3cr3t-never-shown-4f1c"


@contextlib.contextmanager
def _clean_environment(home: str, **variables: str) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith(("FLYTE", "GITHUB_")):
                del os.environ[name]
        os.environ.update(HOME=home, **variables)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _check_config(data: bytes, name: str, variable: str) -> None:
    from flyteadmin_ops.settings import AdminSettings, SettingsError

    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / name
        path.write_bytes(data + f"\n# {SECRET}\n".encode())  # a secret nearby must never be echoed
        with _clean_environment(home, **{variable: str(path)}):
            try:
                settings = AdminSettings()
            except (SettingsError, ValidationError) as exc:
                assert SECRET not in str(exc), "an error showed the file's text"
                return
        assert math.isfinite(settings.deadline_seconds) and math.isfinite(settings.retry_max_backoff)


def check_flytectl_config(data: bytes) -> None:
    _check_config(data, "config.yaml", "FLYTECTL_CONFIG")


def check_config_yaml(data: bytes) -> None:
    _check_config(data, "admin.yaml", "FLYTEADMIN_CONFIG")


def check_config_toml(data: bytes) -> None:
    _check_config(data, "admin.toml", "FLYTEADMIN_CONFIG")


# ---- filter strings, durations, time windows ----------------------------------------------------------


def check_filter(data: bytes) -> None:
    from flyteadmin_ops.client.filters import FilterError, parse_filters
    from flyteadmin_ops.commands.get import check_filter as cli_check
    from flyteadmin_ops.ops.results import OperationInputError

    text = _text(data)
    try:
        parsed = parse_filters(text)
    except FilterError as exc:
        _one_line(str(exc))
    else:
        assert parse_filters(str(parsed)) == parsed, "a parsed filter does not read back as itself"
        cli_check(text)  # what the library accepts, `get --filter` accepts
    try:
        cli_check(text)
    except OperationInputError as exc:
        _one_line(str(exc))


def check_duration(data: bytes) -> None:
    import datetime as dt

    from flyteidl.core import types_pb2

    from flyteadmin_ops.commands.common import positive_seconds
    from flyteadmin_ops.commands.input_text import InputTextError, read_input
    from flyteadmin_ops.ops.relaunch import parse_duration
    from flyteadmin_ops.ops.results import OperationInputError

    text = _text(data)
    try:
        since = parse_duration(text)
        assert dt.timedelta(0) < since <= dt.timedelta(days=36525)
    except OperationInputError as exc:
        _one_line(str(exc))
    try:
        seconds = positive_seconds(text)
        assert math.isfinite(seconds) and seconds > 0
    except argparse.ArgumentTypeError:
        pass
    try:
        read_input("d", text, types_pb2.LiteralType(simple=types_pb2.DURATION))
    except InputTextError as exc:
        _one_line(str(exc))


def check_timestamp(data: bytes) -> None:
    from flyteidl.core import types_pb2

    from flyteadmin_ops.commands.input_text import InputTextError, read_input
    from flyteadmin_ops.commands.relaunch_failed import selection_from_args
    from flyteadmin_ops.ops.relaunch import parse_timestamp
    from flyteadmin_ops.ops.results import OperationInputError

    text = _text(data)
    start, _, end = text.partition("\n")
    try:
        assert parse_timestamp(text).utcoffset() is not None
    except OperationInputError as exc:
        _one_line(str(exc))
    try:
        read_input("t", text, types_pb2.LiteralType(simple=types_pb2.DATETIME))
    except InputTextError as exc:
        _one_line(str(exc))
    window = argparse.Namespace(
        project="p", domain="d", since=None, start=start, end=end or None, phase=None, launch_plan=None
    )
    try:
        selection_from_args(window).failed_filters()
    except OperationInputError as exc:
        _one_line(str(exc))


# ---- command lines ------------------------------------------------------------------------------------

_emulator = None


def start_argv_emulator() -> object:
    """The argv target's emulator, one per process: started on first use (stopped at exit) with the real
    package registered, so command lines that name its launch plans reach them."""
    global _emulator
    if _emulator is None:
        import atexit

        from flyteadmin_ops.cli import main
        from flyteadmin_ops.emulator import Emulator

        _emulator = Emulator(executor="simulate").start()
        atexit.register(_emulator.stop)
        register = ["register", str(SAMPLE_PACKAGE_PATH), "-p", "flytesnacks", "-d", "development"]
        with (
            tempfile.TemporaryDirectory() as home,
            _clean_environment(home),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            code = main([*register, "--version", "v1", "--endpoint", _emulator.endpoint, "--insecure"])
        assert code == 0, "the sample package did not register"
    return _emulator


def check_argv(data: bytes, emulator: object | None = None, *, replay: bool = False) -> None:
    """NUL-separated arguments (or a JSON list of them) after `flyteadmin-ops`, run against an emulator:
    exit 0, 1 or 2, no traceback, a refused command (2) says why in one printable line and leaves the
    server as it was. With `replay`, a kept case's `"exit"` must match too."""
    from flyteadmin_ops.cli import main

    running = emulator or start_argv_emulator()
    argv, expected = _argv_case(data)
    if not replay:
        expected = None  # a kept case's expected exit holds for that case only, not for mutations of it
    if not argv or argv[0] in ("emulator", "demo", "login"):  # servers and people: not fuzzed here
        return
    state = running.state  # type: ignore[attr-defined]
    with (
        tempfile.TemporaryDirectory() as home,
        _clean_environment(home, FLYTEADMIN_RETRY_DEADLINE_SECONDS="3", FLYTEADMIN_DEADLINE_SECONDS="10"),
    ):
        assert running.wait_idle(30)  # type: ignore[attr-defined]
        with state.db.read() as conn:
            before = list(conn.iterdump())
        out, err = io.StringIO(), io.StringIO()
        offline = argv[0] in ("completion", "logout")  # no server, and no connection options
        full = argv if offline else [*argv, "--endpoint", running.endpoint, "--insecure"]  # type: ignore[attr-defined]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(full)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 2
        assert code in (0, 1, 2), f"exit {code} for {argv!r}"
        assert "Traceback" not in err.getvalue(), err.getvalue()
        assert expected is None or code == expected, (
            f"exit {code}, not {expected}, for {argv!r}: {err.getvalue()}"
        )
        drift = argv[0] == "sync-attributes" and "--dry-run" in argv
        assert code != 2 or drift or says_why(err.getvalue()), (
            f"no one-line error for {argv!r}: {err.getvalue()!r}"
        )
        if code == 2:
            assert running.wait_idle(30)  # type: ignore[attr-defined]
            with state.db.read() as conn:
                assert list(conn.iterdump()) == before, f"a refused command changed the server: {argv!r}"


def _argv_case(data: bytes) -> tuple[list[str], int | None]:
    """A kept case is JSON: `{"argv": [...], "exit": 2}` or a bare list; fuzzer input is NUL-separated."""
    try:
        case = json.loads(data)
    except ValueError:
        case = None
    if isinstance(case, dict) and isinstance(case.get("argv"), list):
        return [str(a) for a in case["argv"]], case.get("exit")
    if isinstance(case, list) and all(isinstance(a, str) for a in case):
        return case, None
    return [_text(part) for part in data.split(b"\0")], None


def says_why(stderr: str) -> bool:
    """Exactly one error line (argparse's `prog: error: ...` after its usage, or ours `error: ...`),
    followed only by the indented problem list of an attributes file; no control character anywhere (an
    escape sequence typed into a name must not reach the terminal as one)."""
    lines = stderr.rstrip("\n").splitlines()
    if not all(line.isprintable() for line in lines):
        return False
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ") or ": error: " in line]
    return len(starts) == 1 and all(line.startswith("  ") for line in lines[starts[0] + 1 :])


TARGETS: dict[str, Check] = {
    "package": check_package,
    "pb": check_pb,
    "attributes": check_attributes,
    "flytectl-config": check_flytectl_config,
    "config-yaml": check_config_yaml,
    "config-toml": check_config_toml,
    "filter": check_filter,
    "duration": check_duration,
    "timestamp": check_timestamp,
    "argv": check_argv,
}
"""Target name -> check; the names are the folders of tests/fuzz/regressions/ and the TARGET argument of
scripts/fuzz.py."""
