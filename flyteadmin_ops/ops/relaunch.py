"""relaunch-failed: recover (or relaunch) the failed executions of a project and domain, exactly once each.

Exactly-once rests on the server, not on bookkeeping of ours: every new execution gets a name derived from
the failed one (`derived_name`), and flyteadmin refuses a second execution with the same name
(ALREADY_EXISTS). So two runs at the same time, a rerun after a crash, or a retried RPC all converge on one
new execution per failure; the loser of a race reports `exists`. Before launching, executions already
handled (by us or by a person, e.g. from the console) are skipped: they appear as the `reference_execution`
of a RELAUNCH or RECOVERED execution created since the window began.

An execution that this automation itself created and that failed again is not retried: a deterministic
failure would otherwise be relaunched every hour forever. It is reported as `skipped`.

Reading back. Each execution launched (or found already launched) under a derived name is read back: it
must exist, be a recovery or relaunch (as asked) of the failed execution, run the failed execution's launch
plan, and have its inputs. Anything else is a failed outcome naming the execution and what differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core.identifier_pb2 import WorkflowExecutionIdentifier as ExecutionId

from flyteadmin_ops.client import filters as F
from flyteadmin_ops.client.sorting import sort_by
from flyteadmin_ops.errors import FlyteAdminError, FlyteEntityAlreadyExistsException
from flyteadmin_ops.ops.register import check_target
from flyteadmin_ops.ops.results import OperationInputError, Outcome, OutcomeCallback, Result, Status

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

Mode = Literal["recover", "relaunch"]
MODES: tuple[Mode, ...] = ("recover", "relaunch")

WorkflowPhase = core_execution_pb2.WorkflowExecution.Phase
ExecutionMode = execution_pb2.ExecutionMetadata.ExecutionMode

RETRYABLE_PHASES = ("FAILED", "TIMED_OUT")
"""Terminal phases worth relaunching. ABORTED is left out: someone stopped it on purpose."""

_HANDLING_MODES = (ExecutionMode.RELAUNCH, ExecutionMode.RECOVERED)
_PAGE_SIZE = 200
KIND = "execution"
OPERATION = "relaunch-failed"

# ---- window ------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LONGEST_WINDOW = dt.timedelta(days=36525)


def parse_duration(text: str) -> dt.timedelta:
    """`30m`, `24h`, `7d`, `1w` -> timedelta. A bare number is rejected: hours or days would be a guess."""
    match = _DURATION.match(text)
    if not match:
        raise OperationInputError(
            f"duration {text!r}: expected a number and a unit s, m, h, d or w (e.g. 24h)"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if not 0 < seconds <= _LONGEST_WINDOW.total_seconds() or dt.timedelta(seconds=seconds) <= dt.timedelta(0):
        # zero (or less than the microsecond a timedelta holds) selects nothing, forever: a typo, not a
        # request; a huge one overflows the window's start
        raise OperationInputError(f"duration {text!r}: must be more than 0 and at most 100 years")
    return dt.timedelta(seconds=seconds)


def parse_timestamp(text: str) -> dt.datetime:
    """An RFC 3339 / ISO 8601 instant; one without a zone is rejected rather than read as local time."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise OperationInputError(
            f"timestamp {text!r}: expected RFC 3339, e.g. 2024-05-01T00:00:00Z"
        ) from exc
    if value.tzinfo is None:
        stripped = text.strip()
        example = f"{stripped}Z" if stripped.isprintable() else "2024-05-01T00:00:00Z"
        raise OperationInputError(f"timestamp {text!r}: add a time zone, e.g. {example} for UTC")
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first instant a datetime holds
        raise OperationInputError(f"timestamp {text!r}: out of range once converted to UTC") from None


