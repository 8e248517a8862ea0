"""Filter expressions in flyteadmin's grammar, validated before they reach the server.

flyteadmin parses `func(field,value)` expressions joined by `+` with the regex `(.+)\\((.+),\\s?(.+)\\)`
(`pkg/common/filters.go`). A `+` inside a value would split the expression, a `,` would move the field
boundary, and an unknown function is only reported after a round trip. Building filters here catches all of
that with an error naming the filter at fault:

    >>> str(Filters.eq("phase", "FAILED") + gte("started_at", datetime(2024, 1, 1, tzinfo=timezone.utc)))
    'eq(phase,FAILED)+gte(started_at,2024-01-01T00:00:00Z)'

The same regex drops one whitespace character after the comma and stops at a newline, so a value that
starts with whitespace or holds a newline is refused too. `parse_filters` reads a filter string written by
a person with the same checks, and gives back exactly what the builders would have made:
`parse_filters(str(filters)) == filters`.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Union

FUNCTIONS = frozenset(
    {"eq", "ne", "gt", "gte", "lt", "lte", "contains", "not_like", "value_in", "value_not_in"}
)
"""Every filter function flyteadmin accepts."""

_LIST_FUNCTIONS = frozenset({"value_in", "value_not_in"})
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")
_FORBIDDEN_IN_VALUE = {"+": "joins expressions", ",": "separates field and value"}


class FilterError(ValueError):
    """A filter that flyteadmin would misparse or reject; the message names the filter and the fault."""


_SCALAR_TYPES = (str, int, float, bool, datetime.datetime, datetime.date, datetime.timedelta, enum.Enum)
Scalar = Union[str, int, float, bool, datetime.datetime, datetime.date, datetime.timedelta, enum.Enum]  # noqa: UP007 - runtime alias


def render_value(value: Any, where: str) -> str:
    """One value as flyteadmin's filter parser expects it."""
    if isinstance(value, enum.Enum):
        value = value.name
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise FilterError(
                f"{where}: datetime {value.isoformat()} has no time zone; pass an aware datetime "
                "(e.g. tzinfo=timezone.utc) so the filter means one instant"
            )
        utc = value.astimezone(datetime.timezone.utc)
        text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
        text = text.replace("+00:00", "Z")
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, datetime.timedelta):
        text = _go_duration(value, where)
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        raise FilterError(f"{where}: cannot use a {type(value).__name__} as a filter value")
    if not text:
        raise FilterError(f"{where}: the value is empty")
    for char, role in _FORBIDDEN_IN_VALUE.items():
        if char in text:
            raise FilterError(
                f"{where}: the value {text!r} contains {char!r}, which {role} in flyteadmin filters"
            )
    return text


# What Go's time.Duration holds (int64 nanoseconds), about 292 years.
_MAX_DURATION_US = (2**63 - 1) // 1000


def _go_duration(value: datetime.timedelta, where: str) -> str:
    """A duration as exact Go duration text (`60.5s`, `-3600s`). flyteadmin formats a bare number with Go's
    `%v` before parsing it as a duration, which turns 1000000 into `1e+06s`, a text Go then refuses; a
    value with its unit never takes that path."""
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    if abs(micros) > _MAX_DURATION_US:
        raise FilterError(f"{where}: {value} is longer than a Go duration holds (about 292 years)")
    whole, fraction = divmod(abs(micros), 1_000_000)
    sign = "-" if micros < 0 else ""
    return f"{sign}{whole}.{fraction:06d}".rstrip("0").rstrip(".") + "s"


def _survives_the_split(text: str, where: str) -> str:
    """`text` when flyteadmin's expression regex gives it back unchanged: the regex drops one whitespace
    character after the comma, and its `.` stops at a newline."""
    if text[:1] in _GO_SPACE:
        raise FilterError(f"{where}: the value {text!r} starts with whitespace, which flyteadmin drops")
    if "\n" in text:
        raise FilterError(f"{where}: the value {text!r} contains a newline, which flyteadmin cannot match")
    return text


