"""The declared matchable-attributes file read by `sync-attributes`: parse, validate, and locate every error.

The file extends flytectl's attribute files (one per attribute type, keys `project`, `domain`, optional
`workflow`, then the admin proto's own fields in snake_case) so that many scopes and types can live in one
file: each entry names its type with a `type:` key (see `ATTRIBUTE_TYPES`). The file is a YAML list of
entries, or several YAML documents each holding one entry or a list of them.

Validation is driven by the protobuf descriptors of `MatchingAttributes`, so a field that flyteidl adds is
accepted without a change here, and a typo is an error that names the file, the line and the key. The
YAML is composed (not loaded) because only nodes keep their line numbers. Like flytectl (which reads these
files with `sigs.k8s.io/yaml`), keys match case-insensitively and enums may be given as numbers; enum
names are accepted too, because `missing_plugin_behavior: USE_DEFAULT` reads better than `1`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from flyteidl.admin import matchable_resource_pb2
from flyteidl.admin.matchable_resource_pb2 import MatchingAttributes
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from flyteadmin_ops.ops.results import OperationInputError

MatchableResource = matchable_resource_pb2.MatchableResource


@dataclass(frozen=True)
class AttributeType:
    """One kind of matchable attribute: the name used in the file, the server's enum and the proto field."""

    name: str
    resource: int
    """A `MatchableResource` value."""
    field: str
    """The `MatchingAttributes` oneof field that carries it."""

    @property
    def descriptor(self) -> Descriptor:
        return MatchingAttributes.DESCRIPTOR.fields_by_name[self.field].message_type


def _kebab(enum_name: str) -> str:
    return enum_name.lower().replace("_", "-")


# MatchableResource value -> MatchingAttributes oneof field. QUALITY_OF_SERVICE_SPECIFICATION is absent on
# purpose: flyteadmin's Update*Attributes rejects it ("Unrecognized matching attributes type").
_FIELDS: dict[int, str] = {
    MatchableResource.TASK_RESOURCE: "task_resource_attributes",
    MatchableResource.CLUSTER_RESOURCE: "cluster_resource_attributes",
    MatchableResource.EXECUTION_QUEUE: "execution_queue_attributes",
    MatchableResource.EXECUTION_CLUSTER_LABEL: "execution_cluster_label",
    MatchableResource.PLUGIN_OVERRIDE: "plugin_overrides",
    MatchableResource.WORKFLOW_EXECUTION_CONFIG: "workflow_execution_config",
    MatchableResource.CLUSTER_ASSIGNMENT: "cluster_assignment",
}

ATTRIBUTE_TYPES: dict[str, AttributeType] = {
    _kebab(MatchableResource.Name(value)): AttributeType(_kebab(MatchableResource.Name(value)), value, name)
    for value, name in _FIELDS.items()
}
"""File type name -> type: task-resource, cluster-resource, execution-queue, execution-cluster-label,
plugin-override, workflow-execution-config, cluster-assignment."""

TYPES_BY_RESOURCE: dict[int, AttributeType] = {t.resource: t for t in ATTRIBUTE_TYPES.values()}

# flytectl's subcommand names, accepted as aliases so a flytectl attribute file only needs a `type:` line.
_ALIASES: dict[str, str] = {
    "task-resource-attribute": "task-resource",
    "cluster-resource-attribute": "cluster-resource",
    "execution-queue-attribute": "execution-queue",
}

_SCOPE_KEYS = ("project", "domain", "workflow")
_TYPE_KEY = "type"


@dataclass(frozen=True, order=True)
class Scope:
    """Where an attribute applies. Empty strings mean "not at this level", as in flyteadmin's rows."""

    project: str
    domain: str = ""
    workflow: str = ""

    @property
    def level(self) -> str:
        if self.workflow:
            return "workflow"
        return "project-domain" if self.domain else "project"

    def covers(self, other: Scope) -> bool:
        """True when deleting at this scope also deletes `other`: flyteadmin's delete drops the empty
        fields from its WHERE clause, so a project-domain delete removes that domain's workflow rows."""
        return (
            self.project == other.project
            and (not self.domain or self.domain == other.domain)
            and (not self.workflow or self.workflow == other.workflow)
        )

    def __str__(self) -> str:
        return "/".join(part for part in (self.project, self.domain, self.workflow) if part)


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    """1-based; 0 for the file as a whole (it cannot be read), shown without a line."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class DeclaredAttribute:
    """One entry of the file: the wanted value of one attribute type at one scope."""

    scope: Scope
    type: AttributeType
    attributes: MatchingAttributes
    location: Location
    key_locations: dict[str, Location] = field(default_factory=dict, compare=False, hash=False)
    """Where `project` and `domain` were written, so a server-side check can point at the line."""


@dataclass(frozen=True)
class Problem:
    location: Location
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: {self.key}" if self.key else f"{self.location}"
        return _printable(f"{where}: {self.message}")


class AttributeFileError(OperationInputError):
    """The declared file is wrong. Every problem names the file, the line and the key; raised before any
    write, so a bad file never half-applies."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.location.line)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the attributes file:"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


