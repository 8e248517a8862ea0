"""register's engine: dependency waves of creates, fanned out, with what already exists learned first and
what was written read back after.

For one call of `register_waves`:
1. List what the server holds at the versions being registered (`ops.existing`, one list per kind, run
   concurrently; `register_package` reads them beside its target check, passing them as `listed`): tasks and
   launch plans identical to what we would send are `exists` without a create. Workflows, and anything
   not provably identical, get their create, so `created`, `exists` and `conflict` (with the server's
   diff) mean what they always meant.
2. Run the waves in order (`run_waves`, the stop rule shared with the Prefect flow), launch plans of a wave
   after the rest (`launch_plans_last`); each batch's creates run concurrently under a `ConcurrencyLimit`
   (adaptive unless `max_concurrency` pins it). A batch whose creates all target identifiers already
   listed (a re-run's workflows: nothing can be written) starts at the ceiling instead, and such workflow
   creates are sent ahead, as soon as the lists are read (`_Ahead`), their answers taken in turn.
3. Read back: the same version-filtered lists show that every entity reported created or exists through
   a create is on the server as sent; one that is not becomes `failed`, saying what differs. What the
   first lists already showed as sent, and whose create answered ALREADY_EXISTS, is not listed again.

When Admin goes away for longer than the retry budget, the transport's circuit breaker makes every call
raise `FlyteAdminUnreachable`. Then nothing more is started: every entity not finished is `skipped`
("not attempted: the server went away") and one `failed` outcome of kind `server` names the endpoint, so
the result is not ok and a re-run (which finds what was written as `exists`) completes the job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from flyteadmin_ops import errors
from flyteadmin_ops.errors import (
    FlyteAdminError,
    FlyteEntityAlreadyExistsException,
    FlyteEntityConflictException,
    FlyteResourceExhaustedException,
    FlyteSystemUnavailableException,
)
from flyteadmin_ops.ops.concurrency import ConcurrencyLimit, Verdict, fan_out
from flyteadmin_ops.ops.existing import (
    PROVABLE_KINDS,
    Listing,
    WorkflowInputs,
    held,
    list_registered,
    names_by_list,
    read_back_problem,
    wanted_lists,
    workflow_inputs,
)
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, WORKFLOW, Entity, IdentifierKey, identifier_key
from flyteadmin_ops.ops.results import Outcome, OutcomeCallback, Status

if TYPE_CHECKING:
    from flyteidl.core import identifier_pb2

    from flyteadmin_ops.client import SynchronousFlyteClient

logger = logging.getLogger(__name__)

NOT_ATTEMPTED = "not attempted: an earlier entity conflicted or failed"
SERVER_GONE = "not attempted: the server went away"
IDENTICAL = "identical structure already registered"
SERVER_KIND = "server"
"""The kind of the one outcome that says the server went away."""

DEFAULT_CEILING = 64
"""The adaptive limit's ceiling when the settings have no `max_concurrency_ceiling`."""

KIND_NAMES = {TASK: "task", WORKFLOW: "workflow", LAUNCH_PLAN: "launch_plan"}
_CREATE_METHODS = {TASK: "create_task", WORKFLOW: "create_workflow", LAUNCH_PLAN: "create_launch_plan"}
_UNREACHABLE: tuple[type[BaseException], ...] = tuple(
    cls for cls in (getattr(errors, "FlyteAdminUnreachable", None),) if isinstance(cls, type)
)
"""The transport's "Admin went away" error (its circuit breaker), where the transport has one."""


def identifier_text(ident: identifier_pb2.Identifier) -> str:
    """`project:domain:name:version`, the way entities are named in every result."""
    return f"{ident.project}:{ident.domain}:{ident.name}:{ident.version}"


def entity_outcome(entity: Entity, status: Status, detail: str = "") -> Outcome:
    return Outcome(KIND_NAMES[entity.resource_type], identifier_text(entity.id), status, detail)


def skipped(
    entities: Iterable[Entity], reason: str, on_outcome: OutcomeCallback | None = None
) -> list[Outcome]:
    """`skipped` outcomes for entities that will not be attempted."""
    outcomes = [entity_outcome(e, Status.SKIPPED, reason) for e in entities]
    for outcome in outcomes:
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


def is_unreachable(error: BaseException) -> bool:
    """True for the transport's verdict that Admin went away (not for one failed call)."""
    return isinstance(error, _UNREACHABLE)


