"""Fixtures for the execution-side tests: emulators on an injectable clock, raw stubs, registered entities."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from flyteadmin_ops.emulator import Emulator
from tests.emulator.exec.helpers import Clock, Stubs, register, stubs


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _serve(clock: Clock, executor: str) -> Iterator[tuple[Emulator, Stubs]]:
    with (
        Emulator(port=0, executor=executor, clock=clock) as emu,
        grpc.insecure_channel(emu.endpoint) as channel,
    ):
        calls = stubs(channel)
        register(calls.admin)
        yield emu, calls


@pytest.fixture
def served(clock: Clock) -> Iterator[tuple[Emulator, Stubs]]:
    """An emulator without an engine (executions stay where events put them), entities registered."""
    yield from _serve(clock, "none")


@pytest.fixture
def simulated(clock: Clock) -> Iterator[tuple[Emulator, Stubs]]:
    """An emulator running the simulate executor, entities registered."""
    yield from _serve(clock, "simulate")


@pytest.fixture
def admin(served: tuple[Emulator, Stubs]) -> object:
    return served[1].admin