@dataclass(frozen=True)
class Selection:
    """Which failed executions to consider: one project and domain, a creation-time window, phases, and
    optionally one launch plan (by name, any version)."""

    project: str
    domain: str
    start: dt.datetime
    end: dt.datetime | None = None
    phases: tuple[str, ...] = ("FAILED",)
    launch_plan: str | None = None

    def __post_init__(self) -> None:
        if not self.project or not self.domain:
            raise OperationInputError("relaunch-failed needs a project and a domain")
        unknown = [p for p in self.phases if p not in RETRYABLE_PHASES]
        if unknown or not self.phases:
            raise OperationInputError(
                f"phases {list(self.phases)}: choose from {', '.join(RETRYABLE_PHASES)} "
                "(terminal failures only)"
            )
        for label, moment in (("start", self.start), ("end", self.end)):
            if moment is not None and (not isinstance(moment, dt.datetime) or moment.utcoffset() is None):
                # a naive time would mean a different instant on every machine (and cannot be compared)
                raise OperationInputError(
                    f"window {label} {moment!r}: expected a datetime with a time zone (tzinfo=timezone.utc)"
                )
        if self.end is not None and self.end <= self.start:
            raise OperationInputError(
                f"window: --to {self.end.isoformat()} is not after --from {self.start.isoformat()}"
            )

    @classmethod
    def since(
        cls,
        project: str,
        domain: str,
        since: dt.timedelta,
        *,
        now: dt.datetime | None = None,
        phases: tuple[str, ...] = ("FAILED",),
        launch_plan: str | None = None,
    ) -> Selection:
        """The window (now - since, now]; `now` defaults to the current time."""
        now = now or dt.datetime.now(dt.timezone.utc)
        return cls(project, domain, now - since, None, phases, launch_plan)

    def failed_filters(self) -> F.FilterList:
        """Server-side selection: flyteadmin stores `phase` as its name (FAILED), `mode` as a number."""
        selected = F.value_in("phase", self.phases) + self._window("execution_created_at")
        if self.launch_plan:
            selected = selected + F.eq("launch_plan.name", self.launch_plan)
        return selected

    def handling_filters(self) -> F.FilterList:
        """Executions that may be relaunches of a failure in the window: created after the window began."""
        return F.value_in("mode", [int(m) for m in _HANDLING_MODES]) + F.gte(
            "execution_created_at", self.start
        )

    def _window(self, column: str) -> F.FilterList:
        window = F.FilterList((F.gte(column, self.start),))
        return window + F.lte(column, self.end) if self.end is not None else window


# ---- naming ------------------------------------------------------------------------------------------

_NAME_LIMIT = 63
_HASH_CHARS = 10
_PREFIX: dict[str, str] = {"recover": "rc", "relaunch": "rl"}
NAME_ATTEMPTS = 3
"""Candidate names per failure. A later candidate is used only when an earlier name is taken by an
execution that is NOT a relaunch of this failure (a hash collision, or a person's unrelated run)."""


def derived_name(failed: ExecutionId, mode: Mode, attempt: int = 0) -> str:
    """The new execution's name: readable (`rc-<failed name>-<hash>`) and fixed by (project, domain, name,
    mode, attempt). It satisfies flyteadmin's rule (lowercase `^[a-z][a-z-0-9]*$`, at most 63 characters)
    whatever the failed name is; the hash covers the full failed name, so truncation cannot merge two."""
    key = "\n".join((failed.project, failed.domain, failed.name, mode, str(attempt)))
    digest = hashlib.sha256(key.encode()).hexdigest()[:_HASH_CHARS]
    prefix = _PREFIX[mode]
    room = _NAME_LIMIT - len(prefix) - _HASH_CHARS - 2
    stem = re.sub(r"[^a-z0-9-]+", "-", failed.name.lower())[:room].strip("-")
    return f"{prefix}-{stem}-{digest}" if stem else f"{prefix}-{digest}"


def is_derived(execution: execution_pb2.Execution) -> bool:
    """True when this execution was launched by relaunch-failed (its name derives from its reference)."""
    meta = execution.spec.metadata
    if meta.mode not in _HANDLING_MODES or not meta.reference_execution.name:
        return False
    return execution.id.name in {
        derived_name(meta.reference_execution, mode, attempt)
        for mode in MODES
        for attempt in range(NAME_ATTEMPTS)
    }


# ---- selection ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A failed execution and what to do with it."""

    failed: ExecutionId
    phase: str
    handled_by: str = ""
    """Name of an existing relaunch/recovery of it, if any: then it is skipped."""
    ours: bool = False
    """It is itself a relaunch by this automation: not retried."""

    @property
    def launchable(self) -> bool:
        return not self.handled_by and not self.ours


@dataclass
class Plan:
    selection: Selection
    mode: Mode
    candidates: list[Candidate] = field(default_factory=list)
    max_launches: int | None = None

    @property
    def to_launch(self) -> list[Candidate]:
        launchable = [c for c in self.candidates if c.launchable]
        return launchable if self.max_launches is None else launchable[: self.max_launches]