def never_reached(error: FlyteAdminError) -> bool:
    """A create that spent its retries without once reaching a live server (connection refused, socket
    closed): the breaker has not opened yet, but the server is just as gone for this run."""
    if is_unreachable(error):
        return True
    try:
        from flyteadmin_ops.transport.breaker import is_unreachable as transport_unreachable
    except ImportError:  # a transport without the breaker: every failure is the entity's own
        return False
    return error.code is grpc.StatusCode.UNAVAILABLE and transport_unreachable(error)


def server_gone_outcome(endpoint: str, error: BaseException) -> Outcome:
    return Outcome(SERVER_KIND, endpoint, Status.FAILED, f"went away: {error}")


# ------------------------------------------------------------------------------------------ one create


def create_entity(client: SynchronousFlyteClient, entity: Entity) -> Outcome:
    """One create RPC, with flyteadmin's answers mapped to outcomes (never raises for an RPC error)."""
    try:
        return _create(client, entity)[0]
    except FlyteAdminError as exc:  # only the server-gone error gets here
        return entity_outcome(entity, Status.FAILED, str(exc))


def _create(client: SynchronousFlyteClient, entity: Entity) -> tuple[Outcome, FlyteAdminError | None]:
    """`create_entity` plus the error behind a `failed` outcome; the server-gone error is raised instead.

    The entity's request is the create request itself, so it goes to the raw method as it is: the friendly
    `create_*(id, spec)` would build a new one, copying the spec (protobuf copies by serialising and parsing
    again, a third of what such a call cost the client beyond gRPC's own work)."""
    create: Callable[[object], object] = getattr(client.raw, _CREATE_METHODS[entity.resource_type])
    try:
        create(entity.request)
    except FlyteEntityAlreadyExistsException:
        return entity_outcome(entity, Status.EXISTS, IDENTICAL), None
    except FlyteEntityConflictException as exc:
        return conflict_outcome(client, entity, exc), None
    except FlyteAdminError as exc:
        if is_unreachable(exc):
            raise
        return entity_outcome(entity, Status.FAILED, str(exc)), exc
    return entity_outcome(entity, Status.CREATED), None


def conflict_outcome(
    client: SynchronousFlyteClient, entity: Entity, error: FlyteEntityConflictException
) -> Outcome:
    """A `conflict` naming the fields that differ (see `ops.conflicts`), the server's text kept aside."""
    # Imported here: only a conflict needs it (and json_format), and most runs have none.
    from flyteadmin_ops.ops.conflicts import explain_conflict

    report = explain_conflict(client, entity.request, error)
    return Outcome(
        KIND_NAMES[entity.resource_type],
        identifier_text(entity.id),
        Status.CONFLICT,
        report.detail,
        changes=report.changes,
        server_message=report.server_message,
    )


# ------------------------------------------------------------------------------------------ the stop rule


WaveRunner = Callable[[Sequence[Entity]], list[Outcome]]
"""Registers one batch of entities and returns their outcomes (a thread pool here, a Prefect task run in
the register-all flow)."""


def run_waves(
    waves: Iterable[Sequence[Entity]],
    register: WaveRunner,
    *,
    continue_on_error: bool = False,
    on_outcome: OutcomeCallback | None = None,
    halted: Callable[[], str | None] | None = None,
) -> list[Outcome]:
    """The stop rule, in one place for the CLI, the library and the flow: batches run in order, and
    without `continue_on_error` the first batch with a conflict or failure is the last one attempted;
    every later entity is reported `skipped`. `register` notifies its own outcomes. `halted` returns a
    reason to attempt nothing more even with `continue_on_error` (the server went away), else None."""
    outcomes: list[Outcome] = []
    stopped = False
    for batch in waves:
        if not batch:
            continue
        reason = halted() if halted is not None else None
        if reason is not None:
            outcomes.extend(skipped(batch, reason, on_outcome))
            continue
        if stopped:
            outcomes.extend(skipped(batch, NOT_ATTEMPTED, on_outcome))
            continue
        done = register(batch)
        outcomes.extend(done)
        stopped = not continue_on_error and any(o.status.is_problem for o in done)
    return outcomes


def launch_plans_last(waves: Iterable[Sequence[Entity]]) -> list[list[Entity]]:
    """Each wave split in two batches, launch plans after the rest, so that a task or workflow that fails
    in a wave stops the run before that wave creates a launch plan (or a schedule)."""
    return [
        [e for e in wave if (e.resource_type == LAUNCH_PLAN) is last]
        for wave in waves
        for last in (False, True)
    ]


