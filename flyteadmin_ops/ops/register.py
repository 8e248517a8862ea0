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
   the stored object is read back and compared before anything is registered (`ops.upload`). The URL is
   signed beside the domain check (flyteadmin's signing neither looks at the target nor writes); the PUT
   waits for the check to pass.
4. Register wave by wave (`dependency_waves`; the engine is `ops.wave_registration`): first list what
   the server already holds at the version (read ahead, beside the target check; tasks and launch plans
   identical to ours are `exists` without a create), then each wave concurrently (the calls in flight
   adapt to the server unless `max_concurrency` pins them, `ops.concurrency`), then read back what was
   written. Identical entities are `exists`, different structure is `conflict` with the fields that
   differ (`ops.conflicts`: read from the server's diff for tasks and launch plans, by comparing with the
   registered workflow for workflows, whose server diff lists nearly everything). A create that cannot
   write (a workflow already held, with everything it refers to held too) is sent as soon as the lists
   say so, not when its wave comes; its answer is taken when the wave runs.
   Unless `continue_on_error`, the first wave with a problem is the last one attempted, and inside a wave
   launch plans are only created once everything else in that wave succeeded: a broken task or workflow
   never leaves a launch plan (or a schedule) behind. If Admin goes away (the transport's circuit breaker
   raises `FlyteAdminUnreachable`), nothing more is attempted and the notes say so.
5. Optionally activate launch plans that carry a schedule, also when they already existed.

`register_waves` is the reusable part (step 4), used by `ops.promote` for cross-domain copies. Its
helpers (`create_entity`, `run_waves`, `launch_plans_last`, `skipped`, ...) are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyteidl.admin import launch_plan_pb2, project_pb2
from flyteidl.admin.common_pb2 import ObjectGetRequest
from flyteidl.core import identifier_pb2

from flyteadmin_ops.errors import FlyteAdminError, FlyteEntityNotExistException
from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    Entity,
    FastArchive,
    Package,
    PackageError,
    Source,
    dependency_waves,
    hydrate,
    identifier_key,
    load_package,
)
from flyteadmin_ops.ops.results import OperationInputError, Outcome, OutcomeCallback, Result, Status
from flyteadmin_ops.ops.upload import UPLOAD_KIND, Upload, upload_fast_archive
from flyteadmin_ops.ops.wave_registration import (
    KIND_NAMES,
    NOT_ATTEMPTED,
    SERVER_GONE,
    SERVER_KIND,
    Prefetched,
    WaveRunner,
    conflict_outcome,
    create_entity,
    entity_outcome,
    identifier_text,
    launch_plans_last,
    prefetch_lists,
    register_waves,
    run_waves,
    skipped,
)

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

OPERATION = "register"

__all__ = [
    "KIND_NAMES",
    "NOT_ATTEMPTED",
    "OPERATION",
    "SERVER_GONE",
    "SERVER_KIND",
    "Prepared",
    "WaveRunner",
    "activate_launch_plan",
    "activate_scheduled",
    "check_schedules",
    "check_target",
    "conflict_outcome",
    "create_entity",
    "has_schedule",
    "identifier_text",
    "launch_plans_last",
    "prepare",
    "register_package",
    "register_waves",
    "run_waves",
    "skipped",
    "start_target_check",
    "upload_fast_archive",
]


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

    prepared = prepare(
        client, package, project, domain, version, dest_dir=dest_dir, on_outcome=notify, read_ahead=True
    )
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
        listed=prepared.listed,
    )
    result.extend(outcomes)
    gone = [o for o in outcomes if o.kind == SERVER_KIND]
    if gone:
        not_attempted = sum(o.detail == SERVER_GONE for o in outcomes)
        result.notes.append(
            f"the server at {gone[0].name} went away; {not_attempted} entities not attempted "
            "(a re-run registers them and finds the rest as exists)"
        )
        return result
    if activate_schedules:
        result.extend(activate_scheduled(client, prepared.package, outcomes, notify))
    return result


