"""Registration as a real flyteadmin v1.16.8 answers it (reference entries 13-28, 44-54, 82, 86, 87).

The heldout_app entities are registered in the test's fresh project as the reference registered them
(`heldout_app.py`); expected bodies are the real answers (`data/n<N>.txt`, timestamps shown empty), compared
whole after the emulator's timestamps are cleared the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import identifier_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from flyteidl.service import admin_pb2_grpc
from google.protobuf import text_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.single_task import node_id_of_task
from tests.emulator.exec.helpers import Refusal, refusal
from tests.emulator.real import heldout_app
from tests.emulator.real.support import Real, case, masked

DATA = Path(__file__).parent / "data"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
TASK_PREFIX = "heldout_app.pipelines."


# --- fixtures and helpers ---------------------------------------------------------------------------------


def expected_body(n: int) -> str:
    return (DATA / f"n{n}.txt").read_text()


def _clear_timestamps(message: Message) -> None:
    """Timestamps as the reference records them: present but empty (`created_at {}`)."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        values = value if _is_repeated(field) else [value]
        if field.message_type.GetOptions().map_entry:
            values = (
                [value[key] for key in value]
                if field.message_type.fields_by_name["value"].message_type
                else []
            )
        for item in values:
            if isinstance(item, Timestamp):
                item.Clear()
            else:
                _clear_timestamps(item)


def _is_repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else getattr(field, "label", 1) == 3


def body(real: Real, message: Message) -> str:
    """A response as the reference writes bodies: protobuf text, timestamps empty, project as `<P>`."""
    copy = type(message)()
    copy.CopyFrom(message)
    _clear_timestamps(copy)
    return masked(text_format.MessageToString(copy), real.project)


def refused_roomy(real: Real, rpc: str, request: Message) -> Refusal:
    """`real.refused` over a channel that accepts large trailers: a workflow diff is nearly the whole
    workflow, carried twice (message and status details), beyond gRPC's default 8/16 KB metadata limits
    (a default client sees RESOURCE_EXHAUSTED instead; flyteadmin_ops' channel raises the limits)."""
    limit = 4 * 1024 * 1024
    options = [("grpc.max_metadata_size", limit), ("grpc.absolute_max_metadata_size", limit)]
    with grpc.insecure_channel(real.emulator.endpoint, options=options) as channel:
        failure = refusal(getattr(admin_pb2_grpc.AdminServiceStub(channel), rpc), request)
    failure.message = masked(failure.message, real.project)
    return failure


def register_task(real: Real, name: str, version: str = "v1") -> None:
    text = heldout_app.TASKS[TASK_PREFIX + name].replace('version: "v1"', f'version: "{version}"')
    real.call("CreateTask", real.parse(task_pb2.TaskCreateRequest, text))


def register_workflow(real: Real, name: str, version: str = "v1") -> None:
    text = heldout_app.WORKFLOWS[name].replace('version: "v1"', f'version: "{version}"')
    real.call("CreateWorkflow", real.parse(workflow_pb2.WorkflowCreateRequest, text))


def register_launch_plan(real: Real, name: str, version: str) -> None:
    text = heldout_app.LAUNCH_PLANS[(name, version)]
    real.call("CreateLaunchPlan", real.parse(launch_plan_pb2.LaunchPlanCreateRequest, text))


def set_state(real: Real, name: str, version: str, state: int) -> None:
    identifier = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=real.project,
        domain="development",
        name=name,
        version=version,
    )
    real.call("UpdateLaunchPlan", launch_plan_pb2.LaunchPlanUpdateRequest(id=identifier, state=state))


@pytest.fixture
def heldout(real: Real) -> Real:
    """The v1 heldout_app entities, in the reference's order (normalize is the first task registered)."""
    for name in heldout_app.TASKS:
        register_task(real, name.removeprefix(TASK_PREFIX))
    register_workflow(real, "scoring")
    register_launch_plan(real, "scoring_default", "v1")
    register_workflow(real, "batch")
    register_workflow(real, "nightly")
    return real