# ------------------------------------------------------------------------------------------ the waves


def register_waves(
    client: SynchronousFlyteClient,
    waves: Sequence[Sequence[Entity]],
    *,
    continue_on_error: bool = False,
    max_concurrency: int | None = None,
    on_outcome: OutcomeCallback | None = None,
    check_existing: bool = True,
    read_back: bool = True,
    listed: Mapping[tuple[str, str], Prefetched] | None = None,
) -> list[Outcome]:
    """Create the entities wave by wave; outcomes come back in wave order, package order inside a wave.

    Each batch finishes before the next starts, so nothing is created before what it refers to. Calls in
    flight: `max_concurrency` when given, else adaptive from settings.max_concurrency up to
    settings.max_concurrency_ceiling (`ops.concurrency`). `check_existing` lists first and skips the
    creates that would change nothing; `read_back` verifies what was written (module docstring).
    `listed`: lists already read for a (project, domain), used when they cover what would be listed
    (`register_package` reads them while it checks the target and uploads, see `prefetch_lists`).
    """
    notify = on_outcome or (lambda _outcome: None)
    entities = [e for wave in waves for e in wave]
    inputs = workflow_inputs(entities)
    endpoint = client.settings.endpoint
    limit = _limit(client, max_concurrency)
    with ThreadPoolExecutor(max_workers=limit.ceiling, thread_name_prefix="register") as pool:
        started: list[_Ahead] = []

        def send_ahead(present: _Existing) -> None:
            ahead = _Ahead.start(client, entities, present, limit, pool)
            if ahead is not None:
                started.append(ahead)

        try:
            existing = (
                _existing(client, entities, inputs, pool, listed or {}, send_ahead)
                if check_existing
                else _Existing()
            )
        except FlyteAdminError as exc:
            if not is_unreachable(exc):
                raise
            gone = server_gone_outcome(endpoint, exc)
            notify(gone)
            return [*skipped(entities, SERVER_GONE, notify), gone]

        ahead = started[0] if started else None
        run = _BatchRun(client, limit, pool, existing, notify, ahead)
        try:
            outcomes = run_waves(
                launch_plans_last(waves),
                run.batch,
                continue_on_error=continue_on_error,
                on_outcome=notify,
                halted=run.halted,
            )
        finally:
            if ahead is not None:
                ahead.stop()
        logger.debug("register: calls in flight went %s", " -> ".join(map(str, limit.history)))
        if run.gone is not None:
            gone = server_gone_outcome(endpoint, run.gone)
            notify(gone)
            return [*outcomes, gone]
        if read_back:
            batches = launch_plans_last(waves)
            return _read_back(client, batches, outcomes, existing, inputs, notify, pool)
        return outcomes


def _limit(client: SynchronousFlyteClient, max_concurrency: int | None) -> ConcurrencyLimit:
    settings = client.settings
    if max_concurrency is not None:
        return ConcurrencyLimit(max_concurrency, max_concurrency, adaptive=False)
    ceiling = int(getattr(settings, "max_concurrency_ceiling", DEFAULT_CEILING))
    return ConcurrencyLimit(settings.max_concurrency, ceiling, adaptive=True)


@dataclass
class _Existing:
    """What the first lists showed, by identifier key.

    - `known`: tasks and launch plans held exactly as we would create them: `exists` without a create.
    - `present`: everything already held at its version, identical or not. A create of one cannot write
      (the answer is ALREADY_EXISTS or a conflict), so a batch of only such creates, a re-run's workflows,
      costs the server reads and starts at the ceiling (`_BatchRun.batch`).
    - `as_listed`: held as we would register it, as far as a list shows (a workflow's interface). One
      whose create then answers ALREADY_EXISTS wrote nothing, so the read-back has nothing to add for it:
      a re-run lists each kind once, before the creates, and not again after.
    """

    known: set[IdentifierKey] = field(default_factory=set)
    present: set[IdentifierKey] = field(default_factory=set)
    as_listed: set[IdentifierKey] = field(default_factory=set)


