"""Literal types as flytepropeller's compiler sees them: the type of a value and whether one type casts to
another (`pkg/compiler/validators/utils.go` and `typing.go`, v1.16.8).

flyteadmin runs these same functions wherever it checks a value or a type: launch plan default and fixed
inputs, execution inputs, signal values, and (inside the compiler) workflow bindings. One module serves all
of them so that every check accepts and refuses exactly the same pairs, which flyteadmin's texts then
print (`go_text` of the types).

Rules a client runs into:

- a value's type is inferred from the value alone: an integer is `simple:INTEGER`, a collection takes the
  type its items share (a union of their types, sorted by text, when they differ; NONE when it is empty),
  a union value is a one-variant union of its own type, msgpack binary is STRUCT, a blob without metadata
  or a scalar without a value has no type at all (`ValidateLiteralType` then refuses it);
- casting is by the *downstream* type's checker: simple types must be the same (enum and string cast both
  ways; structure, metadata and annotation are ignored), NONE only from NONE, a union from a type exactly
  one of its variants takes (or a union whose every variant fits), collections and maps by their element
  types (an empty one fits any), blobs by format (an empty format fits any), schemas and structured
  datasets by their columns;
- a one-variant union upstream also casts where its variant does.

Not modelled: the JSON-schema comparison of two STRUCT types that both carry schemas in their metadata
(flyteadmin compares them with a JSON-schema library); such a pair counts as castable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flyteidl.core import literals_pb2, types_pb2
from flyteidl.core.types_pb2 import LiteralType

from flyteadmin_ops.emulator.common import go_text

_NONE, _STRING, _STRUCT = types_pb2.SimpleType.NONE, types_pb2.SimpleType.STRING, types_pb2.SimpleType.STRUCT
_PRIMITIVES = {
    "integer": types_pb2.SimpleType.INTEGER,
    "float_value": types_pb2.SimpleType.FLOAT,
    "string_value": types_pb2.SimpleType.STRING,
    "boolean": types_pb2.SimpleType.BOOLEAN,
    "datetime": types_pb2.SimpleType.DATETIME,
    "duration": types_pb2.SimpleType.DURATION,
}
_MESSAGEPACK = "msgpack"
UNKNOWN_TYPE = (
    "got unknown literal type: [<nil>].\n"
    "Suggested solution: Please update all your Flyte deployment images to the latest version and try again"
)


def type_text(literal_type: LiteralType | None) -> str:
    """Go's `%v`/`String()` of a `*LiteralType`: its prototext, `<nil>` for none."""
    return "<nil>" if literal_type is None else go_text(literal_type)


# --- the type of a value (`LiteralTypeForLiteral`) --------------------------------------------------------


def literal_type_of(literal: literals_pb2.Literal) -> LiteralType | None:
    """`LiteralTypeForLiteral`: the type propeller infers for a value; None where it infers none."""
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return scalar_type_of(literal.scalar)
    if kind == "collection":
        return LiteralType(collection_type=_shared_type(literal.collection.literals) or LiteralType())
    if kind == "map":
        return LiteralType(map_value_type=_shared_type(literal.map.literals.values()) or LiteralType())
    if literal.HasField("offloaded_metadata"):
        offloaded = literal.offloaded_metadata
        return offloaded.inferred_type if offloaded.HasField("inferred_type") else None
    return None


def scalar_type_of(scalar: literals_pb2.Scalar) -> LiteralType | None:
    """`literalTypeForScalar`."""
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return LiteralType(simple=_PRIMITIVES.get(scalar.primitive.WhichOneof("value") or "", _NONE))
    if kind == "blob":
        blob = scalar.blob
        return LiteralType(blob=blob.metadata.type) if blob.HasField("metadata") else None
    if kind == "binary":
        return LiteralType(
            simple=_STRUCT if scalar.binary.tag == _MESSAGEPACK else types_pb2.SimpleType.BINARY
        )
    if kind == "schema":
        return LiteralType(schema=scalar.schema.type)
    if kind == "structured_dataset":
        dataset = scalar.structured_dataset
        return LiteralType(structured_dataset_type=dataset.metadata.structured_dataset_type)
    if kind == "none_type":
        return LiteralType(simple=_NONE)
    if kind == "error":
        return LiteralType(simple=types_pb2.SimpleType.ERROR)
    if kind == "generic":
        return LiteralType(simple=_STRUCT)
    if kind == "union":
        return LiteralType(union_type=types_pb2.UnionType(variants=[scalar.union.type]))
    return None