_GO_SPACE = frozenset("\t\n\f\r ")


@dataclass(frozen=True)
class Filter:
    """One `function(field,value)` expression, validated on construction."""

    function: str
    field: str
    value: str

    @classmethod
    def of(cls, function: str, field: str, value: Scalar | Iterable[Scalar]) -> Filter:
        where = f"filter {function}({field}, ...)"
        if function not in FUNCTIONS:
            raise FilterError(f"{where}: unknown function {function!r}; flyteadmin knows {sorted(FUNCTIONS)}")
        if not _FIELD.match(field):
            raise FilterError(f"{where}: {field!r} is not a column name (optionally prefixed `entity.`)")
        if function in _LIST_FUNCTIONS:
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise FilterError(f"{where}: {function} takes a list of values")
            items = [render_value(item, where) for item in value]
            if not items:
                raise FilterError(f"{where}: {function} needs at least one value")
            for item in items:
                if ";" in item:
                    raise FilterError(f"{where}: the value {item!r} contains ';', which separates values")
            return cls(function, field, _survives_the_split(";".join(items), where))
        if not isinstance(value, _SCALAR_TYPES):
            raise FilterError(f"{where}: {function} takes one value, got {type(value).__name__}")
        text = render_value(value, where)
        if ";" in text and function != "contains":
            raise FilterError(
                f"{where}: the value {text!r} contains ';', which makes it a list of values that {function} "
                "cannot compare with (flyteadmin's database refuses it); use value_in for several values"
            )
        return cls(function, field, _survives_the_split(text, where))

    def to_flyte_idl(self) -> str:
        """The expression text; named like flytekit's models so either can be passed where filters go."""
        return f"{self.function}({self.field},{self.value})"

    def __str__(self) -> str:
        return self.to_flyte_idl()

    def __add__(self, other: Filter | FilterList) -> FilterList:
        return FilterList((self,)) + other


@dataclass(frozen=True)
class FilterList:
    """Filters joined by `+` (all must hold)."""

    filters: tuple[Filter, ...] = ()

    def __add__(self, other: Filter | FilterList) -> FilterList:
        if isinstance(other, Filter):
            return FilterList((*self.filters, other))
        if isinstance(other, FilterList):
            return FilterList((*self.filters, *other.filters))
        return NotImplemented

    def __iter__(self) -> Iterator[Filter]:
        return iter(self.filters)

    def __len__(self) -> int:
        return len(self.filters)

    def to_flyte_idl(self) -> str:
        return "+".join(f.to_flyte_idl() for f in self.filters)

    def __str__(self) -> str:
        return self.to_flyte_idl()


def eq(field: str, value: Scalar) -> Filter:
    return Filter.of("eq", field, value)


def ne(field: str, value: Scalar) -> Filter:
    return Filter.of("ne", field, value)


def gt(field: str, value: Scalar) -> Filter:
    return Filter.of("gt", field, value)


def gte(field: str, value: Scalar) -> Filter:
    return Filter.of("gte", field, value)


def lt(field: str, value: Scalar) -> Filter:
    return Filter.of("lt", field, value)


def lte(field: str, value: Scalar) -> Filter:
    return Filter.of("lte", field, value)


def contains(field: str, value: Scalar) -> Filter:
    return Filter.of("contains", field, value)


def not_like(field: str, pattern: str) -> Filter:
    """`NOT LIKE pattern`; the pattern is a raw SQL LIKE pattern (`%` and `_` are wildcards)."""
    return Filter.of("not_like", field, pattern)


def value_in(field: str, values: Iterable[Scalar]) -> Filter:
    return Filter.of("value_in", field, values)


def value_not_in(field: str, values: Iterable[Scalar]) -> Filter:
    return Filter.of("value_not_in", field, values)


