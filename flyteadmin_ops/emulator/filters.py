"""flyteadmin's list grammar (filters, sort, limit, offset tokens), written once and driven by
table descriptions.

Every List RPC in flyteadmin goes through the same three steps (`pkg/manager/impl/util/filters.go`,
`pkg/common/filters.go`, `pkg/common/sorting.go`, `validation.ValidateToken`): parse the `filters` string into
column predicates (only columns of the primary entity or of the entities it may join), turn `sort_by` into an
ORDER BY on a primary column, and page with a decimal offset token. An :class:`EntityTable` describes one
primary entity; :func:`page` runs the whole pipeline against SQLite.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import common_pb2

from flyteadmin_ops.emulator.common import INVALID, db_time, invalid, parse_instant
from flyteadmin_ops.emulator.registry import AdminError

# `func(field,value)` or `func(field, value)`; greedy like Go's regexp (leftmost-first, same as Python's re).
_FILTER_RE = re.compile(r"(.+)\((.+),\s?(.+)\)")

_TOKEN_RE = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts
# LIKE patterns run as GLOB: SQLite's LIKE ignores ASCII case, Postgres' LIKE does not (see _like_as_glob).
_SINGLE_VALUE_SQL = {
    "contains": "{} GLOB ?",
    "not_like": "{} NOT GLOB ?",
    "gt": "{} > ?",
    "gte": "{} >= ?",
    "lt": "{} < ?",
    "lte": "{} <= ?",
    "eq": "{} = ?",
    "ne": "{} <> ?",
}
_REPEATED_VALUE_SQL = {"value_in": "{} IN ({})", "value_not_in": "{} NOT IN ({})"}

# Filter prefixes flyteadmin recognizes (`filterFieldEntityPrefix`); any other `x.y` is a plain field name.
ENTITY_PREFIXES = (
    "task",
    "workflow",
    "launch_plan",
    "execution",
    "node_execution",
    "task_execution",
    "entities",
    "named_entity_metadata",
    "project",
    "signal",
    "admin_tag",
    "execution_admin_tag",
    "execution_tag",
)


@dataclass(frozen=True)
class Join:
    """Another entity a primary entity may reference in filters (`launch_plan.name` on executions)."""

    table: str
    on_sql: str  # e.g. "launch_plans.id = executions.launch_plan_id"
    columns: frozenset[str]
    renames: Mapping[str, str] = field(default_factory=dict)  # filter field -> column (admin_tag.name -> key)
    kind: str = "LEFT"


@dataclass(frozen=True)
class EntityTable:
    """A primary entity of a List RPC: its filter prefix, table, filterable/sortable columns and joins."""

    entity: str
    table: str
    columns: frozenset[str]
    joins: Mapping[str, Join] = field(default_factory=dict)
    renames: Mapping[str, str] = field(default_factory=dict)  # filter field -> column of the primary table


@dataclass(frozen=True)
class Predicate:
    """One SQL condition; `entity`/`field` say where it came from (e.g. to see if a request
    filtered on state)."""

    sql: str
    args: tuple[Any, ...] = ()
    entity: str = ""
    field: str = ""


def parse_filters(expr: str, table: EntityTable) -> list[Predicate]:
    """Parse flyteadmin's `func(field,value)+func(field,value)` grammar into predicates (empty
    string: none)."""
    if not expr:
        return []
    predicates = []
    for expression in expr.split("+"):
        match = _FILTER_RE.search(expression)
        if match is None:
            raise invalid("filters")
        function, raw_field, raw_value = match.group(1), match.group(2), match.group(3)
        entity, name = _split_field(raw_field, table.entity)
        column_sql = _column_sql(table, entity, name)
        values = raw_value.split(";")
        if name.lower() == "duration":
            values = [str(_parse_duration_ns(v)) for v in values]
        elif _is_timestamp(name) and function not in _PATTERN_FUNCTIONS:
            values = [_instant_text(v, entity, name) for v in values]
        if function in _SINGLE_VALUE_SQL:
            value = values[0] if len(values) == 1 else ";".join(values)
            if function == "contains":
                value = f"%{value}%"
            if function in _PATTERN_FUNCTIONS:
                value = _like_as_glob(value)
            predicates.append(
                Predicate(_SINGLE_VALUE_SQL[function].format(column_sql), (value,), entity, name)
            )
        elif function in _REPEATED_VALUE_SQL:
            marks = ", ".join("?" for _ in values)
            sql = _REPEATED_VALUE_SQL[function].format(column_sql, marks)
            predicates.append(Predicate(sql, tuple(values), entity, name))
        else:
            raise AdminError(INVALID, f"unrecognized filter function: {function}")
    return predicates


# LIKE patterns are matched against the stored text as they are; every other function compares instants.
_PATTERN_FUNCTIONS = frozenset({"contains", "not_like"})


def _like_as_glob(pattern: str) -> str:
    """A Postgres LIKE pattern (`%`, `_`, backslash escapes; case-sensitive) as the equivalent SQLite GLOB."""
    out, escaped = [], False
    for char in pattern:
        if escaped or char not in "%_\\":
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append("*" if char == "%" else "?")
    if escaped:  # a trailing backslash matches itself
        out.append("\\")
    return "".join(out)


def _is_timestamp(column: str) -> bool:
    """gorm names every time column `<x>_at` (created_at, started_at, execution_created_at, ...), and the
    emulator stores all of them with `common.db_time`."""
    return column.endswith("_at")


def _instant_text(value: str, entity: str, name: str) -> str:
    """A filter value on a timestamp column in the stored form, so SQLite's text comparison compares instants
    as Postgres' timestamp cast does (`10:00:00Z`, `10:00:00.000+00:00` and `12:00:00+02:00` are equal)."""
    moment = parse_instant(value)
    if moment is None:
        # Postgres refuses the cast and flyteadmin passes that on as UNKNOWN, which flytekit's auth
        # interceptor takes for an expired login (it opens a browser flow and waits). A test backend must not
        # hang its caller, so the emulator deliberately answers INVALID_ARGUMENT with Postgres' wording.
        raise AdminError(
            INVALID,
            f'invalid input syntax for type timestamp with time zone: "{value}" (filter on {entity}.{name})',
        )
    return db_time(moment)


