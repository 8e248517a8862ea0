"""Python values to Flyte literals and back, guided by an interface's `LiteralType`s. flytekit is not needed.

A launch takes a `LiteralMap`. Building one by hand means knowing flyteidl, and flyteadmin only checks
it after the request has been sent, with messages such as "invalid x input wrong type". Here the
launch plan's (or task's) interface drives the conversion, and every problem is reported before any
RPC: a missing required input, an unknown input, a value for a fixed input, or a value of the wrong type.
Each raises `InputValueError`, which names the input, the expected type ("list[int]",
"Optional[str]", "enum {a, b}") and what was given.

Python -> literal (`to_literal`, `to_literal_map`, `inputs_for_launch_plan`, `inputs_for_task`):

- int: an int (or another `numbers.Integral`) within 64 bits; never a bool.
- float: a float or an int.
- str: a str. bool: a bool only (1, 0 and "true" are refused).
- datetime: an aware datetime, sent as UTC; an ISO-8601 string with an offset ("2026-01-01T00:00:00Z",
  what a JSON parameter holds); a protobuf Timestamp. A naive datetime is refused: its zone would be a guess.
- timedelta: a timedelta, an ISO-8601 duration string ("PT1H30M") or a protobuf Duration.
- list[T]: a list or tuple, each item as T. map[str, T]: a Mapping with str keys, each value as T.
- dict (struct): a JSON-like Mapping, a dataclass instance, a pydantic model or a protobuf Struct.
- enum: one of its values as a str, or a Python Enum whose value is one.
- Optional / Union: the first variant that takes the value, trying the variants of the value's own type
  first (3 picks int over float, "a" picks str over an enum); None picks the None variant.
- file, directory: a URI ("s3://b/k") as a str or os.PathLike; a local path is refused (upload it first).
- structured dataset: a URI, or {"uri": ..., "format": ...}. schema: a URI.
- any type: a `Literal` (or a flytekit model of one) is passed as it is.

Defaults and fixed inputs are left to flyteadmin, which applies them when it creates the execution
(`CheckAndFetchInputsForExecution`). So the map holds only what the caller gave, and the execution records
exactly that. The one addition is None for an Optional input that is required but was not given: in Python
that is what leaving out an Optional means, and it is what flytekit sends.

Literal -> Python (`to_python`, `to_python_map`): int, float, str, bool, datetime (aware, UTC),
timedelta, list, dict (from a map or a struct), None; unions unwrap to their value; enums come back as
str; files, directories, structured datasets and schemas come back as their URI. A struct's numbers come
back as floats, since a protobuf Struct only has doubles. msgpack binaries (flytekit's dataclasses and
dicts) are decoded when msgpack is installed; anything else that has no Python form (an error, an
offloaded literal) is returned as the protobuf.

Not covered: uploading local files (pass URIs), pickled values, typed dataclasses (they go in as a
struct and come back as a dict), and `date` without a time.
"""

from __future__ import annotations

import datetime
import importlib
import reprlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from flyteidl.admin import launch_plan_pb2, task_pb2
from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import json_format

from flyteadmin_ops.client import literal_writer
from flyteadmin_ops.client.type_names import type_name

Interface: TypeAlias = interface_pb2.VariableMap | interface_pb2.ParameterMap | Mapping[str, Any]
"""What declares the inputs: a VariableMap (a task's or workflow's interface), a ParameterMap (a launch plan's
expected inputs, which say which are required), or a Mapping of name to Variable, Parameter or LiteralType."""


class InputValueError(ValueError):
    """An input a launch cannot take, found before anything was sent.

    It is a ValueError, not a `FlyteInvalidInputException`: the latter is the server's INVALID_ARGUMENT and
    carries an RPC and a status code, while this error means that no request was made. A Prefect retry
    does not help either.

    `input_name` is the input. `reason` is one of "wrong type", "missing", "unknown" or "fixed".
    `expected` is the readable declared type ("" for an unknown input). `given` is the type and a short
    repr of the value ("" when nothing was given). `detail` says where inside the value the mismatch is,
    or what would fit.
    """

    def __init__(
        self, input_name: str, reason: str, *, expected: str = "", given: str = "", detail: str = ""
    ):
        self.input_name = input_name
        self.reason = reason
        self.expected = expected
        self.given = given
        self.detail = detail
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"input {self.input_name!r}"
        if self.reason == "missing":
            text = f"{head}: missing (expected {self.expected}; it has no default)"
        elif self.reason == "unknown":
            text = f"{head}: unknown input (got {self.given})"
        elif self.reason == "fixed":
            text = f"{head}: fixed by the launch plan, cannot be given (got {self.given})"
        else:
            text = f"{head}: expected {self.expected}, got {self.given}"
        return f"{text}; {self.detail}" if self.detail else text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields: without this, unpickling (Prefect moves errors between processes) fails.
        return (_rebuild_input_error, (self.input_name, self.reason, self.expected, self.given, self.detail))


def _rebuild_input_error(name: str, reason: str, expected: str, given: str, detail: str) -> InputValueError:
    return InputValueError(name, reason, expected=expected, given=given, detail=detail)


