"""Python values <-> Flyte literals (`flyteadmin_ops.client.values`): each type both ways, the refusals
and their messages, inputs checked as flyteadmin checks them, and flytekit reading what we write (and the
reverse). The launches end to end, on the emulator, are in test_values_launch.py."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
import pickle
import typing
from typing import Any

import msgpack
import pydantic
import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2
from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import struct_pb2

from flyteadmin_ops.client.type_names import type_name
from flyteadmin_ops.client.values import (
    InputValueError,
    inputs_for_launch_plan,
    inputs_for_task,
    to_literal,
    to_literal_map,
    to_python,
    to_python_map,
)

UTC = datetime.timezone.utc
LT = types_pb2.LiteralType


def simple(kind: int, tag: str = "") -> types_pb2.LiteralType:
    literal_type = LT(simple=kind)
    if tag:
        literal_type.structure.tag = tag
    return literal_type


INT, FLOAT, STR = simple(types_pb2.INTEGER), simple(types_pb2.FLOAT), simple(types_pb2.STRING)
BOOL, NONE, STRUCT = simple(types_pb2.BOOLEAN), simple(types_pb2.NONE), simple(types_pb2.STRUCT)
DATETIME, DURATION = simple(types_pb2.DATETIME), simple(types_pb2.DURATION)


def list_of(item: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return LT(collection_type=item)


def map_of(value: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return LT(map_value_type=value)


def union(*variants: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return LT(union_type=types_pb2.UnionType(variants=variants))


def optional(inner: types_pb2.LiteralType) -> types_pb2.LiteralType:
    return union(inner, simple(types_pb2.NONE, "none"))


COLOR = LT(enum_type=types_pb2.EnumType(values=["red", "green"]))
FILE = LT(blob=types_pb2.BlobType(format="csv", dimensionality=types_pb2.BlobType.SINGLE))
DIRECTORY = LT(blob=types_pb2.BlobType(dimensionality=types_pb2.BlobType.MULTIPART))
DATASET = LT(structured_dataset_type=types_pb2.StructuredDatasetType(format="parquet"))
ANY_DATASET = LT(structured_dataset_type=types_pb2.StructuredDatasetType())
WHEN = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class RemotePath(os.PathLike[str]):
    """A PathLike whose path is a URI, as cloud path libraries have."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __fspath__(self) -> str:
        return self.uri


@dataclasses.dataclass
class Settings:
    depth: int
    tags: list[str]


class Model(pydantic.BaseModel):
    depth: int
    when: datetime.datetime


# --------------------------------------------------------------------------------------- both directions

ROUND_TRIPS = [
    (3, INT),
    (-(2**63), INT),
    (2.5, FLOAT),
    ("text", STR),
    ("", STR),
    (True, BOOL),
    (False, BOOL),
    (WHEN, DATETIME),
    (datetime.timedelta(days=2, microseconds=5), DURATION),
    ([1, 2, 3], list_of(INT)),
    ([], list_of(INT)),
    ({"a": 0.5, "b": 2.0}, map_of(FLOAT)),
    ({"name": "x", "n": 1.5, "flags": [True, None], "inner": {"k": "v"}}, STRUCT),
    ("green", COLOR),
    (None, optional(STR)),
    ("x", optional(STR)),
    (4, union(simple(types_pb2.INTEGER, "int"), simple(types_pb2.STRING, "str"))),
    ("s3://bucket/report.csv", FILE),
    ("s3://bucket/folder/", DIRECTORY),
    ("s3://bucket/frame", DATASET),
    ([{"a": [1, 2], "b": []}], list_of(map_of(list_of(INT)))),
    ({"x": None, "y": 3}, map_of(optional(INT))),
    (None, NONE),
]


@pytest.mark.parametrize(("value", "literal_type"), ROUND_TRIPS, ids=lambda v: repr(v)[:30])
def test_each_type_converts_both_ways(value: Any, literal_type: types_pb2.LiteralType) -> None:
    literal = to_literal(value, literal_type, name="x")
    assert to_python(literal) == value
    assert to_python(literal, literal_type) == value