def _as_hydrated(package: Package, project: str, domain: str, version: str) -> list[Entity]:
    """The package's entities with their own ids as `hydrate` will fill them (only the ids: enough to
    know what to list, without hydrating 1,600 entities twice)."""
    entities = []
    for entity in package:
        ident = identifier_pb2.Identifier()
        ident.CopyFrom(entity.id)
        ident.project, ident.domain = project, domain
        ident.version = identifier_key(ident)[4] or version
        request = type(entity.request)(id=ident)
        entities.append(Entity(entity.resource_type, request, entity.source, ()))
    return entities


def _read_ahead(
    client: SynchronousFlyteClient,
    package: Package,
    project: str,
    domain: str,
    version: str,
    pool: ThreadPoolExecutor,
) -> Prefetched:
    """`prefetch_lists` for the package's own ids as hydration fills them, worked out on the pool thread
    (the caller meanwhile waits for the domains and goes on to the upload)."""
    return prefetch_lists(client, project, domain, _as_hydrated(package, project, domain, version), pool)


def _prefetched(lists: Future[Prefetched], project: str, domain: str) -> dict[tuple[str, str], Prefetched]:
    """The lists read ahead, for `register_waves`; none when reading them failed (it lists again, and
    handles that failure as it always does)."""
    try:
        return {(project, domain): lists.result()}
    except Exception:  # any failure only means nothing was read ahead
        return {}


@dataclass(frozen=True)
class Prepared:
    """A package checked against the server, its source archive uploaded, hydrated and ordered.
    `ready` is False when the upload failed: then nothing may be registered (task args would be wrong)."""

    package: Package
    waves: list[list[Entity]]
    outcomes: list[Outcome]
    ready: bool
    listed: dict[tuple[str, str], Prefetched] = field(default_factory=dict)
    """With `read_ahead`: the first lists of `register_waves`, read beside the target check (pass as
    `listed`)."""


_PRELUDE_WORKERS = 8
"""Threads for what runs before the first create: the read-ahead lists (one per kind and version, plus the
thread that gathers them), the domain list beside the project check, the upload and its download URL."""


def prepare(
    client: SynchronousFlyteClient,
    source: Source | Package,
    project: str,
    domain: str,
    version: str,
    *,
    dest_dir: str = ".",
    on_outcome: OutcomeCallback | None = None,
    read_ahead: bool = False,
) -> Prepared:
    """Steps 1-3 of the module docstring: everything before the first create. `read_ahead`: also read
    the lists `register_waves` starts with (they are reads, and on a re-run they are most of what register
    waits for). They are sent once the project is found, beside the domains: what they find is only used
    once the check passed, and a missing project or an unreachable server fails exactly as without them.
    The package is hydrated while the archive is PUT and read back."""
    package = source if isinstance(source, Package) else load_package(source)
    # Validate the values before any RPC; an empty package makes that cheap (hydrating 1,600 entities
    # is the largest step here, so the package itself is hydrated once, when the upload's URL is known).
    hydrate(Package((), source=package.source), project, domain, version, dest_dir=dest_dir)
    check_schedules(package)
    with ThreadPoolExecutor(max_workers=_PRELUDE_WORKERS, thread_name_prefix="register-prelude") as pool:
        target_checked = start_target_check(client, project, domain, pool)
        lists = None
        if read_ahead:
            lists = pool.submit(_read_ahead, client, package, project, domain, version, pool)
        upload = None
        if package.fast_archive is not None:
            upload = _UploadInBackground(client, project, domain, package.fast_archive, pool)
        try:
            target_checked()
        except BaseException:  # the PUT, the first write, waits for the check: nothing is written
            if upload is not None:
                upload.clear(False)
            raise
        if upload is not None:
            upload.clear(True)
        outcomes: list[Outcome] = []
        source_url = None
        if upload is not None:
            source_url = upload.location()
            if source_url is None:  # refused before a URL was known: nothing to hydrate with
                return _upload_failed(package, upload.finished(), outcomes, on_outcome)
        hydrated = hydrate(package, project, domain, version, source_url=source_url, dest_dir=dest_dir)
        if upload is not None:
            done = upload.finished()
            if done.native_url is None:
                return _upload_failed(package, done, outcomes, on_outcome)
            outcomes.append(done.outcome)
            if on_outcome is not None:
                on_outcome(done.outcome)
        listed = _prefetched(lists, project, domain) if lists is not None else {}
    # Ordered only now, as before: a dependency cycle is raised after the upload's outcome, not instead.
    return Prepared(hydrated, dependency_waves(hydrated), outcomes, ready=True, listed=listed)