def get_workflow(real: Real, name: str, version: str = "v1") -> Any:
    request = real.parse(
        common_pb2.ObjectGetRequest,
        f'id {{ resource_type: WORKFLOW project: "<P>" domain: "development" name: "{name}" '
        f'version: "{version}" }}',
    )
    return real.call("GetWorkflow", request)


# --- different structure: task, workflow, launch plan -----------------------------------------------------

NORMALIZE_OTHER_IMAGE = heldout_app.TASKS[TASK_PREFIX + "normalize"].replace(
    'image: "ghcr.io/example/heldout:1"', 'image: "other:image"'
)
NORMALIZE_MORE_RETRIES = heldout_app.TASKS[TASK_PREFIX + "normalize"].replace(
    "retries { retries: 2 }", "retries { retries: 7 }"
)
TASK_DIFF_HEAD = (
    "heldout_app.pipelines.normalize task with different structure already exists. "
    "(Please register a new version of the task):\n"
)


@pytest.mark.parametrize(
    ("request_text", "diff"),
    [
        case(
            13,
            "CreateTask different image, same id",
            NORMALIZE_OTHER_IMAGE,
            "/template/Target/Container/image:\n\t- ghcr.io/example/heldout:1 \n\t+ other:image",
        ),
        # The same rule on another field, as the reference's README records it.
        pytest.param(
            NORMALIZE_MORE_RETRIES, "/template/metadata/retries/retries:\n\t- 2 \n\t+ 7", id="retries"
        ),
    ],
)
def test_a_changed_task_is_diffed_with_go_struct_paths(heldout: Real, request_text: str, diff: str) -> None:
    refused = heldout.refused("CreateTask", heldout.parse(task_pb2.TaskCreateRequest, request_text))
    assert (refused.code, refused.message, refused.details) == (INVALID, TASK_DIFF_HEAD + diff, [])


SCORING_ON_FAILURE = heldout_app.WORKFLOWS["scoring"].replace(
    "metadata { } interface", "metadata { on_failure: FAIL_AFTER_EXECUTABLE_NODES_COMPLETE } interface", 1
)


@pytest.mark.parametrize(
    "request_text", [case(14, "CreateWorkflow different on_failure, same id", SCORING_ON_FAILURE)]
)
def test_a_changed_workflow_is_diffed_against_the_row_built_closure(heldout: Real, request_text: str) -> None:
    """The stored closure flyteadmin rebuilds holds only the interface: every compiled field but the
    interface shows as `- <nil>`, the tasks included; the detail names the workflow."""
    request = heldout.parse(workflow_pb2.WorkflowCreateRequest, request_text)
    refused = refused_roomy(heldout, "CreateWorkflow", request)
    assert (refused.code, refused.message) == (INVALID, expected_body(14))
    assert [d.exists_different_structure.id for d in refused.details] == [request.id]


def test_the_workflow_diff_lists_subworkflows_and_node_changes_the_same_way(heldout: Real) -> None:
    """Another workflow (subworkflow and launch plan nodes): each top-level compiled field is one entry."""
    changed = heldout_app.WORKFLOWS["nightly"].replace('name: "report"', 'name: "report2"')
    refused = refused_roomy(
        heldout, "CreateWorkflow", heldout.parse(workflow_pb2.WorkflowCreateRequest, changed)
    )
    paths = [line for line in refused.message.split("\n") if line.startswith("/")]
    assert paths == [
        "/primary/connections:",
        "/primary/template/id:",
        "/primary/template/metadata:",
        "/primary/template/metadata_defaults:",
        "/primary/template/nodes:",
        "/primary/template/outputs:",
        "/sub_workflows:",
        "/tasks:",
    ]
    assert "map[Target:map[WorkflowNode:map[Reference:map[LaunchplanRef:map[domain:development" in (
        refused.message
    )


