"""Accept protobufs or flytekit models wherever the clients take a message.

flytekit users hold `flytekit.models` objects; every one of them has `to_flyte_idl()`. Converting at the
edge (instead of importing flytekit) keeps the client free of flytekit while letting migrating code pass
what it already has.
"""

from __future__ import annotations

import datetime
from typing import Any, TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def to_idl(value: Any, expected: type[M], what: str) -> M:
    """`value` as an `expected` protobuf; `what` names the argument in the error when it is neither."""
    if isinstance(value, expected):
        return value
    to_flyte_idl = getattr(value, "to_flyte_idl", None)
    if callable(to_flyte_idl):
        converted = to_flyte_idl()
        if isinstance(converted, expected):
            return converted
        raise TypeError(
            f"{what}: {type(value).__name__}.to_flyte_idl() gave {type(converted).__name__}, "
            f"expected {expected.DESCRIPTOR.full_name}"
        )
    raise TypeError(
        f"{what}: expected {expected.DESCRIPTOR.full_name} (or a flytekit model of it), "
        f"got {type(value).__name__}"
    )


def optional_idl(value: Any, expected: type[M], what: str) -> M | None:
    return None if value is None else to_idl(value, expected, what)


def duration(value: datetime.timedelta | Duration | None) -> Duration | None:
    """A protobuf Duration from a timedelta (None stays None, so the server applies its default)."""
    if value is None or isinstance(value, Duration):
        return value
    if not isinstance(value, datetime.timedelta):
        raise TypeError(f"expires_in: expected datetime.timedelta, got {type(value).__name__}")
    result = Duration()
    result.FromTimedelta(value)
    return result


def copy_of(message: M) -> M:
    """A deep copy, so no caller ever holds a message another caller (or a cache) can change."""
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate
