"""register-all: put a `pyflyte package` into (project, domain) at a version, idempotently.

The steps, and why they are in this order:
1. Load and check the package offline (`ops.package`, and flytectl's check that a scheduled launch plan can
   start without inputs): a broken archive, a dangling reference or an unlaunchable schedule fails before
   any RPC, so nothing is half-applied.
2. Check that the project and domain exist. flyteadmin answers a create in an unknown project with a generic
   INVALID_ARGUMENT per entity; asking first turns that into one clear input error, again before any write.
3. Upload the `fast*.tar.gz` through the data proxy and put its URL into the task args. The location is
   content-addressed (flyteadmin's folder is the base32 of the MD5 we send), so a re-run PUTs the same bytes
   to the same object, which changes nothing. There is no "already there, same hash" answer to skip on:
   flyteadmin signs a fresh URL whenever the MD5 matches (it only HEADs the target when a `filename_root`
   is given), and ALREADY_EXISTS only ever means a *different* file occupies a fixed location (or no MD5
   was sent). So the PUT always happens, and ALREADY_EXISTS is reported as the failure it is. The PUT
   sends the archive's own length (never the server's `Content-Length`, which is that of the MD5 text) and
   the stored object is read back and compared before anything is registered (`ops.upload`).
4. Register wave by wave (`dependency_waves`): each wave concurrently, up to `max_concurrency` calls in
   flight. Identical entities are `exists`, different structure is `conflict` with the fields that differ
   (`ops.conflicts`: read from the server's diff for tasks and launch plans, by comparing with the
   registered workflow for workflows, whose server diff lists nearly everything).
   Unless `continue_on_error`, the first wave with a problem is the last one attempted, and inside a wave
   launch plans are only created once everything else in that wave succeeded: a broken task or workflow
   never leaves a launch plan (or a schedule) behind.
5. Optionally activate launch plans that carry a schedule, also when they already existed.

`register_waves` is the reusable part (step 4), used by `ops.promote` for cross-domain copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flyteidl.admin import launch_plan_pb2
from flyteidl.admin.common_pb2 import ObjectGetRequest
from flyteidl.core import identifier_pb2

from flyteadmin_ops.errors import (
    FlyteAdminError,
    FlyteEntityAlreadyExistsException,
    FlyteEntityConflictException,
    FlyteEntityNotExistException,
)
from flyteadmin_ops.ops.conflicts import explain_conflict
from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    Entity,
    Package,
    PackageError,
    Source,
    dependency_waves,
    hydrate,
    load_package,
)
from flyteadmin_ops.ops.results import OperationInputError, Outcome, OutcomeCallback, Result, Status
from flyteadmin_ops.ops.upload import UPLOAD_KIND, upload_fast_archive

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

OPERATION = "register"
NOT_ATTEMPTED = "not attempted: an earlier entity conflicted or failed"

KIND_NAMES = {TASK: "task", WORKFLOW: "workflow", LAUNCH_PLAN: "launch_plan"}
_CREATE_METHODS = {TASK: "create_task", WORKFLOW: "create_workflow", LAUNCH_PLAN: "create_launch_plan"}


def identifier_text(ident: identifier_pb2.Identifier) -> str:
    """`project:domain:name:version`, the way entities are named in every result."""
    return f"{ident.project}:{ident.domain}:{ident.name}:{ident.version}"


def _outcome(entity: Entity, status: Status, detail: str = "") -> Outcome:
    return Outcome(KIND_NAMES[entity.resource_type], identifier_text(entity.id), status, detail)


# ------------------------------------------------------------------------------------------ entry point


def register_package(
    client: SynchronousFlyteClient | None,
    source: Source | Package,
    project: str,
    domain: str,
    version: str,
    *,
    dry_run: bool = False,
    continue_on_error: bool = False,
    activate_schedules: bool = False,
    max_concurrency: int | None = None,
    dest_dir: str = ".",
    on_outcome: OutcomeCallback | None = None,
) -> Result:
    """Register every entity of `source` in (project, domain) at `version`; see the module docstring.

    `client` may be None for a dry run, which works offline. Raises `OperationInputError` (including
    `PackageError`) for bad input, always before anything is written; RPC failures become outcomes.
    The steps are public (`prepare`, `register_waves`, `activate_scheduled`) so that a Prefect flow can run
    them as separate task runs, one per wave.
    """
    package = source if isinstance(source, Package) else load_package(source)
    result = Result(OPERATION, dry_run=dry_run)
    result.notes.append(f"target: {project}/{domain} version {version} ({package.source})")
    notify = on_outcome or (lambda _outcome: None)

    if dry_run:
        return _plan(package, project, domain, version, dest_dir, result, notify)
    if client is None:
        raise OperationInputError("register: a client is needed unless dry_run=True")

    prepared = prepare(client, package, project, domain, version, dest_dir=dest_dir, on_outcome=notify)
    result.extend(prepared.outcomes)
    if not prepared.ready:
        result.extend(skipped(prepared.package, "source archive upload failed", notify))
        return result
    outcomes = register_waves(
        client,
        prepared.waves,
        continue_on_error=continue_on_error,
        max_concurrency=max_concurrency,
        on_outcome=notify,
    )
    result.extend(outcomes)
    if activate_schedules:
        result.extend(activate_scheduled(client, prepared.package, outcomes, notify))
    return result


@dataclass(frozen=True)
class Prepared:
    """A package checked against the server, its source archive uploaded, hydrated and ordered.
    `ready` is False when the upload failed: then nothing may be registered (task args would be wrong)."""

    package: Package
    waves: list[list[Entity]]
    outcomes: list[Outcome]
    ready: bool


def prepare(
    client: SynchronousFlyteClient,
    source: Source | Package,
    project: str,
    domain: str,
    version: str,
    *,
    dest_dir: str = ".",
    on_outcome: OutcomeCallback | None = None,
) -> Prepared:
    """Steps 1-3 of the module docstring: everything before the first create."""
    package = source if isinstance(source, Package) else load_package(source)
    hydrate(package, project, domain, version, dest_dir=dest_dir)  # validates the values before any RPC
    check_schedules(package)
    check_target(client, project, domain)
    outcomes: list[Outcome] = []
    source_url = None
    if package.fast_archive is not None:
        upload = upload_fast_archive(client, project, domain, package.fast_archive)
        outcomes.append(upload.outcome)
        if on_outcome is not None:
            on_outcome(upload.outcome)
        if upload.native_url is None:
            return Prepared(package, [], outcomes, ready=False)
        source_url = upload.native_url
    hydrated = hydrate(package, project, domain, version, source_url=source_url, dest_dir=dest_dir)
    return Prepared(hydrated, dependency_waves(hydrated), outcomes, ready=True)


def skipped(
    entities: Iterable[Entity], reason: str, on_outcome: OutcomeCallback | None = None
) -> list[Outcome]:
    """`skipped` outcomes for entities that will not be attempted."""
    outcomes = [_outcome(e, Status.SKIPPED, reason) for e in entities]
    for outcome in outcomes:
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


def _plan(
    package: Package,
    project: str,
    domain: str,
    version: str,
    dest_dir: str,
    result: Result,
    notify: OutcomeCallback,
) -> Result:
    """The dry run: everything register would do, computed offline."""
    hydrated = hydrate(package, project, domain, version, dest_dir=dest_dir)
    check_schedules(hydrated)
    if package.fast_archive is not None:
        archive = package.fast_archive
        detail = f"would upload {len(archive.data)} bytes, md5 {archive.md5.hex()}"
        result.add(Outcome(UPLOAD_KIND, archive.name, Status.PLANNED, detail))
    for number, wave in enumerate(dependency_waves(hydrated), start=1):
        for entity in wave:
            result.add(_outcome(entity, Status.PLANNED, f"wave {number}"))
    for outcome in result.outcomes:
        notify(outcome)
    return result


# ------------------------------------------------------------------------------------------ target check


def check_target(client: SynchronousFlyteClient, project: str, domain: str) -> None:
    """Fail with an input error, before any write, when the project or domain does not exist."""
    try:
        found = client.get_project(project)
    except FlyteEntityNotExistException:
        raise OperationInputError(f"project {project!r} does not exist on the server") from None
    if found.state == found.ARCHIVED:
        raise OperationInputError(f"project {project!r} is archived; unarchive it before registering")
    domains = [d.id for d in client.get_domains()]
    if domain not in domains:
        raise OperationInputError(f"domain {domain!r} does not exist (the server has {', '.join(domains)})")


# ------------------------------------------------------------------------------------------ waves


def create_entity(client: SynchronousFlyteClient, entity: Entity) -> Outcome:
    """One create RPC, with flyteadmin's answers mapped to outcomes (never raises for an RPC error)."""
    create: Callable[[identifier_pb2.Identifier, object], None] = getattr(
        client, _CREATE_METHODS[entity.resource_type]
    )
    try:
        create(entity.request.id, entity.request.spec)
    except FlyteEntityAlreadyExistsException:
        return _outcome(entity, Status.EXISTS, "identical structure already registered")
    except FlyteEntityConflictException as exc:
        return conflict_outcome(client, entity, exc)
    except FlyteAdminError as exc:
        return _outcome(entity, Status.FAILED, str(exc))
    return _outcome(entity, Status.CREATED)


