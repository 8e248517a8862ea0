"""flyteadmin's "different structure" diff text, rule by rule.

Each expectation was produced by flyteadmin's own code path (Go `encoding/json` of the generated flyteidl
structs, github.com/wI2L/jsondiff v0.6.0 both ways, `compareJsons`) run on the same pair of messages.
"""

from __future__ import annotations

import pytest
from flyteidl.core import compiler_pb2
from google.protobuf import text_format

from flyteadmin_ops.emulator.digest import structure_diff
from flyteadmin_ops.emulator.gojson import go_camel_case, go_format

BASE = (
    'template { id { resource_type: TASK project: "p" domain: "d" name: "t" version: "v1" } '
    'type: "python-task" metadata { retries { retries: 1 } } '
    'container { image: "img:1" args: "a" args: "b" } config { key: "a/b" value: "1" } }'
)


@pytest.mark.parametrize(
    ("old", "new", "diff"),
    [
        pytest.param(
            'args: "b"', 'args: "x"', "/template/Target/Container/args/1:\n\t- b \n\t+ x", id="list item"
        ),
        # An appended (or dropped) item is `add /-` one way and `remove /2` the other: never printed.
        pytest.param('args: "b"', 'args: "b" args: "c"', "", id="appended item"),
        pytest.param('value: "1"', 'value: "2"', "/template/config/a~1b:\n\t- 1 \n\t+ 2", id="escaped key"),
        pytest.param(
            'container { image: "img:1" args: "a" args: "b" }',
            'k8s_pod { metadata { labels { key: "l" value: "v" } } }',
            "/template/Target/Container:\n\t- map[args:[a b] image:img:1] \n\t+ <nil>\n"
            "/template/Target/K8SPod:\n\t- <nil> \n\t+ map[metadata:map[labels:map[l:v]]]",
            id="oneof switch",
        ),
        pytest.param(
            'type: "python-task"',
            'type: "python-task" custom { fields { key: "k" value { number_value: 2 } } }',
            "/template/custom:\n\t- <nil> \n\t+ map[k:2]",
            id="struct marshals as plain json",
        ),
        pytest.param(
            "retries { retries: 1 }",
            "retries { retries: 1 } timeout { seconds: 1000000 }",
            "/template/metadata/timeout:\n\t- <nil> \n\t+ map[seconds:1e+06]",
            id="int64 read back as float64",
        ),
        pytest.param(
            "retries { retries: 1 }",
            "retries { }",
            "/template/metadata/retries/retries:\n\t- 1 \n\t+ <nil>",
            id="zero value omitted",
        ),
    ],
)
def test_task_diffs(old: str, new: str, diff: str) -> None:
    before = text_format.Parse(BASE, compiler_pb2.CompiledTask())
    after = text_format.Parse(BASE.replace(old, new, 1), compiler_pb2.CompiledTask())
    assert structure_diff(before, after) == diff


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42.0, "42"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (999999.0, "999999"),
        (1.5e-7, "1.5e-07"),
        (1700000000.0, "1.7e+09"),
        (None, "<nil>"),
        ({"b": None, "a": ["x", 1.0, True, {}], "": "e"}, "map[:e a:[x 1 true map[]] b:<nil>]"),
    ],
)
def test_values_print_as_go_percent_v(value: object, text: str) -> None:
    assert go_format(value) == text


@pytest.mark.parametrize(
    ("name", "go"),
    [("task_node", "TaskNode"), ("float_value", "FloatValue"), ("k8s_pod", "K8SPod"), ("target", "Target")],
)
def test_go_field_names(name: str, go: str) -> None:
    assert go_camel_case(name) == go
