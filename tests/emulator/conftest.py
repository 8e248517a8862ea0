"""Fixtures for the emulator tests: a fresh emulator per test, and callers for both client kinds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flyteadmin_ops.emulator import Emulator
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