def test_the_literals_are_the_ones_flyteidl_defines() -> None:
    assert to_literal(3, INT).scalar.primitive.integer == 3
    assert to_literal(3, FLOAT).scalar.primitive.WhichOneof("value") == "float_value"
    stamp = to_literal(WHEN, DATETIME).scalar.primitive.datetime
    assert (stamp.seconds, stamp.nanos) == (int(WHEN.timestamp()), 890123000)
    blob = to_literal("s3://b/k.csv", FILE).scalar.blob
    assert blob.uri == "s3://b/k.csv" and blob.metadata.type == FILE.blob
    assert (
        to_literal("s3://b/d", DIRECTORY).scalar.blob.metadata.type.dimensionality
        == types_pb2.BlobType.MULTIPART
    )
    dataset = to_literal("s3://b/f", DATASET).scalar.structured_dataset
    assert dataset.uri == "s3://b/f" and dataset.metadata.structured_dataset_type.format == "parquet"
    assert to_literal({"k": 1}, STRUCT).scalar.generic == struct_pb2.Struct(
        fields={"k": struct_pb2.Value(number_value=1)}
    )
    assert to_literal("red", COLOR).scalar.primitive.string_value == "red"
    mapping = to_literal({"a": 1}, map_of(INT)).map.literals
    assert mapping["a"].scalar.primitive.integer == 1


def test_conversions_that_change_the_python_value() -> None:
    assert to_python(to_literal(3, FLOAT)) == 3.0 and isinstance(to_python(to_literal(3, FLOAT)), float)
    assert to_python(to_literal(Color.GREEN, COLOR)) == "green"
    assert to_python(to_literal((1, 2), list_of(INT))) == [1, 2]
    paris = datetime.timezone(datetime.timedelta(hours=2))
    assert to_python(
        to_literal(datetime.datetime(2026, 1, 1, 12, tzinfo=paris), DATETIME)
    ) == datetime.datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert to_python(to_literal("2026-01-01T10:00:00Z", DATETIME)) == datetime.datetime(
        2026, 1, 1, 10, tzinfo=UTC
    )
    assert to_python(to_literal("2026-01-01T12:00:00+02:00", DATETIME)) == datetime.datetime(
        2026, 1, 1, 10, tzinfo=UTC
    )
    assert to_python(to_literal("PT1H30M", DURATION)) == datetime.timedelta(minutes=90)
    assert to_python(to_literal(Settings(2, ["a"]), STRUCT)) == {"depth": 2.0, "tags": ["a"]}
    model = Model(depth=1, when=datetime.datetime(2026, 1, 1, tzinfo=UTC))
    assert to_python(to_literal(model, STRUCT)) == {"depth": 1.0, "when": "2026-01-01T00:00:00Z"}
    assert to_python(to_literal(RemotePath("gs://b/k"), FILE)) == "gs://b/k"
    given = {"uri": "s3://b/f", "format": "csv"}
    assert (
        to_literal(given, ANY_DATASET).scalar.structured_dataset.metadata.structured_dataset_type.format
        == "csv"
    )


def test_a_struct_gives_its_numbers_back_as_floats() -> None:
    # A protobuf Struct only has doubles (flytekit's generic dicts behave the same way).
    assert to_python(to_literal({"n": 1, "m": [2]}, STRUCT)) == {"n": 1.0, "m": [2.0]}


def test_literals_and_flytekit_models_are_passed_as_they_are() -> None:
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    assert to_literal(literal, STR) == literal  # not converted, not checked: the caller chose it

    class Model:
        def to_flyte_idl(self) -> literals_pb2.Literal:
            return literal

    assert to_literal(Model(), INT) == literal
    given = literals_pb2.LiteralMap(literals={"n": literal})
    assert to_literal_map(given, {"n": INT}) == given