def _shared_type(literals: Iterable[literals_pb2.Literal]) -> LiteralType | None:
    """`literalTypeForLiterals`: the one type of the items, NONE for none, else a union of the distinct types
    sorted by text (flattening unions of collections into a collection of a union). An empty collection
    among the items counts only when nothing else has a type."""
    distinct: dict[str, LiteralType | None] = {}
    empty_collection: LiteralType | None = None
    for item in literals:
        inferred = literal_type_of(item)
        if item.WhichOneof("value") == "collection" and not item.collection.literals:
            empty_collection = inferred
            continue
        distinct.setdefault(type_text(inferred), inferred)
    kinds = list(distinct.values())
    if not kinds and empty_collection is not None:
        kinds = [empty_collection]
    if not kinds:
        return LiteralType(simple=_NONE)
    if len(kinds) == 1:
        return kinds[0]
    ordered = [distinct[key] for key in sorted(distinct)]
    return _multiple_type_union(ordered)


def _multiple_type_union(kinds: Sequence[LiteralType | None]) -> LiteralType:
    """`buildMultipleTypeUnion`."""
    variants: list[LiteralType] = []
    nested = False
    for kind in kinds:
        if (
            kind is not None
            and kind.HasField("collection_type")
            and kind.collection_type.HasField("union_type")
        ):
            nested = True
            variants.extend(kind.collection_type.union_type.variants)
        else:
            variants.append(kind or LiteralType())
    union = LiteralType(union_type=types_pb2.UnionType(variants=variants))
    return LiteralType(collection_type=union) if nested else union


def literal_type_error(literal_type: LiteralType | None) -> str | None:
    """`ValidateLiteralType`: the error text for a value without a type (also inside collections and
    maps), None when it is fine."""
    if literal_type is None:
        return UNKNOWN_TYPE
    if literal_type.HasField("collection_type"):
        return literal_type_error(literal_type.collection_type)
    if literal_type.HasField("map_value_type"):
        return literal_type_error(literal_type.map_value_type)
    return None


def literal_fits(literal: literals_pb2.Literal, expected: LiteralType) -> bool:
    """Whether flyteadmin accepts the value where `expected` is declared: it has a type, and that casts."""
    inferred = literal_type_of(literal)
    return inferred is not None and literal_type_error(inferred) is None and castable(inferred, expected)


# --- casting (`AreTypesCastable`) -------------------------------------------------------------------------


def castable(upstream: LiteralType, downstream: LiteralType) -> bool:
    """`AreTypesCastable`: a value of `upstream` may go where `downstream` is declared."""
    variants = list(upstream.union_type.variants)
    if len(variants) == 1 and _casts_from(downstream, variants[0]):
        return True
    return _casts_from(downstream, upstream)


def _is_none(literal_type: LiteralType | None) -> bool:
    return (
        literal_type is not None
        and literal_type.WhichOneof("type") == "simple"
        and literal_type.simple == _NONE
    )


def _casts_from(downstream: LiteralType, upstream: LiteralType) -> bool:
    """`getTypeChecker(downstream).CastsFrom(upstream)`."""
    kind = downstream.WhichOneof("type")
    if kind == "collection_type":
        return _container_casts(downstream.collection_type, upstream, "collection_type")
    if kind == "map_value_type":
        return _container_casts(downstream.map_value_type, upstream, "map_value_type")
    if kind == "blob":
        if not upstream.HasField("blob"):
            return False
        theirs, ours = upstream.blob.format, downstream.blob.format
        return not theirs or not ours or theirs == ours
    if kind == "schema":
        return _schema_casts(downstream.schema, upstream)
    if kind == "union_type":
        return _union_casts(downstream.union_type, upstream)
    if kind == "structured_dataset_type":
        return _dataset_casts(downstream.structured_dataset_type, upstream)
    if _is_none(downstream):
        return _is_none(upstream)
    return _trivial_casts(downstream, upstream)


def _container_casts(element: LiteralType, upstream: LiteralType, field: str) -> bool:
    """Collections and maps: an empty one (NONE elements) fits any; otherwise the elements' checker."""
    if not upstream.HasField(field):
        return False
    theirs: LiteralType = getattr(upstream, field)
    return _is_none(theirs) or _casts_from(element, theirs)


