"""The result model shared by the four automations (register, promote, relaunch-failed, sync-attributes).

Every automation reports the same shape: one `Outcome` per thing it touched, in the order it decided them,
plus a few free-text notes (e.g. "previously active: v1"). One model means the CLI, the Prefect artifacts and
a caller's own code read every automation the same way, and `ok` has one meaning everywhere: nothing
conflicted and nothing failed. No Prefect here: the flows turn `to_rows()` into a table artifact themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class OperationInputError(ValueError):
    """The caller asked for something that cannot be done as stated (unknown project, missing launch plan
    version, ...). Raised before anything is written; the CLI maps it to exit code 2 ("bad input")."""


class Status(str, Enum):
    """What happened to one entity. The value is the word users see in tables and JSON."""

    PLANNED = "planned"  # dry run: would be written
    CREATED = "created"
    EXISTS = "exists"  # identical entity already there: success
    UPLOADED = "uploaded"
    UPDATED = "updated"
    DELETED = "deleted"
    ACTIVATED = "activated"
    LAUNCHED = "launched"
    ROLLED_BACK = "rolled_back"  # an earlier state was restored after a failed step
    UNCHANGED = "unchanged"  # already as wanted: nothing written
    SKIPPED = "skipped"  # not attempted (an earlier step failed, or excluded by the caller)
    CONFLICT = "conflict"  # different structure already exists under the same identifier
    FAILED = "failed"

    @property
    def is_problem(self) -> bool:
        """Statuses that make an automation's result not ok."""
        return self in _PROBLEMS


_PROBLEMS = frozenset({Status.CONFLICT, Status.FAILED})


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between what the server holds (`old`) and what was sent (`new`).

    `path` locates it exactly and stays stable for scripts (`/nodes/n0/metadata/retries/retries`);
    `label` and `field` say the same for people ("node n0 (normalize)", "metadata.retries"). `old` or
    `new` is None when the field is absent on that side."""

    path: str
    old: Any
    new: Any
    label: str = ""
    field: str = ""

    def text(self) -> str:
        """One line, e.g. `node n0 (normalize): metadata.retries: 2 -> 7`."""
        where = ": ".join(part for part in (self.label, self.field) if part)
        if isinstance(self.old, dict) and self.new is None:
            change = "removed"
        elif isinstance(self.new, dict) and self.old is None:
            change = "added"
        else:
            change = f"{render_value(self.old)} -> {render_value(self.new)}"
        return f"{where or self.path}: {change}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "text": self.text()}


_MAX_VALUE = 100


def render_value(value: Any) -> str:
    """A value for one line of text: absent as `(none)`, strings bare, anything else as compact JSON,
    cut to a readable length (the JSON output keeps it whole)."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


@dataclass(frozen=True)
class Outcome:
    """One entity's fate. `name` is the identifier as text (e.g. `proj:dom:wf.name:v1`); `detail` carries
    whatever explains the status, for people (for a conflict: one line per field that differs).

    A conflict also carries its `changes` one by one, and the server's own words in `server_message`
    (flyteadmin's workflow diff lists nearly the whole workflow, so it is kept, not shown)."""

    kind: str
    name: str
    status: Status
    detail: str = ""
    changes: tuple[FieldChange, ...] = ()
    server_message: str = ""

    def to_json(self) -> dict[str, Any]:
        """Every key always present, so scripts can rely on the shape."""
        return {
            **self.to_row(),
            "changes": [change.to_json() for change in self.changes],
            "server_message": self.server_message,
        }

    def to_row(self) -> dict[str, str]:
        """The flat part, for tables and Prefect table artifacts."""
        return {"kind": self.kind, "name": self.name, "status": self.status.value, "detail": self.detail}


OutcomeCallback = Callable[[Outcome], None]
"""Called once per outcome as soon as it is known, e.g. by the CLI to draw progress."""


@dataclass
class Result:
    """The outcomes of one automation run, in decision order."""

    operation: str
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    def add(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        return outcome

    def extend(self, outcomes: Iterable[Outcome]) -> None:
        self.outcomes.extend(outcomes)

    def with_status(self, *statuses: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in statuses]

    @property
    def totals(self) -> dict[str, int]:
        """Count per status, in the enum's order, only for statuses that occur."""
        counts = {s: 0 for s in Status}
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return {s.value: n for s, n in counts.items() if n}

    @property
    def ok(self) -> bool:
        return not any(o.status.is_problem for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "totals": self.totals,
            "notes": list(self.notes),
            "outcomes": [o.to_json() for o in self.outcomes],
        }

    def to_rows(self) -> list[dict[str, str]]:
        """Flat rows (one per outcome) for tables and Prefect table artifacts."""
        return [o.to_row() for o in self.outcomes]


# ---- rendering, for the CLI and for logs -------------------------------------------------------------

_COLUMNS = ("kind", "name", "status", "detail")
_MAX_DETAIL = 80


def render_json(result: Result) -> str:
    return json.dumps(result.to_json(), indent=2)


def render_table(result: Result) -> str:
    """A plain aligned table. Multi-line details (diffs) show their first line in the table and in full
    below it, so a diff is readable without widening every row."""
    rows = [{**row, "detail": _first_line(row["detail"])} for row in result.to_rows()]
    lines: list[str] = []
    title = result.operation + (" (dry run)" if result.dry_run else "")
    lines.append(title)
    if rows:
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in _COLUMNS}
        lines.append("  ".join(c.upper().ljust(widths[c]) for c in _COLUMNS).rstrip())
        lines.extend("  ".join(r[c].ljust(widths[c]) for c in _COLUMNS).rstrip() for r in rows)
    else:
        lines.append("(nothing to do)")
    # A conflict's diff, the field changes a sync plans or makes, a long URL: cut in the cell, shown in full.
    long_details = [o for o in result.outcomes if _first_line(o.detail) != o.detail.strip()]
    for outcome in long_details:
        lines.append("")
        lines.append(f"{outcome.status.value}: {outcome.kind} {outcome.name}")
        lines.extend("  " + line for line in outcome.detail.strip().splitlines())
    lines.extend(result.notes)
    totals = ", ".join(f"{n} {status}" for status, n in result.totals.items()) or "nothing"
    lines.append(f"{'ok' if result.ok else 'FAILED'}: {totals}")
    return "\n".join(lines)


def _first_line(text: str) -> str:
    stripped = text.strip()
    first = stripped.splitlines()[0] if stripped else ""
    if len(first) > _MAX_DETAIL or first != stripped:
        first = first[: _MAX_DETAIL - 3].rstrip() + "..."
    return first
