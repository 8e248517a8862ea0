"""The cron parser flyteadmin validates launch plan schedules with, and the answer it gives.

flyteadmin v1.16.8 calls `cron.ParseStandard` of robfig/cron v3 (replaced in its go.mod by the unionai fork,
whose parser is robfig's) on `cron_expression`, or else on `cron_schedule.schedule`, and answers
INVALID_ARGUMENT `Invalid cron expression: <parser error>`. The parser, modelled here step by step so that any
bad schedule gets the text a real server gives:
- an optional `TZ=<zone> ` / `CRON_TZ=<zone> ` prefix (a prefix without a space makes it panic: INTERNAL with
  an empty message, from flyteadmin's recovery interceptor);
- descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly`, `@every <Go duration>`;
- otherwise exactly 5 whitespace-separated fields (minute hour day-of-month month day-of-week), each a comma
  list of `*`/`?`/`N`/`N-M` with an optional `/step`, months and weekdays also by name (`JAN`, `mon`).
Validation stops at the first error, in field order; the messages carry no field name.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field

import grpc

from flyteadmin_ops.emulator.common import INVALID
from flyteadmin_ops.emulator.registry import AdminError


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# minute, hour, day of month, month, day of week: the fields of a standard spec, in order
_FIELDS = (
    _Bounds(0, 59),
    _Bounds(0, 23),
    _Bounds(1, 31),
    _Bounds(1, 12, {name: number + 1 for number, name in enumerate(_MONTHS)}),
    _Bounds(0, 6, {name: number for number, name in enumerate(_WEEKDAYS)}),
)
_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_EVERY = "@every "

# Go's unicode.IsSpace, which strings.Fields splits on and strings.TrimSpace trims.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
_GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"
_GO_SPACES = re.compile(f"[{_GO_SPACE}]+")

_MAX_INT64 = (1 << 63) - 1
_ATOI = re.compile(r"[+-]?[0-9]+")


class _Panic(Exception):
    """The Go parser would panic (a slice out of range) on this spec."""


def validate_cron_expression(spec: str) -> None:
    """flyteadmin's schedule check: INVALID_ARGUMENT with the parser's error, INTERNAL "" on a panic."""
    try:
        problem = parse_error(spec)
    except _Panic:
        raise AdminError(grpc.StatusCode.INTERNAL, "") from None
    if problem is not None:
        raise AdminError(INVALID, f"Invalid cron expression: {problem}")


def parse_error(spec: str) -> str | None:
    """`cron.ParseStandard(spec)`'s error text, or None when it parses."""
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space, equals = spec.find(" "), spec.find("=")
        if space < 0:
            raise _Panic
        zone = spec[equals + 1 : space]
        problem = _location_error(zone)
        if problem:
            return f"provided bad location {zone}: {problem}"
        spec = spec[space:].strip(_GO_SPACE)
    if spec.startswith("@"):
        return _descriptor_error(spec)
    fields = [part for part in _GO_SPACES.split(spec) if part]
    if len(fields) != len(_FIELDS):
        return f"expected exactly {len(_FIELDS)} fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, bounds in zip(fields, _FIELDS, strict=True):
        problem = _field_error(text, bounds)
        if problem:
            return problem
    return None


def _location_error(zone: str) -> str | None:
    """`time.LoadLocation`'s error for a zone name ("" and "UTC" are UTC, "Local" the server's zone)."""
    if zone in ("", "UTC", "Local"):
        return None
    if ".." in zone or zone[0] in "/\\":
        return "time: invalid location name"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {zone}"
    return None


def _descriptor_error(spec: str) -> str | None:
    if spec in _DESCRIPTORS:
        return None
    if spec.startswith(_EVERY):
        problem = duration_error(spec[len(_EVERY) :])
        return f"failed to parse duration {spec}: {problem}" if problem else None
    return f"unrecognized descriptor: {spec}"


def _field_error(text: str, bounds: _Bounds) -> str | None:
    """`getField`: a comma list of ranges (empty items are skipped, as `strings.FieldsFunc` does)."""
    for expression in (part for part in text.split(",") if part):
        problem = _range_error(expression, bounds)
        if problem:
            return problem
    return None