def conflict_outcome(
    client: SynchronousFlyteClient, entity: Entity, error: FlyteEntityConflictException
) -> Outcome:
    """A `conflict` naming the fields that differ (see `ops.conflicts`), the server's text kept aside."""
    report = explain_conflict(client, entity.request, error)
    return Outcome(
        KIND_NAMES[entity.resource_type],
        identifier_text(entity.id),
        Status.CONFLICT,
        report.detail,
        changes=report.changes,
        server_message=report.server_message,
    )


WaveRunner = Callable[[Sequence[Entity]], list[Outcome]]
"""Registers one batch of entities and returns their outcomes (a thread pool here, a Prefect task run in
the register-all flow)."""


def run_waves(
    waves: Iterable[Sequence[Entity]],
    register: WaveRunner,
    *,
    continue_on_error: bool = False,
    on_outcome: OutcomeCallback | None = None,
) -> list[Outcome]:
    """The stop rule, in one place for the CLI, the library and the flow: batches run in order, and
    without `continue_on_error` the first batch with a conflict or failure is the last one attempted;
    every later entity is reported `skipped`. `register` notifies its own outcomes."""
    outcomes: list[Outcome] = []
    stopped = False
    for batch in waves:
        if not batch:
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


def register_waves(
    client: SynchronousFlyteClient,
    waves: Sequence[Sequence[Entity]],
    *,
    continue_on_error: bool = False,
    max_concurrency: int | None = None,
    on_outcome: OutcomeCallback | None = None,
) -> list[Outcome]:
    """Create the entities wave by wave; outcomes come back in wave order, package order inside a wave.

    Each wave runs on a pool of at most `max_concurrency` threads (settings.max_concurrency by default)
    and finishes before the next starts, so nothing is created before what it refers to. Stopping follows
    `run_waves` over `launch_plans_last(waves)`.
    """
    notify = on_outcome or (lambda _outcome: None)
    workers = max_concurrency or client.settings.max_concurrency

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="register") as pool:

        def run(entity: Entity) -> Outcome:
            outcome = create_entity(client, entity)
            notify(outcome)
            return outcome

        return run_waves(
            launch_plans_last(waves),
            lambda batch: list(pool.map(run, batch)),
            continue_on_error=continue_on_error,
            on_outcome=notify,
        )