LP_DIFF_HEAD = (
    "scoring_default launch plan with different structure already exists. "
    "(Please register a new version of the launch plan):\n"
)
LP_V1 = heldout_app.LAUNCH_PLANS[("scoring_default", "v1")]


@pytest.mark.parametrize(
    ("request_text", "diff"),
    [
        case(
            15,
            "CreateLaunchPlan different labels, same id",
            LP_V1.replace("labels { }", 'labels { values { key: "changed" value: "yes" } }'),
            "/labels/values:\n\t- <nil> \n\t+ map[changed:yes]",
        ),
        case(
            16,
            "CreateLaunchPlan different default, same id",
            LP_V1.replace("float_value: 42.0", "float_value: 7.0"),
            "/default_inputs/parameters/x/Behavior/Default/Value/Scalar/Value/Primitive/Value/FloatValue:"
            "\n\t- 42 \n\t+ 7",
        ),
        # Other fields of the spec, as the README records (`max_parallelism`), and a number Go prints in %e.
        pytest.param(
            LP_V1.replace("raw_output_data_config { }", "raw_output_data_config { } max_parallelism: 77"),
            "/max_parallelism:\n\t- <nil> \n\t+ 77",
            id="max_parallelism",
        ),
        pytest.param(
            LP_V1.replace("float_value: 42.0", "float_value: 1000000.0"),
            "/default_inputs/parameters/x/Behavior/Default/Value/Scalar/Value/Primitive/Value/FloatValue:"
            "\n\t- 42 \n\t+ 1e+06",
            id="float in exponent form",
        ),
    ],
)
def test_a_changed_launch_plan_is_diffed_on_its_spec_only(
    heldout: Real, request_text: str, diff: str
) -> None:
    request = heldout.parse(launch_plan_pb2.LaunchPlanCreateRequest, request_text)
    refused = heldout.refused("CreateLaunchPlan", request)
    assert (refused.code, refused.message, refused.details) == (INVALID, LP_DIFF_HEAD + diff, [])


# --- compile failures and validation texts ----------------------------------------------------------------

SCORING_NOVER = heldout_app.WORKFLOWS["scoring"].replace('version: "v1"', 'version: "nover"')


@pytest.mark.parametrize(
    ("request_text", "missing"),
    [case(17, "CreateWorkflow tasks not registered", SCORING_NOVER, "heldout_app.pipelines.is_big")],
)
def test_missing_tasks_are_fetched_in_identifier_order(
    heldout: Real, request_text: str, missing: str
) -> None:
    """flyteadmin fetches the required tasks sorted by identifier (is_big < normalize < summarize) and stops
    at the first missing one. The printed ids have two spaces between fields, as the real message has."""
    refused = heldout.refused(
        "CreateWorkflow", heldout.parse(workflow_pb2.WorkflowCreateRequest, request_text)
    )
    expected = (
        'failed to compile workflow for [resource_type:WORKFLOW  project:"<P>"  domain:"development"  '
        'name:"heldout_app.pipelines.scoring"  version:"nover"] with err: missing entity of type TASK with '
        f'identifier project:"<P>"  domain:"development"  name:"{missing}"  version:"nover"'
    )
    assert (refused.code, refused.message) == (INVALID, expected)


FIXED_WRONG_TYPE = (
    heldout_app.LAUNCH_PLANS[("scoring_default", "v1")]
    .replace('version: "v1" } spec', 'version: "v-fixedtype" } spec')
    .replace(
        "fixed_inputs { }",
        'fixed_inputs { literals { key: "x" value { scalar { primitive { string_value: "not a float" } } } } '
        "}",
    )
)


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        case(
            20,
            "CreateLaunchPlan fixed input wrong type",
            FIXED_WRONG_TYPE,
            "invalid fixed_input wrong type x, expected simple:FLOAT, got simple:STRING instead",
        ),
        pytest.param(
            FIXED_WRONG_TYPE.replace('string_value: "not a float"', "integer: 3"),
            "invalid fixed_input wrong type x, expected simple:FLOAT, got simple:INTEGER instead",
            id="integer for a float",
        ),
    ],
)
def test_types_print_as_compact_go_proto_text(heldout: Real, request_text: str, message: str) -> None:
    refused = heldout.refused(
        "CreateLaunchPlan", heldout.parse(launch_plan_pb2.LaunchPlanCreateRequest, request_text)
    )
    assert (refused.code, refused.message) == (INVALID, message)


