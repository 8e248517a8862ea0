"""What the server already holds at the versions being registered, read in a few list calls.

Why: most CI re-runs register a package that is already there, and a create per entity only to hear
ALREADY_EXISTS costs one round trip each (1,600 of them for a large package). ListTasks and ListLaunchPlans
filtered by `eq(version,V)` return whole entities, a thousand per page, so two or three calls say which
creates would change nothing. The same lists read the result back after writing.

What "identical" means here is what flyteadmin decides on, so an entity reported `exists` without a create
is one the create would have answered ALREADY_EXISTS for:
- a task: flyteadmin stores the template with its id replaced by the request's id and digests that compiled
  task (the description is not part of it); ListTasks returns that template.
- a launch plan: flyteadmin digests the spec after adding every workflow input that is neither a default nor
  fixed as a required parameter; ListLaunchPlans returns that rewritten spec. Ours is compared after the same
  rewrite when the workflow is in the package, as it is when our spec already lists every input (flytekit's
  launch plans always do).
- a workflow cannot be proven identical this way: a real ListWorkflows returns only the interface of each
  compiled workflow, and the digest is over the whole compiled closure. Workflows always get their create;
  the interface is still enough to read back that a workflow is there and has the interface we sent, and
  listing them first tells which creates cannot write (the identifier is taken: ALREADY_EXISTS or a
  conflict), which register sends at its full concurrency.

Anything not provably identical is left to its create, so `conflict` keeps the server's own diff. A version
that the filter grammar cannot carry (`+` joins filters, `,` `(` `)` split them) is never listed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.admin.common_pb2 import NamedEntityIdentifier, ResourceListRequest, Sort
from flyteidl.core import interface_pb2, tasks_pb2
from google.protobuf.message import Message

from flyteadmin_ops.errors import FlyteResourceExhaustedException
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, WORKFLOW, Entity, IdentifierKey, identifier_key

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

PAGE_LIMIT = 1000
"""Items per list call. flyteadmin has no maximum; a page of a thousand tasks is a few MB."""
SMALL_PAGE_LIMIT = 100
"""Used instead when a page of PAGE_LIMIT is larger than the client may receive."""
MAX_LISTED_VERSIONS = 8
"""A package that pins more distinct versions than this is not listed (each version is its own list)."""

_UNFILTERABLE = frozenset("+,();")

_LISTERS: dict[int, tuple[str, str]] = {
    TASK: ("list_tasks_paginated", "tasks"),
    WORKFLOW: ("list_workflows_paginated", "workflows"),
    LAUNCH_PLAN: ("list_launch_plans_paginated", "launch_plans"),
}
"""resource type -> (raw list method, repeated field of its answer)."""


def filterable(version: str) -> bool:
    """True when `eq(version,<version>)` means exactly that version to flyteadmin's filter parser."""
    return bool(version) and not (_UNFILTERABLE & set(version)) and version.strip() == version


@dataclass
class Listing:
    """Entities the server holds, by identifier key, for the (kind, version) pairs that were listed."""

    listed: set[tuple[int, str]] = field(default_factory=set)
    entities: dict[IdentifierKey, Message] = field(default_factory=dict)

    def covers(self, entity: Entity) -> bool:
        return (entity.resource_type, entity.id.version) in self.listed

    def get(self, entity: Entity) -> Message | None:
        return self.entities.get(entity.key)


def list_registered(
    client: SynchronousFlyteClient,
    project: str,
    domain: str,
    wanted: Iterable[tuple[int, str]],
    pool: Executor | None = None,
    names: Mapping[tuple[int, str], Collection[str]] | None = None,
) -> Listing:
    """List every (resource type, version) in `wanted` in project/domain. Versions the filter cannot carry
    are left out (nothing is known of them); errors other than an oversized page propagate. With a `pool`
    the lists run concurrently (each is a round trip or two; a re-run waits for all of them before its
    first create), and are merged in the same order as without.

    `names`: per (resource type, version), the entity names the caller asks about. A list stops paging
    once every one of them was seen (the rest of the version holds only entities nobody asked about), so
    a version of exactly a page's size costs one round trip, not two. A name not seen still means "not on
    the server": paging goes on to the end for it."""
    pairs = [(kind, version) for kind, version in sorted(set(wanted)) if filterable(version)]
    asked = names or {}
    if pool is not None and len(pairs) > 1:
        futures = [
            pool.submit(_list_version, client, project, domain, *pair, asked.get(pair)) for pair in pairs
        ]
        pages = [future.result() for future in futures]
    else:
        pages = [_list_version(client, project, domain, *pair, asked.get(pair)) for pair in pairs]
    listing = Listing()
    for pair, items in zip(pairs, pages, strict=True):
        for item in items:
            listing.entities[identifier_key(item.id)] = item
        listing.listed.add(pair)
    return listing