# ------------------------------------------------------------------------------------------ public API


def to_literal(
    value: Any, literal_type: types_pb2.LiteralType, *, name: str = "value"
) -> literals_pb2.Literal:
    """`value` as a Literal of `literal_type` (rules in the module docstring); `name` is the input's name
    for the error. Raises InputValueError when the value does not fit."""
    literal = literals_pb2.Literal()
    _write_input(value, literal_type, name, literal)
    return literal


def _write_input(
    value: Any, literal_type: types_pb2.LiteralType, name: str, out: literals_pb2.Literal
) -> None:
    try:
        literal_writer.write(value, literal_type, out)
    except literal_writer.Refused as refused:
        raise InputValueError(
            name,
            "wrong type",
            expected=type_name(literal_type),
            given=describe_value(value),
            detail=_refusal_detail(refused, name),
        ) from None


def to_literal_map(
    values: Mapping[str, Any] | literals_pb2.LiteralMap,
    variables: Interface,
    *,
    defaults: Mapping[str, Any] | Sequence[str] | None = None,
    fixed: literals_pb2.LiteralMap | Mapping[str, Any] | Sequence[str] | None = None,
) -> literals_pb2.LiteralMap:
    """The LiteralMap to launch with, from Python `values` checked against `variables`.

    An input may be left out when it has a default (a Parameter that is not required, or a name in
    `defaults`), or when its type is Optional (it becomes None). Names in `fixed` must not be given.
    Problems are reported in this order: unknown inputs, fixed inputs, missing inputs, then wrong types,
    each in name order. The result holds only the given values (plus the None of a left-out Optional),
    because flyteadmin applies defaults and fixed inputs itself.
    """
    given = _given_values(values)
    declared = _declared(variables)
    fixed_names = set(_names(fixed))
    may_omit = (
        {name for name, (_, optional) in declared.items() if optional} | set(_names(defaults)) | fixed_names
    )
    for name in sorted(given):
        if name in fixed_names:
            raise InputValueError(name, "fixed", given=describe_value(given[name]))
        if name not in declared:
            raise InputValueError(
                name, "unknown", given=describe_value(given[name]), detail=_known_inputs(declared)
            )
    missing_optional = []
    for name in sorted(declared):
        literal_type = declared[name][0]
        if name in given or name in may_omit:
            continue
        if not _accepts_none(literal_type):
            raise InputValueError(name, "missing", expected=type_name(literal_type))
        missing_optional.append(name)
    result = literals_pb2.LiteralMap()
    for name in sorted(given):
        _write_input(given[name], declared[name][0], name, result.literals[name])
    for name in missing_optional:
        _write_input(None, declared[name][0], name, result.literals[name])
    return result


def inputs_for_launch_plan(
    launch_plan: launch_plan_pb2.LaunchPlan, values: Mapping[str, Any] | literals_pb2.LiteralMap
) -> literals_pb2.LiteralMap:
    """The inputs to launch `launch_plan` with (a registered one, as get_launch_plan returns it).

    Its closure's expected inputs say which inputs are required and their types. A launch plan built
    locally, without a closure, uses its spec's default inputs instead. Its fixed inputs cannot be given.
    """
    closure = launch_plan.closure
    parameters = (
        closure.expected_inputs if closure.HasField("expected_inputs") else launch_plan.spec.default_inputs
    )
    return to_literal_map(values, parameters, fixed=launch_plan.spec.fixed_inputs)


def inputs_for_task(
    task: task_pb2.Task, values: Mapping[str, Any] | literals_pb2.LiteralMap
) -> literals_pb2.LiteralMap:
    """The inputs to launch `task` directly with. Every input of a task is required (flyteadmin's generated
    launch plan has no defaults), except that a left-out Optional input becomes None."""
    return to_literal_map(values, task.closure.compiled_task.template.interface.inputs)


def to_python(literal: literals_pb2.Literal, literal_type: types_pb2.LiteralType | None = None) -> Any:
    """`literal` as a Python value (rules in the module docstring).

    Every literal carries its own kind (a union even its variant's type), so the result never depends on
    `literal_type`. The parameter lets code that holds the interface pass it as it does to `to_literal`.
    """
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return _scalar_to_python(literal.scalar)
    if kind == "collection":
        return [to_python(item) for item in literal.collection.literals]
    if kind == "map":
        return {key: to_python(item) for key, item in literal.map.literals.items()}
    if kind is None:
        return None
    return literal  # offloaded: the value is stored at literal.offloaded_metadata.uri


def to_python_map(literal_map: literals_pb2.LiteralMap, variables: Interface | None = None) -> dict[str, Any]:
    """Each literal of `literal_map` (e.g. `get_execution_data(...).full_outputs`) as a Python value, in
    name order. `variables` (the outputs' interface) is optional, as the type is for `to_python`."""
    if variables is not None:
        _declared(variables)  # still a mistake to pass something that is not an interface
    return {name: to_python(literal) for name, literal in sorted(literal_map.literals.items())}


