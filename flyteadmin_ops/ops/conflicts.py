"""Say what really differs when flyteadmin refuses an entity "with different structure".

flyteadmin's task and launch-plan diffs are precise (`/template/Target/Container/image:\\n\\t- a \\n\\t+ b`),
so they are read as they come, one `FieldChange` per path. Its workflow diff is not: it compares the new
compiled workflow with a stored closure that holds only the interface, so nearly every field shows as
`- <nil>` / `+ map[...]` (6 KB for three nodes). For a workflow the registered version is read back
(GetWorkflow) and compared with the one being registered, both decompiled (`ops.decompile`: no start and
end nodes, promises to workflow inputs and branch node ids as a client sends them), node by node, keyed by
node id, so a changed retry count reads `node n0 (normalize): metadata.retries: 2 -> 7`.

The server's message is always kept whole in the report (`server_message`). When the registered workflow
cannot be read, or the comparison finds nothing (only node order or empty fields differ), the detail falls
back to the server's diff, trimmed to a screenful.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyteidl.admin import workflow_pb2 as admin_workflow_pb2
from flyteidl.core import compiler_pb2, identifier_pb2
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from flyteadmin_ops.errors import FlyteAdminError, FlyteEntityConflictException
from flyteadmin_ops.ops.decompile import decompiled_spec, spec_from_closure
from flyteadmin_ops.ops.results import FieldChange, render_value

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

MAX_FALLBACK_LINES = 12
"""How many of the server's diff entries a fallback detail shows (the rest stay in `server_message`)."""

_NIL = "<nil>"
_NODE_FIELDS = frozenset({"then_node", "else_node", "failure_node"})


@dataclass(frozen=True)
class ConflictReport:
    """What a conflict outcome shows: `detail` for people, `changes` one by one, the server's own text."""

    detail: str
    changes: tuple[FieldChange, ...]
    server_message: str


def explain_conflict(
    client: SynchronousFlyteClient, request: Message, error: FlyteEntityConflictException
) -> ConflictReport:
    """The report for `error`, raised by the create RPC of `request` (a Task/Workflow/LaunchPlan create
    request). Reads the registered workflow for a workflow; never raises for an RPC error."""
    spec = getattr(request, "spec", None)
    ident = getattr(request, "id", None)
    is_workflow = isinstance(spec, admin_workflow_pb2.WorkflowSpec)
    if not is_workflow or not isinstance(ident, identifier_pb2.Identifier):
        return _from_server_diff(error, "")
    try:
        registered = client.get_workflow(ident)
    except FlyteAdminError as exc:
        return _from_server_diff(error, f"could not read the registered workflow ({exc.code.name}): ")
    changes = workflow_changes(registered.closure.compiled_workflow, spec)
    if not changes:
        return _from_server_diff(
            error, "no field differs once both sides are decompiled (node order or empty fields do): "
        )
    return ConflictReport(render_changes(changes), tuple(changes), error.server_message)


def render_changes(changes: list[FieldChange]) -> str:
    """One line per change; a table shows the first and prints all of them below."""
    return "\n".join(change.text() for change in changes)


# ------------------------------------------------------------------------------------------ server diffs


def parse_server_diff(diff: str) -> list[FieldChange]:
    """flyteadmin's diff text (`<path>:` then a tab-indented `- old ` and `+ new`, per path) as changes;
    `<nil>` is an absent value. Values stay the server's text. Empty when `diff` is not in that form."""
    changes: list[FieldChange] = []
    path: str | None = None
    values: dict[str, list[str]] = {}

    def flush() -> None:
        if path is not None and "-" in values and "+" in values:
            old, new = ("\n".join(values[sign]).rstrip(" ") for sign in "-+")
            field = path.strip("/").replace("/", ".")
            changes.append(FieldChange(path, _value(old), _value(new), field=field))

    current: list[str] | None = None
    for line in diff.splitlines():
        if line.startswith("\t- ") or line.startswith("\t+ ") or line in ("\t-", "\t+"):
            current = values.setdefault(line[1], [])
            current.append(line[3:])
        elif line.startswith("/") and line.endswith(":"):
            flush()
            path, values, current = line[:-1], {}, None
        elif current is not None:  # a value that spans lines
            current.append(line)
        else:
            return []
    flush()
    return changes


def _value(text: str) -> str | None:
    return None if text == _NIL else text


def trimmed(diff: str, *, max_entries: int = MAX_FALLBACK_LINES) -> str:
    """The server's diff shortened to one line per path (long values cut), at most `max_entries` of them."""
    changes = parse_server_diff(diff)
    if changes:
        lines = [change.text() for change in changes]
    else:
        lines = [render_value(line) for line in diff.strip().splitlines()]
    if len(lines) > max_entries:
        hidden = len(lines) - max_entries
        lines = [*lines[:max_entries], f"... and {hidden} more (the whole message is in server_message)"]
    return "\n".join(lines)


def _from_server_diff(error: FlyteEntityConflictException, why: str) -> ConflictReport:
    """The report from the server's own diff: change by change when it is a precise one (tasks, launch
    plans: `why` is empty), else `why` and the diff trimmed (a workflow's, which lists nearly everything)."""
    changes = parse_server_diff(error.diff)
    if why or not changes:
        return ConflictReport(why + trimmed(error.diff), (), error.server_message)
    return ConflictReport(render_changes(changes), tuple(changes), error.server_message)


# ------------------------------------------------------------------------------------------ workflows


