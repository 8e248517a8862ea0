"""sync-attributes: make the server's matchable attributes match a declared file, writing only what differs.

Reading. Current values come from ListMatchableAttributes (one call per attribute type), not from the Get
RPCs, because the Gets do not answer "what is stored at exactly this scope": GetWorkflowAttributes and
GetProjectDomainAttributes fall back to broader rows (the answer's project/domain/workflow fields say which
row matched), and GetProjectAttributes(WORKFLOW_EXECUTION_CONFIG) merges the row with the platform defaults
and answers even when nothing is stored. The list returns the raw rows with their own scope. Rows at
launch-plan scope are out of this file's reach and ignored.

Scope of management. The file owns the attributes of the projects it names: `--prune` deletes rows of
those projects that the file does not list, and never touches other projects.

Writing. flyteadmin's Delete drops empty fields from its WHERE clause, so deleting a project-domain row
also deletes that domain's workflow-level rows of the same type (and a project-level delete, every row of
the project and type). And PLUGIN_OVERRIDE updates merge by task_type, so removing a task type takes a
delete first. The planner therefore simulates the server: it applies the deletes to a copy of the current
rows, and then writes every row that should exist and no longer matches, which includes rows lost only to
a broader delete ("restore"), whether the file declares them or not. Deletes run before writes. A second
apply finds nothing to do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flyteidl.admin import matchable_resource_pb2
from flyteidl.admin.matchable_resource_pb2 import MatchingAttributes
from google.protobuf import json_format

from flyteadmin_ops.errors import FlyteAdminError, FlyteEntityNotExistException
from flyteadmin_ops.ops.attribute_file import (
    ATTRIBUTE_TYPES,
    TYPES_BY_RESOURCE,
    AttributeFileError,
    AttributeType,
    DeclaredAttribute,
    Location,
    Problem,
    Scope,
    load_attribute_file,
    parse_attributes,
)
from flyteadmin_ops.ops.results import Outcome, OutcomeCallback, Result, Status

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

Key = tuple[Scope, int]
"""(scope, MatchableResource value): one row on the server."""

Action = Literal["create", "update", "restore", "delete"]

_ACTIVE = 0  # admin.Project.ProjectState.ACTIVE


# ---- plan model --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    action: Action
    scope: Scope
    type: AttributeType
    before: MatchingAttributes | None
    after: MatchingAttributes | None
    reason: str = ""

    @property
    def key(self) -> Key:
        return (self.scope, self.type.resource)

    def describe(self) -> str:
        if self.action in ("delete", "restore"):
            return f"{self.action}: {self.reason}"
        # One field per line: a table shows the first, and prints the whole diff below it.
        text = "\n".join(diff_lines(self.before, self.after)) or "no field changes"
        return f"{self.action}: {text}" + (f"\n({self.reason})" if self.reason else "")


@dataclass
class AttributePlan:
    """Deletes (narrowest scope first), then writes (broadest first); and the declared rows in sync."""

    changes: list[Change] = field(default_factory=list)
    unchanged: list[DeclaredAttribute] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return bool(self.changes)

    @property
    def deletes(self) -> list[Change]:
        return [c for c in self.changes if c.action == "delete"]

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.action != "delete"]


# ---- comparing ---------------------------------------------------------------------------------------


def normalized(attributes: MatchingAttributes) -> MatchingAttributes:
    """A copy in canonical form: plugin overrides sorted by task_type, because flyteadmin returns a merged
    list in Go map order (different on every read)."""
    copy = MatchingAttributes()
    copy.CopyFrom(attributes)
    if copy.HasField("plugin_overrides"):
        ordered = sorted(copy.plugin_overrides.overrides, key=lambda o: o.task_type)
        del copy.plugin_overrides.overrides[:]
        copy.plugin_overrides.overrides.extend(ordered)
    return copy


def _flat(attributes: MatchingAttributes | None) -> dict[str, Any]:
    if attributes is None:
        return {}
    which = attributes.WhichOneof("target")
    if which is None:
        return {}
    value = json_format.MessageToDict(getattr(attributes, which), preserving_proto_field_name=True)
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and node:
            for key in sorted(node):
                walk(f"{prefix}.{key}" if prefix else key, node[key])
        else:
            flat[prefix] = node

    walk("", value)
    return flat


def diff_lines(before: MatchingAttributes | None, after: MatchingAttributes | None) -> list[str]:
    """Field-level differences, e.g. `defaults.cpu: "1" -> "2"`, `limits.gpu: + "1"`."""
    old = _flat(normalized(before) if before is not None else None)
    new = _flat(normalized(after) if after is not None else None)
    lines: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            lines.append(f"{path}: - {json.dumps(old[path])}")
        elif path not in old:
            lines.append(f"{path}: + {json.dumps(new[path])}")
        elif old[path] != new[path]:
            lines.append(f"{path}: {json.dumps(old[path])} -> {json.dumps(new[path])}")
    return lines


# ---- reading -----------------------------------------------------------------------------------------


def read_current(
    client: SynchronousFlyteClient, projects: Iterable[str], types: Iterable[AttributeType]
) -> dict[Key, MatchingAttributes]:
    """The stored rows of the given projects and types, at their exact scope (see module docstring)."""
    wanted = set(projects)
    rows: dict[Key, MatchingAttributes] = {}
    for attribute_type in types:
        response = client.list_matchable_attributes(attribute_type.resource)
        for config in response.configurations:
            if config.project not in wanted or config.launch_plan:
                continue
            rows[(Scope(config.project, config.domain, config.workflow), attribute_type.resource)] = (
                normalized(config.attributes)
            )
    return rows


def check_scopes_exist(client: SynchronousFlyteClient, entries: list[DeclaredAttribute]) -> None:
    """Every project must exist and be active and every domain be one the project has, before any write;
    problems point at the line that names the project or domain."""
    problems: list[Problem] = []
    domains_of: dict[str, set[str] | None] = {}
    for entry in entries:
        project = entry.scope.project
        where = entry.key_locations.get("project", entry.location)
        if project not in domains_of:
            try:
                found = client.get_project(project)
            except FlyteEntityNotExistException:
                domains_of[project] = None
                problems.append(Problem(where, "project", f"unknown project {project!r}"))
                continue
            if found.state != _ACTIVE:
                problems.append(Problem(where, "project", f"project {project!r} is not active"))
            domains_of[project] = {d.id for d in found.domains}
        domains = domains_of[project]
        if domains is not None and entry.scope.domain and entry.scope.domain not in domains:
            problems.append(
                Problem(
                    entry.key_locations.get("domain", entry.location),
                    "domain",
                    f"unknown domain {entry.scope.domain!r}; {project} has {', '.join(sorted(domains))}",
                )
            )
    if problems:
        raise AttributeFileError(problems)


# ---- planning ----------------------------------------------------------------------------------------


def plan_attributes(
    entries: list[DeclaredAttribute], current: dict[Key, MatchingAttributes], *, prune: bool = False
) -> AttributePlan:
    """Pure: the changes that turn `current` into what `entries` declare. See the module docstring."""
    desired: dict[Key, DeclaredAttribute] = {(e.scope, e.type.resource): e for e in entries}
    current = {key: normalized(value) for key, value in current.items()}
    deletes: dict[Key, str] = {}
    if prune:
        for key in current:
            if key not in desired:
                deletes[key] = "not in the file (--prune)"
    for key, entry in desired.items():
        before = current.get(key)
        if entry.type.resource == matchable_resource_pb2.PLUGIN_OVERRIDE and before is not None:
            extra = _task_types(before) - _task_types(entry.attributes)
            if extra:
                deletes[key] = (
                    f"the server merges plugin overrides by task_type; removing {', '.join(sorted(extra))} "
                    "takes a delete first"
                )
    after_deletes = {
        key: value for key, value in current.items() if not any(_covers(deleted, key) for deleted in deletes)
    }
    plan = AttributePlan()
    for key in sorted(deletes, key=_narrowest_first):
        plan.changes.append(
            Change("delete", key[0], TYPES_BY_RESOURCE[key[1]], current.get(key), None, deletes[key])
        )
    # Rows that should exist afterwards: what the file declares, plus rows lost only to a broader delete.
    wanted: dict[Key, tuple[MatchingAttributes, str]] = {
        key: (normalized(entry.attributes), "") for key, entry in desired.items()
    }
    for key, value in current.items():
        if key not in wanted and key not in deletes and key not in after_deletes:
            wanted[key] = (value, "not in the file, but lost to a broader delete")
    for key in sorted(wanted, key=_broadest_first):
        value, reason = wanted[key]
        if after_deletes.get(key) == value:
            if key in desired:
                plan.unchanged.append(desired[key])
            continue
        before = current.get(key)
        action: Action = "create" if before is None else ("restore" if before == value else "update")
        if action == "restore" and not reason:
            reason = "lost to a broader delete"
        plan.changes.append(Change(action, key[0], TYPES_BY_RESOURCE[key[1]], before, value, reason))
    return plan


def _task_types(attributes: MatchingAttributes) -> set[str]:
    return {o.task_type for o in attributes.plugin_overrides.overrides}


def _covers(deleted: Key, other: Key) -> bool:
    return deleted[1] == other[1] and deleted[0].covers(other[0])


_DEPTH = {"project": 0, "project-domain": 1, "workflow": 2}


def _broadest_first(key: Key) -> tuple[int, Scope, int]:
    return (_DEPTH[key[0].level], key[0], key[1])


def _narrowest_first(key: Key) -> tuple[int, Scope, int]:
    return (-_DEPTH[key[0].level], key[0], key[1])


# ---- applying ----------------------------------------------------------------------------------------


def _scope_call(scope: Scope) -> tuple[str, tuple[str, ...]]:
    """The client method family for a scope and its leading arguments: the three Update/Delete RPC pairs
    differ only in how much of the scope they take."""
    if scope.workflow:
        return "workflow", (scope.project, scope.domain, scope.workflow)
    if scope.domain:
        return "project_domain", (scope.project, scope.domain)
    return "project", (scope.project,)


def _write(client: SynchronousFlyteClient, scope: Scope, attributes: MatchingAttributes) -> None:
    level, args = _scope_call(scope)
    getattr(client, f"update_{level}_attributes")(*args, attributes)


def _delete(client: SynchronousFlyteClient, scope: Scope, resource: int) -> None:
    level, args = _scope_call(scope)
    getattr(client, f"delete_{level}_attributes")(*args, resource)


_DONE: dict[Action, Status] = {
    "create": Status.CREATED,
    "update": Status.UPDATED,
    "restore": Status.UPDATED,
    "delete": Status.DELETED,
}


def apply_changes(
    client: SynchronousFlyteClient, changes: Iterable[Change], *, on_outcome: OutcomeCallback | None = None
) -> list[Outcome]:
    """Run the changes in order, then read back what they touched (`read_back`). After a failed delete the
    writes still run (each write is a full, independent record); after any failure the result is not ok and
    the next run repairs the rest. `on_outcome` sees each change as it is applied; the returned list has
    the read-back's verdict."""
    changes = list(changes)
    outcomes: list[Outcome] = []
    for change in changes:
        try:
            if change.action == "delete":
                _delete(client, change.scope, change.type.resource)
            else:
                assert change.after is not None
                _write(client, change.scope, change.after)
        except Exception as exc:  # a FlyteAdminError in practice; reported per row, never swallowed silently
            outcome = Outcome(change.type.name, str(change.scope), Status.FAILED, f"{change.action}: {exc}")
        else:
            outcome = Outcome(change.type.name, str(change.scope), _DONE[change.action], change.describe())
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return read_back(client, changes, outcomes)


