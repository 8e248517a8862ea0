"""Generic walks over flyteidl protobufs: find every `core.Identifier`, rewrite strings in task args.

Why generic: flytectl hydrates a hand-written list of places (task nodes, subworkflow and launch plan refs,
branch cases, array and failure nodes, ...), and every new node kind in flyteidl is one more place to forget.
Walking the message tree by descriptor reaches all of them, today's and tomorrow's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flyteidl.core import identifier_pb2
from google.protobuf import struct_pb2
from google.protobuf.message import Message

# Messages whose `id` field names the entity being defined (not a reference to another one).
_DEFINING_MESSAGES = frozenset(
    {"flyteidl.core.TaskTemplate", "flyteidl.core.WorkflowTemplate", "flyteidl.admin.LaunchPlan"}
)
_IDENTIFIER = identifier_pb2.Identifier.DESCRIPTOR.full_name


def _children(message: Message) -> Iterator[tuple[str, Message]]:
    """(field name, sub-message) for every message-typed value set in `message`, map values included."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for item in value.values():
                    yield field.name, item
        elif isinstance(value, Message):
            yield field.name, value
        else:  # a repeated message field
            for item in value:
                yield field.name, item


def identifiers(
    message: Message, *, defining: bool = False
) -> Iterator[tuple[identifier_pb2.Identifier, bool]]:
    """Every Identifier inside `message` in document order, with True when it is a definition (a template's or
    a launch plan's own id) rather than a reference to another entity."""
    if message.DESCRIPTOR.full_name == _IDENTIFIER:
        yield message, defining
        return
    parent_defines = message.DESCRIPTOR.full_name in _DEFINING_MESSAGES
    for name, child in _children(message):
        yield from identifiers(child, defining=parent_defines and name == "id")


def references(message: Message) -> list[identifier_pb2.Identifier]:
    """The identifiers `message` refers to (not its own, nor those of templates it embeds)."""
    return [ident for ident, defining in identifiers(message) if not defining]


def messages_of_type(message: Message, full_name: str) -> Iterator[Message]:
    """Every message of protobuf type `full_name` inside `message` (itself included), outermost first."""
    if message.DESCRIPTOR.full_name == full_name:
        yield message
    for _, child in _children(message):
        yield from messages_of_type(child, full_name)


def rewrite_struct_strings(
    value: struct_pb2.Value, rewrite: Callable[[str], str], *, inside_args: bool
) -> None:
    """Apply `rewrite` to the strings of every `args` list in a Struct (a k8s pod spec), in place."""
    kind = value.WhichOneof("kind")
    if kind == "string_value" and inside_args:
        value.string_value = rewrite(value.string_value)
    elif kind == "list_value":
        for item in value.list_value.values:
            rewrite_struct_strings(item, rewrite, inside_args=inside_args)
    elif kind == "struct_value":
        for key, item in value.struct_value.fields.items():
            rewrite_struct_strings(item, rewrite, inside_args=inside_args or key == "args")
