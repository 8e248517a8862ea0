"""flyteadmin's list grammar (filters, sort, limit, offset tokens), written once and driven by
table descriptions.

Every List RPC in flyteadmin goes through the same three steps (`pkg/manager/impl/util/filters.go`,
`pkg/common/filters.go`, `pkg/common/sorting.go`, `validation.ValidateToken`): parse the `filters` string into
column predicates (only columns of the primary entity or of the entities it may join; errors name the table
aliases `t`, `w`, `e`, ...), turn `sort_by` into an ORDER BY on a primary column, and page with a decimal
offset token. flyteadmin checks no values: Postgres casts them to the column's type when the query runs, so
the emulator does that last too (:func:`bind`, with `pg_values`), and answers as flyteadmin passes Postgres'
refusals on. An :class:`EntityTable` describes one primary entity and its columns' Postgres types;
:func:`page` runs the whole pipeline against SQLite.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flyteidl.admin import common_pb2

from flyteadmin_ops.emulator.common import INVALID, db_time, go_float, go_quote, invalid
from flyteadmin_ops.emulator.pg_values import (
    BIGINT,
    BYTEA,
    INTEGER,
    TEXT,
    TIMESTAMPTZ,
    PgError,
    parse_bytea,
    parse_integer,
    parse_timestamptz,
)
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
# The Postgres operator each single-value function becomes (named in "operator does not exist" errors).
_OPERATORS = {
    "contains": "~~",
    "not_like": "!~~",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "eq": "=",
    "ne": "<>",
}
_REPEATED_VALUE_SQL = {"value_in": "{} IN ({})", "value_not_in": "{} NOT IN ({})"}

# Filter prefixes flyteadmin recognizes (`filterFieldEntityPrefix`) and the table alias (`common.Entity`) each
# stands for: flyteadmin's filter errors name the alias (`'t.no_such_field' is invalid filter`). Any other
# `x.y` is a plain field name of the primary entity.
ALIASES = {
    "task": "t",
    "workflow": "w",
    "launch_plan": "l",
    "execution": "e",
    "node_execution": "ne",
    "task_execution": "te",
    "entities": "nen",
    "named_entity_metadata": "nem",
    "project": "p",
    "signal": "s",
    "admin_tag": "at",
    "execution_admin_tag": "eat",
    "execution_tag": "et",
}
ENTITY_PREFIXES = tuple(ALIASES)
# Column types Postgres has for flyteadmin's gorm models, where they are not the defaults of
# :func:`column_type`. Types decide what Postgres does with a filter's text value.
VARCHAR_300 = "character varying(300)"


def alias(entity: str) -> str:
    """The table alias flyteadmin names an entity by in its messages (`task` -> `t`)."""
    return ALIASES.get(entity, entity)


def column_type(types: Mapping[str, str], column: str) -> str:
    """A column's Postgres type: declared in `types`, else gorm's defaults for flyteadmin's models (`id` a
    bigint, `*_at` a timestamp with time zone, strings text)."""
    if column in types:
        return types[column]
    if column == "id":
        return BIGINT
    if column.endswith("_at"):
        return TIMESTAMPTZ
    return TEXT


@dataclass(frozen=True)
class Join:
    """Another entity a primary entity may reference in filters (`launch_plan.name` on executions)."""

    table: str
    on_sql: str  # e.g. "launch_plans.id = executions.launch_plan_id"
    columns: frozenset[str]
    renames: Mapping[str, str] = field(default_factory=dict)  # filter field -> column (admin_tag.name -> key)
    kind: str = "LEFT"
    types: Mapping[str, str] = field(default_factory=dict)  # column -> Postgres type (see column_type)


@dataclass(frozen=True)
class EntityTable:
    """A primary entity of a List RPC: its filter prefix, table, filterable/sortable columns and joins."""

    entity: str
    table: str
    columns: frozenset[str]
    joins: Mapping[str, Join] = field(default_factory=dict)
    renames: Mapping[str, str] = field(default_factory=dict)  # filter field -> column (filters, not sorting)
    types: Mapping[str, str] = field(default_factory=dict)  # column -> Postgres type (see column_type)
    sortable: frozenset[str] | None = None  # sort keys, when not `columns` (description entities)
    # A column holding the row's place in Postgres' heap, for tables whose rows are updated in place: an
    # UPDATE writes a new row version after the others, and Postgres returns rows (and ties of a sort) in
    # that order. Empty: insertion order, which SQLite gives by itself.
    physical_order: str = ""

    @property
    def alias(self) -> str:
        return alias(self.entity)

    @property
    def sort_columns(self) -> frozenset[str]:
        return self.columns if self.sortable is None else self.sortable


# The tables of the versioned kinds by filter entity (`task`, ...), as `versioned.versioned_table` declares
# them: description entities are filtered with these columns (flyteadmin checks those filters against the
# task/workflow/launch plan model).
PRIMARY_TABLES: dict[str, EntityTable] = {}


@dataclass(frozen=True)
class Predicate:
    """One SQL condition; `entity`/`field` say where it came from (e.g. to see if a request
    filtered on state).

    `types` gives the Postgres type each of `args` is cast to (empty: used as is), and `problem` an error
    Postgres raises when it analyses the condition (an operator that does not exist, a missing column):
    :func:`bind` applies both when the query runs, after flyteadmin's own checks of sort and token.
    """

    sql: str
    args: tuple[Any, ...] = ()
    entity: str = ""
    field: str = ""
    types: tuple[str, ...] = ()
    problem: str = ""


def parse_filters(expr: str, table: EntityTable) -> list[Predicate]:
    """Parse flyteadmin's `func(field,value)+func(field,value)` grammar into predicates (empty
    string: none), checking in `util.ParseFilters`' order: the shape, the entity, the column, the
    duration values, the function. Values are not checked here: Postgres does that (see :func:`bind`)."""
    if not expr:
        return []
    return [_parse_expression(expression, table) for expression in expr.split("+")]


def _parse_expression(expression: str, table: EntityTable) -> Predicate:
    match = _FILTER_RE.search(expression)
    if match is None:
        raise invalid("filters")
    function, raw_field, raw_value = match.group(1), match.group(2), match.group(3)
    entity, name = _split_field(raw_field, table.entity)
    column_sql, type_name = _column(table, entity, name)
    values: list[Any] = raw_value.split(";")
    if name.lower() == "duration":
        values = [_parse_duration_ns(v) for v in values]
    if function in _SINGLE_VALUE_SQL:
        return _single_value(function, column_sql, type_name, values, entity, name)
    if function in _REPEATED_VALUE_SQL:
        marks = ", ".join("?" for _ in values)
        sql = _REPEATED_VALUE_SQL[function].format(column_sql, marks)
        return Predicate(sql, tuple(values), entity, name, (type_name,) * len(values))
    raise AdminError(INVALID, f"unrecognized filter function: {function}")


def _single_value(
    function: str, column_sql: str, type_name: str, values: list[Any], entity: str, name: str
) -> Predicate:
    """One comparison. Several `;` values make Go pass a slice: gorm writes it as a row `($1,$2)`, which
    Postgres compares with nothing, except in `contains`, whose pattern Go formats as `%[a b]%`."""
    sql = _SINGLE_VALUE_SQL[function].format(column_sql)
    operator = _OPERATORS[function]
    problem = ""
    if function == "contains":
        text = values[0] if len(values) == 1 else "[" + " ".join(str(v) for v in values) + "]"
        value: Any = _like_as_glob(f"%{text}%")
    elif len(values) > 1:
        problem = f"operator does not exist: {type_name} {operator} record"
        value = ";".join(str(v) for v in values)
    else:
        value = _like_as_glob(values[0]) if function == "not_like" else values[0]
    if function in _PATTERN_FUNCTIONS and type_name not in _LIKE_TYPES:
        problem = problem or f"operator does not exist: {type_name} {operator} unknown"
    arg_type = "" if function in _PATTERN_FUNCTIONS else type_name
    return Predicate(sql, (value,), entity, name, (arg_type,), problem)


# LIKE patterns are matched against the stored text as they are; every other function compares values.
_PATTERN_FUNCTIONS = frozenset({"contains", "not_like"})
# Types Postgres has a LIKE operator for (with an untyped pattern).
_LIKE_TYPES = frozenset({TEXT, BYTEA, VARCHAR_300, "character varying(255)", "character varying(32)"})


def bind(predicates: Sequence[Predicate], now: datetime | None = None) -> list[Any]:
    """The arguments of `predicates` as the emulator's SQLite compares them, after Postgres' checks in its
    order: first what analysing the query finds (each condition's `problem`), then each value cast to its
    column's type in parameter order. Raises PgError (UNKNOWN) with Postgres' message."""
    for predicate in predicates:
        if predicate.problem:
            raise PgError(predicate.problem)
    moment = now or datetime.now(timezone.utc)
    args: list[Any] = []
    for predicate in predicates:
        types = predicate.types or ("",) * len(predicate.args)
        args.extend(_cast(v, type_name, moment) for v, type_name in zip(predicate.args, types, strict=True))
    return args


def _cast(value: Any, type_name: str, now: datetime) -> Any:
    if not isinstance(value, str) or not type_name:
        return value
    if type_name in (INTEGER, BIGINT, "smallint"):
        return parse_integer(value, type_name)
    if type_name == TIMESTAMPTZ:
        moment = parse_timestamptz(value, now)
        return moment if isinstance(moment, str) else db_time(moment)
    if type_name == BYTEA:
        return parse_bytea(value)
    return value


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


def _split_field(raw_field: str, primary: str) -> tuple[str, str]:
    for prefix in ENTITY_PREFIXES:
        if raw_field.startswith(prefix + "."):
            return prefix, raw_field[len(prefix) + 1 :]
    return primary, raw_field


def _column(table: EntityTable, entity: str, name: str) -> tuple[str, str]:
    """(qualified SQL column, Postgres type) of a filter field; INVALID_ARGUMENT for an entity the primary one
    may not join or a field that is no column."""
    if entity == table.entity:
        if name not in table.columns:
            raise AdminError(INVALID, f"'{alias(entity)}.{name}' is invalid filter")
        column = table.renames.get(name, name)
        return f"{table.table}.{column}", column_type(table.types, column)
    join = table.joins.get(entity)
    if join is None:
        raise AdminError(INVALID, f"'{alias(entity)}' entity is not allowed in filters")
    if name not in join.columns:
        raise AdminError(INVALID, f"'{alias(entity)}.{name}' is invalid filter")
    column = join.renames.get(name, name)
    return f"{join.table}.{column}", column_type(join.types, column)


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
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_GO_FLOAT = re.compile(r"[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.I)
_MAX_DURATION = 2**63 - 1


def _parse_duration_ns(value: str) -> int:
    """flyteadmin's duration filter value in nanoseconds: a number (Go's ParseFloat) is formatted back with
    `%vs` (so `1000000` becomes `1e+06s`, which Go's ParseDuration then refuses), anything else is parsed
    as a Go duration (`1h30m`, `1.5s`)."""
    text = value
    if _GO_FLOAT.fullmatch(value):
        number = float(value.replace("_", ""))
        overflow = math.isinf(number) and "inf" not in value.lower()  # Go's ParseFloat: a range error
        text = value if overflow else _go_v_float(number) + "s"
    nanos = _go_parse_duration(text)
    if nanos is None:
        raise AdminError(INVALID, f"Failed to parse duration [{text}]")
    return nanos


def _go_v_float(number: float) -> str:
    """Go's `%v` of a float64 (`+Inf`, `NaN`, else the shortest `%g`)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return go_float(number)


def _go_parse_duration(text: str) -> int | None:
    """Go's `time.ParseDuration` in nanoseconds, None where it fails (no unit, unknown unit, overflow)."""
    body, sign = text, 1
    if body[:1] in "+-":
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if body == "0":
        return 0
    position, total = 0, 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        if part is None or part.group(1) in ("", "."):
            return None
        whole, _, fraction = part.group(1).partition(".")
        unit = _DURATION_UNITS[part.group(2)]
        total += int(whole or 0) * unit + (int(fraction) * unit // 10 ** len(fraction) if fraction else 0)
        position = part.end()
    if not body or total > _MAX_DURATION + (sign < 0):
        return None
    return sign * total


def validate_limit(limit: int) -> None:
    """flyteadmin rejects `limit == 0` for every paged List RPC except ListProjects; there is no maximum."""
    if limit <= 0:
        raise invalid("limit")


def parse_token(token: str, list_name: str) -> int:
    """The page token is a decimal offset (Go's `strconv.Atoi`: a 64-bit int); "" means 0. The message
    names `list_name` (`invalid pagination token x for ListTasks`), or nothing when it is "" (as
    ListLaunchPlanIds says it)."""
    if not token:
        return 0
    if not _TOKEN_RE.fullmatch(token) or not 0 <= int(token) < 2**63:
        suffix = f" for {list_name}" if list_name else ""
        raise AdminError(INVALID, f"invalid pagination token {token}{suffix}")
    return int(token)


def sort_key(sort: common_pb2.Sort | None, columns: frozenset[str]) -> tuple[str, str] | None:
    """`common.NewSortParameter`: (key, SQL direction) of a present `sort_by`, None when absent. The key must
    be a column of the primary model; a direction other than DESCENDING/ASCENDING is refused with the Sort
    printed as Go prints it (`key:"name"  direction:7`)."""
    if sort is None:
        return None
    if sort.key not in columns:
        raise AdminError(INVALID, f"invalid sort key '{sort.key}'")
    # Postgres puts NULLs after every value, so last going up and first going down; SQLite does the opposite.
    if sort.direction == common_pb2.Sort.ASCENDING:
        return sort.key, "ASC NULLS LAST"
    if sort.direction == common_pb2.Sort.DESCENDING:
        return sort.key, "DESC NULLS FIRST"
    parts = [f"key:{go_quote(sort.key.encode())}"] if sort.key else []
    parts.append(f"direction:{sort.direction}")
    # Go's prototext doubles the space between fields in the real server's build (randomised per binary).
    raise AdminError(INVALID, f"invalid sort order specified: {'  '.join(parts)}")


def sort_clause(sort: common_pb2.Sort | None, table: EntityTable, default: str = "") -> str:
    """`ORDER BY <table>.<key> ASC|DESC`, or `default` (flyteadmin issues no ORDER BY when sort_by
    is absent)."""
    chosen = sort_key(sort, table.sort_columns)
    heap = f"{table.table}.{table.physical_order}" if table.physical_order else ""
    if chosen is None:
        return default or (f"ORDER BY {heap}" if heap else "")
    key, direction = chosen
    # The key is the model's column as it is: flyteadmin's field renames apply to filters only.
    return f"ORDER BY {table.table}.{key} {direction}" + (f", {heap}" if heap else "")


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
    now: datetime | None = None,
) -> tuple[list[sqlite3.Row], str]:
    """One page of `table` rows matching `implicit` + parsed `filters`, and the next token.

    The next token is `str(offset + len(rows))` only when the page is full, so the last page may be empty,
    exactly as flyteadmin pages. `limit == 0` is an error unless `allow_zero_limit` (then: no LIMIT).
    `now` is the server's time, which `now`, `today` and the like in timestamp values refer to.
    """
    if not allow_zero_limit:
        validate_limit(limit)
    predicates = list(implicit) + (
        parse_filters(filters, table) if isinstance(filters, str) else list(filters)
    )
    order = sort_clause(sort, table, default_sort)
    offset = parse_token(token, list_name)
    args: list[Any] = bind(predicates, now)
    joined = {p.entity for p in predicates if p.entity and p.entity != table.entity}
    # Several prefixes may name one table (admin_tag, execution_admin_tag, execution_tag): join it once.
    used = {join.table: join for entity, join in table.joins.items() if entity in joined}
    joins = "".join(f" {join.kind} JOIN {join.table} ON {join.on_sql}" for join in used.values())
    where = " AND ".join(f"({p.sql})" for p in predicates) or "1"
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
