"""Fixtures for the emulator tests: a fresh emulator per test, and callers for both client kinds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.registry import ADMIN, HANDLERS
from tests.emulator.support import Caller


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(params=["raw", "flytekit"])
def caller(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Caller]:
    """The same conformance checks through raw flyteidl stubs and through flytekit's own client."""
    client = Caller(request.param, emulator.endpoint)
    yield client
    client.close()


@pytest.fixture
def broken_version() -> Iterator[list[Exception]]:
    """Make GetVersion raise whatever the test puts in the list, for the duration of the test: the error
    mapping of both server paths (threaded and delayed) is checked with it."""
    original = HANDLERS[(ADMIN, "GetVersion")]
    raised: list[Exception] = []

    def failing(state: Any, request: Any, call: Any) -> Any:
        raise raised[0]

    HANDLERS[(ADMIN, "GetVersion")] = failing
    yield raised
    HANDLERS[(ADMIN, "GetVersion")] = original
