"""Inputs nobody recorded, checked by flyteadmin v1.16.8's rules as its source states them.

The reference only recorded one wrong-typed fixed input (entry 20). These cases follow the same rules with
other values: propeller's type inference and cast rules (`compiler/validators/{utils,typing}.go`) behind
CreateExecution's and CreateLaunchPlan's type checks, `validateLiteralMap`'s datetime check, the launch
plan's default-input validation with artifacts off, and the notification and label checks that both
CreateLaunchPlan and CreateExecution make (`validation/{execution,launch_plan,notifications}_validator.go`,
`validation/validation.go`). Every message is compared exactly, protobuf text with its two spaces.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2, launch_plan_pb2, task_pb2, workflow_pb2

from tests.emulator.real import heldout_app
from tests.emulator.real.support import Real

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PREFIX = "heldout_app.pipelines."
UNKNOWN_TYPE = (
    "got unknown literal type: [<nil>].\n"
    "Suggested solution: Please update all your Flyte deployment images to the latest version and try again"
)


def _register(real: Real) -> None:
    for name in ("normalize", "is_big", "summarize", "report"):
        real.call("CreateTask", real.parse(task_pb2.TaskCreateRequest, heldout_app.TASKS[PREFIX + name]))
    real.call(
        "CreateWorkflow", real.parse(workflow_pb2.WorkflowCreateRequest, heldout_app.WORKFLOWS["scoring"])
    )


def _task_execution(real: Real, task: str, inputs: str, spec: str = "") -> Any:
    """A single-task ExecutionCreateRequest of `task` with `inputs` (LiteralMap text) and extra `spec`
    text."""
    body = (
        f'project: "<P>" domain: "development" name: "e-rules" inputs {{ {inputs} }} spec {{ launch_plan {{ '
        f'resource_type: TASK project: "<P>" domain: "development" name: "{PREFIX}{task}" version: "v1" }} '
        f"{spec} }}"
    )
    return real.parse(execution_pb2.ExecutionCreateRequest, body)


def _launch_plan(real: Real, spec: str) -> Any:
    """CreateLaunchPlan of workflow scoring (input x: FLOAT) with `spec` text added to its spec."""
    body = (
        'id { resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "lp-rules" '
        'version: "v1" } '
        'spec { workflow_id { resource_type: WORKFLOW project: "<P>" domain: "development" '
        f'name: "{PREFIX}scoring" version: "v1" }} {spec} }}'
    )
    return real.refused("CreateLaunchPlan", real.parse(launch_plan_pb2.LaunchPlanCreateRequest, body))


def _literal(name: str, value: str) -> str:
    return f'literals {{ key: "{name}" value {{ {value} }} }}'


INT, FLOAT, TEXT = (
    "scalar { primitive { integer: 3 } }",
    "scalar { primitive { float_value: 1.5 } }",
    'scalar { primitive { string_value: "a" } }',
)
NOW = "scalar { primitive { datetime { seconds: 1767000000 } } }"


@pytest.mark.parametrize(
    ("task", "inputs", "message"),
    [
        pytest.param(
            "normalize",
            _literal("x", INT),
            "invalid x input wrong type. Expected simple:FLOAT, but got simple:INTEGER",
            id="an integer is no float",
        ),
        pytest.param(
            "summarize",
            _literal("values", f"collection {{ literals {{ {INT} }} literals {{ {TEXT} }} }}"),
            "invalid values input wrong type. Expected collection_type:{simple:INTEGER}, but got "
            "collection_type:{union_type:{variants:{simple:INTEGER}  variants:{simple:STRING}}}",
            id="a mixed list is a list of the union of its item types, sorted by text",
        ),
        pytest.param(
            "summarize",
            _literal("values", f"map {{ literals {{ key: 'a' value {{ {INT} }} }} }}"),
            "invalid values input wrong type. Expected collection_type:{simple:INTEGER}, but got "
            "map_value_type:{simple:INTEGER}",
            id="a map is no list",
        ),
        pytest.param(
            "normalize",
            _literal("x", "scalar { }"),
            f"Failed to validate literal type for [x] with err: {UNKNOWN_TYPE}",
            id="a value without a type",
        ),
        pytest.param(
            "summarize",
            _literal("values", "collection { literals { scalar { blob { uri: 's3://b/k' } } } }"),
            "invalid values input wrong type. Expected collection_type:{simple:INTEGER}, but got "
            "collection_type:{}",
            id="a list of blobs without metadata has no element type",
        ),
        pytest.param(
            "normalize",
            _literal("x", "scalar { union { value { " + FLOAT + " } type { simple: FLOAT } } }"),
            None,
            id="a union value casts where its one variant does",
        ),
        pytest.param(
            "report",
            _literal("label", TEXT)
            + _literal("when", "scalar { primitive { datetime { seconds: -62135596801 } } }"),
            "proto:\u00a0timestamp (seconds:-62135596801) before 0001-01-01",
            id="a datetime before year 1",
        ),
        pytest.param(
            "report",
            _literal("label", TEXT)
            + _literal("when", "scalar { primitive { datetime { seconds: 1 nanos: -1 } } }"),
            "proto:\u00a0timestamp (seconds:1  nanos:-1) has out-of-range nanos",
            id="a datetime with negative nanos",
        ),
        pytest.param(
            "report",
            _literal("label", INT) + _literal("when", NOW),
            "invalid label input wrong type. Expected simple:STRING, but got simple:INTEGER",
            id="the datetime is fine, the label is not",
        ),
    ],
)
def test_execution_inputs_follow_propellers_type_rules(
    real: Real, task: str, inputs: str, message: str | None
) -> None:
    _register(real)
    request = _task_execution(real, task, inputs)
    if message is None:
        assert real.call("CreateExecution", request).id.name == "e-rules"
    else:
        failure = real.refused("CreateExecution", request)
        assert (failure.code, failure.message) == (INVALID, message)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "notifications { notifications { } }", "invalid value for notification type", id="no kind"
        ),
        pytest.param(
            "notifications { notifications { phases: SUCCEEDED email { } } }",
            "missing recipients",
            id="no recipients",
        ),
        pytest.param(
            "notifications { notifications { phases: SUCCEEDED slack { recipients_email: '' } } }",
            "missing recipient",
            id="an empty recipient",
        ),
        pytest.param(
            "notifications { notifications { phases: RUNNING pager_duty { recipients_email: 'a@b.c' } } }",
            "invalid value for phase",
            id="a phase that does not end an execution",
        ),
        pytest.param(
            "labels { values { key: 'bad key' value: 'x' } }",
            "invalid label key [bad key]: [name part must consist of alphanumeric characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')]",
            id="a label key Kubernetes refuses",
        ),
    ],
)
def test_execution_notifications_and_labels_are_validated(real: Real, spec: str, message: str) -> None:
    _register(real)
    failure = real.refused("CreateExecution", _task_execution(real, "normalize", _literal("x", FLOAT), spec))
    assert (failure.code, failure.message) == (INVALID, message)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "default_inputs { parameters { key: 'x' value { var { type { simple: FLOAT } } default { "
            + TEXT
            + " } } } }",
            "Type mismatch for Parameter x in default_inputs has type simple:FLOAT, expected simple:STRING",
            id="a default of the wrong type (types printed the other way round)",
        ),
        pytest.param(
            "default_inputs { parameters { key: 'x' value { var { } required: true } } }",
            "The Variable component of the Parameter x in default_inputs either is missing, or has a missing "
            "Type",
            id="a default without a type",
        ),
        pytest.param(
            "default_inputs { parameters { key: 'x' value { var { type { simple: FLOAT } } "
            "required: false } } }",
            "Invalid variable x in default_inputs - variable has neither default, nor is required. "
            "One must be specified",
            id="required false counts as neither",
        ),
        pytest.param(
            "default_inputs { parameters { key: 'x' value { var { type { simple: FLOAT } } "
            "artifact_query { } } } }",
            "artifact mode not enabled but query found default_inputs x",
            id="an artifact query with artifacts off",
        ),
        pytest.param(
            "default_inputs { parameters { key: 'x' value { var { type { simple: DATETIME } } default { "
            + FLOAT
            + " } } } }",
            "Type mismatch for Parameter x in default_inputs has type simple:DATETIME, expected simple:FLOAT",
            id="a datetime parameter with a float default",
        ),
        pytest.param(
            "fixed_inputs { " + _literal("x", "scalar { }") + " }",
            f"Failed to validate literal type for [x] with err: {UNKNOWN_TYPE}",
            id="a fixed input without a type",
        ),
        pytest.param(
            "fixed_inputs { " + _literal("x", "collection { }") + " }",
            "invalid fixed_input wrong type x, expected simple:FLOAT, got collection_type:{simple:NONE} "
            "instead",
            id="an empty list is a list of NONE",
        ),
        pytest.param(
            "entity_metadata { launch_conditions { } }",
            "Launch condition must be empty, found ",
            id="an empty launch condition is still one",
        ),
        pytest.param(
            "entity_metadata { notifications { phases: FAILED email { } } }",
            "missing recipients",
            id="a notification without recipients",
        ),
    ],
)
def test_launch_plan_inputs_and_metadata_follow_flyteadmins_rules(
    real: Real, spec: str, message: str
) -> None:
    _register(real)
    failure = _launch_plan(real, spec)
    assert (failure.code, failure.message) == (INVALID, message)


def test_a_string_default_casts_to_an_enum_input() -> None:
    """propeller's trivial checker lets a string go where an enum is declared (and an enum where a string
    is), whatever the string: only workflow bindings check the value."""
    from flyteidl.core import types_pb2

    from flyteadmin_ops.emulator.literal_types import castable

    enum = types_pb2.LiteralType(enum_type=types_pb2.EnumType(values=["red"]))
    text = types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)
    assert castable(text, enum) and castable(enum, text)
    optional_int = types_pb2.LiteralType(
        union_type=types_pb2.UnionType(
            variants=[
                types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER),
                types_pb2.LiteralType(simple=types_pb2.SimpleType.NONE),
            ]
        )
    )
    integer = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
    assert castable(integer, optional_int)
    assert not castable(optional_int, integer)  # why a SetSignal of 3 for an Optional[int] signal is refused
