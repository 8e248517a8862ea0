"""The pure pieces behind executions: input type checks, the executor's values, bindings, ordering and failure
rules, and Go-style durations in data proxy messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import literals_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from flyteadmin_ops.emulator.dataproxy import go_duration
from flyteadmin_ops.emulator.executor import dependency_order, resolve_binding, should_fail, zero_literal
from flyteadmin_ops.emulator.literal_types import literal_fits, literal_type_of
from tests.emulator.exec.helpers import BOOL, INT, STR, lit, literal_map

Simple = types_pb2.SimpleType


def simple(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=kind)  # type: ignore[arg-type]


def optional(kind: int) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[simple(kind), simple(Simple.NONE)]))


SAMPLE_TYPES = {
    "int": simple(INT),
    "float": simple(Simple.FLOAT),
    "str": simple(STR),
    "bool": simple(BOOL),
    "datetime": simple(Simple.DATETIME),
    "duration": simple(Simple.DURATION),
    "struct": simple(Simple.STRUCT),
    "none": simple(Simple.NONE),
    "list[int]": types_pb2.LiteralType(collection_type=simple(INT)),
    "dict[str,str]": types_pb2.LiteralType(map_value_type=simple(STR)),
    "file": types_pb2.LiteralType(blob=types_pb2.BlobType(format="csv")),
    "dataframe": types_pb2.LiteralType(
        structured_dataset_type=types_pb2.StructuredDatasetType(format="parquet")
    ),
    "enum": types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=["red", "green"])),
    "optional[int]": optional(INT),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_TYPES))
def test_every_zero_value_fits_its_type(name: str) -> None:
    declared = SAMPLE_TYPES[name]
    assert literal_fits(zero_literal(declared, "s3://bucket/raw/x"), declared)


def test_zero_values_are_empty() -> None:
    assert zero_literal(simple(INT), "").scalar.primitive.integer == 0
    assert zero_literal(SAMPLE_TYPES["enum"], "").scalar.primitive.string_value == "red"
    assert zero_literal(SAMPLE_TYPES["file"], "s3://b/f").scalar.blob.uri == "s3://b/f"
    assert list(zero_literal(SAMPLE_TYPES["list[int]"], "").collection.literals) == []


@pytest.mark.parametrize(
    ("value", "declared", "fits"),
    [
        (lit(1), simple(INT), True),
        (lit(1), simple(Simple.FLOAT), False),
        (lit("green"), SAMPLE_TYPES["enum"], True),
        # propeller's trivialChecker casts any string to an enum; only workflow bindings check the value
        (lit("blue"), SAMPLE_TYPES["enum"], True),
        (
            literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())),
            optional(INT),
            True,
        ),
        (lit(3), optional(INT), True),
        (lit("3"), optional(INT), False),
        (
            literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[lit(1), lit(2)])),
            SAMPLE_TYPES["list[int]"],
            True,
        ),
        (
            literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[lit("a")])),
            SAMPLE_TYPES["list[int]"],
            False,
        ),
        (literals_pb2.Literal(map=literal_map(a="x")), SAMPLE_TYPES["dict[str,str]"], True),
        (literals_pb2.Literal(map=literal_map(a=1)), SAMPLE_TYPES["dict[str,str]"], False),
        (lit(1), SAMPLE_TYPES["list[int]"], False),
    ],
)
def test_literal_fits(value: literals_pb2.Literal, declared: types_pb2.LiteralType, fits: bool) -> None:
    assert literal_fits(value, declared) is fits


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def test_inferred_types_of_values() -> None:
    assert literal_type_of(lit(3)) == simple(INT)
    mixed = literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(literals=[lit(1), lit("a"), lit(2)])
    )
    union = types_pb2.UnionType(variants=[simple(INT), simple(STR)])
    assert literal_type_of(mixed) == types_pb2.LiteralType(
        collection_type=types_pb2.LiteralType(union_type=union)
    )
    empty_map = literals_pb2.Literal(map=literals_pb2.LiteralMap())
    assert literal_type_of(empty_map) == types_pb2.LiteralType(map_value_type=simple(Simple.NONE))
    for name, declared in SAMPLE_TYPES.items():
        if name not in {"enum", "optional[int]", "list[int]", "dict[str,str]"}:
            assert literal_type_of(zero_literal(declared, "s3://b/x")) == declared, name


def test_bindings_resolve_against_produced_outputs() -> None:
    produced = {"start-node": literal_map(x=4), "n0": literal_map(o0=7)}
    assert resolve_binding(_promise("n0", "o0"), produced, simple(INT), "").scalar.primitive.integer == 7
    missing = resolve_binding(_promise("branch", "out"), produced, simple(STR), "")
    assert missing.scalar.primitive.WhichOneof("value") == "string_value"
    listed = literals_pb2.BindingData(
        collection=literals_pb2.BindingDataCollection(
            bindings=[_promise("start-node", "x"), _promise("n0", "o0")]
        )
    )
    values = resolve_binding(listed, produced, SAMPLE_TYPES["list[int]"], "").collection.literals
    assert [v.scalar.primitive.integer for v in values] == [4, 7]
    keyed = literals_pb2.BindingData(map=literals_pb2.BindingDataMap(bindings={"k": _promise("n0", "o0")}))
    assert resolve_binding(keyed, produced, None, "").map.literals["k"].scalar.primitive.integer == 7
    unioned = _promise("n0", "o0")
    unioned.union.targetType.CopyFrom(simple(INT))
    wrapped = resolve_binding(unioned, produced, optional(INT), "")
    assert wrapped.scalar.union.value.scalar.primitive.integer == 7
    assert literal_fits(wrapped, optional(INT))


def test_dependency_order_follows_upstream_ids_and_promises() -> None:
    last = core_workflow_pb2.Node(id="c", inputs=[literals_pb2.Binding(var="v", binding=_promise("b", "o"))])
    middle = core_workflow_pb2.Node(id="b", upstream_node_ids=["a"])
    first = core_workflow_pb2.Node(id="a")
    assert [node.id for node in dependency_order([last, middle, first])] == ["a", "b", "c"]


Mode = execution_pb2.ExecutionMetadata


@pytest.mark.parametrize(
    ("inputs", "name", "mode", "reference", "fails"),
    [
        (literal_map(x=1), "lp", Mode.MANUAL, None, False),
        (literal_map(fail=True), "lp", Mode.MANUAL, None, True),
        (literal_map(fail="true"), "lp", Mode.MANUAL, None, True),
        (literal_map(tag="fail"), "lp", Mode.MANUAL, None, True),
        (literal_map(x=1), "nightly_fails", Mode.MANUAL, None, True),
        (literal_map(fail=True), "lp", Mode.RELAUNCH, "FAILED", False),
        (literal_map(fail=True), "lp", Mode.RECOVERED, "FAILED", False),
        (literal_map(fail=True), "lp", Mode.RELAUNCH, "SUCCEEDED", True),
        (literal_map(fail_always=True), "lp", Mode.RELAUNCH, "FAILED", True),
        (literal_map(tag="fail_always"), "lp", Mode.RECOVERED, "FAILED", True),
    ],
)
def test_failure_rules_table(
    inputs: literals_pb2.LiteralMap, name: str, mode: int, reference: str | None, fails: bool
) -> None:
    assert should_fail(inputs, name, mode, reference) is fails


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(hours=2, seconds=1), "2h0m1s"),
        (timedelta(seconds=-1), "-1s"),
    ],
)
def test_go_duration(delta: timedelta, text: str) -> None:
    assert go_duration(delta) == text