# ------------------------------------------------------------------------------------------ schedules


def has_schedule(spec: launch_plan_pb2.LaunchPlanSpec) -> bool:
    schedule = spec.entity_metadata.schedule
    return spec.entity_metadata.HasField("schedule") and schedule.WhichOneof("ScheduleExpression") is not None


def check_schedules(package: Package) -> None:
    """flytectl's check for scheduled launch plans, done offline (flytectl asks the server for the
    workflow): a schedule starts runs with no inputs but the kickoff time, so every other input needs a
    default or a fixed value. Raises PackageError naming the launch plan and the inputs."""
    for entity in package.of_type(LAUNCH_PLAN):
        spec = entity.request.spec
        if not isinstance(spec, launch_plan_pb2.LaunchPlanSpec) or not has_schedule(spec):
            continue
        kickoff = spec.entity_metadata.schedule.kickoff_time_input_arg
        missing = sorted(
            name
            for name, parameter in spec.default_inputs.parameters.items()
            if name != kickoff
            and name not in spec.fixed_inputs.literals
            and parameter.WhichOneof("behavior") in (None, "required")
        )
        if missing:
            raise PackageError(
                entity.source,
                f"{entity} has a schedule, but input(s) {', '.join(missing)} have neither a default nor a "
                "fixed value, so a scheduled run could not start",
            )


def activate_scheduled(
    client: SynchronousFlyteClient,
    package: Package,
    outcomes: list[Outcome],
    on_outcome: OutcomeCallback | None = None,
) -> list[Outcome]:
    """Activate the package's launch plans that have a schedule and were registered (created or exists)
    according to `outcomes`; an already active one is `unchanged`."""
    registered = {o.name for o in outcomes if o.status in (Status.CREATED, Status.EXISTS)}
    results: list[Outcome] = []
    for entity in package.of_type(LAUNCH_PLAN):
        spec = entity.request.spec
        if not isinstance(spec, launch_plan_pb2.LaunchPlanSpec) or not has_schedule(spec):
            continue
        if identifier_text(entity.id) not in registered:
            continue
        outcome = activate_launch_plan(client, entity.id, reason="has a schedule")
        results.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return results


def activate_launch_plan(
    client: SynchronousFlyteClient, ident: identifier_pb2.Identifier, *, reason: str = ""
) -> Outcome:
    """Make `ident` the ACTIVE version of its name; `unchanged` when it already is."""
    name = identifier_text(ident)
    suffix = f" ({reason})" if reason else ""
    try:
        # Read uncached: the state is exactly what other actors change.
        current = client.raw.get_launch_plan(ObjectGetRequest(id=ident))
        if current.closure.state == launch_plan_pb2.ACTIVE:
            return Outcome("launch_plan", name, Status.UNCHANGED, "already active" + suffix)
        client.update_launch_plan(ident, launch_plan_pb2.ACTIVE)
    except FlyteAdminError as exc:
        return Outcome("launch_plan", name, Status.FAILED, f"activation failed: {exc}")
    return Outcome("launch_plan", name, Status.ACTIVATED, "activated" + suffix)
