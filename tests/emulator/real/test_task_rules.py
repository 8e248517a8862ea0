"""CreateTask with targets nobody recorded: pod tasks, SQL tasks, resource names flyteadmin skips.

flyteadmin v1.16.8 validates a container's or a pod's resources itself (`validation/task_validator.go`:
`validateContainer`, `validateK8sPod`, both through `validateResource`), then runs propeller's task compiler
(`compiler/task_compiler.go`), whose findings come back as `task failed compilation with Collected Errors:
...` (with the trailing newline of propeller's error text).
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import common_pb2, task_pb2

from tests.emulator.real.support import Real

INVALID = grpc.StatusCode.INVALID_ARGUMENT
TASK_ID = 'resource_type: TASK project: "<P>" domain: "development" name: "t-rules" version: "v1"'
METADATA = 'metadata { runtime { type: FLYTE_SDK version: "1.16.31" } }'
X_IN = "interface { inputs { variables { key: 'x' value { type { simple: INTEGER } } } } }"


def _request(
    real: Real, body: str, task_type: str = "python-task", version: str = "v1"
) -> task_pb2.TaskCreateRequest:
    identifier = TASK_ID.replace('"v1"', f'"{version}"')
    template = f'id {{ {identifier} }} type: "{task_type}" {METADATA} {body}'
    return real.parse(
        task_pb2.TaskCreateRequest, f"id {{ {identifier} }} spec {{ template {{ {template} }} }}"
    )


def _pod(containers: str) -> str:
    return (
        "interface { } k8s_pod { pod_spec { fields { key: 'containers' value { list_value { "
        f"{containers} }} }} }} }} }}"
    )


def _container(name: str, requests: str = "", limits: str = "") -> str:
    resources = (
        "fields { key: 'resources' value { struct_value { "
        f"fields {{ key: 'requests' value {{ struct_value {{ {requests} }} }} }} "
        f"fields {{ key: 'limits' value {{ struct_value {{ {limits} }} }} }} }} }} }}"
    )
    name_field = f"fields {{ key: 'name' value {{ string_value: '{name}' }} }}"
    return f"values {{ struct_value {{ {name_field} {resources} }} }}"


def _quantity(name: str, value: str) -> str:
    return f"fields {{ key: '{name}' value {{ string_value: '{value}' }} }}"


def _compile_error(code: str, node: str, description: str) -> str:
    return (
        "task failed compilation with Collected Errors: 1\n"
        f"\tError 0: Code: {code}, Node Id: {node}, Description: {description}\n"
    )


EPHEMERAL = "ephemeral-storage"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "interface { } k8s_pod { }",
            "invalid TaskSpecification, pod tasks should specify their target as a K8sPod with a defined "
            "pod spec",
            id="a pod task without a pod spec",
        ),
        pytest.param(
            _pod(_container("primary", _quantity("cpu", "2"), _quantity("cpu", "1"))),
            "Requested CPU default [2] is greater than the limit [1]. Please fix your configuration",
            id="a pod container asking more than its limit",
        ),
        pytest.param(
            _pod(_container("primary", _quantity(EPHEMERAL, "2Gi"), _quantity(EPHEMERAL, "1Gi"))),
            "Requested EPHEMERAL_STORAGE default [2Gi] is greater than the limit [1Gi]. Please fix your "
            "configuration",
            id="ephemeral-storage is EPHEMERAL_STORAGE",
        ),
        pytest.param(
            _pod(_container("Primary_1")),
            _compile_error("InvalidValue", "root", "Invalid value [k8s pod spec container name]."),
            id="a pod container name that is no DNS-1123 label",
        ),
        pytest.param(
            f'{X_IN} container {{ image: "img:1" }}',
            _compile_error("ValueRequired", "container", "Value required [command]."),
            id="a container with inputs and neither command nor args",
        ),
        pytest.param(
            'interface { } container { image: "img:1" '
            'resources { requests { name: STORAGE value: "lots" } } }',
            _compile_error("UnrecognizedValue", "resources.STORAGE", "Unrecognized value [lots]."),
            id="a resource name flyteadmin skips still has to be a quantity",
        ),
    ],
)
def test_task_targets_are_checked_by_flyteadmin_then_propeller(real: Real, body: str, message: str) -> None:
    failure = real.refused("CreateTask", _request(real, body))
    assert (failure.code, failure.message) == (INVALID, message)


def test_sql_and_valid_pod_tasks_register(real: Real) -> None:
    """A SQL task has no container to check; a pod whose containers ask within their limits is fine."""
    sql = _request(real, f'{X_IN} sql {{ statement: "select 1" dialect: ANSI }}', "sqlite")
    real.call("CreateTask", sql)
    pod = _request(
        real, _pod(_container("primary", _quantity("cpu", "500m"), _quantity("cpu", "1"))), version="v2"
    )
    real.call("CreateTask", pod)
    task = real.call("GetTask", common_pb2.ObjectGetRequest(id=sql.id))
    assert task.closure.compiled_task.template.sql.statement == "select 1"