def workflow_changes(
    registered: compiler_pb2.CompiledWorkflowClosure, ours: admin_workflow_pb2.WorkflowSpec
) -> list[FieldChange]:
    """The fields in which `ours` differs from `registered` (a CompiledWorkflowClosure from GetWorkflow),
    old = registered. Paths are relative to the primary template (`/metadata/on_failure`,
    `/nodes/n0/metadata/retries/retries`), subworkflows under `/sub_workflows/<name>`; nodes, bindings
    and outputs are keyed by id or variable name, so a change to one node names that node only."""
    old = _canonical(spec_from_closure(registered))
    new = _canonical(decompiled_spec(ours))
    return list(_walk(old, new, _Place(())))


def _canonical(spec: admin_workflow_pb2.WorkflowSpec) -> dict[str, Any]:
    primary = _template_dict(spec.template)
    subs = {sub.id.name: _template_dict(sub) for sub in spec.sub_workflows}
    if subs:
        primary["sub_workflows"] = subs
    return primary


def _template_dict(template: Message) -> dict[str, Any]:
    as_dict = MessageToDict(template, preserving_proto_field_name=True)
    as_dict.pop("id", None)  # the identifier is the same on both sides by definition
    keyed = _keyed(as_dict)
    return keyed if isinstance(keyed, dict) else {}


def _keyed(value: Any) -> Any:
    """Lists of nodes become maps by node id, lists of bindings maps by variable; empty values are
    dropped (the compiler fills in empty messages a client leaves out)."""
    if isinstance(value, dict):
        pruned = {key: _keyed(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item not in ({}, [], None, "")}
    if isinstance(value, list):
        items = [_keyed(item) for item in value]
        for key in ("id", "var"):
            names = [item.get(key) if isinstance(item, dict) else None for item in items]
            if items and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
                return {name: item for name, item in zip(names, items, strict=True)}
        return items
    return value


@dataclass(frozen=True)
class _Place:
    """Where the walk is: the path segments, and the nodes (id, name) entered on the way."""

    segments: tuple[str, ...]
    nodes: tuple[tuple[str, str], ...] = ()
    node_depth: int = 0  # segments up to and including the innermost node
    subworkflow: str = ""

    def child(self, key: str, value: Any, parent_key: str) -> _Place:
        segments = (*self.segments, key)
        subworkflow = key if len(self.segments) == 1 and self.segments[0] == "sub_workflows" else ""
        if subworkflow:
            return _Place(segments, (), len(segments), subworkflow)
        entering_node = (
            parent_key == "nodes" or key in _NODE_FIELDS or (key == "node" and parent_key == "array_node")
        )
        if entering_node and isinstance(value, dict):
            node_id = str(value.get("id", key))
            name = str(value.get("metadata", {}).get("name", ""))
            return _Place(segments, (*self.nodes, (node_id, name)), len(segments), self.subworkflow)
        return _Place(segments, self.nodes, self.node_depth, self.subworkflow)

    def change(self, old: Any, new: Any) -> FieldChange:
        label_parts = [f"subworkflow {self.subworkflow}"] if self.subworkflow else []
        if self.nodes:
            ids = " > ".join(node_id for node_id, _ in self.nodes)
            name = self.nodes[-1][1]
            label_parts.append(f"node {ids}" + (f" ({name})" if name else ""))
        field = _readable(self.segments[self.node_depth :])
        path = "/" + "/".join(segment.replace("~", "~0").replace("/", "~1") for segment in self.segments)
        return FieldChange(path, old, new, label=" ".join(label_parts), field=field)


def _readable(segments: tuple[str, ...]) -> str:
    """Dotted, with a repeated segment said once (`retries.retries` -> `retries`: a wrapper message)."""
    kept: list[str] = []
    for segment in segments:
        if not kept or kept[-1] != segment:
            kept.append(segment)
    return ".".join(kept)


_SMALL = 3
"""A map with at most this many leaves, present on one side only, is shown leaf by leaf
(`metadata.on_failure: (none) -> FAIL_AFTER_EXECUTABLE_NODES_COMPLETE`); a bigger one (a whole node) as
`added` or `removed`."""


def _is_small(value: Any) -> bool:
    return isinstance(value, dict) and _leaves(value) <= _SMALL


def _leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_leaves(item) for item in value.values())
    return 1


def _zero_for_absent_number(old: Any, new: Any) -> tuple[Any, Any]:
    """proto3 leaves a number out when it is 0: against a number, an absent one reads `0`, not `(none)`."""
    if old is None and _is_number(new):
        return 0, new
    if new is None and _is_number(old):
        return old, 0
    return old, new


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _walk(old: Any, new: Any, place: _Place) -> Iterator[FieldChange]:
    """Changes from `old` to `new` at `place`: down into maps (and lists of the same length) while both
    sides have them, so a change is reported where it happens, with the whole value when one side lacks
    it."""
    parent_key = place.segments[-1] if place.segments else ""
    if old is None and _is_small(new):
        old = {}
    elif new is None and _is_small(old):
        new = {}
    if isinstance(old, dict) and isinstance(new, dict):
        pairs: list[tuple[str, Any, Any]] = [
            (k, old.get(k), new.get(k)) for k in [*old, *(k for k in new if k not in old)]
        ]
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = [(str(i), left, right) for i, (left, right) in enumerate(zip(old, new, strict=True))]
    else:
        old, new = _zero_for_absent_number(old, new)
        if old != new:
            yield place.change(old, new)
        return
    for key, left, right in pairs:
        if left != right:
            yield from _walk(left, right, place.child(key, right if right is not None else left, parent_key))