def _split_field(raw_field: str, primary: str) -> tuple[str, str]:
    for prefix in ENTITY_PREFIXES:
        if raw_field.startswith(prefix + "."):
            return prefix, raw_field[len(prefix) + 1 :]
    return primary, raw_field


def _column_sql(table: EntityTable, entity: str, name: str) -> str:
    if entity == table.entity:
        if name not in table.columns:
            raise AdminError(INVALID, f"'{entity}.{name}' is invalid filter")
        return f"{table.table}.{table.renames.get(name, name)}"
    join = table.joins.get(entity)
    if join is None:
        raise AdminError(INVALID, f"'{entity}' entity is not allowed in filters")
    if name not in join.columns:
        raise AdminError(INVALID, f"'{entity}.{name}' is invalid filter")
    return f"{join.table}.{join.renames.get(name, name)}"


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def _parse_duration_ns(value: str) -> int:
    """A bare number is seconds; otherwise a Go duration string (`1h30m`, `1.5s`); result in nanoseconds."""
    try:
        return round(float(value) * 10**9)
    except ValueError:
        pass
    text, sign = value, 1
    if text[:1] in "+-":
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    position, total = 0, 0.0
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        if part is None:
            break
        total += float(part.group(1)) * _DURATION_UNITS[part.group(2)]
        position = part.end()
    if not text or position != len(text):
        raise AdminError(INVALID, f"Failed to parse duration [{value}]")
    return sign * round(total)


def validate_limit(limit: int) -> None:
    """flyteadmin rejects `limit == 0` for every paged List RPC except ListProjects; there is no maximum."""
    if limit <= 0:
        raise invalid("limit")


