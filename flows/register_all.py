"""Flow: register a `pyflyte package` archive (or folder) in a project and domain at a version.

Deployed on demand by prefect.yaml. Task runs: one to check the target and upload the source archive, one
per dependency wave (each wave registers concurrently inside its task), and one to activate scheduled
launch plans if asked. Loading, validation and hydration happen in the flow itself, offline, so a broken
package fails before any task writes anything. Re-running registers nothing new (`exists`).
"""

from __future__ import annotations

from collections.abc import Iterable

from prefect import flow

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.ops import register as register_ops
from flyteadmin_ops.ops.package import LAUNCH_PLAN, Entity, dependency_waves, hydrate, load_package
from flyteadmin_ops.ops.results import Outcome, Result, Status
from flyteadmin_ops.tasks import (
    activate_scheduled_launch_plans,
    artifact_key,
    finish,
    register_package_wave,
    resolve_connection,
    upload_source_archive,
)


@flow(name="register-all")
def register_all(
    package: str,
    project: str,
    domain: str,
    version: str,
    connection: FlyteAdminConnection | str = "flyteadmin",
    continue_on_error: bool = False,
    activate_schedules: bool = False,
    dry_run: bool = False,
    dest_dir: str = ".",
) -> Result:
    """Register every entity of `package` in `project`/`domain` at `version`.

    Example:
        ```python
        from flyteadmin_ops.flows.register_all import register_all

        register_all("dist/pkg.tgz", "flytesnacks", "staging", "v42", "production-admin")
        ```
    """
    key = artifact_key("register-all", project, domain)
    if dry_run:  # offline: the plan is computed without any RPC, so no task (and no connection) is needed
        return finish(
            register_ops.register_package(None, package, project, domain, version, dry_run=True), key
        )
    block = resolve_connection(connection)
    loaded = load_package(package)
    hydrate(loaded, project, domain, version, dest_dir=dest_dir)  # rejects bad values before any RPC
    result = Result(register_ops.OPERATION)
    result.notes.append(f"target: {project}/{domain} version {version} ({loaded.source})")

    upload = upload_source_archive(block, loaded, project, domain)
    if upload is not None:
        result.add(upload.outcome)
        if upload.native_url is None:
            result.extend(_skipped(loaded, "source archive upload failed"))
            return finish(result, key)
    source_url = upload.native_url if upload is not None else None
    hydrated = hydrate(loaded, project, domain, version, source_url=source_url, dest_dir=dest_dir)

    stopped = False
    for number, wave in enumerate(dependency_waves(hydrated), start=1):
        if stopped:
            result.extend(_skipped(wave, "not attempted: an earlier entity failed"))
            continue
        outcomes = register_package_wave.with_options(task_run_name=f"register-wave-{number}")(
            block, wave, continue_on_error
        )
        result.extend(outcomes)
        stopped = not continue_on_error and any(o.status.is_problem for o in outcomes)

    if activate_schedules:
        registered = {o.name for o in result.with_status(Status.CREATED, Status.EXISTS)}
        scheduled = [
            entity.id
            for entity in hydrated.of_type(LAUNCH_PLAN)
            if register_ops.has_schedule(entity.request.spec)
            and register_ops.identifier_text(entity.id) in registered
        ]
        if scheduled:
            result.extend(activate_scheduled_launch_plans(block, scheduled))
    return finish(result, key)


def _skipped(entities: Iterable[Entity], why: str) -> list[Outcome]:
    return [
        Outcome(
            register_ops.KIND_NAMES[e.resource_type], register_ops.identifier_text(e.id), Status.SKIPPED, why
        )
        for e in entities
    ]