BIG_CPU = (
    'id { resource_type: TASK project: "<P>" domain: "development" name: "t.bigcpu" version: "v1" } '
    'spec { template { id { resource_type: TASK project: "<P>" domain: "development" name: "t.bigcpu" '
    'version: "v1" } type: "python-task" metadata { runtime { type: FLYTE_SDK version: "1.16.31" } } '
    'interface { inputs { variables { key: "a" value { type { simple: INTEGER } } } } outputs { variables '
    '{ key: "o0" value { type { simple: INTEGER } } } } } container { image: "python:3.11" args: '
    '"pyflyte-execute" args: "--inputs" args: "{{.input}}" resources { RESOURCES } } } }'
)
PLATFORM = (
    "is greater than current limit set in the platform configuration [{}]. Please contact Flyte Admins to "
    "change these limits or consult the configuration"
)


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        case(
            22,
            "CreateTask cpu request over limit",
            'requests { name: CPU value: "64" }',
            "Requested CPU default [64] " + PLATFORM.format("2"),
        ),
        pytest.param(
            'requests { name: MEMORY value: "2048Mi" }',
            "Requested MEMORY default [2Gi] " + PLATFORM.format("1Gi"),
            id="memory, canonical quantity",
        ),
        pytest.param(
            'requests { name: GPU value: "2" } limits { name: GPU value: "2" }',
            "Requested GPU default [2] " + PLATFORM.format("1"),
            id="gpu",
        ),
        pytest.param(
            'requests { name: CPU value: "1" } limits { name: CPU value: "4" }',
            "Requested CPU limit [4] " + PLATFORM.format("2"),
            id="cpu limit",
        ),
        pytest.param(
            'requests { name: CPU value: "1500m" } limits { name: CPU value: "1" }',
            "Requested CPU default [1500m] is greater than the limit [1]. Please fix your configuration",
            id="default over limit",
        ),
    ],
)
def test_resource_checks_name_the_resource_as_go_prints_the_enum(
    real: Real, resources: str, message: str
) -> None:
    request = real.parse(task_pb2.TaskCreateRequest, BIG_CPU.replace("RESOURCES", resources))
    refused = real.refused("CreateTask", request)
    assert (refused.code, refused.message) == (INVALID, message)


@pytest.mark.parametrize(
    "request_text",
    [
        case(
            28,
            "GetTask empty name",
            'id { resource_type: TASK project: "<P>" domain: "development" version: "v1" }',
        )
    ],
)
def test_get_task_without_a_name_answers_the_first_registered_version(
    heldout: Real, request_text: str
) -> None:
    """GetTask only logs its identifier validation; the query without a name (gorm's `Take`, no ORDER BY)
    answers the first matching row in table order: the first task registered, not the first by name."""
    got = heldout.call("GetTask", heldout.parse(common_pb2.ObjectGetRequest, request_text))
    assert body(heldout, got) == expected_body(28)


# --- compiled workflows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        case(23, "GetWorkflow heldout_app.pipelines.scoring", "scoring"),
        case(24, "GetWorkflow heldout_app.pipelines.batch", "batch"),
        case(25, "GetWorkflow heldout_app.pipelines.nightly", "nightly"),
    ],
)
def test_get_workflow_answers_the_compiled_closure(heldout: Real, name: str) -> None:
    """start-node and end-node first, promises of workflow inputs from start-node, branch children renamed
    `<branch>-<child>`, the array node's inner node untouched, subworkflows compiled alike, tasks sorted."""
    n = {"scoring": 23, "batch": 24, "nightly": 25}[name]
    assert body(heldout, get_workflow(heldout, TASK_PREFIX + name)) == expected_body(n)


