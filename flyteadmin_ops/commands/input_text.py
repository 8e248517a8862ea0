"""Launch inputs typed on a command line (`--input k=v`) or read from a file, as Python values.

On a command line every value is text, and only the launch plan's interface says what it should be:
`3` is an int for an int input and the string "3" for a string input. So each text is read by its input's
declared type before `client.values` turns the Python value into a literal (the same conversion the client
and the Prefect layer use). The readings are the ones a shell user expects: ints, floats, `true`/`false`,
strings as typed, JSON for lists, maps and structs, ISO-8601 datetimes with a zone (`2026-01-01T00:00:00Z`),
durations as `90s`, `5m`, `1h30m`, `250ms` (or ISO-8601 `PT1H`), `null` for None, and URIs for files,
directories and datasets. A text that does not read as its type is an `InputTextError` naming the input,
the expected type and the text, before anything is sent.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from flyteidl.core import types_pb2

from flyteadmin_ops.client.type_names import type_name
from flyteadmin_ops.ops.results import OperationInputError

Simple = types_pb2.SimpleType


class InputTextError(OperationInputError):
    """A launch input whose text cannot be read as the input's declared type (exit 2)."""

    def __init__(self, name: str, expected: str, text: str, reason: str) -> None:
        self.input_name = name
        super().__init__(f"input {name!r}: expected {expected}, got {text!r} ({reason})")


class _Unreadable(ValueError):
    """Internal: the text is not a value of the type tried; the message says why."""


def parse_assignment(item: str) -> tuple[str, str]:
    """`name=value` (the value may contain `=`) as its two parts."""
    name, sep, text = item.partition("=")
    if not sep or not name.strip():
        raise OperationInputError(f"--input {item!r}: expected NAME=VALUE")
    return name.strip(), text


def read_input(name: str, text: str, literal_type: types_pb2.LiteralType) -> Any:
    """The Python value `text` means for an input of `literal_type`."""
    try:
        return _read(text, literal_type)
    except _Unreadable as unreadable:
        raise InputTextError(name, type_name(literal_type), text, str(unreadable)) from None


def read_file_value(name: str, value: Any, literal_type: types_pb2.LiteralType) -> Any:
    """A value from an inputs file: YAML and JSON already give numbers, lists and maps, but a duration
    (`5m`) or a datetime quoted as a string is still text, read here as on the command line."""
    if isinstance(value, str) and _simple(literal_type) in (Simple.DURATION, Simple.DATETIME):
        return read_input(name, value, literal_type)
    return value


def read_inputs(
    texts: Mapping[str, str], file_values: Mapping[str, Any], types: Mapping[str, types_pb2.LiteralType]
) -> dict[str, Any]:
    """File values overridden by command-line texts, each read by its declared type. An input the plan
    does not declare is passed on as given, for `client.values` to report as unknown (or fixed)."""
    values: dict[str, Any] = {}
    for name, value in file_values.items():
        values[name] = read_file_value(name, value, types[name]) if name in types else value
    for name, text in texts.items():
        values[name] = read_input(name, text, types[name]) if name in types else text
    return values


def _simple(literal_type: types_pb2.LiteralType) -> int | None:
    return literal_type.simple if literal_type.WhichOneof("type") == "simple" else None


def _read(text: str, literal_type: types_pb2.LiteralType) -> Any:
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        reader = _SIMPLE_READERS.get(literal_type.simple)
        if reader is None:
            raise _Unreadable("this type cannot be given as text; use --inputs-file")
        return reader(text)
    if kind == "collection_type":
        return _json_of(text, list, "a JSON list, e.g. [1, 2]")
    if kind == "map_value_type":
        return _json_of(text, dict, 'a JSON object, e.g. {"a": 1}')
    if kind == "union_type":
        return _read_union(text, literal_type.union_type)
    # enum, blob (file/directory), schema, structured dataset: the text itself (a value or a URI)
    return text


def _read_union(text: str, union: types_pb2.UnionType) -> Any:
    """The first variant the text reads as, trying every non-string variant before a string one, so that
    `5` for Optional[int] or Union[int, str] is the int 5."""
    variants = sorted(union.variants, key=lambda variant: _simple(variant) == Simple.STRING)
    reasons = []
    for variant in variants:
        try:
            return _read(text, variant)
        except _Unreadable as unreadable:
            reasons.append(f"{type_name(variant)}: {unreadable}")
    raise _Unreadable("; ".join(reasons))


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _Unreadable("not a whole number") from None


def _float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise _Unreadable("not a number") from None


def _bool(text: str) -> bool:
    word = text.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    raise _Unreadable("use true or false")


def _none(text: str) -> None:
    if text.strip().lower() in ("null", "none", ""):
        return None
    raise _Unreadable("only null means no value")


def _datetime(text: str) -> datetime.datetime:
    stripped = text.strip()
    iso = stripped[:-1] + "+00:00" if stripped.endswith(("Z", "z")) else stripped
    try:
        value = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise _Unreadable("not an ISO-8601 datetime, e.g. 2026-01-31T08:00:00Z") from None
    if value.tzinfo is None:
        raise _Unreadable("no time zone; add Z or an offset such as +02:00")
    try:
        value.astimezone(datetime.timezone.utc)  # what the literal will hold
    except OverflowError:
        raise _Unreadable("out of range once converted to UTC") from None
    return value


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|h|m|s|d)")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def _duration(text: str) -> datetime.timedelta | str:
    """`90s`, `5m`, `1h30m`, `1.5h`, `250ms`, `2d`; an ISO-8601 duration (`PT1H`) is passed on as text,
    which `client.values` reads."""
    stripped = text.strip()
    if stripped.upper().startswith("P"):
        return stripped
    sign = -1.0 if stripped.startswith("-") else 1.0
    body = stripped.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise _Unreadable("not a duration; use e.g. 90s, 5m, 1h30m, 250ms or PT1H")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    try:
        return datetime.timedelta(seconds=sign * seconds)
    except OverflowError:  # also infinity, from a number too long for a float
        raise _Unreadable("too long for a duration") from None


def _json_of(text: str, expected: type, example: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Unreadable(f"not JSON ({error.msg} at character {error.pos}); expected {example}") from None
    except RecursionError:
        raise _Unreadable(f"JSON nested too deeply; expected {example}") from None
    except ValueError:  # a number of more than 4300 digits, which Python refuses to convert
        raise _Unreadable(f"a number in it is too long; expected {example}") from None
    if not isinstance(value, expected):
        raise _Unreadable(f"expected {example}")
    return value


def _struct(text: str) -> Any:
    return _json_of(text, dict, 'a JSON object, e.g. {"a": 1}')


_SIMPLE_READERS: dict[int, Callable[[str], Any]] = {
    Simple.INTEGER: _int,
    Simple.FLOAT: _float,
    Simple.STRING: str,
    Simple.BOOLEAN: _bool,
    Simple.DATETIME: _datetime,
    Simple.DURATION: _duration,
    Simple.STRUCT: _struct,
    Simple.NONE: _none,
}
