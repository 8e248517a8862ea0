"""Timing and reporting shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.settings import AdminSettings


@dataclass(frozen=True)
class Comparison:
    """One benchmark's outcome: ours against the baseline, in the same unit."""

    name: str
    unit: str
    ours: float
    baseline: float
    higher_is_better: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        """How many times better ours is than the baseline (above 1 means better)."""
        if self.higher_is_better:
            return self.ours / self.baseline if self.baseline else float("inf")
        return self.baseline / self.ours if self.ours else float("inf")

    def line(self) -> str:
        return (
            f"{self.name:<44} ours {self.ours:>10.3f} {self.unit:<7} baseline {self.baseline:>10.3f} "
            f"{self.unit:<7} -> {self.ratio:5.2f}x" + (f"  ({self.note})" if self.note else "")
        )


@dataclass(frozen=True)
class Figure:
    """An absolute number an issue asks for by itself (issue 3: the emulator's RPC/s on loopback). Printed
    next to the ratios, which remain the comparable results: this one depends on the machine."""

    name: str
    values: dict[str, float]
    unit: str
    note: str = ""

    def line(self) -> str:
        measured = ", ".join(f"{label} {value:,.0f} {self.unit}" for label, value in self.values.items())
        return f"{self.name}: {measured}" + (f"  ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Row:
    """One row of an issue's target table: a ratio measured in this run, its target, and whether it is met.

    `ratio` is expressed the way the target is written (a speed-up ">= 10x", or a fraction "<= 0.3x"), and
    `measured` shows the raw numbers it was computed from, so a reader can recompute it.
    """

    scenario: str
    compared_with: str
    ratio: float
    target: str
    met: bool
    measured: str
    note: str = ""

    @classmethod
    def at_least(
        cls, scenario: str, compared_with: str, ratio: float, threshold: float, measured: str, note: str = ""
    ) -> Row:
        return cls(scenario, compared_with, ratio, f">= {threshold:g}x", ratio >= threshold, measured, note)

    @classmethod
    def at_most(
        cls, scenario: str, compared_with: str, ratio: float, threshold: float, measured: str, note: str = ""
    ) -> Row:
        return cls(scenario, compared_with, ratio, f"<= {threshold:g}x", ratio <= threshold, measured, note)

    def line(self) -> str:
        verdict = "met" if self.met else "NOT MET"
        note = f"  ({self.note})" if self.note else ""
        return (
            f"{self.scenario} | vs {self.compared_with} | {self.ratio:.3g}x (target {self.target}) "
            f"{verdict} | {self.measured}{note}"
        )

    def markdown(self) -> str:
        verdict = "met" if self.met else "**not met**"
        cells = [
            self.scenario,
            self.compared_with,
            f"{self.ratio:.3g}x",
            self.target,
            verdict,
            self.measured + (f" ({self.note})" if self.note else ""),
        ]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def median_seconds(run: Callable[[int], object], repeats: int) -> float:
    """Median wall time of `run(i)` over `repeats` runs (i numbers the run, for unique versions)."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rate(run: Callable[[int], object], calls: int) -> float:
    """Calls per second of `run(i)` for i in range(calls), after a short warm-up."""
    for i in range(min(20, calls)):
        run(-1 - i)
    start = time.perf_counter()
    for i in range(calls):
        run(i)
    return calls / (time.perf_counter() - start)


@contextmanager
def emulator(**options: object) -> Iterator[Emulator]:
    with Emulator(port=0, **options) as emu:  # type: ignore[arg-type]
        yield emu


def client_for(emu: Emulator, **settings: object) -> SynchronousFlyteClient:
    return SynchronousFlyteClient(AdminSettings.isolated(endpoint=emu.endpoint, insecure=True, **settings))
