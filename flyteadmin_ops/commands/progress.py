"""Progress of an automation on stderr: a bar redrawn in place on a terminal, plain lines elsewhere.

`ProgressReporter` is an `OutcomeCallback` (ops call it once per outcome, from worker threads too), so the
operations need no knowledge of terminals. A command that knows its batches in advance (register: its
dependency waves) describes them as `Stage`s; the reporter then shows "wave 2/3 workflows" as the phase and,
without a terminal, prints one line per finished stage
(`wave 1/3: 5 tasks: 4 created, 1 exists (0.3 s)`). Without stages (promote, relaunch-failed,
sync-attributes decide their work on the server), a stage is a run of outcomes of one kind.

Never on stdout: stdout carries the result (a table, or one JSON document), and both can be redirected
independently. On a terminal the bar is redrawn at most `MAX_REDRAWS_PER_SECOND` times (a 1,600-entity
registration would otherwise write 1,600 lines to the terminal), always once more at the end of a stage
and for the final count, and cleared before the result is printed. Standard library only.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from flyteadmin_ops.ops.results import Outcome

if TYPE_CHECKING:
    from flyteadmin_ops.ops.package import Package

MAX_REDRAWS_PER_SECOND = 10
UNPLANNED_BATCH = 100
"""Without stages, a plain line at least every this many outcomes (relaunch-failed of 1,000 executions)."""
_BAR_WIDTH = 24
_CLEAR_LINE = "\r\x1b[K"
_TAIL = "then"  # the stage collecting outcomes no planned stage expects (e.g. activations after the waves)

OutcomeKey = tuple[str, str]
"""(kind, name): how an outcome is matched to the stage that expects it."""


@dataclass
class Stage:
    """A batch the command knows in advance: its label ("wave 2/3") and the outcomes it expects."""

    label: str
    expected: Counter[OutcomeKey] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    started: float | None = None
    # Worked out from `expected` on first use, then kept up to date by `take`: the reporter asks for both
    # once per outcome, and recounting a wave of a thousand entities each time made a 1,600-entity run
    # quadratic. So `expected` must be complete before the stage is planned.
    _pending: int | None = field(default=None, init=False, repr=False, compare=False)
    _expected_kinds: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def pending(self) -> int:
        if self._pending is None:
            self._pending = sum(self.expected.values())
        return self._pending

    def take(self, key: OutcomeKey) -> bool:
        """Count one outcome against this stage if it still expects `key`; False if it does not."""
        if not self.expected[key]:
            return False
        self.expected[key] -= 1
        self._pending = self.pending - 1
        return True

    def phase(self) -> str:
        """The label with what the batch holds, e.g. `wave 2/3 workflows`."""
        if self._expected_kinds is None:
            self._expected_kinds = frozenset(kind for kind, _name in self.expected)
        kinds = sorted(self._expected_kinds.union(self.kinds))
        return " ".join([self.label, *(_plural(kind) for kind in kinds)]).strip()


def _plural(kind: str) -> str:
    words = kind.replace("_", " ")
    return words if words.endswith("s") else words + "s"


def _counted(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items())


class ProgressReporter:
    """Call with each outcome; `finish()` once the operation returned. Thread-safe."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interactive: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stderr
        self._interactive = _is_terminal(self._stream) if interactive is None else interactive
        self._clock = clock
        self._lock = threading.Lock()
        self._stages: list[Stage] = []
        self._planned = False
        self._current = 0
        self._done = 0
        self._total = 0
        self._phase = ""
        self._started = clock()
        self._last_draw: float | None = None
        self._drawn = False

    @property
    def interactive(self) -> bool:
        return self._interactive

    def plan(self, stages: Sequence[Stage], *, phase: str = "") -> None:
        """Declare the batches to come (in order) and, optionally, what happens before the first one."""
        with self._lock:
            self._stages = [stage for stage in stages if stage.pending]
            self._planned = True
            self._total = sum(stage.pending for stage in self._stages)
            self._phase = phase or (self._stages[0].phase() if self._stages else "")
            if self._stages:
                self._stages[0].started = self._clock()
            self._draw(force=True)

    def set_phase(self, text: str) -> None:
        """Say what is going on before outcomes arrive (e.g. "selecting failed executions"), drawn now."""
        with self._lock:
            self._phase = text
            self._draw(force=True)

    def __call__(self, outcome: Outcome) -> None:
        with self._lock:
            self._done += 1
            stage = self._stage_for(outcome)
            if stage.started is None:
                stage.started = self._clock()
            stage.counts[outcome.status.value] += 1
            stage.kinds[outcome.kind] += 1
            if self._planned:
                if self._interactive:  # the phase is only ever shown in the bar
                    current = self._current
                    self._phase = self._stages[current].phase() if current < len(self._stages) else ""
                self._advance()
            else:
                self._phase = f"{_plural(outcome.kind)}: {outcome.status.value} {outcome.name}"
            self._draw(force=stage.label != _TAIL and self._done == self._total)

    def finish(self) -> None:
        """Report what is still open (the unplanned tail) and clear the bar."""
        with self._lock:
            for stage in self._stages[self._current :]:
                if stage.counts:
                    self._line(stage)
            self._current = len(self._stages)
            if self._interactive and self._drawn:
                self._stream.write(_CLEAR_LINE)
                self._stream.flush()
                self._drawn = False

    # ---- internals, called with the lock held ------------------------------------------------------

    def _stage_for(self, outcome: Outcome) -> Stage:
        key = (outcome.kind, outcome.name)
        if self._planned:
            for stage in self._stages[self._current :]:
                if stage.take(key):
                    return stage
            # Not planned (e.g. an activation after the waves): collected in a trailing stage.
            if not self._stages or self._stages[-1].label != _TAIL:
                self._stages.append(Stage(_TAIL))
            self._total += 1
            return self._stages[-1]
        open_stage = self._stages[-1] if self._current < len(self._stages) else None
        if open_stage is not None and (
            outcome.kind not in open_stage.kinds or sum(open_stage.counts.values()) >= UNPLANNED_BATCH
        ):
            self._line(open_stage)
            self._current = len(self._stages)
        if self._current >= len(self._stages):
            self._stages.append(Stage(""))
        return self._stages[-1]

    def _advance(self) -> None:
        while self._current < len(self._stages) and not self._stages[self._current].pending:
            stage = self._stages[self._current]
            if stage.label == _TAIL:  # open-ended: reported by finish()
                return
            self._line(stage)
            self._current += 1
            if self._current < len(self._stages):
                self._stages[self._current].started = self._clock()
                self._phase = self._stages[self._current].phase()
                self._draw(force=True)

    def _line(self, stage: Stage) -> None:
        """One plain line for a finished stage, only without a terminal (the bar shows it otherwise)."""
        if self._interactive or not stage.counts:
            return
        seconds = self._clock() - (stage.started if stage.started is not None else self._started)
        what = ", ".join(f"{n} {kind if n == 1 else _plural(kind)}" for kind, n in stage.kinds.items())
        what = what.replace("_", " ")
        head = f"{stage.label}: " if stage.label else ""
        self._stream.write(f"{head}{what}: {_counted(stage.counts)} ({seconds:.1f} s)\n")
        self._stream.flush()

    def _draw(self, *, force: bool = False) -> None:
        if not self._interactive:
            return
        now = self._clock()
        if not force and self._last_draw is not None and now - self._last_draw < 1 / MAX_REDRAWS_PER_SECOND:
            return
        self._last_draw = now
        self._stream.write(_CLEAR_LINE + self._bar(now))
        self._stream.flush()
        self._drawn = True

    def _bar(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = f"{self._done / elapsed:.1f}/s" if self._done else "-/s"
        if self._total:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * self._done // self._total)
            bar = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]"
            text = f"{bar} {self._done}/{self._total} {rate} {self._phase}"
        else:
            text = f"{self._done} done {rate} {self._phase}"
        return text[: max(_columns(self._stream) - 1, 20)]


