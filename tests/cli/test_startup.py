"""A command's start-up runs with the cyclic collector paused (`commands.startup`): what start-up made is
frozen when the work begins, the work collects as usual, and the caller's collector is as it was after.

The pause itself is tested in this process (restoring the collector whatever happens); the whole command
in a fresh interpreter, the way the console script runs it, with every collection watched from before
`main` is even imported.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyteadmin_ops.commands.startup import collector_paused, work_begins
from flyteadmin_ops.emulator import Emulator


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """Whatever a test does to the collector, the rest of the session gets it back enabled."""
    try:
        yield
    finally:
        gc.enable()


def test_the_start_up_heap_is_frozen_when_the_work_begins_and_given_back_after() -> None:
    frozen_before = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
        start_up = [[] for _ in range(1000)]  # tracked containers, as imports and settings make
        work_begins()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(start_up)
        work_begins()  # once is enough: nothing more is frozen
        assert gc.get_freeze_count() >= frozen_before + len(start_up)
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


def test_a_command_whose_work_never_began_gets_the_collector_back_at_the_end() -> None:
    frozen_before = gc.get_freeze_count()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("bad settings")
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    frozen_before = gc.get_freeze_count()
    gc.disable()
    with collector_paused():
        work_begins()
        assert not gc.isenabled()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


def test_a_heap_the_caller_froze_stays_frozen() -> None:
    """`gc.unfreeze()` gives back everything frozen: a caller's own frozen heap must not be. (Asked of an
    object, not of the frozen count, which falls whenever a frozen object is freed.)"""
    marker: list[object] = []
    gc.freeze()
    try:
        with collector_paused():
            work_begins()
        assert not any(tracked is marker for tracked in gc.get_objects())  # still in the permanent generation
    finally:
        gc.unfreeze()
    assert any(tracked is marker for tracked in gc.get_objects())  # (what the check above would see)


def test_outside_a_pause_work_begins_changes_nothing() -> None:
    frozen_before = gc.get_freeze_count()
    work_begins()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


def test_an_inner_pause_leaves_the_outer_one_in_charge() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block ended nothing
        work_begins()
        assert gc.isenabled()


# Registered before anything else: counts every collection of the process by what it walked. `start_up`:
# on the main thread inside `commands.register.run` with nothing of the run frozen yet; `work`: with the
# start-up heap frozen.
WATCH_COLLECTIONS = """
import atexit, gc, sys
frozen_at_start = gc.get_freeze_count()
seen = {"start_up": 0, "work": 0}

def in_register_command(frame):
    while frame is not None:
        code = frame.f_code
        if code.co_name == "run" and code.co_filename.endswith("commands/register.py"):
            return True
        frame = frame.f_back
    return False

def watch(phase, info):
    if phase != "start":
        return
    if gc.get_freeze_count() > frozen_at_start:
        seen["work"] += 1
    elif in_register_command(sys._getframe()):
        seen["start_up"] += 1

gc.callbacks.append(watch)
atexit.register(lambda: sys.stderr.write(f"\\nCOLLECTIONS {seen['start_up']} {seen['work']}\\n"))
from flyteadmin_ops.cli import main
sys.exit(main())
"""


def test_register_starts_up_without_collecting_and_registers_with_the_collector_on(
    flyte_admin: Emulator, pyflyte_package: Path
) -> None:
    argv = ["register", str(pyflyte_package), "-p", "flytesnacks", "-d", "development", "--version", "v1"]
    connection = ["--endpoint", flyte_admin.endpoint, "--insecure", "-o", "json"]
    done = subprocess.run(
        [sys.executable, "-c", WATCH_COLLECTIONS, *argv, *connection],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    start_up, work = (int(n) for n in done.stderr.rsplit("COLLECTIONS ", 1)[1].split())
    assert start_up == 0
    assert work > 0