def test_a_union_takes_the_variant_of_the_values_own_type_first() -> None:
    int_or_str = union(simple(types_pb2.INTEGER, "int"), simple(types_pb2.STRING, "str"))
    float_or_int = union(simple(types_pb2.FLOAT, "float"), simple(types_pb2.INTEGER, "int"))
    color_or_str = union(COLOR, simple(types_pb2.STRING, "str"))
    assert to_literal("5", int_or_str).scalar.union.type.structure.tag == "str"
    assert to_literal(5, float_or_int).scalar.union.type.structure.tag == "int"
    assert to_literal(5.0, float_or_int).scalar.union.type.structure.tag == "float"
    assert to_literal("red", color_or_str).scalar.union.type.structure.tag == "str"
    assert to_literal(Color.RED, color_or_str).scalar.union.type == COLOR  # an Enum is not a str: first fit
    none = to_literal(None, optional(INT)).scalar.union
    assert none.value.scalar.HasField("none_type") and none.type.structure.tag == "none"


# ---------------------------------------------------------------------------------------------- refusals

REFUSALS = [
    (True, INT, "expected int, got bool True"),
    ("3", INT, "expected int, got str '3'"),
    (2**63, INT, "outside the 64-bit range"),
    (None, INT, "expected int, got None"),
    (True, FLOAT, "expected float, got bool True"),
    (1, BOOL, "expected bool, got int 1"),
    (0, BOOL, "expected bool, got int 0"),
    ("true", BOOL, "expected bool, got str 'true'"),
    (b"x", STR, "expected str, got bytes b'x'"),
    (datetime.datetime(2026, 1, 1), DATETIME, "a naive datetime: give it a timezone"),
    ("2026-01-01T00:00:00", DATETIME, "without an offset"),
    ("yesterday", DATETIME, "not an ISO-8601 datetime"),
    ("9999-12-31T23:00:00-05:00", DATETIME, "outside the range of a timestamp"),
    (
        datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        DATETIME,
        "outside the",
    ),
    (datetime.timedelta(days=3_652_501), DURATION, "outside the range of a protobuf Duration"),
    (-datetime.timedelta(days=3_652_501), DURATION, "outside the range of a protobuf Duration"),
    (datetime.date(2026, 1, 1), DATETIME, "expected datetime, got date"),
    (90, DURATION, "expected timedelta, got int 90"),
    ("P1X", DURATION, "not an ISO-8601 duration"),
    ("abc", list_of(INT), "expected list[int], got str 'abc'"),
    ({1, 2}, list_of(INT), "expected list[int], got set"),
    ([1, "a"], list_of(INT), "expected list[int], got list [1, 'a']; at x[1]: expected int, got str 'a'"),
    ({"a": "x"}, map_of(FLOAT), "at x['a']: expected float, got str 'x'"),
    ({1: 2.0}, map_of(FLOAT), "expected map[str, float], got dict {1: 2.0}; key 1 is not a str"),
    ([1.5], map_of(FLOAT), "expected map[str, float], got list [1.5]"),
    ({"when": WHEN}, STRUCT, "not JSON-like"),
    ("blue", COLOR, "expected enum {red, green}, got str 'blue'"),
    (2.5, union(INT, STR), "expected Union[int, str], got float 2.5"),
    (
        [1, "a"],
        optional(list_of(INT)),
        "expected Optional[list[int]], got list [1, 'a']; at x[1]: expected int",
    ),
    ("/tmp/report.csv", FILE, "a local path: upload it first"),
    (3, FILE, "expected file (csv URI), got int 3"),
    ({"uri": "s3://b/f", "format": "csv"}, DATASET, "the format must be parquet"),
    ({"path": "s3://b/f"}, DATASET, 'give a URI, or a dict with "uri" and "format"'),
    (b"x", simple(types_pb2.BINARY), "this type has no Python conversion; pass a Literal"),
]