def _all_executions(
    client: SynchronousFlyteClient, project: str, domain: str, filters: F.FilterList
) -> Iterator[execution_pb2.Execution]:
    """Every page, oldest first (a fixed order keeps offset paging from skipping or repeating rows)."""
    return client.iter_executions(
        project, domain, filters=filters, sort_by=sort_by("execution_created_at"), page_size=_PAGE_SIZE
    )


def plan_relaunches(
    client: SynchronousFlyteClient,
    selection: Selection,
    mode: Mode = "recover",
    max_launches: int | None = None,
) -> Plan:
    """Find the failures in the window and decide, for each, launch or skip. Reads only."""
    if mode not in MODES:
        raise OperationInputError(f"mode {mode!r}: choose recover or relaunch")
    if max_launches is not None and max_launches < 0:
        raise OperationInputError(f"--max {max_launches}: must be 0 or more")
    # flyteadmin lists nothing for a project that does not exist: without this check a typo in the project
    # would look like "no failures" and exit 0 on every scheduled run.
    check_target(client, selection.project, selection.domain)
    if selection.launch_plan:
        _check_launch_plan(client, selection)
    handled: dict[str, str] = {}
    for execution in _all_executions(
        client, selection.project, selection.domain, selection.handling_filters()
    ):
        reference = execution.spec.metadata.reference_execution
        if reference.project == selection.project and reference.domain == selection.domain:
            handled.setdefault(reference.name, execution.id.name)
    plan = Plan(selection, mode, max_launches=max_launches)
    for execution in _all_executions(client, selection.project, selection.domain, selection.failed_filters()):
        plan.candidates.append(
            Candidate(
                failed=execution.id,
                phase=WorkflowPhase.Name(execution.closure.phase),
                handled_by=handled.get(execution.id.name, ""),
                ours=is_derived(execution),
            )
        )
    return plan


def _check_launch_plan(client: SynchronousFlyteClient, selection: Selection) -> None:
    """A misspelt --launch-plan would filter every execution out and read as "no failures", exit 0, on every
    scheduled run. Launch plans are never deleted, so one with failures always has a version to find."""
    name = common_pb2.NamedEntityIdentifier(
        project=selection.project, domain=selection.domain, name=selection.launch_plan
    )
    versions, _token = client.list_launch_plans_paginated(name, limit=1)
    if not versions:
        raise OperationInputError(
            f"launch plan {selection.launch_plan!r} does not exist in {selection.project}/{selection.domain}"
        )


# ---- launching ---------------------------------------------------------------------------------------


def launch_one(client: SynchronousFlyteClient, failed: ExecutionId, mode: Mode) -> Outcome:
    """Recover or relaunch one failure under its derived name.

    The client's `launch` turns ALREADY_EXISTS into success (`created=False`) when the execution holding
    the name is a relaunch of this very failure in this mode -- another run, or an earlier attempt, got
    there first -- and raises it when an unrelated execution holds the name; then the next derived name
    is tried.
    """
    verb = "recovered" if mode == "recover" else "relaunched"
    for attempt in range(NAME_ATTEMPTS):
        name = derived_name(failed, mode, attempt)
        request = (
            execution_pb2.ExecutionRecoverRequest(id=failed, name=name)
            if mode == "recover"
            else execution_pb2.ExecutionRelaunchRequest(id=failed, name=name)
        )
        try:
            launched = client.launch(request)
        except FlyteEntityAlreadyExistsException:
            continue
        except FlyteAdminError as exc:
            return Outcome(KIND, failed.name, Status.FAILED, str(exc))
        done = f"{verb} as {name}" if launched.created else f"already {verb} as {name}"
        try:
            problem = read_back(client, failed, launched.id, mode)
        except FlyteAdminError as exc:
            problem = f"reading it back failed: {exc}"
        if problem:
            return Outcome(KIND, failed.name, Status.FAILED, f"{done}, but {problem}")
        return Outcome(KIND, failed.name, Status.LAUNCHED if launched.created else Status.EXISTS, done)
    return Outcome(
        KIND,
        failed.name,
        Status.FAILED,
        f"all {NAME_ATTEMPTS} derived names are taken by unrelated executions",
    )


_MODE_OF: dict[str, int] = {"recover": ExecutionMode.RECOVERED, "relaunch": ExecutionMode.RELAUNCH}


