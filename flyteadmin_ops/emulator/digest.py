"""Digests and structure diffs of compiled entities: how "identical" vs "different structure" is decided.

flyteadmin hashes the compiled entity (pbhash of CompiledTask / CompiledWorkflowClosure / the LaunchPlan
with its expected inputs); here the digest is sha256 over deterministic protobuf serialization, so it is
stable across processes. On a mismatch it prints a diff (`pkg/errors/errors.go`): both Go structs go
through `encoding/json` (:mod:`.gojson`), github.com/wI2L/jsondiff (v0.6.0, no options) computes the
JSON Patch old->new and new->old, and `compareJsons` prints, for every path of the second patch that the
first also has, `path:\n\t- <value in new->old> \n\t+ <value in old->new>` with `%v`. A removal carries
no value, so a field only one side has prints `<nil>` on the other; elements appended to or dropped from
a list get different paths in the two patches (`/-` and `/<n>`) and are not printed at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from flyteadmin_ops.emulator.gojson import NotEncodable, go_format, go_json


def digest(message: Message) -> str:
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


def structure_diff(old: Message, new: Message) -> str:
    """flyteadmin's diff text between the stored (`old`) and the new version of an entity."""
    try:
        old_json, new_json = go_json(old), go_json(new)
    except NotEncodable:
        return ""  # json.Marshal fails, jsondiff returns no patch, and nothing is printed
    forward = json_patch(old_json, new_json)
    by_path = {operation.path: operation for operation in forward}
    lines = [
        f"{back.path}:\n\t- {go_format(back.value)} \n\t+ {go_format(by_path[back.path].value)}"
        for back in json_patch(new_json, old_json)
        if back.path in by_path
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Operation:
    """One JSON Patch operation as jsondiff emits it; `value` is None for a removal."""

    op: str
    path: str
    value: Any


def json_patch(source: Any, target: Any) -> list[Operation]:
    """jsondiff `Compare(source, target)` without options, over unmarshalled JSON values."""
    operations: list[Operation] = []
    _diff("", source, target, operations)
    return operations


def _diff(path: str, source: Any, target: Any, out: list[Operation]) -> None:
    if _kind(source) != _kind(target):
        out.append(Operation("add" if path == "" else "replace", path, target))
        return
    if _equal(source, target):
        return
    if isinstance(source, list):
        _diff_arrays(path, source, target, out)
    elif isinstance(source, dict):
        for key in sorted(set(source) | set(target)):
            child = f"{path}/{_escape(key)}"
            if key in source and key in target:
                _diff(child, source[key], target[key], out)
            elif key in source:
                out.append(Operation("remove", child, None))
            else:
                out.append(Operation("add", child, target[key]))
    else:
        out.append(Operation("replace", path, target))


def _diff_arrays(path: str, source: list[Any], target: list[Any], out: list[Operation]) -> None:
    """Index by index; surplus source items are removed at the first surplus index, new ones appended."""
    common = min(len(source), len(target))
    for _ in range(common, len(source)):
        out.append(Operation("remove", f"{path}/{common}", None))
    for index in range(common):
        _diff(f"{path}/{index}", source[index], target[index], out)
    for index in range(common, len(target)):
        out.append(Operation("add", f"{path}/-", target[index]))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _equal(source: Any, target: Any) -> bool:
    """jsondiff's deepEqual: same JSON kind all the way down (Python would call True equal to 1.0)."""
    kind = _kind(source)
    if kind != _kind(target):
        return False
    if kind == "array":
        return len(source) == len(target) and all(_equal(a, b) for a, b in zip(source, target, strict=True))
    if kind == "object":
        return source.keys() == target.keys() and all(_equal(source[k], target[k]) for k in source)
    return bool(source == target)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
