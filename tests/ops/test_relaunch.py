"""relaunch-failed against the emulator, with the real sample package registered: selection by window, phase
and launch plan; dry run; --max; re-runs and concurrent runs that launch each failure exactly once."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.cli import main
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.relaunch import (
    ExecutionId,
    Selection,
    derived_name,
    launch_relaunches,
    plan_relaunches,
    relaunch_failed,
)
from flyteadmin_ops.ops.results import OperationInputError, Status
from flyteadmin_ops.settings import AdminSettings

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
FLAKY = "ops_demo.workflows.flaky_wf"  # fails when its input `fail` is True
GREET = "ops_demo.workflows.greet_wf"
NOW = dt.datetime(2024, 5, 2, 12, 0, 0, 250_000, tzinfo=dt.timezone.utc)
Phase = core_execution_pb2.WorkflowExecution.Phase
Mode = execution_pb2.ExecutionMetadata.ExecutionMode


class Clock:
    """The emulator's clock, moved by the test: executions get the creation times the test chooses."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> Iterator[Emulator]:
    with Emulator(port=0, clock=clock) as emu:
        yield emu


def connect(emulator: Emulator) -> SynchronousFlyteClient:
    return SynchronousFlyteClient(AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True))


@pytest.fixture
def client(emulator: Emulator, pyflyte_package: Path) -> Iterator[SynchronousFlyteClient]:
    with connect(emulator) as client:
        for domain in (DOMAIN, "staging"):
            registered = register_package(client, pyflyte_package, PROJECT, domain, VERSION)
            assert registered.ok, registered.to_json()
        yield client


def execution(
    client: SynchronousFlyteClient,
    clock: Clock,
    name: str,
    *,
    ago: dt.timedelta,
    phase: int = Phase.FAILED,
    workflow: str = FLAKY,
    domain: str = DOMAIN,
) -> ExecutionId:
    """Launch `workflow`'s default launch plan at NOW - ago and drive it to `phase` with an engine event."""
    clock.now = NOW - ago
    launch_plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=domain,
        name=workflow,
        version=VERSION,
    )
    inputs = literals_pb2.LiteralMap()
    if workflow == FLAKY:
        inputs.literals["fail"].scalar.primitive.boolean = phase != Phase.SUCCEEDED
    ident = client.create_execution(
        PROJECT, domain, name, execution_pb2.ExecutionSpec(launch_plan=launch_plan), inputs
    )
    finish(client, ident, phase)
    clock.now = NOW
    return ident


def finish(client: SynchronousFlyteClient, ident: ExecutionId, phase: int) -> None:
    occurred = Timestamp()
    occurred.FromDatetime(NOW)
    event = event_pb2.WorkflowExecutionEvent(
        execution_id=ident, phase=phase, occurred_at=occurred, producer_id="propeller"
    )
    if phase != Phase.SUCCEEDED:
        event.error.CopyFrom(core_execution_pb2.ExecutionError(code="USER", message="failing on purpose"))
    client.create_workflow_event(event)


def since(hours: float, phases: tuple[str, ...] = ("FAILED",), launch_plan: str | None = None) -> Selection:
    return Selection.since(
        PROJECT, DOMAIN, dt.timedelta(hours=hours), now=NOW, phases=phases, launch_plan=launch_plan
    )


def relaunches_of(client: SynchronousFlyteClient) -> Counter[str]:
    """How many RELAUNCH/RECOVERED executions reference each execution name: the exactly-once measure."""
    found: Counter[str] = Counter()
    for domain in (DOMAIN, "staging"):
        for item in client.iter_executions(PROJECT, domain, filters="value_in(mode,3;5)"):
            found[item.spec.metadata.reference_execution.name] += 1
    return found


def names(result_outcomes: list, status: Status) -> set[str]:
    return {o.name for o in result_outcomes if o.status is status}


# ---- selection -----------------------------------------------------------------------------------------


