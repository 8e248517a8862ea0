"""Small pieces every emulator module needs: flyteadmin's stock error messages, timestamps, Go-style text.

Why one module: flyteadmin builds its messages from a handful of format strings
(`pkg/manager/impl/shared/errors.go`, `pkg/repositories/errors/errors.go`); writing them once here keeps
every handler's wording identical to the server it stands in for.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.registry import AdminError

INVALID = grpc.StatusCode.INVALID_ARGUMENT

# gorm.Model's time columns, which every flyteadmin table has (`id` differs: some tables key otherwise).
GORM_MODEL_DDL = "created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT"


def missing(field: str) -> AdminError:
    """`"missing <field>"`: flyteadmin's answer for an empty required field."""
    return AdminError(INVALID, f"missing {field}")


def invalid(field: str) -> AdminError:
    """`"invalid value for <field>"`."""
    return AdminError(INVALID, f"invalid value for {field}")


def require(**fields: object) -> None:
    """Raise `missing <name>` for the first falsy keyword, in the order given (flyteadmin checks in order)."""
    for name, value in fields.items():
        if not value:
            raise missing(name)


def go_text(message: Message) -> str:
    """A proto rendered like Go's `%v` of a message (`project:"p" domain:"d"`), for NOT_FOUND messages.

    Only set scalar and enum fields are rendered; nested messages are rendered in braces.
    """
    parts: list[str] = []
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE:
            values = value if _repeated(field) else [value]
            parts.extend(f"{field.name}:{{{go_text(v)}}}" for v in values)
        elif field.type == field.TYPE_ENUM:
            enum = field.enum_type
            parts.append(f"{field.name}:{enum.values_by_number[value].name if enum else value}")
        elif field.type == field.TYPE_STRING:
            parts.append(f'{field.name}:"{value}"')
        else:
            parts.append(f"{field.name}:{value}")
    return " ".join(parts)


def _repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else getattr(field, "label", 1) == 3


def not_found_entity(kind: str, identifier: Message) -> AdminError:
    """`missing entity of type <kind> with identifier <id>` (kind: TASK, WORKFLOW, LAUNCH_PLAN,
    execution, ...)."""
    return AdminError(
        grpc.StatusCode.NOT_FOUND, f"missing entity of type {kind} with identifier {go_text(identifier)}"
    )


# --- time -------------------------------------------------------------------------------------------------
# Timestamps are stored as fixed-width RFC 3339 text (UTC, microseconds), so for two stored values string
# order is time order. Filter values are not stored values: `filters.parse_filters` rewrites a value compared
# with a timestamp column into this same form first (Postgres casts it to a timestamp), so that
# `gte(created_at,2024-05-02T12:00:00+02:00)` matches a row stored as `2024-05-02T10:00:00.000000Z`.


def db_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_db_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


# What Postgres accepts when it casts a filter value to `timestamp with time zone`: a date, optionally a time
# (`T` or a space) with any number of fractional digits, optionally a zone (`Z`, `+hh:mm`, `+hhmm`, `+hh`).
_INSTANT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 (or Postgres-style) time as an aware UTC datetime, rounded to microseconds like Postgres;
    None if `text` is not a time. A value without a zone is UTC (flyteadmin's database session zone)."""
    match = _INSTANT.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, utc, sign, zone_h, zone_m = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    if fraction:
        moment += timedelta(microseconds=round(int(fraction) / 10 ** (len(fraction) - 6)))
    if sign and not utc:
        offset = timedelta(hours=int(zone_h), minutes=int(zone_m or 0))
        moment -= offset if sign == "+" else -offset
    return moment


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(timezone.utc))
    return stamp
