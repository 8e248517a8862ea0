"""A process that imports the client skips the interpreter's final collection (`client.fast_exit`): at exit
the heap is frozen before shutdown, once however often the handler is asked for, and a program that does
not import the client keeps Python's usual shutdown."""

from __future__ import annotations

import subprocess
import sys

# Registered before anything else, so it runs after every other exit handler (they run last-in, first-out).
REPORT_FROZEN_AT_EXIT = """
import atexit, gc, sys
atexit.register(lambda: sys.stdout.write(f"frozen={gc.get_freeze_count()}\\n"))
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", REPORT_FROZEN_AT_EXIT + code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def frozen(report: str) -> int:
    return int(report.removeprefix("frozen="))


def untouched() -> int:
    """What a bare interpreter has frozen at exit: 0 on 3.11, a few hundred objects of its own on 3.12+."""
    return frozen(run("pass"))


def test_importing_the_client_freezes_the_heap_at_exit() -> None:
    assert frozen(run("import flyteadmin_ops.client")) > untouched()


def test_without_the_client_exit_is_left_alone() -> None:
    assert frozen(run("import flyteadmin_ops, flyteadmin_ops.cli")) == untouched()


def test_the_handler_is_registered_once() -> None:
    code = (
        "import atexit\n"
        "from flyteadmin_ops.client.fast_exit import skip_final_collection\n"
        "before = atexit._ncallbacks()\n"
        "skip_final_collection(); skip_final_collection()\n"
        "assert atexit._ncallbacks() == before, (before, atexit._ncallbacks())\n"
    )
    assert frozen(run(code)) > untouched()


def test_the_heap_is_collected_as_usual_while_the_program_runs() -> None:
    code = (
        "import gc\n"
        "frozen_at_start = gc.get_freeze_count()\n"
        "import flyteadmin_ops.client\n"
        "assert gc.get_freeze_count() == frozen_at_start, gc.get_freeze_count()\n"
        "assert gc.isenabled()\n"
    )
    assert frozen(run(code)) > untouched()