@dataclass(frozen=True)
class Prefetched:
    """The lists of `wanted` (resource type, version) pairs, read before `register_waves` was called for
    the entities whose names per pair are `names` (a list stops paging once it saw all of them)."""

    wanted: frozenset[tuple[int, str]]
    listing: Listing
    names: Mapping[tuple[int, str], set[str]] = field(default_factory=dict)

    def serves(self, wanted: set[tuple[int, str]], names: Mapping[tuple[int, str], set[str]]) -> bool:
        """True when these lists are what `register_waves` would read for `wanted` and `names`."""
        return self.wanted == wanted and self.names == names


def lists_wanted(entities: Iterable[Entity]) -> set[tuple[int, str]]:
    """The (resource type, version) pairs `register_waves` lists first for `entities` of one scope."""
    group = list(entities)
    # Workflows apart: their versions do not count against the tasks' and launch plans' budget.
    return wanted_lists(group, PROVABLE_KINDS) | wanted_lists(group, (WORKFLOW,))


def prefetch_lists(
    client: SynchronousFlyteClient,
    project: str,
    domain: str,
    entities: Iterable[Entity],
    pool: Executor | None = None,
) -> Prefetched:
    """Read the first lists of `register_waves` for `entities` (hydrated, or with at least their own ids
    as hydration fills them) ahead of it, for its `listed`; concurrently on `pool`. Errors propagate."""
    group = list(entities)
    wanted, names = frozenset(lists_wanted(group)), names_by_list(group)
    return Prefetched(wanted, list_registered(client, project, domain, wanted, pool, names), names)


def _existing(
    client: SynchronousFlyteClient,
    entities: Sequence[Entity],
    inputs: WorkflowInputs,
    pool: Executor,
    listed: Mapping[tuple[str, str], Prefetched],
    on_present: Callable[[_Existing], None] | None = None,
) -> _Existing:
    """What the server already holds of `entities` (see `_Existing`), from one list per kind and version,
    run concurrently. A list that fails (other than the server going away) only means nothing is known:
    every entity then gets its create, as it would have without the lists. `on_present` is called once
    `present` is complete, before the (slower) comparisons that fill `known` and `as_listed`."""
    existing = _Existing()
    listings: list[tuple[list[Entity], Listing]] = []
    for (project, domain), group in _by_scope(entities).items():
        wanted, names = lists_wanted(group), names_by_list(group)
        prefetched = listed.get((project, domain))
        try:
            if prefetched is not None and prefetched.serves(wanted, names):
                listing = prefetched.listing
            else:
                listing = list_registered(client, project, domain, wanted, pool, names)
        except FlyteAdminError as exc:
            if is_unreachable(exc):
                raise
            logger.warning(
                "register: listing what exists in %s/%s failed, creating everything: %s", project, domain, exc
            )
            continue
        listings.append((group, listing))
        existing.present.update(e.key for e in group if listing.get(e) is not None)
    if on_present is not None:
        on_present(existing)
    for group, listing in listings:
        for entity in group:
            found = held(entity, listing, inputs) if entity.key in existing.present else None
            if found is None:
                continue
            if found.as_listed:
                existing.as_listed.add(entity.key)
            if found.identical:
                existing.known.add(entity.key)
    return existing


def _by_scope(entities: Iterable[Entity]) -> dict[tuple[str, str], list[Entity]]:
    groups: dict[tuple[str, str], list[Entity]] = {}
    for entity in entities:
        groups.setdefault((entity.id.project, entity.id.domain), []).append(entity)
    return groups


