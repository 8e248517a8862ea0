"""The demo behind `flyteadmin-ops demo`: the four automations, end to end, against a local emulator.

Nothing outside this process is needed: the emulator runs in-process on a free port with the simulated
executor (which fails executions by documented input rules, `flyteadmin_ops/emulator/executor.py`), and the
package is the bundled `sample-package.tgz`. The story it tells is a release:

1. register the package in staging (fast-register upload included);
2. promote the scheduled launch plan `ops_demo.nightly` from staging to production: copy it and everything
   it refers to, then activate it there, verified;
3. launch a few executions of it in production; those whose `label` input is "fail" fail (executor rule 2);
4. relaunch-failed recovers each failure exactly once (a recovered execution of a failure succeeds);
5. sync-attributes applies the declared matchable attributes: config/attributes.yaml, shipped inside the
   package as `flyteadmin_ops/demo/attributes.yaml` (a symlink in the source tree, a copy in wheels), so the
   demo works from any folder after `pip install .`.

It calls the same `ops` functions the CLI subcommands call (or, with `prefect=True`, the Prefect flows),
and prints each step's outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH, SCHEDULED_LAUNCH_PLAN
from flyteadmin_ops.ops.results import Result, Status

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.emulator import Emulator

PROJECT = "flytesnacks"
STAGING, PRODUCTION = "staging", "production"
VERSION = "demo-1"
LAUNCH_PLAN = SCHEDULED_LAUNCH_PLAN
# label -> the simulated executor fails an execution whose string input equals "fail".
LAUNCHES = (("nightly-1", "run-1"), ("nightly-2", "fail"), ("nightly-3", "run-3"), ("nightly-4", "fail"))
BUNDLED_ATTRIBUTES = "attributes.yaml"
"""Package data of `flyteadmin_ops.demo`: the repository's config/attributes.yaml, one file in two places."""
WAIT_SECONDS = 30.0
_PHASES = core_execution_pb2.WorkflowExecution.Phase
_TERMINAL = {_PHASES.SUCCEEDED, _PHASES.FAILED, _PHASES.ABORTED, _PHASES.TIMED_OUT}


@dataclass
class DemoRun:
    """What happened, step by step; `ok` when every automation succeeded and every failure was recovered."""

    endpoint: str = ""
    steps: list[tuple[str, Result]] = field(default_factory=list)
    executions: dict[str, str] = field(default_factory=dict)  # name -> final phase
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(result.ok for _, result in self.steps)


class Runner:
    """The automations as the demo calls them: the plain `ops` functions (what the CLI runs), or, with
    `prefect=True`, the Prefect flows of `flyteadmin_ops.flows` (what deployments run). Both return the same
    `Result`; a flow whose result is not ok raises `AutomationFailed` carrying it, which is unwrapped here."""

    def __init__(self, client: SynchronousFlyteClient, *, prefect: bool) -> None:
        self.client = client
        self.prefect = prefect

    def _flow(self, module: str, name: str, *args: object, **kwargs: object) -> Result:
        import importlib

        from flyteadmin_ops.blocks import FlyteAdminConnection
        from flyteadmin_ops.tasks import AutomationFailed

        flow = getattr(importlib.import_module(f"flyteadmin_ops.flows.{module}"), name)
        settings = self.client.settings
        connection = FlyteAdminConnection(endpoint=settings.endpoint, insecure=settings.insecure)
        try:
            result: Result = flow(*args, connection=connection, **kwargs)
        except AutomationFailed as failed:
            return failed.result
        return result

    def register(self) -> Result:
        if self.prefect:
            return self._flow(
                "register_all", "register_all", str(SAMPLE_PACKAGE_PATH), PROJECT, STAGING, VERSION
            )
        from flyteadmin_ops.ops.register import register_package

        return register_package(self.client, SAMPLE_PACKAGE_PATH, PROJECT, STAGING, VERSION)

    def promote(self) -> Result:
        if self.prefect:
            return self._flow(
                "promote",
                "promote_launch_plan",
                LAUNCH_PLAN,
                VERSION,
                PROJECT,
                PRODUCTION,
                from_domain=STAGING,
            )
        from flyteadmin_ops.ops.promote import promote_launch_plan

        return promote_launch_plan(
            self.client, LAUNCH_PLAN, VERSION, PROJECT, PRODUCTION, from_domain=STAGING
        )

    def relaunch_failed(self) -> Result:
        if self.prefect:
            return self._flow(
                "relaunch_failed", "relaunch_failed", PROJECT, PRODUCTION, since="1h", launch_plan=LAUNCH_PLAN
            )
        from flyteadmin_ops.ops.relaunch import Selection, relaunch_failed

        selection = Selection.since(PROJECT, PRODUCTION, dt.timedelta(hours=1), launch_plan=LAUNCH_PLAN)
        return relaunch_failed(self.client, selection, mode="recover")

    def sync_attributes(self, path: Path) -> Result:
        if self.prefect:
            return self._flow("sync_attributes", "sync_attributes", str(path))
        from flyteadmin_ops.ops.attributes import sync_attributes

        return sync_attributes(self.client, path)


