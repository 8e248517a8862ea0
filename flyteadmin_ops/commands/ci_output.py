"""CI-native output on GitHub Actions: a Markdown job summary and `::error` annotations.

- `GITHUB_STEP_SUMMARY` set (the runner names a file per step): a Markdown summary is *appended* to it
  (other tools of the same step may have written there too): the title with ok/FAILED, a table of counts
  per status, and the outcomes that need attention with their detail (a conflict's changed fields).
- `GITHUB_ACTIONS=true`: each conflict and failure also becomes an `::error title=...::message`
  annotation, shown on the run's summary page and the pull request. GitHub's documentation has workflow
  commands written to stdout, so that is where they go with `-o table`. With `-o json`, stdout must stay
  one parseable document, so they go to stderr, which the runner scans for workflow commands as well.
  GitHub shows at most 10 error annotations per step; past `MAX_ANNOTATIONS` one more annotation says how
  many were left out (the summary and the JSON have them all).

Values are escaped as the runner unescapes them: `%`, `\\r`, `\\n` in the message, plus `:` and `,` in
properties such as the title. Never a secret here: outcomes carry identifiers, statuses and diffs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

from flyteadmin_ops.commands.tables import attention_first
from flyteadmin_ops.ops.results import Outcome, Result, Status

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
ACTIONS_ENV = "GITHUB_ACTIONS"
MAX_ANNOTATIONS = 10
ANNOTATED = (Status.CONFLICT, Status.FAILED)
_MAX_SUMMARY_ROWS = 200


def publish(
    result: Result,
    *,
    output: str,
    stdout: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Write the summary and the annotations that the environment asks for; nothing outside CI."""
    env = os.environ if environ is None else environ
    summary_path = env.get(SUMMARY_ENV, "")
    if summary_path:
        try:
            with open(summary_path, "a", encoding="utf-8") as summary:
                summary.write(step_summary(result))
        except OSError as exc:  # the result is printed already; a missing summary must not change the exit
            stderr.write(f"warning: could not append the job summary to {summary_path}: {exc.strerror}\n")
    if env.get(ACTIONS_ENV) == "true":
        lines = error_annotations(result)
        if lines:
            stream = stderr if output == "json" else stdout
            stream.write("".join(line + "\n" for line in lines))
            stream.flush()


def publish_failure(
    command: str, message: str, *, stream: TextIO, environ: Mapping[str, str] | None = None
) -> None:
    """For a command that ends without a result (bad input, bad settings): one `::error` annotation on
    GitHub Actions, on `stream` (stderr keeps a JSON error document on stdout alone)."""
    env = os.environ if environ is None else environ
    if env.get(ACTIONS_ENV) == "true":
        stream.write(
            f"::error title={escape_property(f'flyteadmin-ops {command}')}::{escape_data(message)}\n"
        )
        stream.flush()


def error_annotations(result: Result) -> list[str]:
    """One `::error` line per conflict or failure: at most MAX_ANNOTATIONS, then a count of the rest."""
    problems = [o for o in result.outcomes if o.status in ANNOTATED]
    lines = [_annotation(result.operation, o) for o in problems[:MAX_ANNOTATIONS]]
    rest = len(problems) - MAX_ANNOTATIONS
    if rest > 0:
        lines.append(
            f"::error title={escape_property(result.operation + ': more problems')}::"
            + escape_data(f"{rest} more conflicts or failures: see the job summary or -o json")
        )
    return lines


def _annotation(operation: str, outcome: Outcome) -> str:
    title = f"{operation} {outcome.status.value}: {outcome.kind} {outcome.name}"
    message = outcome.detail.strip() or outcome.status.value
    return f"::error title={escape_property(title)}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """A workflow command's message: `%` first, so that the escapes themselves survive."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (title=...): the message's escapes plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def step_summary(result: Result) -> str:
    """The Markdown block for the job summary, ending with a blank line so the next block stands apart."""
    verdict = "ok" if result.ok else "FAILED"
    title = f"### flyteadmin-ops {result.operation}" + (" (dry run)" if result.dry_run else "")
    lines = [f"{title}: {verdict}", ""]
    lines.extend(f"- {_md_text(note)}" for note in result.notes)
    if result.notes:
        lines.append("")
    lines.extend(["| status | count |", "|---|---:|"])
    lines.extend(f"| {status} | {n} |" for status, n in result.totals.items())
    if not result.totals:
        lines.append("| (nothing to do) | 0 |")
    attention, folded = attention_first(result)
    if attention:
        lines.extend(["", "| status | kind | name | detail |", "|---|---|---|---|"])
        lines.extend(
            f"| {o.status.value} | {_cell(o.kind)} | `{_cell(o.name)}` | {_cell(o.detail)} |"
            for o in attention[:_MAX_SUMMARY_ROWS]
        )
        if len(attention) > _MAX_SUMMARY_ROWS:
            lines.append(f"\n{len(attention) - _MAX_SUMMARY_ROWS} more: see `-o json`.")
    if folded:
        lines.append("")
        lines.extend(f"- {n} {Status.SKIPPED.value}: {_md_text(why)}" for why, n in folded.items())
    return "\n".join(lines) + "\n\n"


def _cell(text: str) -> str:
    """Text for one Markdown table cell: pipes escaped, lines joined with <br>."""
    return "<br>".join(_md_text(line) for line in text.strip().splitlines()) or " "


def _md_text(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")