@pytest.mark.parametrize(("value", "literal_type", "message"), REFUSALS, ids=lambda v: repr(v)[:30])
def test_a_value_of_the_wrong_type_is_refused_naming_what_was_expected_and_given(
    value: Any, literal_type: types_pb2.LiteralType, message: str
) -> None:
    with pytest.raises(InputValueError) as refused:
        to_literal(value, literal_type, name="x")
    assert message in str(refused.value)
    assert str(refused.value).startswith("input 'x': ")
    assert refused.value.input_name == "x" and refused.value.reason == "wrong type"
    assert refused.value.expected == type_name(literal_type)


def test_the_error_is_a_value_error_that_survives_pickling() -> None:
    with pytest.raises(ValueError) as refused:
        to_literal("a", INT, name="count")
    assert isinstance(refused.value, InputValueError)
    copy = pickle.loads(pickle.dumps(refused.value))
    assert (copy.input_name, copy.reason, copy.expected, copy.given) == (
        "count",
        "wrong type",
        "int",
        "str 'a'",
    )
    assert str(copy) == str(refused.value) == "input 'count': expected int, got str 'a'"


def test_a_long_value_is_shown_shortened() -> None:
    with pytest.raises(InputValueError) as refused:
        to_literal(list(range(1000)), INT, name="x")
    assert refused.value.given == "list [0, 1, 2, 3, ...]"


TYPE_NAMES = [
    (list_of(INT), "list[int]"),
    (map_of(FLOAT), "map[str, float]"),
    (optional(STR), "Optional[str]"),
    (union(INT, STR, NONE), "Union[int, str, None]"),
    (COLOR, "enum {red, green}"),
    (FILE, "file (csv URI)"),
    (DIRECTORY, "directory URI"),
    (DATASET, "structured dataset (parquet URI)"),
    (STRUCT, "dict (struct)"),
    (list_of(map_of(optional(DATETIME))), "list[map[str, Optional[datetime]]]"),
    (LT(), "unknown type"),
]


@pytest.mark.parametrize(("literal_type", "name"), TYPE_NAMES, ids=[n for _, n in TYPE_NAMES])
def test_types_are_named_as_python_users_write_them(literal_type: types_pb2.LiteralType, name: str) -> None:
    assert type_name(literal_type) == name


# --------------------------------------------------------------------------------- a launch plan's inputs


def parameter(literal_type: types_pb2.LiteralType, default: Any = ...) -> interface_pb2.Parameter:
    if default is ...:
        return interface_pb2.Parameter(var=interface_pb2.Variable(type=literal_type), required=True)
    return interface_pb2.Parameter(
        var=interface_pb2.Variable(type=literal_type), default=to_literal(default, literal_type)
    )


def launch_plan() -> launch_plan_pb2.LaunchPlan:
    """As flyteadmin returns it: `label` fixed (so absent from the expected inputs), `rate` defaulted."""
    plan = launch_plan_pb2.LaunchPlan()
    expected = plan.closure.expected_inputs.parameters
    expected["count"].CopyFrom(parameter(INT))
    expected["rate"].CopyFrom(parameter(FLOAT, 0.5))
    expected["note"].CopyFrom(parameter(optional(STR)))
    expected["tags"].CopyFrom(parameter(list_of(STR)))
    plan.spec.fixed_inputs.literals["label"].CopyFrom(to_literal("fixed", STR))
    return plan


def test_launch_plan_inputs_hold_what_was_given_and_flyteadmin_adds_defaults_and_fixed_inputs() -> None:
    inputs = to_python_map(inputs_for_launch_plan(launch_plan(), {"count": 2, "tags": ["a"]}))
    assert inputs == {"count": 2, "tags": ["a"], "note": None}  # rate: default; label: fixed; note: Optional
    given = to_python_map(
        inputs_for_launch_plan(launch_plan(), {"count": 2, "tags": [], "rate": 1, "note": "n"})
    )
    assert given == {"count": 2, "tags": [], "rate": 1.0, "note": "n"}


