"""Execution names chosen by the client, so a resent launch cannot start a second execution.

flyteadmin generates a name when the request has none; a CreateExecution that the server committed but whose
answer was lost would then launch twice when resent. With a name chosen here before the first attempt, the
resend answers ALREADY_EXISTS instead. Names follow flyteadmin's rule for client-given names
(`lower(name)` matches `^[a-z][a-z\\-0-9]*$`, at most 63 characters).
"""

from __future__ import annotations

import re
import secrets
import string

import grpc
from google.protobuf.message import Message

from flyteadmin_ops.client.coerce import copy_of
from flyteadmin_ops.errors import FlyteInvalidInputException

MAX_LENGTH = 63
_VALID = re.compile(r"^[a-z][a-z\-0-9]*$")
_ALPHABET = string.ascii_lowercase + string.digits
_RANDOM_LENGTH = 19
"""19 characters from 36 give ~98 bits: a collision with another execution is not a practical concern."""
_NAMES = len(_ALPHABET) ** _RANDOM_LENGTH


def generate() -> str:
    """A fresh random name, 20 characters like flyteadmin's own, starting with "f" (a letter is required).

    One uniform draw below 36**19, written in base 36: the same distribution as 19 independent
    `secrets.choice` calls, at a tenth of their cost (a launch without a name pays it every time).
    """
    number = secrets.randbelow(_NAMES)
    characters = []
    for _ in range(_RANDOM_LENGTH):
        number, digit = divmod(number, len(_ALPHABET))
        characters.append(_ALPHABET[digit])
    return "f" + "".join(characters)


def check(name: str, rpc: str) -> str:
    """Reject a caller-given name before sending it.

    The server would reject it too, but only with a generic message, and after the request has been
    serialized and possibly retried; here the error names the name and the rule.
    """
    lowered = name.lower()  # as flyteadmin checks it; its length in bytes, as Go's len() counts
    if len(lowered.encode()) > MAX_LENGTH or not _VALID.fullmatch(lowered):  # Go's `$` ends the text: no "\n"
        raise FlyteInvalidInputException(
            rpc,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"execution name {name!r} is invalid: it must start with a letter, contain only letters, digits "
            f"and '-', and be at most {MAX_LENGTH} characters (rejected by the client, not sent)",
        )
    return name


def ensure_named(request: Message, rpc: str) -> Message:
    """The request with a valid `name`: the caller's (checked) or a generated one on a copy.

    The caller's message is never changed, so a request object reused for two launches gets two names.
    """
    name: str = getattr(request, "name")  # noqa: B009 - every launch request has `name`
    if name:
        check(name, rpc)
        return request
    named = copy_of(request)
    setattr(named, "name", generate())  # noqa: B010
    return named
