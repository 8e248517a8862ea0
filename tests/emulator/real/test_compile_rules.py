"""Workflows nobody recorded, compiled by flytepropeller's binding rules as flyteadmin v1.16.8 runs them.

`validators/bindings.go`: a promise names an existing node and one of its outputs (`[i].name` reads an item
of a list), whose type must cast to the input's; a constant's inferred type must cast; lists and maps bind
item by item and only to list and map inputs. Each finding is one line of propeller's `Collected Errors`,
inside CreateWorkflow's `failed to compile workflow for [...]`. The tasks are the reference's heldout_app
tasks: normalize (x: FLOAT -> FLOAT), is_big (x: FLOAT -> BOOLEAN), summarize (values: list[int] -> STRING).
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import task_pb2, workflow_pb2

from tests.emulator.real import heldout_app
from tests.emulator.real.support import Real

PREFIX = "heldout_app.pipelines."
SCOPE = 'project: "<P>" domain: "development"'
WORKFLOW_ID = f'resource_type: WORKFLOW {SCOPE} name: "wf-rules" version: "v1"'
PRINTED_ID = 'resource_type:WORKFLOW  project:"<P>"  domain:"development"  name:"wf-rules"  version:"v1"'
X_FLOAT = "variables { key: 'x' value { type { simple: FLOAT } } }"
ONE = "scalar { primitive { integer: 1 } }"
TWO_POINT_O = "scalar { primitive { float_value: 2 } }"


def _node(node_id: str, task: str, inputs: str) -> str:
    reference = f'resource_type: TASK {SCOPE} name: "{PREFIX}{task}" version: "v1"'
    return (
        f'nodes {{ id: "{node_id}" metadata {{ name: "{task}" }} {inputs} '
        f"task_node {{ reference_id {{ {reference} }} }} }}"
    )


def _input(var: str, binding: str) -> str:
    return f'inputs {{ var: "{var}" binding {{ {binding} }} }}'


def _promise(node_id: str, var: str) -> str:
    return f'promise {{ node_id: "{node_id}" var: "{var}" }}'


def _compile(real: Real, nodes: str) -> tuple[grpc.StatusCode, str]:
    """CreateWorkflow of a workflow with input x: FLOAT and no outputs, made of `nodes`."""
    for name in ("normalize", "is_big", "summarize"):
        real.call("CreateTask", real.parse(task_pb2.TaskCreateRequest, heldout_app.TASKS[PREFIX + name]))
    template = f"id {{ {WORKFLOW_ID} }} interface {{ inputs {{ {X_FLOAT} }} }} {nodes}"
    body = f"id {{ {WORKFLOW_ID} }} spec {{ template {{ {template} }} }}"
    failure = real.refused("CreateWorkflow", real.parse(workflow_pb2.WorkflowCreateRequest, body))
    return failure.code, failure.message


def _error(code: str, node_id: str, description: str) -> str:
    return f"Code: {code}, Node Id: {node_id}, Description: {description}"


def _errors(*lines: str) -> str:
    listed = "".join(f"\tError {index}: {line}\n" for index, line in enumerate(lines))
    return f"failed to compile workflow for [{PRINTED_ID}] with err: Collected Errors: {len(lines)}\n{listed}"


FROM_X = _input("x", _promise("", "x"))
MISMATCH = "MismatchingTypes"


@pytest.mark.parametrize(
    ("nodes", "lines"),
    [
        pytest.param(
            _node("n0", "normalize", FROM_X)
            + _node("n1", "summarize", _input("values", _promise("n0", "o0"))),
            [
                _error(
                    MISMATCH,
                    "n1",
                    "The output variable 'normalize.o0' has type [simple:FLOAT], but it's assigned to the "
                    "input variable 'summarize.values' which has type type "
                    "[collection_type:{simple:INTEGER}].",
                )
            ],
            id="a promise whose output type does not cast",
        ),
        pytest.param(
            _node("n0", "normalize", FROM_X) + _node("n1", "is_big", _input("x", _promise("n0", "o9"))),
            [
                _error("ParameterNotBound", "n1", "Parameter not bound [x]."),
                _error("VariableNameNotFound", "n0", "Variable [o9] not found on node [n0]."),
            ],
            id="a promise of an output the node does not have",
        ),
        pytest.param(
            _node("n0", "normalize", _input("x", _promise("", "y"))),
            [
                _error("ParameterNotBound", "n0", "Parameter not bound [x]."),
                _error("VariableNameNotFound", "start-node", "Variable [y] not found on node [start-node]."),
            ],
            id="a promise of a workflow input that does not exist",
        ),
        pytest.param(
            _node("n0", "normalize", _input("x", "scalar { primitive { string_value: 'a' } }")),
            [
                _error(
                    MISMATCH,
                    "n0",
                    "Variable [x] (type [simple:STRING]) doesn't match expected type [simple:FLOAT].",
                )
            ],
            id="a constant of the wrong type",
        ),
        pytest.param(
            _node("n0", "normalize", _input("x", f"collection {{ bindings {{ {ONE} }} }}")),
            [
                _error(
                    "MismatchingBindings",
                    "n0",
                    "Input [x] on node [n0] expects bindings of type [simple:FLOAT].  "
                    "Received [bindings:{scalar:{primitive:{integer:1}}}]",
                )
            ],
            id="a list bound to a float",
        ),
        pytest.param(
            _node(
                "n0",
                "summarize",
                _input(
                    "values",
                    f"collection {{ bindings {{ {ONE} }} bindings {{ {TWO_POINT_O} }} }}",
                ),
            ),
            [
                _error(
                    MISMATCH,
                    "n0",
                    "Variable [values] (type [simple:FLOAT]) doesn't match expected type [simple:INTEGER].",
                )
            ],
            id="a list with an item of the wrong type",
        ),
        pytest.param(
            _node("n0", "normalize", FROM_X) + _node("n1", "is_big", _input("x", _promise("n0", "o0.a"))),
            [_error("SyntaxError", "n1", "Failed to parse element [o0.a].")],
            id="an output name that is no name",
        ),
        pytest.param(
            'nodes { id: "n0" workflow_node { } }',
            [_error("WorkflowReferenceNotFound", "n0", "Referenced Workflow [<nil>/<nil>] not found.")],
            id="a workflow node that references nothing",
        ),
    ],
)
def test_bindings_are_checked_as_propeller_checks_them(real: Real, nodes: str, lines: list[str]) -> None:
    assert _compile(real, nodes) == (grpc.StatusCode.INVALID_ARGUMENT, _errors(*lines))


def test_an_index_on_an_output_that_is_no_list(real: Real) -> None:
    """`[0].o0` reads an item of a list output; of summarize's STRING output it is a type mismatch, printed
    with the promise as written."""
    nodes = _node("n0", "summarize", _input("values", _promise("", "x"))) + _node(
        "n1", "normalize", _input("x", _promise("n0", "[0].o0"))
    )
    code, message = _compile(real, nodes)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        _error(
            MISMATCH,
            "n1",
            "The output variable 'summarize.[0].o0' has type [simple:STRING], but it's assigned to the input "
            "variable 'normalize.x' which has type type [simple:FLOAT].",
        )
        in message
    )


def _branch(condition: str, default: str = "else") -> str:
    """Node n0 is_big(x), node n1 a branch over `n0.o0` (BOOLEAN) running summarize, with `condition`."""
    then = _node("n0", "summarize", _input("values", f"collection {{ bindings {{ {ONE} }} }}"))[
        len("nodes ") :
    ]
    other = _node("n1", "summarize", _input("values", f"collection {{ bindings {{ {ONE} }} }}"))[
        len("nodes ") :
    ]
    tail = f"else_node {other}" if default == "else" else ""
    return (
        _node("n0", "is_big", FROM_X)
        + f'nodes {{ id: "n1" {_input("n0.o0", _promise("n0", "o0"))} '
        + f"branch_node {{ if_else {{ case {{ condition {{ {condition} }} then_node {then} }} {tail} }} }} }}"
    )


def _compare(left: str, right: str) -> str:
    return f"comparison {{ left_value {{ {left} }} right_value {{ {right} }} }}"


BIG = "var: 'n0.o0'"


@pytest.mark.parametrize(
    ("nodes", "lines"),
    [
        pytest.param(
            _branch(_compare(BIG, "primitive { boolean: true }"), default="none"),
            [
                _error(
                    "BranchNodeHasNoDefault",
                    "n1",
                    "Branch Node must have either the else case set or a default error.",
                )
            ],
            id="a branch with neither else nor error",
        ),
        pytest.param(
            _branch(_compare(BIG, "primitive { float_value: 1 }")),
            [
                _error(
                    MISMATCH,
                    "n1",
                    "Variable [RightValue] (type [simple:FLOAT]) doesn't match expected type "
                    "[simple:BOOLEAN].",
                )
            ],
            id="a comparison of a BOOLEAN with a float",
        ),
        pytest.param(
            _branch(_compare("var: 'n9.o0'", "primitive { boolean: true }")),
            [_error("VariableNameNotFound", "n1", "Variable [n9.o0] not found on node [n1].")],
            id="a comparison of a variable the branch does not bind",
        ),
        pytest.param(
            _branch(_compare(BIG, "scalar { none_type { } }")),
            [_error("ValueRequired", "n1", "Value required [RightValue.Val].")],
            id="a scalar operand (flytekit's is_none) is no value to v1.16.8",
        ),
    ],
)
def test_branch_conditions_are_checked_as_propeller_checks_them(
    real: Real, nodes: str, lines: list[str]
) -> None:
    assert _compile(real, nodes) == (grpc.StatusCode.INVALID_ARGUMENT, _errors(*lines))


def test_branch_cases_must_agree_on_their_shared_outputs(real: Real) -> None:
    """`validateBranchInterface`: an output both cases have must have one type; is_big's o0 (BOOLEAN) against
    summarize's o0 (STRING) is reported at the later case, by its renamed id. The branch then has no
    interface: its condition's variable is a missing value, and, with only the upstream edge its bindings
    gave it, the branch is unreachable, as in propeller."""
    then = _node("n0", "is_big", FROM_X)[len("nodes ") :]
    other = _node("n1", "summarize", _input("values", f"collection {{ bindings {{ {ONE} }} }}"))[
        len("nodes ") :
    ]
    condition = _compare("var: 'x'", "primitive { float_value: 1 }")
    nodes = (
        f'nodes {{ id: "b" {FROM_X} branch_node {{ if_else {{ case {{ condition {{ {condition} }} '
        f"then_node {then} }} else_node {other} }} }} }}"
    )
    lines = [
        _error(
            MISMATCH,
            "b-n1",
            "Variable [o0] (type [simple:BOOLEAN]) doesn't match expected type [simple:STRING].",
        ),
        _error("UnreachableNodes", "start-node", "The Workflow contain unreachable nodes [b]."),
        _error("ValueRequired", "b", "Value required [x]."),
    ]
    assert _compile(real, nodes) == (grpc.StatusCode.INVALID_ARGUMENT, _errors(*lines))


def _compile_alone(real: Real, interface: str, nodes: str) -> tuple[grpc.StatusCode, str]:
    """CreateWorkflow of a template with `interface` and `nodes`, registering no tasks."""
    template = f"id {{ {WORKFLOW_ID} }} interface {{ {interface} }} {nodes}"
    body = f"id {{ {WORKFLOW_ID} }} spec {{ template {{ {template} }} }}"
    failure = real.refused("CreateWorkflow", real.parse(workflow_pb2.WorkflowCreateRequest, body))
    return failure.code, failure.message


def test_a_workflow_input_without_a_type_stops_the_compile(real: Real) -> None:
    """`ValidateInterface` of the workflow's interface comes first; its findings end the compile (the node's
    unknown promise is never looked at)."""
    real.call("CreateTask", real.parse(task_pb2.TaskCreateRequest, heldout_app.TASKS[PREFIX + "normalize"]))
    nodes = _node("n0", "normalize", _input("x", _promise("n9", "x")))
    expected = _errors(_error("ValueRequired", "start-node", "Value required [param.Type]."))
    assert _compile_alone(real, "inputs { variables { key: 'x' value { } } }", nodes) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        expected,
    )


def test_a_task_output_without_a_type_is_found_at_the_node(real: Real) -> None:
    """flyteadmin registers a task whose interface has an untyped variable; the workflow compile refuses it at
    the node that runs the task."""
    task = heldout_app.TASKS[PREFIX + "normalize"].replace(
        'key: "o0" value { type { simple: FLOAT } description: "o0" }',
        'key: "o0" value { description: "o0" }',
    )
    real.call("CreateTask", real.parse(task_pb2.TaskCreateRequest, task))
    code, message = _compile_alone(real, X_FLOAT.join(("inputs { ", " }")), _node("n0", "normalize", FROM_X))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert _error("ValueRequired", "n0", "Value required [param.Type].") in message