def describe_value(value: Any) -> str:
    """The type and a short repr of a value, for messages: "str 'abc'", "list [1, 2, 3, 4, ...]"."""
    if value is None:
        return "None"
    if isinstance(value, literals_pb2.Literal):
        return f"Literal ({value.WhichOneof('value') or 'empty'})"
    return f"{type(value).__name__} {_SHORT.repr(value)}"


_SHORT = reprlib.Repr()
_SHORT.maxstring = 40
_SHORT.maxother = 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2


def _refusal_detail(refused: literal_writer.Refused, name: str) -> str:
    """What the message adds after "expected T, got V": where inside the value, and why."""
    if not refused.where:
        return refused.why
    inner = f"expected {type_name(refused.literal_type)}, got {describe_value(refused.value)}"
    where = f"at {name}{refused.where}: {inner}"
    return f"{where} ({refused.why})" if refused.why else where


def _accepts_none(literal_type: types_pb2.LiteralType) -> bool:
    if literal_type.WhichOneof("type") == "union_type":
        return any(literal_writer.is_none_type(variant) for variant in literal_type.union_type.variants)
    return literal_writer.is_none_type(literal_type)


# ------------------------------------------------------------------------------------- literal -> Python


def _scalar_to_python(scalar: literals_pb2.Scalar) -> Any:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        primitive_kind = scalar.primitive.WhichOneof("value")
        return None if primitive_kind is None else _PRIMITIVE_READERS[primitive_kind](scalar.primitive)
    if kind == "union":
        return to_python(scalar.union.value)
    if kind in _URI_HOLDERS:
        return getattr(scalar, kind).uri
    if kind == "generic":
        return json_format.MessageToDict(scalar.generic)
    if kind == "binary":
        return _binary_to_python(scalar.binary)
    if kind == "error":
        return scalar.error
    return None  # none_type, or an empty scalar


_URI_HOLDERS = frozenset({"blob", "structured_dataset", "schema"})

_PRIMITIVE_READERS: dict[str, Callable[[literals_pb2.Primitive], Any]] = {
    "integer": lambda p: p.integer,
    "float_value": lambda p: p.float_value,
    "string_value": lambda p: p.string_value,
    "boolean": lambda p: p.boolean,
    "datetime": lambda p: p.datetime.ToDatetime(tzinfo=datetime.timezone.utc),
    "duration": lambda p: p.duration.ToTimedelta(),
}


def _binary_to_python(binary: literals_pb2.Binary) -> Any:
    """msgpack (flytekit's dataclasses and dicts), decoded if msgpack is installed; otherwise the bytes."""
    if binary.tag != "msgpack":
        return binary.value
    try:
        msgpack = importlib.import_module("msgpack")
    except ImportError:
        return binary.value
    return msgpack.unpackb(binary.value, strict_map_key=False)


# ------------------------------------------------------------------------------------------- interfaces


def _declared(variables: Interface) -> dict[str, tuple[types_pb2.LiteralType, bool]]:
    """Each declared input: its type, and whether it may be left out (a Parameter that is not required)."""
    if isinstance(variables, interface_pb2.VariableMap):
        return {name: (variable.type, False) for name, variable in variables.variables.items()}
    if isinstance(variables, interface_pb2.ParameterMap):
        return {name: (p.var.type, not p.required) for name, p in variables.parameters.items()}
    if isinstance(variables, Mapping):
        return {name: _one_declaration(name, item) for name, item in variables.items()}
    raise TypeError(
        f"variables: expected a VariableMap, ParameterMap or Mapping, got {type(variables).__name__}"
    )


def _one_declaration(name: str, item: Any) -> tuple[types_pb2.LiteralType, bool]:
    if isinstance(item, interface_pb2.Parameter):
        return item.var.type, not item.required
    if isinstance(item, interface_pb2.Variable):
        return item.type, False
    if isinstance(item, types_pb2.LiteralType):
        return item, False
    raise TypeError(
        f"variables[{name!r}]: expected a Variable, Parameter or LiteralType, got {type(item).__name__}"
    )


def _given_values(values: Mapping[str, Any] | literals_pb2.LiteralMap) -> Mapping[str, Any]:
    if isinstance(values, literals_pb2.LiteralMap):
        return values.literals
    if isinstance(values, Mapping):
        return values
    raise TypeError(
        f"inputs: expected a Mapping of name to value or a LiteralMap, got {type(values).__name__}"
    )


def _names(given: literals_pb2.LiteralMap | Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    if given is None:
        return []
    if isinstance(given, literals_pb2.LiteralMap):
        return list(given.literals)
    return list(given)


def _known_inputs(declared: Mapping[str, tuple[types_pb2.LiteralType, bool]]) -> str:
    if not declared:
        return "it takes no inputs"
    return "the inputs are " + ", ".join(
        f"{name} ({type_name(t)})" for name, (t, _) in sorted(declared.items())
    )


__all__ = [
    "InputValueError",
    "describe_value",
    "inputs_for_launch_plan",
    "inputs_for_task",
    "to_literal",
    "to_literal_map",
    "to_python",
    "to_python_map",
]
