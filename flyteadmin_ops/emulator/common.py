"""Small pieces every emulator module needs: flyteadmin's stock error messages, timestamps, Go-style text.

Why one module: flyteadmin builds its messages from a handful of format strings
(`pkg/manager/impl/shared/errors.go`, `pkg/repositories/errors/errors.go`); writing them once here keeps
every handler's wording identical to the server it stands in for.
"""

from __future__ import annotations

from datetime import datetime, timezone

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.registry import AdminError

INVALID = grpc.StatusCode.INVALID_ARGUMENT


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
# Timestamps are stored as fixed-width RFC 3339 text (UTC, microseconds) so that string comparison in filters
# such as `gte(created_at,2024-01-01T00:00:00Z)` orders them correctly, as Postgres' cast would.


def db_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_db_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(timezone.utc))
    return stamp