def _list_version(
    client: SynchronousFlyteClient,
    project: str,
    domain: str,
    resource_type: int,
    version: str,
    names: Collection[str] | None = None,
) -> list[Any]:
    method, items_field = _LISTERS[resource_type]
    call: Callable[[ResourceListRequest], Any] = getattr(client.raw, method)
    scope = (project, domain, version)
    try:
        return _all_pages(call, items_field, scope, PAGE_LIMIT, names)
    except FlyteResourceExhaustedException:  # a page larger than max_receive_message_bytes
        return _all_pages(call, items_field, scope, SMALL_PAGE_LIMIT, names)


def _all_pages(
    call: Callable[[ResourceListRequest], Any],
    items_field: str,
    scope: tuple[str, str, str],
    limit: int,
    names: Collection[str] | None,
) -> list[Any]:
    project, domain, version = scope
    unseen = set(names) if names is not None else None
    items: list[Any] = []
    token = ""
    while True:
        # Sorted, because flyteadmin issues no ORDER BY without one, and unsorted pages can skip rows.
        request = ResourceListRequest(
            id=NamedEntityIdentifier(project=project, domain=domain),
            limit=limit,
            token=token,
            filters=f"eq(version,{version})",
            sort_by=Sort(key="name", direction=Sort.ASCENDING),
        )
        answer = call(request)
        page = list(getattr(answer, items_field))
        items.extend(page)
        if unseen is not None:
            unseen.difference_update(item.id.name for item in page)
        if not answer.token or not page or unseen == set():
            return items
        token = answer.token


def names_by_list(entities: Iterable[Entity]) -> dict[tuple[int, str], set[str]]:
    """The names of `entities` per (resource type, version), for `list_registered`'s early stop."""
    grouped: dict[tuple[int, str], set[str]] = {}
    for entity in entities:
        grouped.setdefault((entity.resource_type, entity.id.version), set()).add(entity.id.name)
    return grouped


def wanted_lists(entities: Iterable[Entity], kinds: Iterable[int]) -> set[tuple[int, str]]:
    """The (kind, version) pairs to list for `entities`, or none when they pin too many versions."""
    chosen = set(kinds)
    pairs = {(e.resource_type, e.id.version) for e in entities if e.resource_type in chosen}
    return pairs if len({version for _, version in pairs}) <= MAX_LISTED_VERSIONS else set()


# ------------------------------------------------------------------------------------------ comparison


WorkflowInputs = Mapping[IdentifierKey, interface_pb2.VariableMap]
"""workflow identifier key -> its inputs, for the launch-plan rewrite."""


def workflow_inputs(entities: Iterable[Entity]) -> dict[IdentifierKey, interface_pb2.VariableMap]:
    """The inputs of every workflow among `entities`."""
    return {e.key: e.request.spec.template.interface.inputs for e in entities if e.resource_type == WORKFLOW}


def stored_form(entity: Entity, inputs: WorkflowInputs) -> Message:
    """What the server stores for `entity` when it is created as sent (the part a list returns). The
    request's own message when the server stores it unchanged (a hydrated task's template already carries
    the request's id; a launch plan usually lists every input already): read-only, like the request."""
    if entity.resource_type == TASK:
        sent = entity.request.spec.template
        if sent.id == entity.request.id:
            return sent
        template = tasks_pb2.TaskTemplate()
        template.CopyFrom(sent)
        template.id.CopyFrom(entity.request.id)
        return template
    if entity.resource_type == LAUNCH_PLAN:
        variables = inputs.get(identifier_key(entity.request.spec.workflow_id))
        if variables is None or not _unbound(entity.request.spec, variables):
            return entity.request.spec
        spec = launch_plan_pb2.LaunchPlanSpec()
        spec.CopyFrom(entity.request.spec)
        _add_unbound_inputs(spec, variables)
        return spec
    return entity.request.spec.template.interface


def _unbound(spec: launch_plan_pb2.LaunchPlanSpec, variables: interface_pb2.VariableMap) -> bool:
    """Whether the workflow has an input that `spec` neither defaults nor fixes (flyteadmin adds those)."""
    defaults, fixed = spec.default_inputs.parameters, spec.fixed_inputs.literals
    return any(name not in defaults and name not in fixed for name in variables.variables)