def read_back(
    client: SynchronousFlyteClient, changes: list[Change], outcomes: list[Outcome]
) -> list[Outcome]:
    """`outcomes` (one per change) after comparing the server's rows with what the changes meant to leave.

    The last change to a row decides what it should hold (a plugin-override delete is followed by its
    write). A done change whose row differs becomes failed; a failed write whose row reads back exactly as
    sent becomes done (its answer was lost after the server applied it)."""
    if not changes:
        return outcomes
    expected: dict[Key, MatchingAttributes | None] = {c.key: c.after for c in changes}
    projects = {c.scope.project for c in changes}
    found: dict[Key, MatchingAttributes] = {}
    unreadable: dict[int, FlyteAdminError] = {}
    for resource, attribute_type in {c.type.resource: c.type for c in changes}.items():
        try:  # one type at a time: a failed read leaves only that type's changes unverified
            found.update(read_current(client, projects, [attribute_type]))
        except FlyteAdminError as exc:
            unreadable[resource] = exc
    verified: list[Outcome] = []
    for change, outcome in zip(changes, outcomes, strict=True):
        wanted = expected[change.key]
        if change.after is not wanted:  # a later change to the same row decides what it holds
            verified.append(outcome)
            continue
        if change.type.resource in unreadable:
            verified.append(_unverified(change, outcome, unreadable[change.type.resource]))
            continue
        now = found.get(change.key)
        matches = (now is None) if wanted is None else (now is not None and now == normalized(wanted))
        if outcome.status.is_problem:
            verified.append(_recovered(change, outcome) if matches else outcome)
        elif matches:
            verified.append(outcome)
        else:
            verified.append(_mismatch(change, wanted, now))
    return verified


