"""Python values written into Flyte literals, one writer per kind of `LiteralType` (rules: `client.values`).

Writers fill a Literal in place (`out.scalar.primitive.integer = n`) instead of building nested messages
from keyword arguments: each keyword level copies its message, which makes building a literal about four
times slower. A value that does not fit raises `Refused`. Where the value sits inside the top-level value
("[2]['k']") is only added while the refusal travels up, so the common case builds no strings.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import enum
import numbers
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from flyteidl.core.literals_pb2 import Literal
from flyteidl.core.types_pb2 import LiteralType
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2


class Refused(Exception):
    """`value` does not fit `literal_type`. `where` locates it inside the top-level value ("" at the top,
    else e.g. "[2]['k']"); `why` explains what the type alone would not."""

    def __init__(self, literal_type: LiteralType, value: Any, why: str = "") -> None:
        super().__init__(why)
        self.literal_type, self.value, self.why = literal_type, value, why
        self.where = ""

    def inside(self, segment: str) -> Refused:
        self.where = segment + self.where
        return self


def write(value: Any, literal_type: LiteralType, out: Literal) -> None:
    """Fill `out` (an empty Literal) with `value` as a literal of `literal_type`, or raise Refused."""
    if isinstance(value, Literal):
        out.CopyFrom(value)
        return
    writer = _WRITERS.get(literal_type.WhichOneof("type") or "")
    if writer is None:
        raise Refused(literal_type, value, "this type has no Python conversion; pass a Literal")
    try:
        writer(value, literal_type, out)
    except Refused:
        model = _flytekit_literal(value)
        if model is None:
            raise
        out.Clear()
        out.CopyFrom(model)


def _flytekit_literal(value: Any) -> Literal | None:
    """A flytekit Literal model as its protobuf (tried only after the value was refused: it is rare)."""
    to_flyte_idl = getattr(value, "to_flyte_idl", None)
    converted = to_flyte_idl() if callable(to_flyte_idl) else None
    return converted if isinstance(converted, Literal) else None


# ------------------------------------------------------------------------------------------ simple types


class _NotFit(Exception):
    """Raised by the simple writers, which leave the type and value to `_simple`."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


def _simple(value: Any, literal_type: LiteralType, out: Literal) -> None:
    writer = _SIMPLE_WRITERS.get(literal_type.simple)
    if writer is None:
        raise Refused(literal_type, value, "this type has no Python conversion; pass a Literal")
    try:
        writer(value, out.scalar)
    except _NotFit as not_fit:
        raise Refused(literal_type, value, not_fit.why) from None


def _integer(value: Any, scalar: literals_pb2.Scalar) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _NotFit()
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise _NotFit("outside the 64-bit range")
    scalar.primitive.integer = number


def _float(value: Any, scalar: literals_pb2.Scalar) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _NotFit()
    scalar.primitive.float_value = float(value)


def _string(value: Any, scalar: literals_pb2.Scalar) -> None:
    if not isinstance(value, str):
        raise _NotFit()
    scalar.primitive.string_value = value


def _boolean(value: Any, scalar: literals_pb2.Scalar) -> None:
    if not isinstance(value, bool):  # 1, 0 and "true" are not booleans
        raise _NotFit()
    scalar.primitive.boolean = value


def _datetime(value: Any, scalar: literals_pb2.Scalar) -> None:
    if isinstance(value, timestamp_pb2.Timestamp):
        scalar.primitive.datetime.CopyFrom(value)
        return
    if isinstance(value, str):
        value = _parse_datetime(value)
    if not isinstance(value, datetime.datetime):
        raise _NotFit()
    if value.utcoffset() is None:
        raise _NotFit("a naive datetime: give it a timezone, e.g. tzinfo=datetime.timezone.utc")
    try:  # 9999-12-31T23:00-05:00 is past the last instant a datetime (and a Timestamp) holds
        utc = value.astimezone(datetime.timezone.utc)
    except OverflowError:
        raise _NotFit("outside the range of a timestamp (years 1 to 9999 in UTC)") from None
    stamp = scalar.primitive.datetime
    stamp.seconds = calendar.timegm(utc.timetuple())
    stamp.nanos = utc.microsecond * 1000


def _parse_datetime(text: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise _NotFit("not an ISO-8601 datetime") from None
    if parsed.utcoffset() is None:
        raise _NotFit("an ISO-8601 datetime without an offset: add one, e.g. 'Z' or '+02:00'")
    return parsed


_ISO_DURATION = re.compile(r"-?P")
_LONGEST_DURATION = datetime.timedelta(seconds=315_576_000_000)


def _duration(value: Any, scalar: literals_pb2.Scalar) -> None:
    if isinstance(value, duration_pb2.Duration):
        scalar.primitive.duration.CopyFrom(value)
        return
    if isinstance(value, str) and _ISO_DURATION.match(value):
        value = _parse_duration(value)
    if not isinstance(value, datetime.timedelta):
        raise _NotFit()
    if abs(value) > _LONGEST_DURATION:  # protobuf's Duration stops there; Go's readers refuse what is beyond
        raise _NotFit("outside the range of a protobuf Duration (10,000 years either way)")
    scalar.primitive.duration.FromTimedelta(value)


def _parse_duration(text: str) -> datetime.timedelta:
    from pydantic import TypeAdapter, ValidationError  # only for the rare ISO-8601 duration string

    try:
        return TypeAdapter(datetime.timedelta).validate_python(text)
    except ValidationError:
        raise _NotFit("not an ISO-8601 duration") from None


def _none(value: Any, scalar: literals_pb2.Scalar) -> None:
    if value is not None:
        raise _NotFit()
    scalar.none_type.SetInParent()


def _struct(value: Any, scalar: literals_pb2.Scalar) -> None:
    if isinstance(value, struct_pb2.Struct):
        scalar.generic.CopyFrom(value)
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif callable(getattr(value, "model_dump", None)):  # a pydantic model
        value = value.model_dump(mode="json")
    if not isinstance(value, Mapping):
        raise _NotFit()
    try:
        scalar.generic.update(dict(value))
    except (TypeError, ValueError):
        raise _NotFit(
            "not JSON-like: keys must be str, values None, bool, numbers, str, lists or dicts"
        ) from None


_SIMPLE_WRITERS: dict[int, Callable[[Any, literals_pb2.Scalar], None]] = {
    types_pb2.INTEGER: _integer,
    types_pb2.FLOAT: _float,
    types_pb2.STRING: _string,
    types_pb2.BOOLEAN: _boolean,
    types_pb2.DATETIME: _datetime,
    types_pb2.DURATION: _duration,
    types_pb2.NONE: _none,
    types_pb2.STRUCT: _struct,
}


# --------------------------------------------------------------------------------------- composite types


def _collection(value: Any, literal_type: LiteralType, out: Literal) -> None:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise Refused(literal_type, value)
    item_type = literal_type.collection_type
    items = out.collection.literals
    out.collection.SetInParent()  # an empty list is still a collection
    for index, item in enumerate(value):
        try:
            write(item, item_type, items.add())
        except Refused as refused:
            raise refused.inside(f"[{index}]") from None


def _map(value: Any, literal_type: LiteralType, out: Literal) -> None:
    if not isinstance(value, Mapping):
        raise Refused(literal_type, value)
    value_type = literal_type.map_value_type
    literals = out.map.literals
    out.map.SetInParent()
    for key, item in value.items():
        if not isinstance(key, str):
            raise Refused(literal_type, value, f"key {key!r} is not a str")
        try:
            write(item, value_type, literals[key])
        except Refused as refused:
            raise refused.inside(f"[{key!r}]") from None


def _enum(value: Any, literal_type: LiteralType, out: Literal) -> None:
    choice = value.value if isinstance(value, enum.Enum) else value
    if not isinstance(choice, str) or choice not in literal_type.enum_type.values:
        raise Refused(literal_type, value)
    out.scalar.primitive.string_value = choice


def _union(value: Any, literal_type: LiteralType, out: Literal) -> None:
    """The first variant that takes the value, the variants of its own simple type first (flytekit
    prefers str over an enum for a str; 3 is an int before it is a float)."""
    variants = list(literal_type.union_type.variants)
    inner_refusals: list[Refused] = []
    for variant in _own_type_first(value, variants):
        union = out.scalar.union
        try:
            write(value, variant, union.value)
        except Refused as refused:
            out.Clear()
            if not is_none_type(variant):
                inner_refusals.append(refused)
            continue
        union.type.CopyFrom(variant)
        return
    if value is not None and len(inner_refusals) == 1 and inner_refusals[0].where:
        raise inner_refusals[0]  # Optional[T]: the mismatch inside the T is the useful part
    raise Refused(literal_type, value)


_OWN_SIMPLE_TYPE: tuple[tuple[type, int], ...] = (
    (bool, types_pb2.BOOLEAN),  # before int: a bool is an int to isinstance
    (int, types_pb2.INTEGER),
    (float, types_pb2.FLOAT),
    (str, types_pb2.STRING),
    (type(None), types_pb2.NONE),
)


def _own_type_first(value: Any, variants: list[LiteralType]) -> list[LiteralType]:
    own = next((simple for python_type, simple in _OWN_SIMPLE_TYPE if isinstance(value, python_type)), None)
    if own is None:
        return variants
    first = [v for v in variants if v.WhichOneof("type") == "simple" and v.simple == own]
    return first + [v for v in variants if not any(v is f for f in first)]


def is_none_type(literal_type: LiteralType) -> bool:
    return literal_type.WhichOneof("type") == "simple" and literal_type.simple == types_pb2.NONE


# ------------------------------------------------------------------------------------------ stored data

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _uri(value: Any, literal_type: LiteralType) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str):
        raise Refused(literal_type, value)
    if not _URI.match(text):
        raise Refused(
            literal_type, value, "a local path: upload it first and pass its URI (s3://..., gs://...)"
        )
    return text


