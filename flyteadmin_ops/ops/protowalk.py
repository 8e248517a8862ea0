"""Generic walks over flyteidl protobufs: find every `core.Identifier`, rewrite strings in task args.

Why generic: flytectl hydrates a hand-written list of places (task nodes, subworkflow and launch plan refs,
branch cases, array and failure nodes, ...), and every new node kind in flyteidl is one more place to forget.
Walking the message tree by descriptor reaches all of them, today's and tomorrow's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from flyteidl.core import identifier_pb2
from google.protobuf import struct_pb2
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

# Messages whose `id` field names the entity being defined (not a reference to another one).
_DEFINING_MESSAGES = frozenset(
    {"flyteidl.core.TaskTemplate", "flyteidl.core.WorkflowTemplate", "flyteidl.admin.LaunchPlan"}
)
_IDENTIFIER = identifier_pb2.Identifier.DESCRIPTOR.full_name


@functools.cache
def _can_hold(descriptor: Descriptor, full_name: str) -> bool:
    """Whether a message of type `descriptor` can contain one of type `full_name` at any depth. Walks skip
    the subtrees that cannot (interfaces, literals, pod specs when looking for identifiers), which more
    than halves hydrating a large package; the answer comes from the descriptors, so no place is missed."""
    seen: set[str] = set()
    pending = [descriptor]
    while pending:
        current = pending.pop()
        if current.full_name == full_name:
            return True
        if current.full_name not in seen:
            seen.add(current.full_name)
            pending.extend(f.message_type for f in current.fields if f.message_type is not None)
    return False


_SINGLE, _REPEATED, _MAP = 0, 1, 2


@functools.cache
def _fields(descriptor: Descriptor, target: str) -> tuple[tuple[str, int], ...]:
    """(field name, shape) of the message-typed fields of `descriptor` that can hold a `target`, in field
    number order (the order of `ListFields`, so walks keep document order). Worked out once per message
    type: asking each message for `ListFields` and each field for its options dominated large walks."""
    found = []
    for field in sorted(descriptor.fields, key=lambda f: f.number):
        if field.message_type is None or not _can_hold(field.message_type, target):
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                found.append((field.name, _MAP))
        else:
            found.append((field.name, _REPEATED if field.is_repeated else _SINGLE))
    return tuple(found)


def _children(message: Message, target: str) -> Iterator[tuple[str, Message]]:
    """(field name, sub-message) for every message-typed value set in `message`, map values included,
    that can hold a message of type `target`."""
    for name, shape in _fields(message.DESCRIPTOR, target):
        if shape == _SINGLE:
            if message.HasField(name):
                yield name, getattr(message, name)
        elif shape == _REPEATED:
            for item in getattr(message, name):
                yield name, item
        else:
            for item in getattr(message, name).values():
                yield name, item


def identifiers(
    message: Message, *, defining: bool = False
) -> Iterator[tuple[identifier_pb2.Identifier, bool]]:
    """Every Identifier inside `message` in document order, with True when it is a definition (a template's or
    a launch plan's own id) rather than a reference to another entity. The walk is done before the first
    item is returned (one list, no generator per level), so changing the identifiers' fields while
    iterating is fine."""
    found: list[tuple[identifier_pb2.Identifier, bool]] = []
    _collect_identifiers(message, defining, found)
    return iter(found)


def _collect_identifiers(
    message: Message, defining: bool, found: list[tuple[identifier_pb2.Identifier, bool]]
) -> None:
    descriptor = message.DESCRIPTOR
    if descriptor.full_name == _IDENTIFIER:
        found.append((message, defining))
        return
    parent_defines = descriptor.full_name in _DEFINING_MESSAGES
    for name, shape in _fields(descriptor, _IDENTIFIER):
        child_defines = parent_defines and name == "id"
        if shape == _SINGLE:
            if message.HasField(name):
                _collect_identifiers(getattr(message, name), child_defines, found)
        else:
            values = getattr(message, name)
            for item in values if shape == _REPEATED else values.values():
                _collect_identifiers(item, child_defines, found)


def references(message: Message) -> list[identifier_pb2.Identifier]:
    """The identifiers `message` refers to (not its own, nor those of templates it embeds)."""
    return [ident for ident, defining in identifiers(message) if not defining]


def messages_of_type(message: Message, full_name: str) -> Iterator[Message]:
    """Every message of protobuf type `full_name` inside `message` (itself included), outermost first.
    Like `identifiers`, the walk is done before the first item is returned."""
    found: list[Message] = []
    _collect_messages(message, full_name, found)
    return iter(found)


def _collect_messages(message: Message, full_name: str, found: list[Message]) -> None:
    if message.DESCRIPTOR.full_name == full_name:
        found.append(message)
    for _, child in _children(message, full_name):
        _collect_messages(child, full_name, found)


def find(message: Message, full_names: frozenset[str]) -> list[tuple[Message, bool]]:
    """Every message inside `message` (itself included) whose type is one of `full_names`, in document
    order, each with the flag `identifiers` gives (True for a template's or launch plan's own id). One
    walk for several kinds of target: hydration needs the identifiers, the containers and the pod specs
    of every entity, and walking for each apart cost it a third of its time."""
    found: list[tuple[Message, bool]] = []
    _collect_any(message, full_names, False, found)
    return found


@functools.cache
def _fields_any(descriptor: Descriptor, targets: frozenset[str]) -> tuple[tuple[str, int], ...]:
    """`_fields` for several targets: the message-typed fields that can hold any of them, in field order."""
    names = {name for target in targets for name, _ in _fields(descriptor, target)}
    shapes = {name: shape for target in targets for name, shape in _fields(descriptor, target)}
    return tuple(
        (field.name, shapes[field.name])
        for field in sorted(descriptor.fields, key=lambda f: f.number)
        if field.name in names
    )


def _collect_any(
    message: Message, targets: frozenset[str], defining: bool, found: list[tuple[Message, bool]]
) -> None:
    descriptor = message.DESCRIPTOR
    full_name = descriptor.full_name
    if full_name in targets:
        found.append((message, defining))
    parent_defines = full_name in _DEFINING_MESSAGES
    for name, shape in _fields_any(descriptor, targets):
        child_defines = parent_defines and name == "id"
        if shape == _SINGLE:
            if message.HasField(name):
                _collect_any(getattr(message, name), targets, child_defines, found)
        else:
            values = getattr(message, name)
            for item in values if shape == _REPEATED else values.values():
                _collect_any(item, targets, child_defines, found)


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