def test_nested_branches_compound_their_ids_and_children_get_upstream_edges(heldout: Real) -> None:
    """The rule on another shape: a branch inside a branch, and a branch child reading a node's output."""
    request = heldout.parse(workflow_pb2.WorkflowCreateRequest, heldout_app.WORKFLOWS["scoring"])
    request.id.version = request.spec.template.id.version = "nested"
    branch = request.spec.template.nodes[2].branch_node.if_else
    inner = core_workflow_pb2.Node()
    inner.CopyFrom(request.spec.template.nodes[2])
    inner.id = "n5"
    inner.ClearField("upstream_node_ids")
    branch.case.then_node.CopyFrom(inner)
    heldout.call("CreateWorkflow", request)
    template = get_workflow(heldout, TASK_PREFIX + "scoring", "nested").closure.compiled_workflow.primary
    outer = template.template.nodes[4].branch_node.if_else
    assert outer.case.then_node.id == "n2-n5"
    assert outer.case.then_node.branch_node.if_else.case.then_node.id == "n2-n5-n0"
    assert outer.case.then_node.branch_node.if_else.else_node.id == "n2-n5-n1"
    assert list(template.connections.upstream["n2-n5"].ids) == ["n1"]


# --- ListWorkflows ----------------------------------------------------------------------------------------

_ALL = 'id { project: "<P>" domain: "development" } limit: 100'
_BY_NAME = ' sort_by { key: "name" direction: ASCENDING }'
_SCORING = "heldout_app.pipelines.scoring"


@pytest.mark.parametrize(
    ("n", "request_text"),
    [
        case(
            44,
            "ListWorkflows one name",
            44,
            f'id {{ project: "<P>" domain: "development" name: "{_SCORING}" }} limit: 100',
        ),
        case(45, "ListWorkflows all, sort name asc", 45, _ALL + _BY_NAME),
        case(
            46,
            "ListWorkflows limit 1 desc name",
            46,
            'id { project: "<P>" domain: "development" } limit: 1 sort_by { key: "name" }',
        ),
        case(47, "ListWorkflows limit 2 asc name page 0", 47, _ALL.replace("100", "2") + _BY_NAME),
        case(
            48,
            "ListWorkflows limit 2 asc name page 1",
            48,
            _ALL.replace("100", "2") + ' token: "2"' + _BY_NAME,
        ),
        case(
            49, "ListWorkflows filter eq(name,...)", 49, _ALL + f' filters: "eq(name,{_SCORING})"' + _BY_NAME
        ),
        case(
            50,
            "ListWorkflows filter contains(name,nightly)",
            50,
            _ALL + ' filters: "contains(name,nightly)"' + _BY_NAME,
        ),
        case(
            51,
            "ListWorkflows filter value_in(name,...)",
            51,
            _ALL + f' filters: "value_in(name,{_SCORING};x)"' + _BY_NAME,
        ),
        case(52, "ListWorkflows filter eq(version,v1)", 52, _ALL + ' filters: "eq(version,v1)"' + _BY_NAME),
        case(
            53,
            "ListWorkflows filter gte(created_at,...)",
            53,
            _ALL + ' filters: "gte(created_at,2000-01-01T00:00:00Z)"' + _BY_NAME,
        ),
        case(
            54,
            "ListWorkflows filter eq(workflow.name,...)",
            54,
            _ALL + f' filters: "eq(workflow.name,{_SCORING})"' + _BY_NAME,
        ),
    ],
)
def test_list_workflows_items_carry_only_the_interface(heldout: Real, n: int, request_text: str) -> None:
    """ListWorkflows rebuilds items from the rows (id, created_at, the interface); GetWorkflow keeps all."""
    got = heldout.call("ListWorkflows", heldout.parse(common_pb2.ResourceListRequest, request_text))
    assert body(heldout, got) == expected_body(n)


