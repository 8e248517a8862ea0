"""Go's view of a protobuf message, for the texts flyteadmin builds from Go values.

flyteadmin's "different structure" diffs marshal generated Go proto structs with `encoding/json`, read the
JSON back into `interface{}` and print values with `fmt`'s `%v`. Both steps are modelled here:

- :func:`go_json`: what `json.Marshal` of the generated struct, unmarshalled again, holds. Keys are the struct
  tags (the proto field names) with `omitempty`: zero scalars, empty lists and maps and unset messages are
  left out, but a set message is kept even when empty (`{}`). A oneof is one key named after the Go field
  of the oneof (`Target`), null when unset, else an object keyed by the Go name of the chosen field
  (`{"Container": {...}}`); those wrapper fields carry no `omitempty`, so zero values show. Enums are
  numbers, every number becomes a float64, bytes are base64 text. `google.protobuf.Struct`, `Value` and
  `ListValue` are the exception: their Go types marshal themselves as plain JSON (protojson), and fail on a
  `Value` with no kind or a non-finite number.
- :func:`go_format`: `fmt`'s `%v` of such a value (`map[k:v ...]` with sorted keys, `[a b]`, `<nil>`,
  floats in shortest form with an exponent from 1e+06 on).
"""

from __future__ import annotations

import base64
import math
from typing import Any

from google.protobuf.descriptor import FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message

from flyteadmin_ops.emulator.common import go_float


class NotEncodable(ValueError):
    """`json.Marshal` fails on the value (NaN or an infinity), as Go's encoder does."""


def go_camel_case(name: str) -> str:
    """protoc-gen-go's GoCamelCase: the Go identifier generated for a proto field or oneof name."""
    out: list[str] = []
    i = 0
    while i < len(name):
        char = name[i]
        if char == "." and i + 1 < len(name) and name[i + 1].islower():
            pass
        elif char == ".":
            out.append("_")
        elif char == "_" and (i == 0 or name[i - 1] == "."):
            out.append("X")
        elif char == "_" and i + 1 < len(name) and name[i + 1].isascii() and name[i + 1].islower():
            pass
        elif char.isdigit():
            out.append(char)
        else:
            out.append(char.upper() if char.isascii() and char.islower() else char)
            while i + 1 < len(name) and name[i + 1].isascii() and name[i + 1].islower():
                i += 1
                out.append(name[i])
        i += 1
    return "".join(out)


_SELF_MARSHALLING = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
)


def go_json(message: Message) -> Any:
    """The JSON value `encoding/json` makes of the generated Go struct of `message`, as read back."""
    descriptor: Any = message.DESCRIPTOR
    if descriptor.full_name in _SELF_MARSHALLING:
        return _struct_json(message)
    out: dict[str, Any] = {}
    for oneof in descriptor.oneofs:
        if _synthetic(oneof):
            continue
        chosen = message.WhichOneof(oneof.name)
        if chosen is None:
            out[go_camel_case(oneof.name)] = None
        else:
            field = descriptor.fields_by_name[chosen]
            value = getattr(message, chosen)
            wrapped = go_json(value) if field.type == FieldDescriptor.TYPE_MESSAGE else _scalar(field, value)
            out[go_camel_case(oneof.name)] = {go_camel_case(field.name): wrapped}
    for field in descriptor.fields:
        container = field.containing_oneof
        if container is not None and not _synthetic(container):
            continue
        value = getattr(message, field.name)
        if _is_map(field):
            if len(value):
                value_field = field.message_type.fields_by_name["value"]
                out[field.name] = {_map_key(key): _element(value_field, value[key]) for key in value}
        elif _is_repeated(field):
            if len(value):
                out[field.name] = [_element(field, item) for item in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE or container is not None:
            if message.HasField(field.name):
                out[field.name] = _element(field, value)
        elif value:
            out[field.name] = _scalar(field, value)
    return out


def _struct_json(message: Any) -> Any:
    """protojson of a Struct / Value / ListValue: the JSON it stands for."""
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Struct":
        return {key: _struct_json(message.fields[key]) for key in message.fields}
    if name == "google.protobuf.ListValue":
        return [_struct_json(item) for item in message.values]
    kind = message.WhichOneof("kind")
    if kind is None:
        raise NotEncodable("google.protobuf.Value: none of the oneof fields is set")
    if kind == "null_value":
        return None
    if kind == "number_value":
        number = float(message.number_value)
        if math.isnan(number) or math.isinf(number):
            raise NotEncodable("google.protobuf.Value: invalid number")
        return number
    if kind in ("struct_value", "list_value"):
        return _struct_json(getattr(message, kind))
    return getattr(message, kind)


def go_format(value: Any) -> str:
    """`fmt.Sprintf("%v", value)` of a value unmarshalled into `interface{}`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{go_format(value[key])}" for key in sorted(value)) + "]"
    return str(value)


def _synthetic(oneof: OneofDescriptor) -> bool:
    """The hidden oneof protoc makes for a proto3 `optional` field (a plain pointer field in Go)."""
    fields = oneof.fields
    return len(fields) == 1 and oneof.name == "_" + fields[0].name


def _is_repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else getattr(field, "label", 1) == 3  # LABEL_REPEATED


def _is_map(field: FieldDescriptor) -> bool:
    return (
        _is_repeated(field) and field.message_type is not None and field.message_type.GetOptions().map_entry
    )


def _map_key(key: Any) -> str:
    if isinstance(key, bool):
        raise NotEncodable("bool map key")
    return str(key)


def _element(field: FieldDescriptor, value: Any) -> Any:
    return go_json(value) if field.type == FieldDescriptor.TYPE_MESSAGE else _scalar(field, value)


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BOOL):
        return value
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise NotEncodable(field.full_name)
    if field.type == FieldDescriptor.TYPE_FLOAT:  # written with the fewest digits that read back as float32
        return float(go_float(number, 32))
    return number