def _tag(literal_type: LiteralType) -> str:
    return literal_type.structure.tag if literal_type.HasField("structure") else ""


def _trivial_casts(downstream: LiteralType, upstream: LiteralType) -> bool:
    """`trivialChecker`: enum <-> string, same structure tag, STRUCT with schemas, else the same type once
    structure, metadata and annotation are set aside."""
    if upstream.HasField("enum_type") and downstream.simple == _STRING:
        return True
    if downstream.HasField("enum_type") and upstream.simple == _STRING:
        return True
    if _tag(upstream) and _tag(downstream) != _tag(upstream):
        return False
    if upstream.simple == _STRUCT and downstream.simple == _STRUCT:
        return True  # equal schemas, absent ones and (not modelled) JSON-schema supertypes all cast
    return _bare(upstream) == _bare(downstream)


def _bare(literal_type: LiteralType) -> str:
    copy = LiteralType()
    copy.CopyFrom(literal_type)
    for field in ("structure", "metadata", "annotation"):
        copy.ClearField(field)
    return go_text(copy)


def _union_casts(union: types_pb2.UnionType, upstream: LiteralType) -> bool:
    """`unionTypeChecker`: every upstream variant finds a downstream one; a plain type must match exactly one
    variant (ambiguity refuses)."""
    if upstream.HasField("union_type"):
        return all(
            any(castable(theirs, ours) for ours in union.variants) for theirs in upstream.union_type.variants
        )
    return sum(1 for variant in union.variants if castable(upstream, variant)) == 1


_COLUMN_SIMPLE = {
    types_pb2.SchemaType.SchemaColumn.INTEGER: types_pb2.SimpleType.INTEGER,
    types_pb2.SchemaType.SchemaColumn.FLOAT: types_pb2.SimpleType.FLOAT,
    types_pb2.SchemaType.SchemaColumn.STRING: types_pb2.SimpleType.STRING,
    types_pb2.SchemaType.SchemaColumn.BOOLEAN: types_pb2.SimpleType.BOOLEAN,
    types_pb2.SchemaType.SchemaColumn.DATETIME: types_pb2.SimpleType.DATETIME,
    types_pb2.SchemaType.SchemaColumn.DURATION: types_pb2.SimpleType.DURATION,
}


def _schema_casts(schema: types_pb2.SchemaType, upstream: LiteralType) -> bool:
    """`schemaTypeChecker`: from a schema or a (parquet or unformatted) structured dataset whose columns
    include ours with the same types (no columns on either side: anything)."""
    if upstream.HasField("schema"):
        theirs = {column.name: column.type for column in upstream.schema.columns}
        if not theirs or not schema.columns:
            return True
        return all(theirs.get(column.name, -1) == column.type for column in schema.columns)
    if not upstream.HasField("structured_dataset_type"):
        return False
    dataset = upstream.structured_dataset_type
    if dataset.format and dataset.format.lower() != "parquet":
        return False
    simple = {column.name: column.literal_type.simple for column in dataset.columns}
    if not simple or not schema.columns:
        return True
    return all(
        column.name in simple and _COLUMN_SIMPLE.get(column.type) == simple[column.name]
        for column in schema.columns
    )


def _dataset_casts(dataset: types_pb2.StructuredDatasetType, upstream: LiteralType) -> bool:
    """`structuredDatasetChecker`: NONE (datasets are nullable), a schema into a parquet dataset, or a dataset
    of a compatible format whose columns include ours."""
    if _is_none(upstream):
        return True
    if upstream.HasField("schema"):
        if dataset.format and dataset.format.lower() != "parquet":
            return False
        columns = {column.name: column.type for column in upstream.schema.columns}
        if not columns or not dataset.columns:
            return True
        return all(
            column.name in columns and _COLUMN_SIMPLE.get(columns[column.name]) == column.literal_type.simple
            for column in dataset.columns
        )
    if not upstream.HasField("structured_dataset_type"):
        return False
    theirs = upstream.structured_dataset_type
    if theirs.format and dataset.format and theirs.format.lower() != dataset.format.lower():
        return False
    types = {column.name: column.literal_type for column in theirs.columns}
    if not types or not dataset.columns:
        return True
    return all(
        column.name in types and _casts_from(column.literal_type, types[column.name])
        for column in dataset.columns
    )