# ---- loading -----------------------------------------------------------------------------------------


def load_attribute_file(path: str | Path) -> list[DeclaredAttribute]:
    """Parse and validate the file, offline. Raises AttributeFileError listing every problem found."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AttributeFileError([Problem(Location(name, 0), "", f"cannot read the file: {reason}")]) from exc
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}); is this the YAML file?"
        raise AttributeFileError([Problem(Location(name, 0), "", problem)]) from exc
    return parse_attributes(text, name)


def parse_attributes(text: str, file: str = "<string>") -> list[DeclaredAttribute]:
    reader = _Reader(file)
    documents = _compose(text, file)
    entries: list[DeclaredAttribute] = []
    try:
        for document in documents:
            for node in reader.entry_nodes(document):
                entry = reader.entry(node)
                if entry is not None:
                    entries.append(entry)
    except RecursionError:  # nesting deeper than any attribute (the composer usually stops it first)
        raise AttributeFileError([Problem(Location(file, 0), "", _TOO_DEEP)]) from None
    if reader.problems:
        raise AttributeFileError(reader.problems)
    return entries


_TOO_DEEP = "nested too deeply to be an attributes file"


def _compose(text: str, file: str) -> list[yaml.Node | None]:
    """The file's YAML documents as nodes; any YAML error (a syntax error, a character YAML does not allow,
    nesting deep enough to exhaust the stack) is a problem naming the file and line."""
    try:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = f"not valid YAML: {exc.problem}"
    except yaml.reader.ReaderError as exc:  # e.g. a NUL byte: it has a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        problem = f"not valid YAML: character {exc.character!r} is not allowed"
    except yaml.YAMLError as exc:
        line, problem = 0, f"not valid YAML: {exc}"
    except RecursionError:
        line, problem = 0, _TOO_DEEP
    raise AttributeFileError([Problem(Location(file, line), "", problem)])


class _Reader:
    """Walks composed YAML nodes, collecting problems instead of stopping at the first one."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self._declared: dict[tuple[Scope, int], Location] = {}

    def at(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1)

    def problem(self, node: yaml.Node, key: str, message: str) -> None:
        self.problems.append(Problem(self.at(node), key, message))

    def entry_nodes(self, document: yaml.Node | None) -> Iterator[yaml.MappingNode]:
        if document is None:
            return
        if isinstance(document, yaml.MappingNode):
            yield document
        elif isinstance(document, yaml.SequenceNode):
            for item in document.value:
                if isinstance(item, yaml.MappingNode):
                    yield item
                else:
                    self.problem(item, "", f"each entry must be a mapping, got {_kind(item)}")
        else:
            self.problem(document, "", f"expected a list of entries, got {_kind(document)}")

    def entry(self, node: yaml.MappingNode) -> DeclaredAttribute | None:
        before = len(self.problems)
        items = self.keyed_items(node, "")
        scope_values: dict[str, str] = {}
        key_locations: dict[str, Location] = {}
        attribute_type: AttributeType | None = None
        fields: list[tuple[str, yaml.Node, yaml.Node]] = []
        type_node: yaml.Node = node
        for key, key_node, value_node in items:
            lowered = key.lower()
            if lowered in _SCOPE_KEYS:
                text = self.string(value_node, lowered)
                if text is not None:
                    scope_values[lowered] = text
                    key_locations[lowered] = self.at(value_node)
            elif lowered == _TYPE_KEY:
                attribute_type = self.attribute_type(value_node)
                type_node = value_node
            else:
                fields.append((key, key_node, value_node))
        if "project" not in scope_values or not scope_values["project"]:
            self.problem(node, "project", "missing: every entry needs a project")
        if scope_values.get("workflow") and not scope_values.get("domain"):
            self.problem(node, "workflow", "a workflow-level entry also needs a domain")
        if attribute_type is None:
            if not any(k.lower() == _TYPE_KEY for k, _, _ in items):
                self.problem(node, _TYPE_KEY, f"missing: one of {', '.join(ATTRIBUTE_TYPES)}")
            return None
        scope = Scope(
            scope_values.get("project", ""), scope_values.get("domain", ""), scope_values.get("workflow", "")
        )
        self.check_unique(scope, attribute_type, type_node)
        if attribute_type.resource == MatchableResource.PLUGIN_OVERRIDE and scope.level == "project":
            self.problem(
                type_node,
                _TYPE_KEY,
                "plugin-override needs a domain: flyteadmin v1.16 cannot store it at project scope "
                "(UpdateProjectAttributes fails with INTERNAL)",
            )
        value = self.message_fields(fields, attribute_type.descriptor, "")
        if len(self.problems) > before:
            return None
        attributes = MatchingAttributes()
        try:
            json_format.ParseDict({attribute_type.field: value}, attributes)
        except json_format.ParseError as exc:  # a check above missed a case: still name file and line
            self.problem(node, "", f"not a valid {attribute_type.name}: {exc}")
            return None
        return DeclaredAttribute(scope, attribute_type, attributes, self.at(node), key_locations)

    def attribute_type(self, node: yaml.Node) -> AttributeType | None:
        text = self.string(node, _TYPE_KEY)
        if text is None:
            return None
        name = _ALIASES.get(text.lower(), text.lower())
        if name in ATTRIBUTE_TYPES:
            return ATTRIBUTE_TYPES[name]
        if name in ("quality-of-service", "quality-of-service-specification"):
            self.problem(node, _TYPE_KEY, "quality-of-service cannot be set: flyteadmin rejects it")
        else:
            self.problem(
                node, _TYPE_KEY, f"unknown type {text!r}; expected one of {', '.join(ATTRIBUTE_TYPES)}"
            )
        return None

    def keyed_items(self, node: yaml.MappingNode, path: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        items: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":str")):
                self.problem(key_node, path, f"keys must be strings, got {_kind(key_node)}")
                continue
            key = str(key_node.value)
            full = _join(path, key)
            if key.lower() in seen:
                self.problem(
                    key_node, full, f"given twice (first on line {seen[key.lower()].start_mark.line + 1})"
                )
                continue
            seen[key.lower()] = key_node
            items.append((key, key_node, value_node))
        return items

    # ---- descriptor-driven conversion to a dict json_format.ParseDict accepts ----------------------

    def message(self, node: yaml.Node, descriptor: Descriptor, path: str) -> Any:
        if descriptor.full_name == "google.protobuf.Struct":
            if not isinstance(node, yaml.MappingNode):
                return self.wrong(node, path, "a mapping")
            return self.construct(node, path, deep=True)
        if descriptor.full_name in _WRAPPERS:
            return self.scalar(node, descriptor.fields_by_name["value"], path)
        if not isinstance(node, yaml.MappingNode):
            return self.wrong(node, path, "a mapping")
        return self.message_fields(self.keyed_items(node, path), descriptor, path)

    def message_fields(
        self, items: list[tuple[str, yaml.Node, yaml.Node]], descriptor: Descriptor, path: str
    ) -> dict[str, Any]:
        by_name = {f.name.lower(): f for f in descriptor.fields}
        out: dict[str, Any] = {}
        for key, key_node, value_node in items:
            full = _join(path, key)
            proto_field = by_name.get(key.lower())
            if proto_field is None:
                known = ", ".join(f.name for f in descriptor.fields)
                self.problem(key_node, full, f"unknown key; expected one of: {known}")
                continue
            if _is_null(value_node):
                continue  # `key:` with no value means "not set", as an absent key
            value = self.field_value(value_node, proto_field, full)
            if value is not _INVALID:
                out[proto_field.name] = value
        return out

    def field_value(self, node: yaml.Node, proto_field: FieldDescriptor, path: str) -> Any:
        message_type = proto_field.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            if not isinstance(node, yaml.MappingNode):
                return self.wrong(node, path, "a mapping")
            value_field = message_type.fields_by_name["value"]
            return {
                key: self.single(value_node, value_field, _join(path, key))
                for key, _, value_node in self.keyed_items(node, path)
            }
        if proto_field.is_repeated:
            if not isinstance(node, yaml.SequenceNode):
                return self.wrong(node, path, "a list")
            return [self.single(item, proto_field, f"{path}[{i}]") for i, item in enumerate(node.value)]
        return self.single(node, proto_field, path)

    def single(self, node: yaml.Node, proto_field: FieldDescriptor, path: str) -> Any:
        if proto_field.message_type is not None:
            return self.message(node, proto_field.message_type, path)
        return self.scalar(node, proto_field, path)

    def scalar(self, node: yaml.Node, proto_field: FieldDescriptor, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self.wrong(node, path, _SCALAR_NAMES.get(proto_field.type, "a value"))
        tag = node.tag.rsplit(":", 1)[-1]
        value = self.construct(node, path)
        if value is _INVALID:
            return _INVALID
        kind = proto_field.type
        if kind == FieldDescriptor.TYPE_STRING:
            if tag != "str":
                hint = f' (quote it: "{node.value}")' if tag in ("int", "float", "bool") else ""
                return self.wrong(node, path, "a string", hint)
            return value
        if kind == FieldDescriptor.TYPE_BOOL:
            return value if tag == "bool" else self.wrong(node, path, "true or false")
        if kind in _INT_TYPES:
            if tag != "int":
                return self.wrong(node, path, "an integer")
            low, high = _INT_TYPES[kind]
            if not low <= value <= high:
                return self.wrong(node, path, f"an integer from {low} to {high}")
            return value
        if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
            return value if tag in ("int", "float") else self.wrong(node, path, "a number")
        if kind == FieldDescriptor.TYPE_ENUM:
            return self.enum(node, proto_field, path, value)
        return self.wrong(node, path, "a value this file format supports")

    def enum(self, node: yaml.Node, proto_field: FieldDescriptor, path: str, value: Any) -> Any:
        enum_type = proto_field.enum_type
        assert enum_type is not None
        names = ", ".join(f"{v.number}={v.name}" for v in enum_type.values)
        if isinstance(value, bool):
            return self.wrong(node, path, f"one of {names}")
        if isinstance(value, int):
            if value in enum_type.values_by_number:
                return value
        elif isinstance(value, str) and value.upper() in enum_type.values_by_name:
            return value.upper()
        return self.wrong(node, path, f"one of {names}")

    def construct(self, node: yaml.Node, path: str, *, deep: bool = False) -> Any:
        """The Python value of a node; a value its own tag cannot build (`!!int 0x`, `!!python/object`,
        `!!timestamp` of no date) is a problem at its line, not an exception."""
        try:  # a fresh constructor each time: one that raised may keep half-built state
            return yaml.constructor.SafeConstructor().construct_object(node, deep=deep)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
            self.problem(node, path, f"cannot read this value: {' '.join(reason.split())}")
            return _INVALID

    def wrong(self, node: yaml.Node, path: str, expected: str, hint: str = "") -> Any:
        self.problem(node, path, f"expected {expected}, got {_kind(node)}{hint}")
        return _INVALID

    def string(self, node: yaml.Node, key: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str"):
            text = str(node.value)
            try:  # a double-quoted "\udcbf" is a lone surrogate, which no protobuf string can carry
                text.encode("utf-8")
            except UnicodeEncodeError:
                self.problem(node, key, f"{text!a} is not Unicode text (it holds a lone surrogate)")
                return None
            return text
        self.problem(node, key, f"expected a string, got {_kind(node)}")
        return None

    def check_unique(self, scope: Scope, attribute_type: AttributeType, type_node: yaml.Node) -> None:
        """One entry per (scope, type): two would silently overwrite each other on every apply."""
        key = (scope, attribute_type.resource)
        if key in self._declared:
            self.problem(
                type_node,
                _TYPE_KEY,
                f"{attribute_type.name} for {scope} is already declared on line {self._declared[key].line}",
            )
        else:
            self._declared[key] = self.at(type_node)


_INVALID = object()
_WRAPPERS = frozenset(
    f"google.protobuf.{name}Value"
    for name in ("Bool", "String", "Int32", "Int64", "UInt32", "UInt64", "Float", "Double")
)
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
_INT_TYPES: dict[int, tuple[int, int]] = {
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
}
"""Integer field types and the values each can hold: a number out of range would otherwise surface as
json_format's ParseError, naming neither the file nor the line."""
_SCALAR_NAMES = {FieldDescriptor.TYPE_STRING: "a string", FieldDescriptor.TYPE_BOOL: "true or false"}


def _printable(text: str) -> str:
    """Control characters from the file (a key holding a newline or an escape sequence) escaped, so each
    problem stays one line of the report."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    shown = repr(node.value) if len(str(node.value)) <= 40 else repr(str(node.value)[:37] + "...")
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "bool": "a boolean",
        "null": "nothing",
    }.get(tag, tag) + (f" {shown}" if tag != "null" else "")
