"""Readable names for Flyte `LiteralType`s, as a Python user would write them.

Error messages about inputs must say what was expected in terms the caller knows ("list[int]",
"Optional[str]", "enum {a, b}") rather than a protobuf dump, which is how flyteadmin words them.
"""

from __future__ import annotations

from collections.abc import Callable

from flyteidl.core import types_pb2

_SIMPLE_NAMES = {
    types_pb2.NONE: "None",
    types_pb2.INTEGER: "int",
    types_pb2.FLOAT: "float",
    types_pb2.STRING: "str",
    types_pb2.BOOLEAN: "bool",
    types_pb2.DATETIME: "datetime",
    types_pb2.DURATION: "timedelta",
    types_pb2.BINARY: "bytes",
    types_pb2.ERROR: "error",
    types_pb2.STRUCT: "dict (struct)",
}

_ENUM_VALUES_SHOWN = 8


def type_name(literal_type: types_pb2.LiteralType) -> str:
    """`literal_type` as a short Python-like type expression."""
    kind = literal_type.WhichOneof("type")
    if kind is None:
        return "unknown type"
    return _NAMERS[kind](literal_type)


def _simple(literal_type: types_pb2.LiteralType) -> str:
    return _SIMPLE_NAMES.get(literal_type.simple, f"simple type {literal_type.simple}")


def _collection(literal_type: types_pb2.LiteralType) -> str:
    return f"list[{type_name(literal_type.collection_type)}]"


def _map(literal_type: types_pb2.LiteralType) -> str:
    return f"map[str, {type_name(literal_type.map_value_type)}]"


def _union(literal_type: types_pb2.LiteralType) -> str:
    names = [type_name(variant) for variant in literal_type.union_type.variants]
    if "None" in names and len(names) == 2:
        return f"Optional[{next(n for n in names if n != 'None')}]"
    return f"Union[{', '.join(names)}]"


def _enum(literal_type: types_pb2.LiteralType) -> str:
    values = list(literal_type.enum_type.values)
    shown = ", ".join(values[:_ENUM_VALUES_SHOWN])
    more = f", ... ({len(values)} values)" if len(values) > _ENUM_VALUES_SHOWN else ""
    return f"enum {{{shown}{more}}}"


def _blob(literal_type: types_pb2.LiteralType) -> str:
    blob = literal_type.blob
    kind = "directory" if blob.dimensionality == types_pb2.BlobType.MULTIPART else "file"
    return f"{kind} ({blob.format} URI)" if blob.format else f"{kind} URI"


def _structured_dataset(literal_type: types_pb2.LiteralType) -> str:
    dataset_format = literal_type.structured_dataset_type.format
    return f"structured dataset ({dataset_format} URI)" if dataset_format else "structured dataset URI"


def _schema(literal_type: types_pb2.LiteralType) -> str:
    return "schema URI"


_NAMERS: dict[str, Callable[[types_pb2.LiteralType], str]] = {
    "simple": _simple,
    "collection_type": _collection,
    "map_value_type": _map,
    "union_type": _union,
    "enum_type": _enum,
    "blob": _blob,
    "structured_dataset_type": _structured_dataset,
    "schema": _schema,
}
