"""`render_json` writes exactly what `json.dumps(result.to_json(), indent=2)` writes, only faster."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flyteadmin_ops.ops.results import FieldChange, Outcome, Result, Status, render_json

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def _result(old: Any, new: Any, detail: str) -> Result:
    result = Result("register")
    result.notes.append(f"target: p/d version v1 ({detail})")
    result.add(Outcome("task", "p:d:t:v1", Status.EXISTS, "identical structure already registered"))
    result.add(Outcome("workflow", "p:d:w:v1", Status.CONFLICT, detail, (FieldChange("a.b", old, new),), "x"))
    return result


@given(old=_JSON_VALUES, new=_JSON_VALUES, detail=st.text())
def test_the_same_text_as_json_dumps(old: Any, new: Any, detail: str) -> None:
    result = _result(old, new, detail)
    assert render_json(result) == json.dumps(result.to_json(), indent=2)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), {1: "not a string key"}, (1, [2, ()]), {"": {}}, "\u2028\x00é"]
)
def test_values_json_writes_its_own_way_come_out_the_same(value: Any) -> None:
    result = _result(value, [value], "d")
    assert render_json(result) == json.dumps(result.to_json(), indent=2)