def _unverified(change: Change, outcome: Outcome, error: FlyteAdminError) -> Outcome:
    if outcome.status.is_problem:
        return outcome
    return Outcome(
        change.type.name,
        str(change.scope),
        Status.FAILED,
        f"{change.action} sent, but reading it back failed: {error}",
    )


def _recovered(change: Change, outcome: Outcome) -> Outcome:
    return Outcome(
        change.type.name,
        str(change.scope),
        _DONE[change.action],
        f"{change.describe()}\n(its answer was lost: {outcome.detail.splitlines()[0]}; "
        "reading it back shows it applied)",
    )


def _mismatch(change: Change, wanted: MatchingAttributes | None, now: MatchingAttributes | None) -> Outcome:
    if wanted is None:
        what = "still there after the delete"
    elif now is None:
        what = "missing"
    else:
        what = "differs from what was sent: " + "; ".join(diff_lines(wanted, now))
    return Outcome(
        change.type.name,
        str(change.scope),
        Status.FAILED,
        f"{change.action} read back: the row at {change.scope} ({change.type.name}) is {what}",
    )


def plan_outcomes(plan: AttributePlan, *, dry_run: bool) -> list[Outcome]:
    """Rows for the declared entries already in sync, and (dry run) one `planned` row per change."""
    rows = [Outcome(e.type.name, str(e.scope), Status.UNCHANGED, "in sync") for e in plan.unchanged]
    if dry_run:
        rows[:0] = [Outcome(c.type.name, str(c.scope), Status.PLANNED, c.describe()) for c in plan.changes]
    return rows