@pytest.mark.parametrize(
    ("values", "reason", "message"),
    [
        ({"tags": []}, "missing", "input 'count': missing (expected int; it has no default)"),
        (
            {"count": 1, "tags": [], "colour": "red"},
            "unknown",
            "input 'colour': unknown input (got str 'red'); the inputs are count (int), "
            "note (Optional[str]), rate (float), tags (list[str])",
        ),
        (
            {"count": 1, "tags": [], "label": "mine"},
            "fixed",
            "input 'label': fixed by the launch plan, cannot be given (got str 'mine')",
        ),
        ({"count": "1", "tags": []}, "wrong type", "input 'count': expected int, got str '1'"),
        ({"count": 1, "tags": "a"}, "wrong type", "input 'tags': expected list[str], got str 'a'"),
        (
            {"count": "1", "label": 1},
            "fixed",
            "input 'label': fixed by the launch plan, cannot be given (got int 1)",
        ),
    ],
    ids=["missing", "unknown", "fixed", "wrong-type", "wrong-list", "order"],
)
def test_launch_plan_inputs_are_refused_before_anything_is_sent(
    values: dict[str, Any], reason: str, message: str
) -> None:
    with pytest.raises(InputValueError) as refused:
        inputs_for_launch_plan(launch_plan(), values)
    assert refused.value.reason == reason
    assert str(refused.value) == message


def test_a_launch_plan_without_a_closure_uses_its_spec_defaults() -> None:
    plan = launch_plan_pb2.LaunchPlan()
    plan.spec.default_inputs.parameters["n"].CopyFrom(parameter(INT))
    assert to_python_map(inputs_for_launch_plan(plan, {"n": 1})) == {"n": 1}
    with pytest.raises(InputValueError, match="input 'n': missing"):
        inputs_for_launch_plan(plan, {})


def test_task_inputs_are_all_required_except_optional_ones() -> None:
    task = task_pb2.Task()
    variables = task.closure.compiled_task.template.interface.inputs.variables
    variables["n"].CopyFrom(interface_pb2.Variable(type=INT))
    variables["note"].CopyFrom(interface_pb2.Variable(type=optional(STR)))
    assert to_python_map(inputs_for_task(task, {"n": 1})) == {"n": 1, "note": None}
    with pytest.raises(InputValueError, match="input 'n': missing"):
        inputs_for_task(task, {})
    with pytest.raises(InputValueError, match="it takes no inputs"):
        inputs_for_task(task_pb2.Task(), {"n": 1})


def test_to_literal_map_takes_names_of_defaults_and_fixed_inputs() -> None:
    variables = {"a": INT, "b": interface_pb2.Variable(type=STR), "c": FLOAT}
    assert to_python_map(to_literal_map({"a": 1}, variables, defaults=["b"], fixed=["c"])) == {"a": 1}
    with pytest.raises(InputValueError, match="input 'c': fixed"):
        to_literal_map({"a": 1, "b": "x", "c": 1.0}, variables, fixed={"c": 1.0})
    with pytest.raises(TypeError, match="expected a Mapping of name to value"):
        to_literal_map([("a", 1)], variables)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ outputs to Python


def test_outputs_convert_with_or_without_the_interface() -> None:
    outputs = literals_pb2.LiteralMap(
        literals={
            "n": to_literal(1, INT),
            "maybe": to_literal(None, optional(STR)),
            "when": to_literal(WHEN, DATETIME),
        }
    )
    interface = interface_pb2.VariableMap(
        variables={"n": interface_pb2.Variable(type=INT), "maybe": interface_pb2.Variable(type=optional(STR))}
    )
    expected = {"n": 1, "maybe": None, "when": WHEN}
    assert to_python_map(outputs) == to_python_map(outputs, interface) == expected
    assert to_python_map(outputs, interface_pb2.ParameterMap()) == expected


