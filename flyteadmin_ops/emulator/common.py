"""Small pieces every emulator module needs: flyteadmin's stock error messages, timestamps, Go-style text.

Why one module: flyteadmin builds its messages from a handful of format strings
(`pkg/manager/impl/shared/errors.go`, `pkg/repositories/errors/errors.go`); writing them once here keeps
every handler's wording identical to the server it stands in for.
"""

from __future__ import annotations

import math
import re
import struct
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

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


# What Go's prototext writes between two fields of one message in compact form (see `go_text`).
_FIELD_SEPARATOR = "  "


def go_text(message: Message) -> str:
    """A proto rendered like Go's `%v` of a message (compact prototext: `project:"p"  domain:"d"`).

    Set fields in declaration order, two spaces apart at every level (Go's prototext writes one space and,
    by a choice fixed per binary (`detrand`), a second one: flyteadmin v1.16.8's answers show two, e.g.
    `node_id:"n0"  execution_id:{project:"p"  domain:"d"}`); nested messages in braces, repeated fields
    once per item, map entries as `key:...  value:...` sorted by key, enums by name (by number when
    unknown), booleans `true`, floats as Go's shortest `%g`, strings and bytes quoted with Go's escapes.
    """
    parts: list[str] = []
    for field, value in sorted(message.ListFields(), key=lambda item: item[0].index):
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            parts.extend(_go_map_entries(field, value))
        elif _repeated(field):
            parts.extend(f"{field.name}:{_go_value(field, item)}" for item in value)
        else:
            parts.append(f"{field.name}:{_go_value(field, value)}")
    return _FIELD_SEPARATOR.join(parts)


def _go_map_entries(field: FieldDescriptor, mapping: Any) -> list[str]:
    entry = field.message_type
    assert entry is not None
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    entries = []
    for key in sorted(mapping):
        value = mapping[key]
        entries.append(
            f"{field.name}:{{key:{_go_value(key_field, key)}{_FIELD_SEPARATOR}"
            f"value:{_go_value(value_field, value)}}}"
        )
    return entries


def _go_value(field: FieldDescriptor, value: Any) -> str:
    if field.type in (field.TYPE_MESSAGE, field.TYPE_GROUP):
        return "{" + go_text(value) + "}"
    if field.type == field.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value) if field.enum_type else None
        return known.name if known is not None else str(value)
    if field.type == field.TYPE_BOOL:
        return "true" if value else "false"
    if field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return go_float(float(value), 32 if field.type == field.TYPE_FLOAT else 64)
    if field.type == field.TYPE_STRING:
        return go_quote(str(value).encode("utf-8", "surrogatepass"))
    if field.type == field.TYPE_BYTES:
        return go_quote(bytes(value))
    return str(value)


def go_float(value: float, bits: int = 64) -> str:
    """Go's `strconv.FormatFloat(v, 'g', -1, bits)` as prototext writes it: the shortest digits that read
    back, exponent form (`1e+06`, `1e-05`) below 1e-4 or from 1e6 on; `nan`, `inf`, `-inf`."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits = repr(value) if bits == 64 else _shortest_float32(value)
    sign, numerals, exponent = Decimal(digits).normalize().as_tuple()
    text = "".join(str(d) for d in numerals)
    point = len(text) + int(exponent)  # digits before the decimal point
    magnitude = point - 1
    if magnitude < -4 or magnitude >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        formatted = f"{mantissa}e{'-' if magnitude < 0 else '+'}{abs(magnitude):02d}"
    elif point <= 0:
        formatted = "0." + "0" * -point + text
    elif point >= len(text):
        formatted = text + "0" * (point - len(text))
    else:
        formatted = text[:point] + "." + text[point:]
    return ("-" if sign else "") + formatted


def _shortest_float32(value: float) -> str:
    """The fewest significant digits that read back as the same float32."""
    single = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):
        text = f"{single:.{precision}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            return text
    return repr(single)


_PLAIN = re.compile(rb"[\x20\x21\x23-\x5b\x5d-\x7e]*")
"""Printable ASCII except the quote and the backslash: the bytes `go_quote` writes unchanged."""


def go_quote(raw: bytes) -> str:
    """A string or bytes value quoted as Go's prototext does: quote, backslash, newline, return and tab
    escaped with a backslash, other control bytes and invalid UTF-8 as `x` and two hex digits, C1 controls
    as `u00` and two hex digits, other text as is."""
    if _PLAIN.fullmatch(raw):  # nearly every name and version: printable ASCII with nothing to escape
        return f'"{raw.decode("ascii")}"'
    return quote_runes(raw)


def quote_runes(raw: bytes) -> str:
    """`go_quote` the long way, rune by rune: what the fast path for plain ASCII must agree with."""
    out: list[str] = []
    index = 0
    while index < len(raw):
        char, width = _next_rune(raw, index)
        if char is None:
            out.append(f"\\x{raw[index]:02x}")
        elif char in '"\\':
            out.append("\\" + char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif 0x80 <= ord(char) <= 0x9F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
        index += width
    return '"' + "".join(out) + '"'


def _next_rune(raw: bytes, index: int) -> tuple[str | None, int]:
    """The UTF-8 character at `index` and its width, or None (width 1) for a byte that starts none."""
    for width in (1, 2, 3, 4):
        try:
            return raw[index : index + width].decode("utf-8"), width
        except UnicodeDecodeError:
            continue
    return None, 1


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
# order is time order. Filter values are not stored values: `filters.bind` rewrites a value compared with a
# timestamp column into this same form first (`pg_values.parse_timestamptz`, as Postgres casts it), so that
# `gte(created_at,2024-05-02T12:00:00-02:00)` matches a row stored as `2024-05-02T14:00:00.000000Z`.


def db_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_db_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(timezone.utc))
    return stamp
