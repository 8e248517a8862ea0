"""What PostgreSQL does with a filter value: flyteadmin sends every value as text and lets Postgres cast it.

flyteadmin's filter parser checks field names but not values (its timestamp map is keyed `CreatedAt`, so it
never matches): `eq(state,x)` reaches Postgres, whose input function for the column's type refuses it, and
flyteadmin passes that on as UNKNOWN `failed database operation with <postgres message>`. The functions
here take the text as Postgres 15 does (integer, bigint, bytea, timestamp with time zone) and return the
value the emulator's SQLite compares with, or raise :class:`PgError` with Postgres' message.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc

from flyteadmin_ops.emulator.registry import AdminError

TIMESTAMPTZ = "timestamp with time zone"
INTEGER = "integer"
BIGINT = "bigint"
BYTEA = "bytea"
TEXT = "text"
_INTEGER_RANGES = {INTEGER: 2**31, BIGINT: 2**63, "smallint": 2**15}

# Sortable stand-ins for Postgres' infinite timestamps next to `common.db_time` text ("2024-...").
INFINITY_TEXT = "~infinity"
MINUS_INFINITY_TEXT = "-infinity"


class PgError(AdminError):
    """A Postgres error as flyteadmin's error transformer shows it (UNKNOWN, `failed database operation
    with ...`)."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNKNOWN, f"failed database operation with {message}")


def invalid_syntax(type_name: str, value: str) -> PgError:
    return PgError(f'invalid input syntax for type {type_name}: "{value}"')


def parse_integer(value: str, type_name: str = INTEGER) -> int:
    """`int4in`/`int8in` of Postgres 15: surrounding blanks, an optional sign, decimal digits."""
    text = value.strip(" \t\n\r\f\v")
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise invalid_syntax(type_name, value)
    number = int(text)
    bound = _INTEGER_RANGES.get(type_name, 2**63)
    if not -bound <= number < bound:
        raise PgError(f'value "{value}" is out of range for type {type_name}')
    return number


def parse_bytea(value: str) -> bytes:
    """`byteain`: `\\x` and hex pairs, or the escape format (a backslash starts `\\\\` or 3 octal digits)."""
    if value.startswith("\\x"):
        digits = re.sub(r"\s", "", value[2:])
        if re.search(r"[^0-9a-fA-F]", digits):
            bad = re.search(r"[^0-9a-fA-F\s]", value[2:])
            raise PgError(f'invalid hexadecimal digit: "{bad.group(0) if bad else ""}"')
        if len(digits) % 2:
            raise PgError("invalid hexadecimal data: odd number of digits")
        return bytes.fromhex(digits)
    out = bytearray()
    index = 0
    raw = value.encode()
    while index < len(raw):
        if raw[index] != ord("\\"):
            out.append(raw[index])
            index += 1
        elif raw[index + 1 : index + 2] == b"\\":
            out.append(ord("\\"))
            index += 2
        elif re.fullmatch(rb"[0-3][0-7][0-7]", raw[index + 1 : index + 4]):
            out.append(int(raw[index + 1 : index + 4], 8))
            index += 4
        else:
            raise PgError("invalid input syntax for type bytea")
    return bytes(out)


# --- timestamp with time zone ------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = {
    "sun", "sunday", "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday",
    "thu", "thur", "thurs", "thursday", "fri", "friday", "sat", "saturday",
}  # fmt: skip
# Postgres' default timezone abbreviations (the common ones), in hours east of UTC.
_ZONE_ABBREVIATIONS = {
    "z": 0, "zulu": 0, "utc": 0, "gmt": 0, "ut": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5,
    "mst": -7, "mdt": -6, "pst": -8, "pdt": -7, "akst": -9, "akdt": -8, "hst": -10, "cet": 1, "cest": 2,
    "met": 1, "mest": 2, "eet": 2, "eest": 3, "wet": 0, "west": 1, "bst": 1, "jst": 9, "kst": 9,
}  # fmt: skip
_RELATIVE_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_TOKEN = re.compile(
    r"(?P<time>\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d*)?)?)"
    r"|(?P<zone>[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?)"
    r"|(?P<date>\d+(?:[-/.][a-z0-9]+)+)"
    r"|(?P<number>\d+)"
    r"|(?P<julian>j\d+)"
    r"|(?P<word>[a-z][a-z_]*(?:/[a-z_]+)*)"
    r"|(?P<blank>[\s,]+)"
)


class _Broken(Exception):
    """The text is no timestamp (`invalid`) or has a field out of range (`range`), as Postgres tells apart."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def parse_timestamptz(value: str, now: datetime) -> datetime | str:
    """`timestamptz_in` for the forms Postgres reads (ISO 8601, `Jan 5 2024`, `1/2/2024`, `20240102`,
    `J2451187`, `1999.008`, special words, zones by offset, abbreviation or name), in UTC; or one of the
    infinity stand-ins. Raises PgError as Postgres would."""
    text = value.strip().lower()
    special = {"infinity": INFINITY_TEXT, "-infinity": MINUS_INFINITY_TEXT}.get(text)
    if special is not None:
        return special
    try:
        return _decode(text, now)
    except _Broken as broken:
        if broken.kind == "range":
            raise PgError(f'date/time field value out of range: "{value}"') from None
        if broken.kind == "zone":
            raise PgError(f'time zone displacement out of range: "{value}"') from None
        raise invalid_syntax(TIMESTAMPTZ, value) from None


def _tokens(text: str) -> list[tuple[str, str]]:
    # An ISO `T` between a date and a time, and a glued zone (`10:00z`), become separate tokens.
    text = re.sub(r"(?<=\d)t(?=\d)", " ", text)
    text = re.sub(r"(?<=\d)(z|utc|gmt)$", r" \1", text)
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise _Broken("invalid")
        if match.lastgroup != "blank":
            tokens.append((match.lastgroup, match.group(0)))
        position = match.end()
    return tokens


def _decode(text: str, now: datetime) -> datetime:
    if not text:
        raise _Broken("invalid")
    year = month = day = None
    clock: tuple[int, int, int, int] | None = None
    offset: timedelta | None = None
    zone_name: str | None = None
    meridiem = ""
    pending_numbers: list[str] = []
    for kind, token in _tokens(text):
        if kind == "time":
            if clock is not None:
                raise _Broken("invalid")
            clock = _clock(token)
        elif kind == "zone":
            if offset is not None or zone_name or (clock is None and year is None):
                raise _Broken("invalid")
            offset = _displacement(token)
        elif kind == "date":
            if year is not None:
                raise _Broken("invalid")
            year, month, day = _date_fields(token)
        elif kind == "number":
            if year is not None and clock is None and len(token) == 6:
                clock = _clock(f"{token[:2]}:{token[2:4]}:{token[4:]}")
            elif year is None and len(token) == 8:
                year, month, day = int(token[:4]), int(token[4:6]), int(token[6:])
            else:
                pending_numbers.append(token)
        elif kind == "julian":
            if year is not None:
                raise _Broken("invalid")
            julian = date.fromordinal(int(token[1:]) - 1721425) if int(token[1:]) > 1721425 else None
            if julian is None:
                raise _Broken("range")
            year, month, day = julian.year, julian.month, julian.day
        elif token in _MONTHS:
            if month is not None:
                raise _Broken("invalid")
            month = _MONTHS[token]
        elif token in _WEEKDAYS or token == "ad":
            continue
        elif token in ("am", "pm"):
            meridiem = token
        elif token in _RELATIVE_DAYS or token in ("now", "epoch"):
            if year is not None or month is not None:
                raise _Broken("invalid")
            base = now.astimezone(timezone.utc)
            if token == "now":
                return base
            if token == "epoch":
                return datetime(1970, 1, 1, tzinfo=timezone.utc)
            moment = base.date() + timedelta(days=_RELATIVE_DAYS[token])
            year, month, day = moment.year, moment.month, moment.day
        elif token in _ZONE_ABBREVIATIONS:
            if offset is not None or zone_name:
                raise _Broken("invalid")
            offset = timedelta(hours=_ZONE_ABBREVIATIONS[token])
        elif "/" in token:
            zone_name = token
        else:
            raise _Broken("invalid")
    if month is not None and year is None:  # `Jan 5 2024`, `5 Jan 2024`: numbers give day and year
        if len(pending_numbers) != 2:
            raise _Broken("invalid")
        before, after = pending_numbers
        year_last = len(after) > 2 or len(before) <= 2
        day, year = (int(before), int(after)) if year_last else (int(after), int(before))
        pending_numbers = []
    if year is None or month is None or day is None or pending_numbers:
        raise _Broken("invalid")
    hour, minute, second, micro = clock or (0, 0, 0, 0)
    if meridiem:
        if clock is None or hour > 12:
            raise _Broken("range" if clock else "invalid")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if year == 0:
        raise _Broken("range")
    try:
        moment = datetime(year, month, day, tzinfo=timezone.utc)
    except ValueError:
        raise _Broken("range") from None
    moment += timedelta(hours=hour, minutes=minute, seconds=second, microseconds=micro)
    if zone_name is not None:
        try:
            zone = ZoneInfo(_zone_key(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise _Broken("invalid") from None
        local = moment.replace(tzinfo=None)
        return local.replace(tzinfo=zone).astimezone(timezone.utc)
    return moment - (offset or timedelta())


def _zone_key(lowered: str) -> str:
    """`europe/paris` -> `Europe/Paris` (Postgres matches zone names without regard to case)."""
    return "/".join("_".join(p.capitalize() for p in part.split("_")) for part in lowered.split("/"))


def _clock(token: str) -> tuple[int, int, int, int]:
    parts = token.split(":")
    hour, minute = int(parts[0]), int(parts[1])
    seconds = parts[2] if len(parts) > 2 else "0"
    whole, _, fraction = seconds.partition(".")
    second = int(whole)
    micro = round(int(fraction) / 10 ** (len(fraction) - 6)) if fraction else 0
    if minute > 59 or second > 60 or hour > 24 or (hour == 24 and (minute or second or micro)):
        raise _Broken("range")
    return hour, minute, second, micro


def _displacement(token: str) -> timedelta:
    sign = -1 if token[0] == "-" else 1
    digits = token[1:].replace(":", "")
    if len(digits) in (1, 3):  # `+5`, `+530`
        digits = "0" + digits
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    if hours > 15 or minutes > 59 or seconds > 59:
        raise _Broken("zone")
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _date_fields(token: str) -> tuple[int, int, int]:
    parts = re.split(r"[-/.]", token)
    if len(parts) == 2 and "." in token and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        start = date(int(parts[0]), 1, 1) if int(parts[0]) else None  # `1999.008`: year and day of year
        if start is None or not 1 <= int(parts[1]) <= 366:
            raise _Broken("range")
        moment = start + timedelta(days=int(parts[1]) - 1)
        return moment.year, moment.month, moment.day
    if len(parts) != 3:
        raise _Broken("invalid")
    months = [i for i, part in enumerate(parts) if part in _MONTHS]
    if any(not part.isdigit() for i, part in enumerate(parts) if i not in months) or len(months) > 1:
        raise _Broken("invalid")
    if months:  # `2024-jan-05`, `05-jan-2024`
        index = months[0]
        numbers = [p for i, p in enumerate(parts) if i != index]
        year_first = len(numbers[0]) > 2
        year_text, day_text = (numbers[0], numbers[1]) if year_first else (numbers[1], numbers[0])
        return _year(year_text), _MONTHS[parts[index]], int(day_text)
    if len(parts[0]) > 2:  # ISO order
        return _year(parts[0]), int(parts[1]), int(parts[2])
    return _year(parts[2]), int(parts[0]), int(parts[1])  # DateStyle MDY


def _year(text: str) -> int:
    """A two-digit year is 1970-2069, as Postgres reads it."""
    year = int(text)
    if len(text) <= 2:
        year += 2000 if year < 70 else 1900
    return year