@pytest.fixture
def failures(client: SynchronousFlyteClient, clock: Clock) -> dict[str, ExecutionId]:
    hour = dt.timedelta(hours=1)
    return {
        "old": execution(client, clock, "old", ago=30 * hour),  # outside a 24h window
        "f1": execution(client, clock, "f1", ago=2 * hour),
        "t1": execution(client, clock, "t1", ago=1 * hour, phase=Phase.TIMED_OUT),
        "ok": execution(client, clock, "ok", ago=1 * hour, phase=Phase.SUCCEEDED),
        "g1": execution(client, clock, "g1", ago=3 * hour, workflow=GREET),  # another launch plan
        "s1": execution(client, clock, "s1", ago=1 * hour, domain="staging"),  # another domain
        "ab": execution(client, clock, "ab", ago=1 * hour, phase=Phase.ABORTED),
    }


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (since(24), {"f1", "g1"}),
        (since(24, phases=("FAILED", "TIMED_OUT")), {"f1", "t1", "g1"}),
        (since(48), {"old", "f1", "g1"}),
        (since(24, phases=("FAILED", "TIMED_OUT"), launch_plan=FLAKY), {"f1", "t1"}),
        (since(24, launch_plan=GREET), {"g1"}),
        (
            Selection(PROJECT, DOMAIN, NOW - dt.timedelta(hours=2.5), NOW - dt.timedelta(hours=1.5)),
            {"f1"},
        ),
    ],
    ids=["24h-failed", "with-timed-out", "48h", "one-launch-plan", "other-launch-plan", "from-to"],
)
def test_dry_run_selects_by_window_phase_and_launch_plan(
    client: SynchronousFlyteClient, failures: dict[str, ExecutionId], selection: Selection, expected: set[str]
) -> None:
    result = relaunch_failed(client, selection, dry_run=True)

    assert names(result.outcomes, Status.PLANNED) == expected
    assert result.dry_run and result.ok
    planned = {o.name: o.detail for o in result.outcomes}
    assert all(derived_name(failures[n], "recover") in planned[n] for n in expected)
    assert relaunches_of(client) == Counter()  # a dry run launches nothing


# ---- launching -----------------------------------------------------------------------------------------


def test_recover_launches_each_failure_and_a_rerun_launches_nothing(
    client: SynchronousFlyteClient, failures: dict[str, ExecutionId]
) -> None:
    first = relaunch_failed(client, since(24, phases=("FAILED", "TIMED_OUT")))

    assert names(first.outcomes, Status.LAUNCHED) == {"f1", "t1", "g1"} and first.ok
    new = client.get_execution(
        ExecutionId(project=PROJECT, domain=DOMAIN, name=derived_name(failures["t1"], "recover"))
    )
    assert new.spec.metadata.mode == Mode.RECOVERED
    assert new.spec.metadata.reference_execution.name == "t1"

    second = relaunch_failed(client, since(24, phases=("FAILED", "TIMED_OUT")))

    assert names(second.outcomes, Status.SKIPPED) == {"f1", "t1", "g1"}
    assert all("already handled by r" in o.detail for o in second.outcomes)
    assert relaunches_of(client) == Counter({"f1": 1, "t1": 1, "g1": 1})


def test_relaunch_mode_and_derived_names_make_a_repeated_launch_exists(
    client: SynchronousFlyteClient, failures: dict[str, ExecutionId]
) -> None:
    result = relaunch_failed(client, since(24), mode="relaunch")
    assert names(result.outcomes, Status.LAUNCHED) == {"f1", "g1"}

    # Even past the "already handled" check, the derived name makes a second launch impossible.
    again = launch_relaunches(client, [failures["f1"], failures["g1"]], "relaunch")

    assert [o.status for o in again] == [Status.EXISTS, Status.EXISTS]
    new = client.get_execution(
        ExecutionId(project=PROJECT, domain=DOMAIN, name=derived_name(failures["f1"], "relaunch"))
    )
    assert new.spec.metadata.mode == Mode.RELAUNCH
    assert relaunches_of(client) == Counter({"f1": 1, "g1": 1})


def test_max_caps_each_run_and_the_next_run_takes_the_rest(
    client: SynchronousFlyteClient, clock: Clock
) -> None:
    for i in range(5):
        execution(client, clock, f"m{i}", ago=dt.timedelta(minutes=10 + i))

    first = relaunch_failed(client, since(1), max_launches=2)
    assert len(first.with_status(Status.LAUNCHED)) == 2
    assert sum("over --max 2" in o.detail for o in first.with_status(Status.SKIPPED)) == 3

    second = relaunch_failed(client, since(1), max_launches=2)
    third = relaunch_failed(client, since(1), max_launches=2)

    launched = [o.name for r in (first, second, third) for o in r.with_status(Status.LAUNCHED)]
    assert sorted(launched) == [f"m{i}" for i in range(5)]
    assert relaunches_of(client) == Counter({f"m{i}": 1 for i in range(5)})