def _add_unbound_inputs(spec: launch_plan_pb2.LaunchPlanSpec, variables: interface_pb2.VariableMap) -> None:
    """flyteadmin's rewrite of `default_inputs`: every workflow input neither defaulted nor fixed becomes a
    required parameter with the workflow's type and description."""
    for name, variable in variables.variables.items():
        if name in spec.default_inputs.parameters or name in spec.fixed_inputs.literals:
            continue
        spec.default_inputs.parameters[name].CopyFrom(
            interface_pb2.Parameter(
                var=interface_pb2.Variable(type=variable.type, description=variable.description),
                required=True,
            )
        )


def listed_form(item: Message) -> Message:
    """The part of a listed entity that `stored_form` is compared with."""
    if isinstance(item, task_pb2.Task):
        return item.closure.compiled_task.template
    if isinstance(item, launch_plan_pb2.LaunchPlan):
        return item.spec
    if isinstance(item, workflow_pb2.Workflow):
        return item.closure.compiled_workflow.primary.template.interface
    raise TypeError(f"not a listed entity: {type(item).__name__}")


PROVABLE_KINDS = (TASK, LAUNCH_PLAN)
"""Kinds whose listed form is everything flyteadmin's digest covers."""


def proven_identical(entity: Entity, listing: Listing, inputs: WorkflowInputs) -> bool:
    """True when the server holds exactly what a create of `entity` would store (so it would answer
    ALREADY_EXISTS); False when that is not known, which leaves the decision to the create."""
    if entity.resource_type not in PROVABLE_KINDS:
        return False
    found = listing.get(entity)
    return found is not None and listed_form(found) == stored_form(entity, inputs)


def read_back_problem(entity: Entity, listing: Listing, inputs: WorkflowInputs) -> str | None:
    """Why the server does not hold `entity` as registered, or None when it does (or was not listed)."""
    if not listing.covers(entity):
        return None
    found = listing.get(entity)
    if found is None:
        return "read back: not on the server after registering"
    if not _matches(entity, listed_form(found), stored_form(entity, inputs), inputs):
        what = {TASK: "task template", WORKFLOW: "workflow interface", LAUNCH_PLAN: "launch plan spec"}
        return f"read back: the server's {what[entity.resource_type]} differs from the one registered"
    return None


@dataclass(frozen=True)
class Held:
    """How the server holds an entity that a list showed: `as_listed` is `read_back_problem` finding
    nothing, `identical` is `proven_identical`. Worked out together, with one `stored_form` and one
    comparison: a re-run asks both for every entity of the package."""

    as_listed: bool
    identical: bool


def held(entity: Entity, listing: Listing, inputs: WorkflowInputs) -> Held | None:
    """`Held` for `entity`, or None when the listing does not show it."""
    found = listing.get(entity)
    if found is None:
        return None
    theirs, ours = listed_form(found), stored_form(entity, inputs)
    equal = theirs == ours
    as_listed = not listing.covers(entity) or equal or _matches(entity, theirs, ours, inputs)
    return Held(as_listed, equal and entity.resource_type in PROVABLE_KINDS)


def _matches(entity: Entity, held: Message, ours: Message, inputs: WorkflowInputs) -> bool:
    """Read-back equality of the listed form `held` and our stored form `ours`. A launch plan whose
    workflow is not in the package may have gained required parameters for inputs it left unbound (the
    server's rewrite): those extra ones are accepted."""
    if held == ours:
        return True
    Spec = launch_plan_pb2.LaunchPlanSpec
    if isinstance(held, Spec) and isinstance(ours, Spec):
        return _gained_only_required(held, ours, inputs)
    return False


def _gained_only_required(
    held: launch_plan_pb2.LaunchPlanSpec, ours: launch_plan_pb2.LaunchPlanSpec, inputs: WorkflowInputs
) -> bool:
    if identifier_key(ours.workflow_id) in inputs:
        return False
    held_parameters, our_parameters = held.default_inputs.parameters, ours.default_inputs.parameters
    if any(name not in held_parameters or held_parameters[name] != p for name, p in our_parameters.items()):
        return False
    if any(not p.required for name, p in held_parameters.items() if name not in our_parameters):
        return False
    held_rest, ours_rest = launch_plan_pb2.LaunchPlanSpec(), launch_plan_pb2.LaunchPlanSpec()
    held_rest.CopyFrom(held)
    ours_rest.CopyFrom(ours)
    held_rest.ClearField("default_inputs")
    ours_rest.ClearField("default_inputs")
    return held_rest == ours_rest
