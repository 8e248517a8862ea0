"""promote: make version V of launch plan N the active one in (project, domain), optionally copying it there
from another domain first.

Why each step:
- The previously active version is read first, so the result can say what was replaced and a failed
  activation can be undone. Activating V deactivates every other version of N (flyteadmin semantics), so
  "undo" means re-activating the previous version, or deactivating V when nothing was active before.
- After UpdateLaunchPlan the result is read back, uncached, two ways: GetActiveLaunchPlan must name V, and
  the versions of N listed as ACTIVE must be V alone (so the previous one is not): an answer can be lost,
  or another actor can activate something else at the same moment. Only a read proves it. A rollback is
  read back the same way (the previous version alone active, or none).
- Re-running a promotion finds V already active and writes nothing (`unchanged`), also across domains: a
  version active in the target domain was registered there with everything it refers to.
- Across domains (`from_domain`), the launch plan and everything it refers to in the source domain
  (its workflow with subworkflows, their tasks, launch plans called from the workflow, recursively) are read
  back from the server (workflows decompiled back to what a client registers, `ops.decompile`) and
  re-targeted to the target domain, then registered with register's wave machinery; a conflict names the
  fields that differ, as in register. Identifiers in other projects or domains are left as they are:
  they are references, not things to copy. Nothing is activated when any copy conflicts or fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.client import filters as F
from flyteadmin_ops.client.identifiers import launch_plan_id, named_entity_id
from flyteadmin_ops.errors import FlyteAdminError, FlyteEntityNotExistException
from flyteadmin_ops.ops import protowalk
from flyteadmin_ops.ops.decompile import spec_from_closure
from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    CreateRequest,
    IdentifierKey,
    dependency_waves,
    identifier_key,
    load_package,
)
from flyteadmin_ops.ops.register import check_target, identifier_text, register_waves
from flyteadmin_ops.ops.results import OperationInputError, Outcome, OutcomeCallback, Result, Status

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

OPERATION = "promote"
KIND = "launch_plan"


def promote_launch_plan(
    client: SynchronousFlyteClient,
    name: str,
    version: str,
    project: str,
    domain: str,
    *,
    from_domain: str | None = None,
    max_concurrency: int | None = None,
    on_outcome: OutcomeCallback | None = None,
) -> Result:
    """Activate `name` at `version` in (project, domain); see the module docstring.

    Raises `OperationInputError` when the launch plan version (or the source domain's copy) does not exist,
    or the target does not exist; RPC failures after that become outcomes.
    """
    for label, value in (("name", name), ("version", version), ("project", project), ("domain", domain)):
        if not value:
            raise OperationInputError(f"promote: {label} must not be empty")
    if from_domain == domain:
        from_domain = None
    result = Result(OPERATION)
    notify = on_outcome or (lambda _outcome: None)
    target = launch_plan_id(project, domain, name, version)
    check_target(client, project, domain)

    if from_domain is not None:
        copied = copy_from_domain(
            client, target, from_domain, max_concurrency=max_concurrency, on_outcome=notify
        )
        result.extend(copied)
        if copy_failed(copied):
            result.add(not_activated(target, notify))
            return result
    else:
        _require(client, target, f"launch plan {name} version {version} does not exist in {project}/{domain}")

    for outcome in activate_verified(client, target, result.notes):
        result.add(outcome)
        notify(outcome)
    return result


def copy_failed(copied: list[Outcome]) -> bool:
    """Nothing is activated when any part of the copy conflicted or failed."""
    return any(o.status.is_problem for o in copied)


def not_activated(target: identifier_pb2.Identifier, on_outcome: OutcomeCallback | None = None) -> Outcome:
    outcome = Outcome(KIND, identifier_text(target), Status.SKIPPED, "not activated: the copy failed")
    if on_outcome is not None:
        on_outcome(outcome)
    return outcome


def _require(client: SynchronousFlyteClient, ident: identifier_pb2.Identifier, message: str) -> None:
    try:
        client.get_launch_plan(ident)
    except FlyteEntityNotExistException:
        raise OperationInputError(message) from None


# ------------------------------------------------------------------------------------------ activation


def active_version(client: SynchronousFlyteClient, ident: identifier_pb2.Identifier) -> str | None:
    """The version of `ident`'s name that is ACTIVE now, or None when none is."""
    named = named_entity_id(ident.project, ident.domain, ident.name, ident.org)
    try:
        return str(client.get_active_launch_plan(named).id.version)
    except FlyteEntityNotExistException:
        return None


def active_versions(client: SynchronousFlyteClient, ident: identifier_pb2.Identifier) -> list[str]:
    """Every version of `ident`'s name whose state is ACTIVE (listed, so never from the entity cache)."""
    named = named_entity_id(ident.project, ident.domain, ident.name, ident.org)
    active = F.eq("state", launch_plan_pb2.ACTIVE)
    return sorted(str(plan.id.version) for plan in client.iter_launch_plans(named, filters=active))


def activate_verified(
    client: SynchronousFlyteClient, target: identifier_pb2.Identifier, notes: list[str]
) -> list[Outcome]:
    """Activate `target`, read the active version back, and undo the change when it cannot be verified."""
    text = identifier_text(target)
    previous = active_version(client, target)
    notes.append(f"previously active: {previous or 'none'}")
    if previous == target.version:
        return [Outcome(KIND, text, Status.UNCHANGED, f"version {target.version} is already active")]

    problem = _set_and_check(client, target, launch_plan_pb2.ACTIVE, expect=target.version)
    if problem is None:
        return [Outcome(KIND, text, Status.ACTIVATED, f"previously active: {previous or 'none'}")]

    failed = Outcome(KIND, text, Status.FAILED, f"activation could not be verified: {problem}")
    return [failed, _roll_back(client, target, previous)]


def _roll_back(
    client: SynchronousFlyteClient, target: identifier_pb2.Identifier, previous: str | None
) -> Outcome:
    """Restore what was active before: re-activate `previous`, or deactivate `target` if nothing was."""
    if previous is not None:
        earlier = identifier_pb2.Identifier()
        earlier.CopyFrom(target)
        earlier.version = previous
        problem = _set_and_check(client, earlier, launch_plan_pb2.ACTIVE, expect=previous)
        what = f"re-activated {previous}"
        subject = earlier
    else:
        problem = _set_and_check(client, target, launch_plan_pb2.INACTIVE, expect=None)
        what = f"no version was active before; deactivated {target.version}"
        subject = target
    if problem is None:
        return Outcome(KIND, identifier_text(subject), Status.ROLLED_BACK, what)
    return Outcome(
        KIND, identifier_text(subject), Status.FAILED, f"rollback ({what}) not verified: {problem}"
    )


def _set_and_check(
    client: SynchronousFlyteClient, ident: identifier_pb2.Identifier, state: int, *, expect: str | None
) -> str | None:
    """Set `ident`'s state, then read back; None when `expect` is the active version and the only version
    listed as active (none at all when `expect` is None), else what went wrong.

    An error from the update itself is not final: the server may have applied it before the answer was lost,
    so the read decides.
    """
    update_error = ""
    try:
        client.update_launch_plan(ident, state)
    except FlyteAdminError as exc:
        update_error = f"update failed ({exc}); "
    try:
        now = active_version(client, ident)
        listed = active_versions(client, ident)
    except FlyteAdminError as exc:
        return f"{update_error}reading the active version back failed: {exc}"
    wanted = [expect] if expect is not None else []
    if now == expect and listed == wanted:
        return None
    if now != expect:
        return f"{update_error}active version is {now or 'none'}, expected {expect or 'none'}"
    return (
        f"{update_error}versions listed as active: {', '.join(listed) or 'none'}, "
        f"expected {expect or 'none'} alone"
    )


# ------------------------------------------------------------------------------------------ cross-domain


def copy_from_domain(
    client: SynchronousFlyteClient,
    target: identifier_pb2.Identifier,
    from_domain: str,
    *,
    max_concurrency: int | None = None,
    on_outcome: OutcomeCallback | None = None,
) -> list[Outcome]:
    """Register in `target.domain` the launch plan `target` as it exists in `from_domain`, with everything
    it refers to in that domain. Returns register's outcomes (created / exists / conflict / ...), or none
    when `target` is already the active version: an active target was registered with all it refers to,
    so a re-run writes nothing."""
    check_target(client, target.project, from_domain)
    if active_version(client, target) == target.version:
        return []
    source = identifier_pb2.Identifier()
    source.CopyFrom(target)
    source.domain = from_domain
    requests = _collect(client, source)

    def retarget(ident: identifier_pb2.Identifier) -> None:
        if ident.project == source.project and ident.domain == from_domain:
            ident.domain = target.domain

    external: dict[IdentifierKey, identifier_pb2.Identifier] = {}
    for request in requests:
        for ident, _ in protowalk.identifiers(request):
            retarget(ident)
    copied = {identifier_key(r.id) for r in requests}
    for request in requests:
        for ref in protowalk.references(request.spec):
            if identifier_key(ref) not in copied:
                external[identifier_key(ref)] = ref
    package = load_package(requests, external=external.values())
    return register_waves(
        client, dependency_waves(package), max_concurrency=max_concurrency, on_outcome=on_outcome
    )


def _collect(client: SynchronousFlyteClient, root: identifier_pb2.Identifier) -> list[CreateRequest]:
    """Create requests for `root` and everything it refers to in its own project and domain."""
    readers: dict[int, Callable[[identifier_pb2.Identifier], CreateRequest]] = {
        LAUNCH_PLAN: lambda i: _launch_plan_request(client, i),
        WORKFLOW: lambda i: _workflow_request(client, i),
        TASK: lambda i: _task_request(client, i),
    }
    found: dict[IdentifierKey, CreateRequest] = {}
    pending = [root]
    while pending:
        ident = pending.pop()
        key = identifier_key(ident)
        if key in found:
            continue
        try:
            request = readers[ident.resource_type](ident)
        except FlyteEntityNotExistException:
            kind = {LAUNCH_PLAN: "launch plan", WORKFLOW: "workflow", TASK: "task"}[ident.resource_type]
            where = f"{ident.project}/{ident.domain}"
            raise OperationInputError(
                f"{kind} {ident.name} version {ident.version} does not exist in {where}"
            ) from None
        found[key] = request
        embedded = {identifier_key(i) for i, defining in protowalk.identifiers(request.spec) if defining}
        for ref in protowalk.references(request.spec):
            ref_key = identifier_key(ref)
            same_scope = ref.project == root.project and ref.domain == root.domain
            if (
                same_scope
                and ref_key not in found
                and ref_key not in embedded
                and ref.resource_type in readers
            ):
                pending.append(ref)
    return list(found.values())


def _launch_plan_request(
    client: SynchronousFlyteClient, ident: identifier_pb2.Identifier
) -> launch_plan_pb2.LaunchPlanCreateRequest:
    plan = client.get_launch_plan(ident)
    return launch_plan_pb2.LaunchPlanCreateRequest(id=plan.id, spec=plan.spec)


def _workflow_request(
    client: SynchronousFlyteClient, ident: identifier_pb2.Identifier
) -> workflow_pb2.WorkflowCreateRequest:
    """What registered the workflow: flyteadmin stores it compiled (start and end nodes, renamed branch
    nodes), and re-registering that as is would not give the same workflow (`ops.decompile`)."""
    compiled = client.get_workflow(ident).closure.compiled_workflow
    return workflow_pb2.WorkflowCreateRequest(id=ident, spec=spec_from_closure(compiled))


def _task_request(
    client: SynchronousFlyteClient, ident: identifier_pb2.Identifier
) -> task_pb2.TaskCreateRequest:
    template = client.get_task(ident).closure.compiled_task.template
    return task_pb2.TaskCreateRequest(id=ident, spec=task_pb2.TaskSpec(template=template))