class Filters:
    """The filter builders as one namespace: `Filters.eq("phase", "FAILED") + Filters.gte(...)`."""

    eq = staticmethod(eq)
    ne = staticmethod(ne)
    gt = staticmethod(gt)
    gte = staticmethod(gte)
    lt = staticmethod(lt)
    lte = staticmethod(lte)
    contains = staticmethod(contains)
    not_like = staticmethod(not_like)
    value_in = staticmethod(value_in)
    value_not_in = staticmethod(value_not_in)


FilterInput = Union[str, Filter, FilterList, Iterable[Any], None]  # noqa: UP007 - runtime alias
"""What `filters=` accepts: a filter string, our filters, flytekit filter models, or a list of any of them."""


# One expression as flyteadmin splits it: function, then field up to the first comma, then the value.
# Go's `\s` is ASCII whitespace and its `.` stops at a newline, as Python's does.
_EXPRESSION = re.compile(r"^(?P<function>[a-z_]+)\((?P<field>[^,()]*),[\t\n\f\r ]?(?P<value>.*)\)\Z")


def parse_filters(text: str) -> FilterList:
    """A filter string (`eq(phase,FAILED)+value_in(mode,1;2)`) as the filters it holds, checked as the
    builders check them; raises FilterError naming the expression at fault. Values stay text, exactly as
    written, so `parse_filters(str(filters)) == filters` for anything the builders made.

    For filter strings from people (`get --filter`, configuration): flyteadmin itself reports a malformed
    filter only as an opaque INVALID_ARGUMENT after a round trip."""
    if not isinstance(text, str):
        raise FilterError(f"filters: expected a string, got {type(text).__name__}")
    if not text.strip():
        raise FilterError("filters: empty; e.g. eq(phase,FAILED)")
    parsed = []
    for expression in text.split("+"):
        match = _EXPRESSION.match(expression)
        shown = _shown(expression)
        if match is None:
            raise FilterError(f"filter {shown}: not function(field,value), e.g. eq(phase,FAILED)")
        function, field, value = match["function"], match["field"], match["value"]
        if function not in FUNCTIONS:
            raise FilterError(
                f"filter {shown}: unknown function {function!r}; flyteadmin knows {sorted(FUNCTIONS)}"
            )
        if not _FIELD.match(field):
            raise FilterError(
                f"filter {shown}: {field!r} is not a column name (optionally prefixed `entity.`)"
            )
        values = value.split(";") if function in _LIST_FUNCTIONS else [value]
        if any(not item for item in values):
            raise FilterError(f"filter {shown}: a value is empty")
        if ";" in value and function not in _LIST_FUNCTIONS and function != "contains":
            raise FilterError(f"filter {shown}: several values (';') need value_in or value_not_in")
        if "," in value:
            raise FilterError(f"filter {shown}: the value contains ',', which separates field and value")
        parsed.append(Filter(function, field, _survives_the_split(value, f"filter {shown}")))
    return FilterList(tuple(parsed))


def _shown(expression: str) -> str:
    """An expression quoted for an error message: repr escapes control characters, and a long one is cut."""
    return repr(expression if len(expression) <= 80 else expression[:77] + "...")


def render_filters(filters: Any) -> str:
    """The request's `filters` string from anything `FilterInput` allows ("" for none).

    A string is passed through as written (the caller owns its syntax); objects with `to_flyte_idl()`
    (ours, and flytekit's `Filter`/`FilterList`) render themselves; a list joins its parts with `+`.
    """
    if filters is None:
        return ""
    if isinstance(filters, str):
        return filters
    to_flyte_idl = getattr(filters, "to_flyte_idl", None)
    if callable(to_flyte_idl):
        text = to_flyte_idl()
        if not isinstance(text, str):
            raise FilterError(f"filters: {type(filters).__name__}.to_flyte_idl() did not return a string")
        return text
    if isinstance(filters, Iterable):
        return "+".join(part for part in (render_filters(item) for item in filters) if part)
    raise FilterError(f"filters: cannot use a {type(filters).__name__} as filters")