class _UploadInBackground:
    """`upload_fast_archive` on a pool thread, so that the caller can hydrate the package with the URL as
    soon as flyteadmin has signed it, while the archive is PUT and read back. The signing starts at once,
    beside the domain check (it writes nothing); the PUT waits for `clear`."""

    def __init__(
        self,
        client: SynchronousFlyteClient,
        project: str,
        domain: str,
        archive: FastArchive,
        pool: ThreadPoolExecutor,
    ) -> None:
        self._located: Future[str] = Future()
        self._cleared: Future[bool] = Future()
        self._upload = pool.submit(
            upload_fast_archive,
            client,
            project,
            domain,
            archive,
            pool,
            self._located.set_result,
            self._cleared.result,
        )

    def clear(self, passed: bool) -> None:
        """Let the upload write (`passed`: the target check passed), or end it before the PUT."""
        self._cleared.set_result(passed)

    def location(self) -> str | None:
        """The object's URL once signed, or None when the upload ended (failed) before that."""
        either: list[Future[Any]] = [self._located, self._upload]
        wait(either, return_when=FIRST_COMPLETED)
        return self._located.result() if self._located.done() else None

    def finished(self) -> Upload:
        return self._upload.result()


def _upload_failed(
    package: Package, upload: Upload, outcomes: list[Outcome], on_outcome: OutcomeCallback | None
) -> Prepared:
    outcomes.append(upload.outcome)
    if on_outcome is not None:
        on_outcome(upload.outcome)
    return Prepared(package, [], outcomes, ready=False)


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
            result.add(entity_outcome(entity, Status.PLANNED, f"wave {number}"))
    for outcome in result.outcomes:
        notify(outcome)
    return result


# ------------------------------------------------------------------------------------------ target check


def check_target(
    client: SynchronousFlyteClient, project: str, domain: str, pool: Executor | None = None
) -> None:
    """Fail with an input error, before any write, when the project or domain does not exist."""
    start_target_check(client, project, domain, pool)()


def start_target_check(
    client: SynchronousFlyteClient, project: str, domain: str, pool: Executor | None = None
) -> Callable[[], None]:
    """`check_target` in two halves. The project is asked for now, alone, and a missing or archived one
    (or a server that cannot be reached) raises here, exactly as `check_target` does: no other call is
    in flight to change what that error says. With a `pool` the domains are then asked for on it, and the
    returned function waits for them and raises as `check_target` does; `prepare` sends its read-ahead
    lists in between, behind the domains."""
    try:
        found = client.get_project(project)
    except FlyteEntityNotExistException:
        raise OperationInputError(f"project {project!r} does not exist on the server") from None
    if found.state == found.ARCHIVED:
        raise OperationInputError(f"project {project!r} is archived; unarchive it before registering")
    if pool is None:
        return lambda: _check_domain(client.get_domains(), domain)
    domains = pool.submit(client.get_domains)
    return lambda: _check_domain(domains.result(), domain)


def _check_domain(found: list[project_pb2.Domain], domain: str) -> None:
    domains = [d.id for d in found]
    if domain not in domains:
        raise OperationInputError(f"domain {domain!r} does not exist (the server has {', '.join(domains)})")


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
