"""Flow: register a `pyflyte package` archive (or folder) in a project and domain at a version.

Deployed on demand by prefect.yaml. It runs the same steps as `ops.register.register_package` (the CLI's
fast path), split into task runs: one to prepare (check values, schedules and target, upload the source
archive, hydrate, order), one per dependency wave (each wave registers concurrently inside its task), and
one to activate scheduled launch plans if asked. The stop rule between waves is register's own
`run_waves`, so the flow and the CLI cannot disagree on what a conflict stops. Re-running registers
nothing new (`exists`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from prefect import flow

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.ops import register as register_ops
from flyteadmin_ops.ops.package import Entity, load_package
from flyteadmin_ops.ops.results import Outcome, Result
from flyteadmin_ops.tasks import (
    activate_scheduled_launch_plans,
    artifact_key,
    finish,
    prepare_registration,
    register_package_wave,
    resolve_connection,
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
        planned = register_ops.register_package(
            None, package, project, domain, version, dry_run=True, dest_dir=dest_dir
        )
        return finish(planned, key)
    block = resolve_connection(connection)
    loaded = load_package(package)  # a broken package fails here, before any task runs
    result = Result(register_ops.OPERATION)
    result.notes.append(f"target: {project}/{domain} version {version} ({loaded.source})")

    prepared = prepare_registration(block, loaded, project, domain, version, dest_dir)
    result.extend(prepared.outcomes)
    if not prepared.ready:
        result.extend(register_ops.skipped(prepared.package, "source archive upload failed"))
        return finish(result, key)

    numbers = count(1)
    went_away: list[Outcome] = []  # a wave's `server` outcome: Admin went away, attempt nothing more

    def register_wave(wave: Sequence[Entity]) -> list[Outcome]:
        named = register_package_wave.with_options(task_run_name=f"register-wave-{next(numbers)}")
        outcomes = named(block, wave, continue_on_error)
        went_away.extend(o for o in outcomes if o.kind == register_ops.SERVER_KIND)
        return outcomes

    outcomes = register_ops.run_waves(
        prepared.waves,
        register_wave,
        continue_on_error=continue_on_error,
        halted=lambda: register_ops.SERVER_GONE if went_away else None,
    )
    result.extend(outcomes)
    if went_away:
        result.notes.append(f"the server at {went_away[0].name} went away; re-run once it is back")
        return finish(result, key)
    if activate_schedules:
        result.extend(activate_scheduled_launch_plans(block, prepared.package, outcomes))
    return finish(result, key)