def run_demo(
    out: TextIO | None = None,
    *,
    attributes: Path | None = None,
    prefect: bool = False,
    keep_running: threading.Event | None = None,
    wait_seconds: float = WAIT_SECONDS,
) -> DemoRun:
    """Run the whole demo and print it to `out`. With `keep_running`, the emulator stays up (and its
    endpoint printed) until that event is set, so the registered state can be explored with the CLI."""
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.emulator import Emulator
    from flyteadmin_ops.settings import AdminSettings

    stream = out or sys.stdout
    say = _printer(stream)
    run = DemoRun()
    with (
        _attributes_file(attributes) as attributes_file,
        Emulator(port=0, executor="simulate") as emulator,
    ):
        run.endpoint = emulator.endpoint
        say(f"Flyte Admin emulator on {emulator.endpoint} (in-process, simulated executor)\n")
        settings = AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True)
        with SynchronousFlyteClient(settings) as client:
            runner = Runner(client, prefect=prefect)
            _story(runner, emulator, run, say, attributes_file, wait_seconds)
            _summary(run, say)
            if keep_running is not None:
                say(
                    f"\nThe emulator keeps running: --endpoint {emulator.endpoint} --insecure "
                    "(Ctrl-C to stop)"
                )
                keep_running.wait()
    return run


def _story(
    runner: Runner,
    emulator: Emulator,
    run: DemoRun,
    say: Callable[[str], None],
    attributes_file: Path,
    wait_seconds: float,
) -> None:
    def step(title: str, action: Callable[[], Result]) -> Result:
        say(f"== {title}")
        result = action()
        run.steps.append((title, result))
        say(_compact(result) + "\n")
        return result

    registered = step(
        f"register {SAMPLE_PACKAGE_PATH.name} -> {PROJECT}/{STAGING} @ {VERSION}", runner.register
    )
    if not registered.ok:
        run.problems.append("registration failed; stopping")
        return
    promoted = step(f"promote {LAUNCH_PLAN} @ {VERSION}: {STAGING} -> {PRODUCTION}", runner.promote)
    if not promoted.ok:
        run.problems.append("promotion failed; stopping")
        return

    say(f"== launch {len(LAUNCHES)} executions of {LAUNCH_PLAN} in {PRODUCTION}")
    launched = [_launch(runner.client, name, label) for name, label in LAUNCHES]
    phases = _wait(runner.client, emulator, launched, wait_seconds)
    run.executions.update(phases)
    for (_, label), execution in zip(LAUNCHES, launched, strict=True):
        say(f"  {execution.name:<12} label={label:<6} {phases[execution.name]}")
    say("")

    relaunched = step(f"relaunch-failed (recover) in {PROJECT}/{PRODUCTION}", runner.relaunch_failed)
    recoveries = _recoveries(runner.client)
    if recoveries:
        phases = _wait(runner.client, emulator, list(recoveries.values()), wait_seconds)
        run.executions.update(phases)
        for failed, new in sorted(recoveries.items()):
            say(f"  {failed:<12} -> {new.name} {phases[new.name]}")
        say("")
    _check(run, recoveries, relaunched)

    step(f"sync-attributes {attributes_file}", lambda: runner.sync_attributes(attributes_file))


def _failed_names() -> set[str]:
    return {name for name, label in LAUNCHES if label == "fail"}


def _recoveries(client: SynchronousFlyteClient) -> dict[str, identifier_pb2.WorkflowExecutionIdentifier]:
    """failed execution name -> the execution that recovered it, as the server lists them."""
    recovered = execution_pb2.ExecutionMetadata.ExecutionMode.RECOVERED
    return {
        e.spec.metadata.reference_execution.name: e.id
        for e in client.iter_executions(PROJECT, PRODUCTION)
        if e.spec.metadata.mode == recovered
    }


