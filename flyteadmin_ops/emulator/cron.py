"""A validator for the cron dialect flyteadmin accepts (robfig/cron `ParseStandard`).

Standard 5-field cron (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
month/day names, plus the descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly` and
`@every <duration>`, and an optional leading `CRON_TZ=`/`TZ=` zone. Returns an error text, or None if valid.
"""

from __future__ import annotations

import re

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            )
        },
    ),
    ("day of week", 0, 6, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+")


def cron_error(expression: str) -> str | None:
    spec = expression.strip()
    if not spec:
        return "empty spec string"
    if spec.startswith(("CRON_TZ=", "TZ=")):
        _, _, spec = spec.partition(" ")
        spec = spec.strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            duration = spec[len("@every ") :].strip()
            return (
                None if _GO_DURATION.fullmatch(duration) else f"failed to parse duration {spec}: {duration}"
            )
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        return f"expected exactly 5 fields, found {len(fields)}: {spec}"
    for text, (label, low, high, names) in zip(fields, _FIELDS, strict=False):
        problem = _field_error(text, low, high, names)
        if problem:
            return f"{problem} ({label})"
    return None


def _field_error(text: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for part in text.split(","):
        range_text, _, step_text = part.partition("/")
        if step_text and not (step_text.isdigit() and int(step_text) > 0):
            return f"failed to parse int from {step_text}"
        if range_text in ("*", "?"):
            continue
        bounds = range_text.split("-")
        if len(bounds) > 2:
            return f"too many hyphens: {part}"
        values = []
        for bound in bounds:
            value = names.get(bound.lower()) if not bound.isdigit() else int(bound)
            if value is None:
                return f"failed to parse int from {bound}"
            values.append(value)
        if values[0] < low:
            return f"beginning of range ({values[0]}) below minimum ({low}): {part}"
        if values[-1] > high:
            return f"end of range ({values[-1]}) above maximum ({high}): {part}"
        if values[0] > values[-1]:
            return f"beginning of range ({values[0]}) beyond end of range ({values[-1]}): {part}"
    return None
