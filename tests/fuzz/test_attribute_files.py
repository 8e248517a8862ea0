"""Attribute files for `sync-attributes`: whatever the YAML or JSON holds, `parse_attributes` returns the
declared entries or raises AttributeFileError whose every problem is one line naming the file and a line
that exists; never another exception (a YAML error of another kind, a tag that cannot be built, a value
protobuf refuses, nesting that exhausts the stack), never a hang.

The inputs start from the real demo file (flytectl's attribute files plus a `type:` line) and are mutated
structurally (keys dropped, renamed, re-cased; values replaced by other YAML values) and as text."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import flyteadmin_ops.demo
from flyteadmin_ops.ops.attribute_file import (
    ATTRIBUTE_TYPES,
    AttributeFileError,
    DeclaredAttribute,
    load_attribute_file,
    parse_attributes,
)
from tests.fuzz.support import bounded, fuzz_settings

pytestmark = pytest.mark.fuzz

SEED_TEXT = (Path(flyteadmin_ops.demo.__file__).parent / "attributes.yaml").read_text(encoding="utf-8")
SEED: list[dict[str, Any]] = yaml.safe_load(SEED_TEXT)
KEYS = sorted(
    {key for entry in SEED for key in entry} | {"workflow", "Project", "TYPE", "defaults", "limits"}
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),  # YAML's "\\udcbf"
    st.sampled_from(
        [*ATTRIBUTE_TYPES, "task-resource-attribute", "quality-of-service", "USE_DEFAULT", "1Gi"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=8,
)


def _edit(document: list[Any], edits: list[tuple[str, int, str, Any]]) -> list[Any]:
    """Apply structural edits to a copy of the seed entries: each picks an entry, then a key in it."""
    entries = json.loads(json.dumps(document))
    for kind, index, key, value in edits:
        if not entries:
            break
        entry = entries[index % len(entries)]
        if not isinstance(entry, dict):
            continue
        existing = sorted(entry, key=str)
        chosen = existing[hash(key) % len(existing)] if existing else key
        if kind == "drop":
            entry.pop(chosen, None)
        elif kind == "rename":
            entry[key] = entry.pop(chosen, None)
        elif kind == "recase":
            entry[str(chosen).swapcase()] = entry.pop(chosen, None)
        elif kind == "replace":
            entry[chosen] = value
        elif kind == "add":
            entry[key] = value
        elif kind == "duplicate":
            entries.append(json.loads(json.dumps(entry)))
        elif kind == "swap-entry":
            entries[index % len(entries)] = value
    return entries


structural_edits = st.lists(
    st.tuples(
        st.sampled_from(["drop", "rename", "recase", "replace", "add", "duplicate", "swap-entry"]),
        st.integers(0, 50),
        st.sampled_from(KEYS) | st.text(max_size=10),
        values,
    ),
    min_size=1,
    max_size=5,
)


def _render(document: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(document, allow_nan=True)
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def check(text: str, file: str = "attributes.yaml") -> list[DeclaredAttribute] | None:
    """The property every attribute-file input must meet; None when the file was refused."""
    try:
        with bounded():
            return parse_attributes(text, file)
    except AttributeFileError as exc:
        assert exc.problems, "an AttributeFileError lists at least one problem"
        lines = text.count("\n") + 2
        for problem in exc.problems:
            assert "\n" not in str(problem) and str(problem).startswith(file), problem
            assert 0 <= problem.location.line <= lines, f"{problem} points past the end of the file"
        return None


def test_the_seed_is_valid() -> None:
    assert len(check(SEED_TEXT) or []) == len(SEED)


@given(edits=structural_edits, as_json=st.booleans())
@fuzz_settings()
def test_structurally_mutated_files_parse_or_are_refused_with_located_problems(
    edits: list[tuple[str, int, str, Any]], as_json: bool
) -> None:
    check(_render(_edit(SEED, edits), as_json))


@given(document=values, as_json=st.booleans())
@fuzz_settings(0.5)
def test_any_yaml_value_parses_or_is_refused(document: Any, as_json: bool) -> None:
    check(_render(document, as_json))


text_edits = st.lists(
    st.tuples(
        st.integers(0, len(SEED_TEXT)),
        st.integers(0, 40),
        st.one_of(
            st.text(max_size=6),
            st.sampled_from(
                [
                    "\n  ",
                    ":",
                    "- ",
                    "&a ",
                    "*a",
                    "!!int ",
                    "!!python/object:x ",
                    "{",
                    "[",
                    "\t",
                    "\0",
                    "\ufeff",
                    "---\n",
                    "<<: *a",
                ]
            ),
        ),
    ),
    min_size=1,
    max_size=4,
)


@given(edits=text_edits)
@fuzz_settings()
def test_textually_mutated_files_parse_or_are_refused(edits: list[tuple[int, int, str]]) -> None:
    text = SEED_TEXT
    for at, removed, inserted in edits:
        text = text[:at] + inserted + text[at + removed :]
    check(text)


@given(depth=st.integers(1, 3000), opener=st.sampled_from(["[", "{a: ", "- ", "{"]))
@fuzz_settings(0.15)
def test_deep_nesting_is_refused_not_a_recursion_error(depth: int, opener: str) -> None:
    check(opener * depth)


@given(data=st.binary(max_size=400))
@fuzz_settings(0.5)
def test_any_bytes_on_disk_load_or_are_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attributes.yaml"
        path.write_bytes(data)
        try:
            with bounded():
                load_attribute_file(path)
        except AttributeFileError as exc:
            assert all("\n" not in str(p) for p in exc.problems)