def _check(
    run: DemoRun, recoveries: dict[str, identifier_pb2.WorkflowExecutionIdentifier], relaunched: Result
) -> None:
    """The demo's own assertions: the right executions failed, each was recovered once, and succeeded."""
    failed = {name for name, phase in run.executions.items() if phase == "FAILED"}
    if failed != _failed_names():
        run.problems.append(f"expected {sorted(_failed_names())} to fail, saw {sorted(failed)} fail")
    if set(recoveries) != failed:
        run.problems.append(f"expected recoveries of {sorted(failed)}, found {sorted(recoveries)}")
    if len(relaunched.with_status(Status.LAUNCHED)) != len(recoveries):
        run.problems.append("relaunch-failed reported a different number of launches than the server shows")
    unfinished = {n: p for n, p in run.executions.items() if n not in failed and p != "SUCCEEDED"}
    if unfinished:
        run.problems.append(f"not SUCCEEDED: {unfinished}")


def _launch(
    client: SynchronousFlyteClient, name: str, label: str
) -> identifier_pb2.WorkflowExecutionIdentifier:
    from flyteadmin_ops.client.identifiers import launch_plan_id

    launch_plan = launch_plan_id(PROJECT, PRODUCTION, LAUNCH_PLAN, VERSION)
    inputs = literals_pb2.LiteralMap()
    inputs.literals["label"].scalar.primitive.string_value = label
    spec = execution_pb2.ExecutionSpec(launch_plan=launch_plan)
    return client.create_execution(PROJECT, PRODUCTION, name, spec, inputs)


def _wait(
    client: SynchronousFlyteClient,
    emulator: Emulator,
    executions: list[identifier_pb2.WorkflowExecutionIdentifier],
    wait_seconds: float,
) -> dict[str, str]:
    """Final phase of each execution: wait for the emulator's engine to go idle, then read the phases;
    keep polling (up to the deadline) for any that are not terminal yet."""
    from flyteadmin_ops.emulator.executor import wait_idle

    deadline = time.monotonic() + wait_seconds
    if emulator.state is not None:
        wait_idle(emulator.state, timeout=wait_seconds)
    phases: dict[str, int] = {}
    pending = list(executions)
    while pending:
        for execution in list(pending):
            phase = client.get_execution(execution).closure.phase
            phases[execution.name] = phase
            if phase in _TERMINAL:
                pending.remove(execution)
        if pending and time.monotonic() > deadline:
            break
        if pending:
            time.sleep(0.05)  # a real server has no idle signal; poll gently until the deadline
    return {name: _PHASES.Name(phase) for name, phase in phases.items()}


def _compact(result: Result) -> str:
    """Totals and notes, plus the rows that are not plain successes of a bulk operation."""
    lines = [f"  {note}" for note in result.notes]
    interesting = [
        o
        for o in result.outcomes
        if o.status not in (Status.CREATED, Status.EXISTS, Status.PLANNED) or o.kind != "task"
    ]
    if len(result.outcomes) > 8:  # a registration: show only what is not a plain create
        interesting = [o for o in result.outcomes if o.status not in (Status.CREATED, Status.EXISTS)]
    lines.extend(
        f"  {o.status.value:<11} {o.kind:<15} {o.name}  {o.detail.partition(chr(10))[0]}".rstrip()
        for o in interesting
    )
    totals = ", ".join(f"{n} {s}" for s, n in result.totals.items()) or "nothing to do"
    lines.append(f"  {'ok' if result.ok else 'FAILED'}: {totals}")
    return "\n".join(lines)


def _summary(run: DemoRun, say: Callable[[str], None]) -> None:
    failed = sorted(_failed_names())
    say("== summary")
    say(f"  {len(run.steps)} automation step(s), {len(run.executions)} execution(s) observed")
    say(f"  failed on purpose: {', '.join(failed)}; each recovered exactly once")
    for problem in run.problems:
        say(f"  PROBLEM: {problem}")
    say("  demo " + ("succeeded" if run.ok else "FAILED"))


@contextlib.contextmanager
def _attributes_file(given: Path | None) -> Iterator[Path]:
    """`given`, or the bundled attributes file as a real path (`as_file` extracts it if the package is
    imported from a zip), whatever the current folder is."""
    if given is not None:
        yield given
        return
    with resources.as_file(resources.files("flyteadmin_ops.demo") / BUNDLED_ATTRIBUTES) as path:
        yield path


def _printer(stream: TextIO) -> Callable[[str], None]:
    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    return say