class _BatchRun:
    """Registers batches for `run_waves`: known entities are `exists` at once, the rest fan out under
    `limit`; the first server-gone error ends the run (`gone`)."""

    def __init__(
        self,
        client: SynchronousFlyteClient,
        limit: ConcurrencyLimit,
        pool: ThreadPoolExecutor,
        existing: _Existing,
        notify: OutcomeCallback,
        ahead: _Ahead | None = None,
    ) -> None:
        self.client = client
        self.limit = limit
        self.pool = pool
        self.existing = existing
        self.known = existing.known
        self.notify = notify
        self.ahead = ahead
        self.gone: FlyteAdminError | None = None

    def halted(self) -> str | None:
        return SERVER_GONE if self.gone is not None else None

    def batch(self, batch: Sequence[Entity]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        to_create: list[int] = []
        for index, entity in enumerate(batch):
            if entity.key in self.known:
                known = entity_outcome(entity, Status.EXISTS, IDENTICAL)
                outcomes[index] = known
                self.notify(known)
            else:
                to_create.append(index)
        if self.ahead is not None:
            to_create = self._take_ahead(batch, to_create, outcomes)
        if to_create and self.gone is None:
            limit = self._limit_for(batch, to_create)
            results = fan_out([batch[i] for i in to_create], self._one, limit, self.pool)
            for index, result in zip(to_create, results, strict=True):
                outcomes[index] = result
        unfinished = [i for i, outcome in enumerate(outcomes) if outcome is None]
        for index, outcome in zip(
            unfinished, skipped([batch[i] for i in unfinished], SERVER_GONE, self.notify), strict=True
        ):
            outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    def _take_ahead(
        self, batch: Sequence[Entity], to_create: list[int], outcomes: list[Outcome | None]
    ) -> list[int]:
        """Fill in the outcomes of the creates sent ahead (`_Ahead`), in batch order, notified now that
        their batch runs; returns the indexes still to create here."""
        assert self.ahead is not None
        rest = []
        for index in to_create:
            sent = self.ahead.take(batch[index])
            if sent is None:
                rest.append(index)
            else:
                outcomes[index] = self._settle(*sent)
        return rest

    def _settle(self, outcome: Outcome | None, error: FlyteAdminError | None) -> Outcome | None:
        """One create's result as `run_waves` reports it: None (unfinished) when the server went away."""
        if outcome is None or (error is not None and never_reached(error)):
            if self.gone is None:
                self.gone = error
            return None
        self.notify(outcome)
        return outcome

    def _limit_for(self, batch: Sequence[Entity], to_create: Sequence[int]) -> ConcurrencyLimit:
        """The run's limit; for a batch whose every create targets an identifier already on the server
        (nothing can be written: a re-run's workflows), a limit of its own at the ceiling. Such creates
        cost the server reads, and the run's limit has measured nothing in a re-run (every task and launch
        plan was known), so probing up from the start would spend ten round trips on 200 workflows. The
        limit still halves if the server pushes back, and the run's limit learns nothing from this batch
        (it costs the server differently from one that writes)."""
        if not self.limit.adaptive or not to_create:
            return self.limit
        if all(batch[i].key in self.existing.present for i in to_create):
            return ConcurrencyLimit(self.limit.ceiling, self.limit.ceiling)
        return self.limit

    def _one(self, entity: Entity) -> Verdict[Outcome | None]:
        outcome, error = _attempt(self.client, entity)
        settled = self._settle(outcome, error)
        if settled is None:
            return Verdict(None, stop=True)
        return Verdict(settled, pushed_back=isinstance(error, _PUSH_BACK_ERRORS))


_PUSH_BACK_ERRORS = (FlyteResourceExhaustedException, FlyteSystemUnavailableException)
"""Failures that say "too much load" rather than "this entity is wrong" (after the transport's retries)."""


def _attempt(client: SynchronousFlyteClient, entity: Entity) -> tuple[Outcome | None, FlyteAdminError | None]:
    """`_create`, with the server-gone error returned as (None, error) instead of raised."""
    try:
        return _create(client, entity)
    except FlyteAdminError as exc:  # the server went away: this entity is not finished
        return None, exc


# ------------------------------------------------------------------------------------------ sent ahead


class _Ahead:
    """Creates that cannot write, sent as soon as the first lists are known instead of when their batch
    comes (a re-run's workflows: waiting for each batch in turn cost a round trip per batch).

    Which: every workflow already held at its identifier (so its create answers ALREADY_EXISTS or a
    conflict and writes nothing; a list cannot prove a workflow identical, so each gets a create) whose
    references within the package are all held too. They are chosen as soon as the lists say what is
    held, and sent while the tasks and launch plans are still being compared. flyteadmin compiles a
    workflow against what it references before it looks for the identifier, so with everything
    referenced already there the answer cannot depend on creates of this run: sent now or in its turn, a
    create gets the same answer. Nothing else changes: the answers are taken, and notified, by
    `_BatchRun.batch` when the batch runs, so outcomes, their order and the stop rule are as before; an
    answer whose batch is skipped is dropped (the create wrote nothing).

    They run on the register pool under a limit of their own at the ceiling (as `_BatchRun._limit_for`
    gives such batches); a register pinned to `max_concurrency` sends nothing ahead, so that pin holds.
    """

    def __init__(self, client: SynchronousFlyteClient, entities: Sequence[Entity]) -> None:
        self.client = client
        self.keys = {e.key for e in entities}
        self._results: dict[IdentifierKey, tuple[Outcome | None, FlyteAdminError | None]] = {}
        self._changed = threading.Condition()
        self._finished = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        client: SynchronousFlyteClient,
        entities: Sequence[Entity],
        existing: _Existing,
        limit: ConcurrencyLimit,
        pool: ThreadPoolExecutor,
    ) -> _Ahead | None:
        if not limit.adaptive:
            return None
        in_package = {e.key for e in entities}
        held = existing.present
        chosen = [
            e
            for e in entities
            if e.resource_type not in PROVABLE_KINDS
            and e.key in held
            and all(key in held or key not in in_package for key in map(identifier_key, e.references))
        ]
        if not chosen:
            return None
        ahead = cls(client, chosen)
        own_limit = ConcurrencyLimit(limit.ceiling, limit.ceiling)
        ahead._thread = threading.Thread(
            target=ahead._run, args=(chosen, own_limit, pool), name="register-ahead", daemon=True
        )
        ahead._thread.start()
        return ahead

    def _run(self, chosen: Sequence[Entity], limit: ConcurrencyLimit, pool: ThreadPoolExecutor) -> None:
        try:
            fan_out(chosen, self._send, limit, pool)
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def _send(self, entity: Entity) -> Verdict[None]:
        if self._stopping:
            return Verdict(None, stop=True)
        outcome, error = _attempt(self.client, entity)
        with self._changed:
            self._results[entity.key] = (outcome, error)
            self._changed.notify_all()
        gone = outcome is None or (error is not None and never_reached(error))
        return Verdict(None, pushed_back=isinstance(error, _PUSH_BACK_ERRORS), stop=gone)

    def take(self, entity: Entity) -> tuple[Outcome | None, FlyteAdminError | None] | None:
        """The answer to `entity`'s create sent ahead, waiting for it; None when it was not sent ahead
        (or not started: the server went away first), so the caller creates it itself."""
        if entity.key not in self.keys:
            return None
        with self._changed:
            self._changed.wait_for(lambda: entity.key in self._results or self._finished)
            return self._results.pop(entity.key, None)

    def stop(self) -> None:
        """Start nothing more and wait for what is in flight (before the pool shuts down)."""
        self._stopping = True
        if self._thread is not None:
            self._thread.join()