def parse_token(token: str, list_name: str) -> int:
    """The page token is a decimal offset; "" means 0."""
    if not token:
        return 0
    if not _TOKEN_RE.fullmatch(token) or int(token) < 0:
        raise AdminError(INVALID, f"invalid pagination token {token} for {list_name}")
    return int(token)


def sort_clause(sort: common_pb2.Sort | None, table: EntityTable, default: str = "") -> str:
    """`ORDER BY <table>.<key> ASC|DESC`, or `default` (flyteadmin issues no ORDER BY when sort_by
    is absent)."""
    if sort is None or not sort.key:
        return default
    if sort.key not in table.columns:
        raise AdminError(INVALID, f"invalid sort key '{sort.key}'")
    direction = "ASC" if sort.direction == common_pb2.Sort.ASCENDING else "DESC"
    return f"ORDER BY {table.table}.{table.renames.get(sort.key, sort.key)} {direction}"


def page(
    conn: sqlite3.Connection,
    table: EntityTable,
    *,
    filters: str | Sequence[Predicate] = "",
    implicit: Sequence[Predicate] = (),
    sort: common_pb2.Sort | None = None,
    limit: int,
    token: str = "",
    list_name: str,
    allow_zero_limit: bool = False,
    default_sort: str = "",
) -> tuple[list[sqlite3.Row], str]:
    """One page of `table` rows matching `implicit` + parsed `filters`, and the next token.

    The next token is `str(offset + len(rows))` only when the page is full, so the last page may be empty,
    exactly as flyteadmin pages. `limit == 0` is an error unless `allow_zero_limit` (then: no LIMIT).
    """
    if not allow_zero_limit:
        validate_limit(limit)
    predicates = list(implicit) + (
        parse_filters(filters, table) if isinstance(filters, str) else list(filters)
    )
    order = sort_clause(sort, table, default_sort)
    offset = parse_token(token, list_name)
    joined = {p.entity for p in predicates if p.entity and p.entity != table.entity}
    # Several prefixes may name one table (admin_tag, execution_admin_tag, execution_tag): join it once.
    used = {join.table: join for entity, join in table.joins.items() if entity in joined}
    joins = "".join(f" {join.kind} JOIN {join.table} ON {join.on_sql}" for join in used.values())
    where = " AND ".join(f"({p.sql})" for p in predicates) or "1"
    args: list[Any] = [a for p in predicates for a in p.args]
    sql = f"SELECT {table.table}.* FROM {table.table}{joins} WHERE {where} {order}"
    if limit > 0:
        sql += " LIMIT ? OFFSET ?"
        args += [limit, offset]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        args.append(offset)
    rows = conn.execute(sql, args).fetchall()
    next_token = str(offset + len(rows)) if limit > 0 and len(rows) == limit else ""
    return rows, next_token


def page_of_request(
    conn: sqlite3.Connection,
    table: EntityTable,
    request: Any,
    *,
    list_name: str,
    implicit: Sequence[Predicate] = (),
    use_filters: bool = True,
    **options: Any,
) -> tuple[list[sqlite3.Row], str]:
    """:func:`page` with `filters`, `sort_by`, `limit` and `token` read from a List request, as every List
    RPC reads them (`use_filters=False` for requests without a filters field, e.g. ListActiveLaunchPlans)."""
    return page(
        conn,
        table,
        filters=request.filters if use_filters else "",
        implicit=implicit,
        sort=request.sort_by if request.HasField("sort_by") else None,
        limit=request.limit,
        token=request.token,
        list_name=list_name,
        **options,
    )


def identifier_predicates(table: EntityTable, **values: str) -> list[Predicate]:
    """The implicit `eq` filters flyteadmin adds for non-empty request `id.project/domain/name`."""
    return [
        Predicate(f"{table.table}.{column} = ?", (value,), table.entity, column)
        for column, value in values.items()
        if value
    ]