def read_back(client: SynchronousFlyteClient, failed: ExecutionId, new: ExecutionId, mode: Mode) -> str:
    """What is wrong with execution `new` as the `mode` of `failed` ("" when nothing): it must reference
    `failed` in that mode, run its launch plan, and have its inputs."""
    launched = client.get_execution(new)
    original = client.get_execution(failed)
    problems: list[str] = []
    reference = launched.spec.metadata.reference_execution
    if (reference.project, reference.domain, reference.name) != (failed.project, failed.domain, failed.name):
        problems.append(f"it references {reference.project}/{reference.domain}/{reference.name or '(none)'}")
    if launched.spec.metadata.mode != _MODE_OF[mode]:
        problems.append(f"its mode is {ExecutionMode.Name(launched.spec.metadata.mode)}")
    if launched.spec.launch_plan != original.spec.launch_plan:
        plan, wanted = launched.spec.launch_plan, original.spec.launch_plan
        problems.append(f"it runs launch plan {plan.name}@{plan.version}, not {wanted.name}@{wanted.version}")
    if client.get_execution_data(new).full_inputs != client.get_execution_data(failed).full_inputs:
        problems.append("its inputs differ from the failed execution's")
    if not problems:
        return ""
    return f"reading back {new.project}/{new.domain}/{new.name}: " + "; ".join(problems)


def launch_relaunches(
    client: SynchronousFlyteClient,
    failed: Sequence[ExecutionId],
    mode: Mode,
    *,
    max_concurrency: int | None = None,
    on_outcome: OutcomeCallback | None = None,
) -> list[Outcome]:
    """Launch a batch concurrently (bounded by the settings' max_concurrency); outcomes in input order."""
    workers = max(1, min(max_concurrency or client.settings.max_concurrency, len(failed) or 1))

    def one(execution_id: ExecutionId) -> Outcome:
        outcome = launch_one(client, execution_id, mode)
        if on_outcome is not None:
            on_outcome(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relaunch") as pool:
        return list(pool.map(one, failed))


def skipped_outcomes(plan: Plan) -> list[Outcome]:
    """Outcomes for candidates that will not be launched, with the reason."""
    chosen = {c.failed.name for c in plan.to_launch}
    outcomes: list[Outcome] = []
    for candidate in plan.candidates:
        if candidate.failed.name in chosen:
            continue
        if candidate.handled_by:
            reason = f"already handled by {candidate.handled_by}"
        elif candidate.ours:
            reason = "is itself a relaunch by relaunch-failed; not retried again"
        else:
            reason = f"over --max {plan.max_launches}"
        outcomes.append(Outcome(KIND, candidate.failed.name, Status.SKIPPED, reason))
    return outcomes


def planned_outcomes(plan: Plan) -> list[Outcome]:
    verb = "recover" if plan.mode == "recover" else "relaunch"
    return [
        Outcome(
            KIND,
            c.failed.name,
            Status.PLANNED,
            f"would {verb} ({c.phase}) as {derived_name(c.failed, plan.mode)}",
        )
        for c in plan.to_launch
    ]


def describe_plan(plan: Plan) -> str:
    """The note every relaunch-failed result carries: how many failures the window held, and which."""
    selection = plan.selection
    window = f"{selection.start.isoformat()} .. {selection.end.isoformat() if selection.end else 'now'}"
    return (
        f"{len(plan.candidates)} {'/'.join(selection.phases)} execution(s) "
        f"in {selection.project}/{selection.domain} "
        f"created {window}" + (f", launch plan {selection.launch_plan}" if selection.launch_plan else "")
    )


def relaunch_failed(
    client: SynchronousFlyteClient,
    selection: Selection,
    *,
    mode: Mode = "recover",
    max_launches: int | None = None,
    dry_run: bool = False,
    on_outcome: OutcomeCallback | None = None,
) -> Result:
    """The whole automation: plan, then launch (or, with dry_run, list what would be launched)."""
    plan = plan_relaunches(client, selection, mode, max_launches)
    result = Result(OPERATION, dry_run=dry_run)
    result.notes.append(describe_plan(plan))
    to_launch = [c.failed for c in plan.to_launch]
    if dry_run:
        result.extend(planned_outcomes(plan))
    else:
        result.extend(launch_relaunches(client, to_launch, mode, on_outcome=on_outcome))
    result.extend(skipped_outcomes(plan))
    return result