def test_values_without_a_python_form_come_back_as_protobufs() -> None:
    error = literals_pb2.Literal(scalar=literals_pb2.Scalar(error=types_pb2.Error(message="boom")))
    assert to_python(error).message == "boom"
    offloaded = literals_pb2.Literal(
        offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri="s3://b/big")
    )
    assert to_python(offloaded) is offloaded
    assert to_python(literals_pb2.Literal()) is None
    raw = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\x00", tag="bytes"))
    )
    assert to_python(raw) == b"\x00"


def test_msgpack_binaries_are_decoded() -> None:
    packed = msgpack.packb({"depth": 2, "tags": ["a"]})
    literal = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=packed, tag="msgpack"))
    )
    assert to_python(literal) == {"depth": 2, "tags": ["a"]}


# ------------------------------------------------------------------------------------ flytekit agrees


def flytekit_cases() -> list[tuple[Any, Any, Any]]:
    """(python type, value flytekit takes, value we take): flytekit is imported only when these run."""
    flytekit_types = pytest.importorskip("flytekit.types.file")
    directory = pytest.importorskip("flytekit.types.directory")
    datasets = pytest.importorskip("flytekit.types.structured")
    csv_file = flytekit_types.FlyteFile[typing.TypeVar("csv")]  # type: ignore[misc]
    return [
        (int, 3, 3),
        (float, 2.5, 2.5),
        (str, "x", "x"),
        (bool, True, True),
        (datetime.datetime, WHEN, WHEN),
        (
            datetime.timedelta,
            datetime.timedelta(hours=1, microseconds=3),
            datetime.timedelta(hours=1, microseconds=3),
        ),
        (list[int], [1, 2], [1, 2]),
        (dict[str, float], {"a": 0.5}, {"a": 0.5}),
        (Color, Color.GREEN, "green"),
        (typing.Optional[str], None, None),  # noqa: UP045 - the typing spelling flytekit users write
        (str | None, "x", "x"),
        (int | str, "s", "s"),
        (int | str, 4, 4),
        (list[dict[str, int | None]], [{"a": 1, "b": None}], [{"a": 1, "b": None}]),
        (flytekit_types.FlyteFile, "s3://b/r.csv", "s3://b/r.csv"),
        (csv_file, "s3://b/r.csv", "s3://b/r.csv"),
        (directory.FlyteDirectory, "s3://b/d", "s3://b/d"),
        (datasets.StructuredDataset, datasets.StructuredDataset(uri="s3://b/f"), "s3://b/f"),
    ]


def test_our_literals_are_the_ones_flytekit_writes() -> None:
    from flytekit import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    context = FlyteContextManager.current_context()
    for python_type, theirs_from, ours_from in flytekit_cases():
        literal_type = TypeEngine.to_literal_type(python_type)
        theirs = TypeEngine.to_literal(context, theirs_from, python_type, literal_type).to_flyte_idl()
        ours = to_literal(ours_from, literal_type.to_flyte_idl(), name="x")
        assert ours == theirs, python_type
        assert to_python(theirs) == (ours_from if not isinstance(ours_from, Color) else ours_from.value)


def test_flytekit_reads_our_struct_and_we_read_its_msgpack_dict() -> None:
    # flytekit writes an untyped dict as msgpack bytes and reads a protobuf Struct too (its older form).
    from flytekit import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import Literal as FlytekitLiteral

    context = FlyteContextManager.current_context()
    value = {"k": "v", "n": 1, "items": [1, 2]}
    literal_type = TypeEngine.to_literal_type(dict)
    ours = to_literal(value, literal_type.to_flyte_idl(), name="x")
    assert ours.scalar.HasField("generic")
    assert TypeEngine.to_python_value(context, FlytekitLiteral.from_flyte_idl(ours), dict) == value
    theirs = TypeEngine.to_literal(context, value, dict, literal_type).to_flyte_idl()
    assert theirs.scalar.binary.tag == "msgpack" and to_python(theirs) == value
