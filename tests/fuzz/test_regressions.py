"""Replay every kept fuzzing finding (tests/fuzz/regressions/<target>/<file>) through its target's check:
each one failed before its fix, and must keep passing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flyteadmin_ops.emulator import Emulator
from tests.fuzz.support import REGRESSIONS, bounded
from tests.fuzz.targets import TARGETS, check_argv

pytestmark = pytest.mark.fuzz

CASES = sorted(path for path in REGRESSIONS.glob("*/*") if path.is_file())


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(executor="simulate") as running:
        yield running


def test_every_folder_is_a_target() -> None:
    folders = {path.name for path in REGRESSIONS.iterdir() if path.is_dir()}
    assert folders <= set(TARGETS), f"folders without a target: {folders - set(TARGETS)}"
    assert CASES, "no regression cases found"


@pytest.mark.parametrize("case", CASES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_kept_finding_passes_its_check(case: Path, request: pytest.FixtureRequest) -> None:
    data = case.read_bytes()
    with bounded():
        if case.parent.name == "argv":
            check_argv(data, request.getfixturevalue("emulator"), replay=True)
        else:
            TARGETS[case.parent.name](data)
