"""The default result table: what needs attention first, and one line of counts for everything else.

A registration of 1,600 entities with two conflicts used to print 1,600 rows, and the two that matter were
lost among them. By default the table lists only the outcomes someone has to act on (`ATTENTION`: a
conflict, a failure, something not attempted), conflicts and failures first, a multi-line detail (a
conflict's changed fields) in full below the table, then the notes and a count per status. `--verbose`
prints every outcome (`ops.results.render_table`), and `-o json` is always complete. Statuses are never
renamed here: the table and the JSON use the same words.
"""

from __future__ import annotations

from collections.abc import Collection

from flyteadmin_ops.ops.results import Outcome, Result, Status, render_table

ATTENTION = (Status.CONFLICT, Status.FAILED, Status.SKIPPED, Status.ROLLED_BACK)
"""Outcomes shown by default: the ones that are not simply done or already so."""

_COLUMNS = ("kind", "name", "status", "detail")
_MAX_DETAIL = 80
MAX_LISTED_SKIPPED = 10


def render_result(result: Result, *, verbose: bool = False, also: Collection[Status] = ()) -> str:
    """The table for `-o table`: every outcome with `verbose`, else the attention-first summary. `also`
    adds statuses a command's user came for (sync-attributes: the changes; promote: the activation)."""
    if verbose:
        return "\n".join([*render_table(result).splitlines()[:-1], counts_line(result)])
    attention, folded = attention_first(result, also)
    title = result.operation + (" (dry run)" if result.dry_run else "")
    lines = [title]
    if attention:
        lines.extend(_rows(attention))
        for outcome in attention:
            if outcome.detail.strip() and _first_line(outcome.detail) != outcome.detail.strip():
                lines.append("")
                lines.append(f"{outcome.status.value}: {outcome.kind} {outcome.name}")
                lines.extend("  " + line for line in outcome.detail.strip().splitlines())
    lines.extend(f"({n} {Status.SKIPPED.value}: {why}; --verbose lists them)" for why, n in folded.items())
    hidden = len(result.outcomes) - len(attention) - sum(folded.values())
    if not result.outcomes:
        lines.append("(nothing to do)")
    elif not attention and not folded:
        lines.append(f"nothing needs attention ({hidden} outcomes: --verbose lists them)")
    elif hidden:
        lines.append(f"({hidden} more not listed: --verbose lists every outcome)")
    lines.extend(result.notes)
    lines.append(counts_line(result))
    return "\n".join(lines)


def attention_first(
    result: Result, also: Collection[Status] = (), *, max_skipped: int = MAX_LISTED_SKIPPED
) -> tuple[list[Outcome], dict[str, int]]:
    """The outcomes to list, conflicts and failures first (each group in decision order), and the
    skipped ones folded into a count per reason when there are more than `max_skipped`: after a conflict
    in the first wave of 1,600 entities, 1,598 "not attempted" rows would bury the one that matters."""
    problems = [o for o in result.outcomes if o.status.is_problem]
    others = [
        o for o in result.outcomes if not o.status.is_problem and (o.status in ATTENTION or o.status in also)
    ]
    skipped = [o for o in others if o.status is Status.SKIPPED]
    folded: dict[str, int] = {}
    if len(skipped) > max_skipped:
        for outcome in skipped:
            reason = _first_line(outcome.detail) or "not attempted"
            folded[reason] = folded.get(reason, 0) + 1
        others = [o for o in others if o.status is not Status.SKIPPED]
    return problems + others, folded


def counts_line(result: Result) -> str:
    """`ok: created 1598, exists 2` or `FAILED: created 1597, conflict 1, skipped 2`: status, then count,
    so the words line up with the table's status column."""
    counts = ", ".join(f"{status} {n}" for status, n in result.totals.items()) or "nothing"
    return f"{'ok' if result.ok else 'FAILED'}: {counts}"


def _rows(outcomes: list[Outcome]) -> list[str]:
    rows = [{**o.to_row(), "detail": _first_line(o.detail)} for o in outcomes]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in _COLUMNS}
    header = "  ".join(c.upper().ljust(widths[c]) for c in _COLUMNS).rstrip()
    return [header, *("  ".join(r[c].ljust(widths[c]) for c in _COLUMNS).rstrip() for r in rows)]


def _first_line(text: str) -> str:
    stripped = text.strip()
    first = stripped.splitlines()[0] if stripped else ""
    if len(first) > _MAX_DETAIL or first != stripped:
        first = first[: _MAX_DETAIL - 3].rstrip() + "..."
    return first