def plan_from_file(
    client: SynchronousFlyteClient, path: str | Path, *, prune: bool = False, text: str | None = None
) -> tuple[list[DeclaredAttribute], AttributePlan]:
    """Load and check the file (offline, then against the server), read the current rows, and plan.

    With `text` (the file's content, as a deployment carries it to a worker that has no copy of the file)
    nothing is read from disk and `path` only names the file in messages.
    """
    entries = load_attribute_file(path) if text is None else parse_attributes(text, str(path))
    check_scopes_exist(client, entries)
    projects = {e.scope.project for e in entries}
    types = list(ATTRIBUTE_TYPES.values()) if prune else _distinct_types(entries)
    current = read_current(client, projects, types)
    return entries, plan_attributes(entries, current, prune=prune)


def _distinct_types(entries: Iterable[DeclaredAttribute]) -> list[AttributeType]:
    seen: dict[int, AttributeType] = {}
    for entry in entries:
        seen.setdefault(entry.type.resource, entry.type)
    return list(seen.values())


def sync_attributes(
    client: SynchronousFlyteClient,
    path: str | Path,
    *,
    prune: bool = False,
    dry_run: bool = False,
    on_outcome: OutcomeCallback | None = None,
) -> Result:
    """The whole automation. With dry_run nothing is written; `result.with_status(PLANNED)` is the drift."""
    entries, plan = plan_from_file(client, path, prune=prune)
    result = Result("sync-attributes", dry_run=dry_run)
    result.notes.append(
        f"{len(entries)} declared attribute(s) in {path}; {len(plan.changes)} change(s)"
        + (" (pruning)" if prune else "")
    )
    if not dry_run:
        result.extend(apply_changes(client, plan.changes, on_outcome=on_outcome))
    result.extend(plan_outcomes(plan, dry_run=dry_run))
    return result


__all__ = [
    "AttributePlan",
    "Change",
    "Location",
    "apply_changes",
    "check_scopes_exist",
    "diff_lines",
    "plan_attributes",
    "plan_from_file",
    "read_current",
    "sync_attributes",
]