def _range_error(expression: str, bounds: _Bounds) -> str | None:
    """`getRange`: `*`, `?`, `N` or `N-M`, then an optional `/step`; `N/step` runs to the maximum."""
    range_and_step = expression.split("/")
    low_and_high = range_and_step[0].split("-")
    if low_and_high[0] in ("*", "?"):
        start, end = bounds.low, bounds.high
    else:
        start_or_error = _int_or_name(low_and_high[0], bounds.names)
        if isinstance(start_or_error, str):
            return start_or_error
        start = end = start_or_error
        if len(low_and_high) == 2:
            end_or_error = _int_or_name(low_and_high[1], bounds.names)
            if isinstance(end_or_error, str):
                return end_or_error
            end = end_or_error
        elif len(low_and_high) > 2:
            return f"too many hyphens: {expression}"
    step = 1
    if len(range_and_step) == 2:
        step_or_error = _non_negative_int(range_and_step[1])
        if isinstance(step_or_error, str):
            return step_or_error
        step = step_or_error
        if len(low_and_high) == 1:
            end = bounds.high
    elif len(range_and_step) > 2:
        return f"too many slashes: {expression}"
    if start < bounds.low:
        return f"beginning of range ({start}) below minimum ({bounds.low}): {expression}"
    if end > bounds.high:
        return f"end of range ({end}) above maximum ({bounds.high}): {expression}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expression}"
    if step == 0:
        return f"step of range should be a positive number: {expression}"
    return None


def _int_or_name(text: str, names: dict[str, int]) -> int | str:
    """A month or weekday name (any case), else a number; the error text when neither."""
    if text.lower() in names:
        return names[text.lower()]
    return _non_negative_int(text)


def _non_negative_int(text: str) -> int | str:
    """`mustParseInt`: `strconv.Atoi` (an optional sign, decimal digits, within int64), not negative."""
    if not _ATOI.fullmatch(text):
        return f"failed to parse int from {text}: strconv.Atoi: parsing {_go_quote(text)}: invalid syntax"
    number = int(text)
    if not -_MAX_INT64 - 1 <= number <= _MAX_INT64:
        return f"failed to parse int from {text}: strconv.Atoi: parsing {_go_quote(text)}: value out of range"
    if number < 0:
        return f"negative number ({number}) not allowed: {text}"
    return number


def _go_quote(text: str) -> str:
    """`strconv.Quote` for the texts a cron field can hold (printable text stays, controls are escaped)."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}
    escapes |= {"\f": "\\f", "\v": "\\v"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# --- Go's time.ParseDuration, for `@every` ------------------------------------------------------------------

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def duration_error(original: str) -> str | None:
    """`time.ParseDuration`'s error text (`[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`), or None."""
    invalid = f"time: invalid duration {_time_quote(original)}"
    text = original
    if text[:1] in ("-", "+"):
        negative, text = text[0] == "-", text[1:]
    else:
        negative = False
    if text == "0":
        return None
    if not text:
        return invalid
    total = 0
    while text:
        if not (text[0] == "." or (text[0].isascii() and text[0].isdigit())):
            return invalid
        whole, text = _leading_digits(text)
        fraction = ""
        if text.startswith("."):
            fraction, text = _leading_digits(text[1:])
            if not whole and not fraction:
                return invalid
        elif not whole:
            return invalid
        value = int(whole or "0")
        if value > 1 << 63:
            return invalid
        unit_length = 0
        while unit_length < len(text) and not (text[unit_length] == "." or text[unit_length] in "0123456789"):
            unit_length += 1
        if unit_length == 0:
            return f"time: missing unit in duration {_time_quote(original)}"
        unit, text = text[:unit_length], text[unit_length:]
        if unit not in _UNITS:
            return f"time: unknown unit {_time_quote(unit)} in duration {_time_quote(original)}"
        scale = _UNITS[unit]
        if value > (1 << 63) // scale:
            return invalid
        value *= scale
        if fraction.strip("0"):
            value += int(int(fraction) * (scale / 10 ** len(fraction)))
        total += value
        if value > 1 << 63 or total > 1 << 63:
            return invalid
    if not negative and total > _MAX_INT64:
        return invalid
    return None


def _leading_digits(text: str) -> tuple[str, str]:
    """`text` split after its leading ASCII digits."""
    rest = text.lstrip("0123456789")
    return text[: len(text) - len(rest)], rest


def _time_quote(text: str) -> str:
    """The `time` package's own quoting: `"` and `\\` escaped, every byte of a non-ASCII or control
    character as `\\xNN`."""
    out = []
    for char in text:
        if ord(char) >= 0x80 or char < " ":
            out.append("".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")))
        elif char in '"\\':
            out.append("\\" + char)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