def register_stages(package: Package, project: str, domain: str, version: str) -> list[Stage]:
    """register's batches as it will run them: the source archive upload, then each dependency wave
    split as `register_waves` splits it (launch plans after the rest). Names are the hydrated ones, which
    is how register names its outcomes; bad values fail early, with register's own message. The package
    itself is not hydrated (most of a second for 1,600 entities): hydration fills every identifier alike,
    so the waves of a package without external references are the same before and after."""
    from flyteadmin_ops.ops.package import Package, dependency_waves, hydrate
    from flyteadmin_ops.ops.register import KIND_NAMES, launch_plans_last
    from flyteadmin_ops.ops.upload import UPLOAD_KIND

    hydrate(Package((), source=package.source), project, domain, version)  # checks the values only
    stages: list[Stage] = []
    if package.fast_archive is not None:
        stages.append(Stage("upload", Counter({(UPLOAD_KIND, package.fast_archive.name): 1})))
    waves = dependency_waves(package if not package.external else hydrate(package, project, domain, version))
    for number, batch in enumerate(launch_plans_last(waves)):
        # `e.key` (type, project, domain, name, version) is cached: worked out once, for the waves
        keys = Counter(
            (KIND_NAMES[e.resource_type], f"{project}:{domain}:{e.key[3]}:{e.key[4] or version}")
            for e in batch
        )
        stages.append(Stage(f"wave {number // 2 + 1}/{len(waves)}", keys))
    return stages


def _columns(stream: TextIO) -> int:
    """The width of the terminal the bar is drawn on (stderr's, not stdout's, which may be a pipe)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 100  # a pseudo-terminal nobody sized reports 0


def _is_terminal(stream: TextIO) -> bool:
    """A terminal that understands `\r` and erasing a line (TERM=dumb, e.g. an Emacs shell, does not)."""
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream is no terminal
        return False
