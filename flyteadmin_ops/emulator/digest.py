"""Digests and structure diffs of compiled entities: how "identical" vs "different structure" is decided.

flyteadmin hashes the compiled entity (pbhash of CompiledTask / CompiledWorkflowClosure / the LaunchPlan
with its expected inputs), and on a mismatch shows a JSON diff built from two jsondiff patches
(`pkg/errors/errors.go compareJsons`): one entry per JSON-pointer path, `path:\\n\\t- old \\n\\t+ new`.
Here the digest is sha256 over deterministic protobuf serialization, so it is stable across processes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message


def digest(message: Message) -> str:
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


def structure_diff(old: Message, new: Message) -> str:
    """flyteadmin's diff text between two versions of an entity (old value first)."""
    lines: list[str] = []
    _walk(_as_json(old), _as_json(new), "", lines)
    return "\n".join(lines)


def _as_json(message: Message) -> Any:
    return MessageToDict(message, preserving_proto_field_name=True)


_ABSENT = object()


def _walk(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _walk(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}/{_escape(key)}", out)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            _walk(
                old[index] if index < len(old) else _ABSENT,
                new[index] if index < len(new) else _ABSENT,
                f"{path}/{index}",
                out,
            )
    elif old != new:
        out.append(f"{path}:\n\t- {_render(old)} \n\t+ {_render(new)}")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _render(value: Any) -> str:
    if value is _ABSENT:
        return "<nil>"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