def test_failure_handled_by_a_person_is_skipped(
    client: SynchronousFlyteClient, failures: dict[str, ExecutionId]
) -> None:
    manual = client.relaunch_execution(failures["f1"], "by-hand")

    result = relaunch_failed(client, since(24))

    assert {o.name: o.detail for o in result.with_status(Status.SKIPPED)} == {
        "f1": f"already handled by {manual.name}"
    }
    assert names(result.outcomes, Status.LAUNCHED) == {"g1"}


def test_own_recovery_that_fails_again_is_not_retried(
    client: SynchronousFlyteClient, clock: Clock, failures: dict[str, ExecutionId]
) -> None:
    relaunch_failed(client, since(24, launch_plan=FLAKY))
    recovery = ExecutionId(project=PROJECT, domain=DOMAIN, name=derived_name(failures["f1"], "recover"))
    finish(client, recovery, Phase.FAILED)

    result = relaunch_failed(client, since(24, launch_plan=FLAKY))

    skipped = {o.name: o.detail for o in result.with_status(Status.SKIPPED)}
    assert skipped[recovery.name] == "is itself a relaunch by relaunch-failed; not retried again"
    assert "already handled" in skipped["f1"]
    assert not result.with_status(Status.LAUNCHED)


def test_name_taken_by_an_unrelated_execution_moves_to_the_next_derived_name(
    client: SynchronousFlyteClient, clock: Clock, failures: dict[str, ExecutionId]
) -> None:
    squatter = derived_name(failures["f1"], "recover")
    execution(client, clock, squatter, ago=dt.timedelta(days=3))  # outside the window, not a relaunch

    result = relaunch_failed(client, since(24, launch_plan=FLAKY))

    assert {o.name: o.detail for o in result.with_status(Status.LAUNCHED)} == {
        "f1": f"recovered as {derived_name(failures['f1'], 'recover', 1)}"
    }


# ---- concurrency ---------------------------------------------------------------------------------------


def test_two_concurrent_runs_launch_each_failure_exactly_once(
    emulator: Emulator, client: SynchronousFlyteClient, clock: Clock
) -> None:
    for i in range(12):
        execution(client, clock, f"c{i}", ago=dt.timedelta(minutes=5 + i))
    barrier = threading.Barrier(2, timeout=30)
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        # Both runs plan before either launches, so both see every failure as launchable: only the derived
        # names (and the server's ALREADY_EXISTS) can keep them from launching twice.
        try:
            with connect(emulator) as own_client:
                plan = plan_relaunches(own_client, since(1))
                barrier.wait()
                results[index] = launch_relaunches(own_client, [c.failed for c in plan.to_launch], "recover")
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert relaunches_of(client) == Counter({f"c{i}": 1 for i in range(12)})
    statuses: dict[str, list[Status]] = {}
    for outcomes in results.values():
        assert len(outcomes) == 12
        for outcome in outcomes:
            statuses.setdefault(outcome.name, []).append(outcome.status)
    assert all(sorted(s) == sorted([Status.LAUNCHED, Status.EXISTS]) for s in statuses.values()), statuses


def test_whole_runs_in_parallel_threads_also_converge(
    emulator: Emulator, client: SynchronousFlyteClient, clock: Clock
) -> None:
    for i in range(8):
        execution(client, clock, f"w{i}", ago=dt.timedelta(minutes=5 + i))
    outcomes: list = []
    lock = threading.Lock()

    def run() -> None:
        with connect(emulator) as own_client:
            result = relaunch_failed(own_client, since(1))
        with lock:
            outcomes.extend(result.outcomes)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert relaunches_of(client) == Counter({f"w{i}": 1 for i in range(8)})
    assert Counter(o.name for o in outcomes if o.status is Status.LAUNCHED) == Counter(
        {f"w{i}": 1 for i in range(8)}
    )
    assert not [o for o in outcomes if o.status.is_problem]