# --- launch plan order after updates, single-task executions ---------------------------------------------


@pytest.fixture
def updated(heldout: Real) -> Real:
    """Versions v1 and v2 of everything, then activations and deactivations that leave the real answer's
    states: each UPDATE writes the row after all others (`SetActive` disables the formerly active version
    before enabling the new one), so same-name versions list in the order they were last written."""
    real = heldout
    for name in heldout_app.TASKS:
        register_task(real, name.removeprefix(TASK_PREFIX), "v2")
    register_workflow(real, "scoring", "v2")
    register_launch_plan(real, "scoring_default", "v2")
    register_workflow(real, "batch", "v2")
    register_workflow(real, "nightly", "v2")
    for name, version in heldout_app.LAUNCH_PLANS:
        if name != "scoring_default":
            register_launch_plan(real, name, version)
    active, inactive = launch_plan_pb2.ACTIVE, launch_plan_pb2.INACTIVE
    set_state(real, "rate_lp", "v1", active)
    for version, state in (("v2", active), ("v1", active), ("v1", inactive)):
        set_state(real, "nightly_schedule", version, state)
    for version, state in (("v1", active), ("v2", active), ("v1", inactive)):
        set_state(real, "scoring_default", version, state)
    return real


@pytest.mark.parametrize(
    "request_text",
    [case(82, "ListLaunchPlans active after updates", _ALL + ' filters: "eq(state,1)"' + _BY_NAME)],
)
def test_launch_plans_tied_on_the_sort_key_list_in_write_order(updated: Real, request_text: str) -> None:
    got = updated.call("ListLaunchPlans", updated.parse(common_pb2.ResourceListRequest, request_text))
    assert body(updated, got) == expected_body(82)


def run_square(real: Real) -> None:
    square = (
        f'resource_type: TASK project: "<P>" domain: "development" name: "{TASK_PREFIX}square" version: "v1"'
    )
    request = real.parse(
        execution_pb2.ExecutionCreateRequest,
        f'project: "<P>" domain: "development" name: "sq1" spec {{ launch_plan {{ {square} }} }} '
        'inputs { literals { key: "x" value { scalar { primitive { integer: 3 } } } } }',
    )
    real.call("CreateExecution", request)


@pytest.mark.parametrize(
    "request_text",
    [
        case(
            86,
            "GetWorkflow flytegen workflow",
            f'id {{ resource_type: WORKFLOW project: "<P>" domain: "development" '
            f'name: ".flytegen.{TASK_PREFIX}square" version: "v1" }}',
        )
    ],
)
def test_single_task_workflow_names_its_node_after_the_task(heldout: Real, request_text: str) -> None:
    """The node id is the task name without its non-alphanumerics (`heldoutapppipelinessquare`)."""
    run_square(heldout)
    got = heldout.call("GetWorkflow", heldout.parse(common_pb2.ObjectGetRequest, request_text))
    assert body(heldout, got) == expected_body(86)


@pytest.mark.parametrize(
    "request_text", [case(87, "ListLaunchPlans after single task exec", _ALL + _BY_NAME)]
)
def test_single_task_launch_plan_names_the_bare_task_as_its_workflow(
    updated: Real, request_text: str
) -> None:
    run_square(updated)
    got = updated.call("ListLaunchPlans", updated.parse(common_pb2.ResourceListRequest, request_text))
    assert body(updated, got) == expected_body(87)


@pytest.mark.parametrize(
    ("task_name", "node_id"),
    [
        ("my-tasks.do_it", "my-tasksdoit"),  # `-` stays
        ("a." * 40 + "end", "a" * 30 + "end"),  # only the last 63 bytes
    ],
)
def test_single_task_node_ids_keep_letters_digits_and_dashes_of_the_last_63_bytes(
    task_name: str, node_id: str
) -> None:
    assert node_id_of_task(task_name) == node_id