# ------------------------------------------------------------------------------------------ read back


def _read_back(
    client: SynchronousFlyteClient,
    batches: Sequence[Sequence[Entity]],
    outcomes: list[Outcome],
    existing: _Existing,
    inputs: WorkflowInputs,
    notify: OutcomeCallback,
    pool: Executor | None = None,
) -> list[Outcome]:
    """`outcomes` with every entity that a create reported created or exists checked against the server's
    lists; one that is missing or differs becomes `failed`. Entities proven by the first lists are not
    listed again, nor are those the first lists showed as registered whose create then answered
    ALREADY_EXISTS (nothing was written); a list that fails leaves the outcomes as they are (logged)."""
    # A workflow and its default launch plan share a name: the kind is part of the key.
    by_name = {(KIND_NAMES[e.resource_type], identifier_text(e.id)): e for batch in batches for e in batch}
    checked = [
        (index, by_name[o.kind, o.name])
        for index, o in enumerate(outcomes)
        if o.status in (Status.CREATED, Status.EXISTS)
        and (o.kind, o.name) in by_name
        and by_name[o.kind, o.name].key not in existing.known
        and not (o.status is Status.EXISTS and by_name[o.kind, o.name].key in existing.as_listed)
    ]
    result = list(outcomes)
    for (project, domain), group in _by_scope(e for _, e in checked).items():
        try:
            wanted = wanted_lists(group, KIND_NAMES)
            listing = list_registered(client, project, domain, wanted, pool, names_by_list(group))
        except FlyteAdminError as exc:
            if is_unreachable(exc):
                gone = server_gone_outcome(client.settings.endpoint, exc)
                notify(gone)
                return [*result, gone]
            logger.warning("register: reading back %s/%s failed: %s", project, domain, exc)
            continue
        in_scope = {e.key for e in group}
        for index, entity in checked:
            if entity.key not in in_scope:
                continue
            problem = read_back_problem(entity, listing, inputs)
            if problem is not None:
                result[index] = entity_outcome(entity, Status.FAILED, problem)
                notify(result[index])
    return result