# ---- command line --------------------------------------------------------------------------------------


def run_cli(emulator: Emulator, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(
            [
                "relaunch-failed",
                "-p",
                PROJECT,
                "-d",
                DOMAIN,
                *argv,
                "--endpoint",
                emulator.endpoint,
                "--insecure",
            ]
        )
    return code, out.getvalue(), err.getvalue()


def test_cli_dry_run_json_then_max_then_bad_input(
    emulator: Emulator, client: SynchronousFlyteClient, failures: dict[str, ExecutionId]
) -> None:
    window = ("--from", "2024-05-01T12:00:00Z", "--to", "2024-05-02T13:00:00+00:00")
    select = (*window, "--phase", "FAILED", "--phase", "TIMED_OUT", "--launch-plan", FLAKY)

    code, out, _ = run_cli(emulator, *select, "--dry-run", "-o", "json")
    report = json.loads(out)
    assert code == 0 and report["dry_run"] and report["totals"] == {"planned": 2}
    assert {o["name"] for o in report["outcomes"]} == {"f1", "t1"}

    code, out, _ = run_cli(emulator, *select, "--max", "1", "--mode", "relaunch")
    assert code == 0 and "ok: launched 1, skipped 1" in out
    assert sum(relaunches_of(client).values()) == 1

    for bad, message in [
        (("--since", "5"), "duration '5'"),
        (("--since", "0h"), "must be more than 0"),
        (("--since", "99999999999w"), "at most 100 years"),  # no OverflowError traceback
        (("--launch-plan", "nightly_typo"), "launch plan 'nightly_typo' does not exist"),
        (("--since", "1h", *window), "either --since or --from/--to"),
        (("--from", "2024-05-01T12:00:00"), "add a time zone"),
        (("--to", "2024-05-01T12:00:00Z"), "--to needs --from"),
    ]:
        code, out, err = run_cli(emulator, *bad)
        assert (code, out) == (2, ""), (bad, err)
        assert message in err


def test_two_cli_processes_at_once_launch_each_failure_exactly_once(
    emulator: Emulator, client: SynchronousFlyteClient, clock: Clock
) -> None:
    for i in range(6):
        execution(client, clock, f"p{i}", ago=dt.timedelta(minutes=5 + i))
    command = [
        sys.executable,
        "-m",
        "flyteadmin_ops.cli",
        "relaunch-failed",
        *("-p", PROJECT, "-d", DOMAIN, "--from", "2024-05-02T11:00:00Z", "-o", "json"),
        *("--endpoint", emulator.endpoint, "--insecure"),
    ]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        reports.append(json.loads(out))

    assert relaunches_of(client) == Counter({f"p{i}": 1 for i in range(6)})
    launched = Counter(o["name"] for r in reports for o in r["outcomes"] if o["status"] == "launched")
    assert launched == Counter({f"p{i}": 1 for i in range(6)})
    assert all(r["ok"] for r in reports)


@pytest.mark.parametrize(("project", "domain"), [("nosuchproject", DOMAIN), (PROJECT, "nodomain")])
def test_unknown_project_or_domain_is_bad_input_not_an_empty_window(
    emulator: Emulator, project: str, domain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # flyteadmin lists no executions for a project that does not exist; a typo must not pass as "no failures".
    with (
        connect(emulator) as client,
        pytest.raises(OperationInputError, match=project if project != PROJECT else domain),
    ):
        plan_relaunches(client, Selection.since(project, domain, dt.timedelta(hours=1)))
    argv = ["relaunch-failed", "-p", project, "-d", domain, "--endpoint", emulator.endpoint, "--insecure"]
    assert main(argv) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("start", "end"),
    [(dt.datetime(2024, 5, 1), None), (NOW, dt.datetime(2024, 5, 3)), ("2024-05-01T00:00:00Z", None)],
    ids=["naive-start", "naive-end", "text-start"],
)
def test_a_window_without_a_time_zone_is_refused_when_selected(start: object, end: object) -> None:
    """Refused in the Selection itself, before any RPC, rather than as a filter error mid-run."""
    with pytest.raises(
        OperationInputError, match=r"window (start|end) .*: expected a datetime with a time zone"
    ):
        Selection(PROJECT, DOMAIN, start, end)  # type: ignore[arg-type]