def _blob(value: Any, literal_type: LiteralType, out: Literal) -> None:
    blob = out.scalar.blob
    blob.uri = _uri(value, literal_type)
    blob.metadata.type.CopyFrom(literal_type.blob)


def _structured_dataset(value: Any, literal_type: LiteralType, out: Literal) -> None:
    declared_format = literal_type.structured_dataset_type.format
    given_format = ""
    if isinstance(value, Mapping):
        if "uri" not in value or not set(value) <= {"uri", "format"}:
            raise Refused(literal_type, value, 'give a URI, or a dict with "uri" and "format"')
        given_format = value.get("format") or ""
        if not isinstance(given_format, str) or given_format not in ("", declared_format or given_format):
            raise Refused(literal_type, value, f"the format must be {declared_format or 'a str'}")
        value = value["uri"]
    dataset = out.scalar.structured_dataset
    dataset.uri = _uri(value, literal_type)
    dataset_type = dataset.metadata.structured_dataset_type
    dataset_type.CopyFrom(literal_type.structured_dataset_type)
    dataset_type.format = declared_format or given_format


def _schema(value: Any, literal_type: LiteralType, out: Literal) -> None:
    schema = out.scalar.schema
    schema.uri = _uri(value, literal_type)
    schema.type.CopyFrom(literal_type.schema)


_WRITERS: dict[str, Callable[[Any, LiteralType, Literal], None]] = {
    "simple": _simple,
    "collection_type": _collection,
    "map_value_type": _map,
    "enum_type": _enum,
    "union_type": _union,
    "blob": _blob,
    "structured_dataset_type": _structured_dataset,
    "schema": _schema,
}
