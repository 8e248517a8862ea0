"""Conflicts that say what changed: a workflow is compared with its registered version (GetWorkflow), both
decompiled; task and launch-plan conflicts are read from flyteadmin's precise diff.

The reference cases are what a real flyteadmin v1.16.8 answered (`differences.json` entries 13-16 of the
shared reference, copied here); the end-to-end tests run against the emulator, some through a proxy that
answers with the real server's text where the emulator would not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import workflow_pb2
from flyteidl.core import compiler_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from google.protobuf import any_pb2, text_format
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.conflicts import parse_server_diff, render_changes, trimmed, workflow_changes
from flyteadmin_ops.ops.decompile import spec_from_closure
from flyteadmin_ops.ops.package import WORKFLOW, Entity, Package, load_package
from flyteadmin_ops.ops.promote import promote_launch_plan
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.results import FieldChange, Outcome, Status
from flyteadmin_ops.settings import AdminSettings
from tests.ops.admin_proxy import AdminProxy

PROJECT, DOMAIN = "flytesnacks", "development"
FLAKY = "ops_demo.workflows.flaky_wf"
MAIN = "ops_demo.workflows.main_wf"

# ---- the real server's answers (differences.json; <P> is the project) ------------------------------------

ENTRY_14_REQUEST = (
    'id { resource_type: WORKFLOW project: "<P>" domain: "development" name: "heldout_app.pipelines.scoring" '
    'version: "v1" } spec { template { id { resource_type: WORKFLOW project: "<P>" domain: "development" '
    'name: "heldout_app.pipelines.scoring" version: "v1" } metadata { on_failure: '
    'FAIL_AFTER_EXECUTABLE_NODES_COMPLETE } interface { inputs { variables { key: "x" value { type { simple: '
    'FLOAT } description: "x" } } } outputs { variables { key: "o0" value { type { simple: STRING } '
    'description: "o0" } } } } nodes { id: "n0" metadata { name: "normalize" retries { retries: 2 } } inputs '
    '{ var: "x" binding { promise { var: "x" } } } task_node { reference_id { resource_type: TASK project: '
    '"<P>" domain: "development" name: "heldout_app.pipelines.normalize" version: "v1" } overrides { } } } '
    'nodes { id: "n1" metadata { name: "is_big" retries { } } inputs { var: "x" binding { promise { node_id: '
    '"n0" var: "o0" } } } upstream_node_ids: "n0" task_node { reference_id { resource_type: TASK project: '
    '"<P>" domain: "development" name: "heldout_app.pipelines.is_big" version: "v1" } overrides { } } } '
    'nodes { id: "n2" metadata { name: "size" retries { } } inputs { var: "n1.o0" binding { promise { '
    'node_id: "n1" var: "o0" } } } upstream_node_ids: "n1" branch_node { if_else { case { condition { '
    'comparison { left_value { var: "n1.o0" } right_value { primitive { boolean: true } } } } then_node { '
    'id: "n0" metadata { name: "summarize" retries { } } inputs { var: "values" binding { collection { '
    "bindings { "
    "scalar { primitive { integer: 1 } } } bindings { scalar { primitive { integer: 2 } } } } } } task_node "
    '{ reference_id { resource_type: TASK project: "<P>" domain: "development" name: '
    '"heldout_app.pipelines.summarize" version: "v1" } overrides { } } } } else_node { id: "n1" metadata { '
    'name: "summarize" retries { } } inputs { var: "values" binding { collection { bindings { scalar { '
    'primitive { integer: 0 } } } } } } task_node { reference_id { resource_type: TASK project: "<P>" '
    'domain: "development" name: "heldout_app.pipelines.summarize" version: "v1" } overrides { } } } } } } '
    'outputs { var: "o0" binding { promise { node_id: "n2" var: "o0" } } } metadata_defaults { } } '
    "description { long_description { format: DESCRIPTION_FORMAT_RST } } }"
)

_GO_METADATA = "metadata:map[CacheSerializableValue:<nil> CacheVersionValue:<nil> CacheableValue:<nil> "
_TASK_REF = (
    "Target:map[TaskNode:map[Reference:map[ReferenceId:map[domain:development name:heldout_app.pipelines"
)
ENTRY_14_MESSAGE = (
    "heldout_app.pipelines.scoring workflow with different structure already exists. (Please register a new "
    "version of the workflow):\n"
    "/primary/connections:\n\t- <nil> \n\t+ map[downstream:map[n0:map[ids:[n1]] n1:map[ids:[n2]] "
    "n2:map[ids:[end-node]] start-node:map[ids:[n0]]] upstream:map[end-node:map[ids:[n2]] "
    "n0:map[ids:[start-node]] n1:map[ids:[n0]] n2:map[ids:[n1]]]]\n"
    "/primary/template/id:\n\t- <nil> \n\t+ map[domain:development name:heldout_app.pipelines.scoring "
    "project:<P> resource_type:2 version:v1]\n"
    "/primary/template/metadata:\n\t- <nil> \n\t+ map[on_failure:1]\n"
    "/primary/template/metadata_defaults:\n\t- <nil> \n\t+ map[]\n"
    "/primary/template/nodes:\n\t- <nil> \n\t+ [map[Target:<nil> id:start-node] map[Target:<nil> "
    "id:end-node inputs:[map[binding:map[Value:map[Promise:map[node_id:n2 var:o0]]] var:o0]]] "
    f"map[{_TASK_REF}.normalize project:<P> resource_type:1 version:v1]] overrides:map[]]] id:n0 "
    "inputs:[map[binding:map[Value:map[Promise:map[node_id:start-node var:x]]] var:x]] "
    f"{_GO_METADATA}InterruptibleValue:<nil> name:normalize retries:map[retries:2]]] "
    f"map[{_TASK_REF}.is_big project:<P> resource_type:1 version:v1]] overrides:map[]]] id:n1 "
    "inputs:[map[binding:map[Value:map[Promise:map[node_id:n0 var:o0]]] var:x]] "
    f"{_GO_METADATA}InterruptibleValue:<nil> name:is_big retries:map[]] upstream_node_ids:[n0]]]\n"
    "/primary/template/outputs:\n\t- <nil> \n\t+ [map[binding:map[Value:map[Promise:map[node_id:n2 "
    "var:o0]]] var:o0]]\n"
    "/tasks:\n\t- <nil> \n\t+ [map[template:map[Target:map[Container:map[args:[pyflyte-fast-execute "
    "--additional-distribution {{ .remote_package_path }} --dest-dir /root -- pyflyte-execute] "
    "image:ghcr.io/example/heldout:1 resources:map[]]] id:map[domain:development "
    "name:heldout_app.pipelines.is_big project:<P> resource_type:1 version:v1] type:python-task]]]"
)
"""Entry 14's message as the real server sent it, shortened inside its values only (the nodes list stops
after n1, the task list after one task's args): the shape, one `- <nil>` / `+ map[...]` per top field."""

ENTRY_13_DIFF = "/template/Target/Container/image:\n\t- ghcr.io/example/heldout:1 \n\t+ other:image"
ENTRY_15_DIFF = "/labels/values:\n\t- <nil> \n\t+ map[changed:yes]"
ENTRY_16_DIFF = (
    "/default_inputs/parameters/x/Behavior/Default/Value/Scalar/Value/Primitive/Value/FloatValue:\n"
    "\t- 42 \n\t+ 7"
)


def entry_14_request(project: str = PROJECT) -> workflow_pb2.WorkflowCreateRequest:
    return text_format.Parse(ENTRY_14_REQUEST.replace("<P>", project), workflow_pb2.WorkflowCreateRequest())


def compiled_like_flyteadmin(spec: workflow_pb2.WorkflowSpec) -> compiler_pb2.CompiledWorkflowClosure:
    """The primary template as a real flyteadmin v1.16.8 stores it (finding 4 of the reference): start-node
    and end-node first (the end node carries the output bindings), promises to workflow inputs resolved to
    `start-node`, branch nodes renamed `<branch>-<id>`."""
    template = core_workflow_pb2.WorkflowTemplate()
    template.CopyFrom(spec.template)
    nodes = [
        core_workflow_pb2.Node(id="start-node"),
        core_workflow_pb2.Node(id="end-node", inputs=template.outputs),
        *template.nodes,
    ]
    del template.nodes[:]
    template.nodes.extend(nodes)
    for node in template.nodes:
        for binding in node.inputs:
            if binding.binding.HasField("promise") and not binding.binding.promise.node_id:
                binding.binding.promise.node_id = "start-node"
        if node.HasField("branch_node"):
            if_else = node.branch_node.if_else
            for child in (if_else.case.then_node, if_else.else_node):
                child.id = f"{node.id}-{child.id}"
    return compiler_pb2.CompiledWorkflowClosure(primary=compiler_pb2.CompiledWorkflow(template=template))


# ---- comparing with the real server's stored shape ---------------------------------------------------


def test_the_stored_shape_decompiles_to_what_was_registered() -> None:
    request = entry_14_request()
    stored = compiled_like_flyteadmin(request.spec)
    assert [n.id for n in stored.primary.template.nodes] == ["start-node", "end-node", "n0", "n1", "n2"]

    decompiled = spec_from_closure(stored)

    assert decompiled.template == request.spec.template  # what promote re-registers in another domain
    again = compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=decompiled.template)
    )
    assert spec_from_closure(again).template == request.spec.template  # a client's template stays as it is
    assert workflow_changes(stored, request.spec) == []


def test_a_changed_workflow_reports_only_the_fields_that_differ() -> None:
    request = entry_14_request()
    stored = compiled_like_flyteadmin(request.spec)
    ours = workflow_pb2.WorkflowSpec()
    ours.CopyFrom(request.spec)
    ours.template.nodes[0].metadata.retries.retries = 7
    ours.template.nodes[2].branch_node.if_else.else_node.inputs[0].binding.collection.bindings[
        0
    ].scalar.primitive.integer = 5
    ours.template.metadata.ClearField("on_failure")

    changes = workflow_changes(stored, ours)

    assert [(c.path, c.old, c.new) for c in changes] == [
        ("/metadata/on_failure", "FAIL_AFTER_EXECUTABLE_NODES_COMPLETE", None),
        ("/nodes/n0/metadata/retries/retries", 2, 7),
        (
            "/nodes/n2/branch_node/if_else/else_node/inputs/values/binding/collection/bindings/0/scalar/"
            "primitive/integer",
            "0",
            "5",
        ),
    ]
    assert render_changes(changes).splitlines() == [
        "metadata.on_failure: FAIL_AFTER_EXECUTABLE_NODES_COMPLETE -> (none)",
        "node n0 (normalize): metadata.retries: 2 -> 7",
        "node n2 > n1 (summarize): inputs.values.binding.collection.bindings.0.scalar.primitive.integer: "
        "0 -> 5",
    ]


def test_an_added_node_is_one_line_not_every_field() -> None:
    request = entry_14_request()
    stored = compiled_like_flyteadmin(request.spec)
    ours = workflow_pb2.WorkflowSpec()
    ours.CopyFrom(request.spec)
    extra = ours.template.nodes.add()
    extra.CopyFrom(ours.template.nodes[1])
    extra.id = "n3"
    extra.metadata.name = "again"

    [change] = workflow_changes(stored, ours)

    assert change.text() == "node n3 (again): added"
    assert change.old is None and change.new["id"] == "n3"


def test_task_and_launch_plan_diffs_are_read_as_they_come() -> None:
    image, labels, default = (parse_server_diff(d) for d in (ENTRY_13_DIFF, ENTRY_15_DIFF, ENTRY_16_DIFF))

    assert image == [
        FieldChange(
            "/template/Target/Container/image",
            "ghcr.io/example/heldout:1",
            "other:image",
            field="template.Target.Container.image",
        )
    ]
    assert image[0].text() == "template.Target.Container.image: ghcr.io/example/heldout:1 -> other:image"
    assert labels[0].text() == "labels.values: (none) -> map[changed:yes]"
    assert (default[0].old, default[0].new) == ("42", "7")
    assert parse_server_diff("not a diff at all") == []


def test_the_real_workflow_message_trims_to_a_screenful() -> None:
    diff = ENTRY_14_MESSAGE.replace("<P>", PROJECT).partition("\n")[2]

    lines = trimmed(diff, max_entries=3).splitlines()

    assert len(lines) == 4 and lines[-1] == "... and 4 more (the whole message is in server_message)"
    assert lines[0].startswith("primary.connections: (none) -> map[downstream:")
    assert all(len(line) < 200 for line in lines)


# ---- end to end against the emulator -----------------------------------------------------------------------


def changed_workflow(
    package: Package, name: str, change: Callable[[workflow_pb2.WorkflowSpec], None]
) -> Package:
    """`package` with workflow `name` changed by `change`, everything else (the source archive too) equal."""
    entity = package.find(WORKFLOW, name)
    request = workflow_pb2.WorkflowCreateRequest()
    request.CopyFrom(entity.request)
    change(request.spec)
    replaced = Entity.from_request(request, entity.source)
    return dataclasses.replace(package, entities=tuple(replaced if e is entity else e for e in package))


def more_retries(spec: workflow_pb2.WorkflowSpec) -> None:
    spec.template.nodes[1].metadata.retries.retries = 3


@pytest.fixture
def package(pyflyte_package: Path) -> Package:
    """The sample package without its source archive: the archive's URL is per domain, so with it every task
    of a cross-domain copy would differ too; what is compared here is the workflows."""
    return dataclasses.replace(load_package(pyflyte_package), fast_archive=None)


@pytest.fixture
def client(admin_client: SynchronousFlyteClient, package: Package) -> SynchronousFlyteClient:
    """A client on an emulator where the sample package is registered at v1."""
    assert register_package(admin_client, package, PROJECT, DOMAIN, "v1").ok
    return admin_client


def conflicts(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status == Status.CONFLICT]


def test_a_workflow_conflict_names_the_node_and_both_values(
    client: SynchronousFlyteClient, package: Package
) -> None:
    result = register_package(client, changed_workflow(package, FLAKY, more_retries), PROJECT, DOMAIN, "v1")

    [conflict] = conflicts(result.outcomes)
    assert (conflict.kind, conflict.name) == ("workflow", f"{PROJECT}:{DOMAIN}:{FLAKY}:v1")
    assert conflict.detail == "node n1 (maybe_fail): metadata.retries: 0 -> 3"
    assert [c.to_json() for c in conflict.changes] == [
        {
            "path": "/nodes/n1/metadata/retries/retries",
            "old": 0,
            "new": 3,
            "text": "node n1 (maybe_fail): metadata.retries: 0 -> 3",
        }
    ]
    assert "different structure already exists" in conflict.server_message
    assert {o.status for o in result.outcomes if o.kind == "task"} == {Status.EXISTS}


def test_a_change_inside_a_branch_names_the_branch_and_the_node(
    client: SynchronousFlyteClient, package: Package
) -> None:
    def other_else(spec: workflow_pb2.WorkflowSpec) -> None:
        spec.template.nodes[2].branch_node.if_else.else_node.metadata.retries.retries = 4

    result = register_package(client, changed_workflow(package, MAIN, other_else), PROJECT, DOMAIN, "v1")

    [conflict] = conflicts(result.outcomes)
    assert conflict.detail == "node n2 > n1 (add): metadata.retries: 0 -> 4"
    assert conflict.changes[0].path == "/nodes/n2/branch_node/if_else/else_node/metadata/retries/retries"


@pytest.fixture
def real_answers(flyte_admin: Emulator, client: SynchronousFlyteClient) -> Iterator[AdminProxy]:
    """A proxy in front of the emulator whose CreateWorkflow answers a conflict for flaky_wf exactly as the
    real server words it (entry 14's text and its CreateWorkflowFailureReason detail)."""
    message = ENTRY_14_MESSAGE.replace("<P>", PROJECT)

    def create_workflow(
        request: bytes, context: grpc.ServicerContext, forward: Callable[[bytes], bytes]
    ) -> bytes:
        create = workflow_pb2.WorkflowCreateRequest.FromString(request)
        if create.id.name != FLAKY:
            return forward(request)
        reason = workflow_pb2.CreateWorkflowFailureReason()
        reason.exists_different_structure.id.CopyFrom(create.id)
        detail = any_pb2.Any()
        detail.Pack(reason)
        status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=[detail])
        context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("unreachable")

    with AdminProxy(flyte_admin.endpoint) as proxy:
        proxy.on("CreateWorkflow", create_workflow)
        yield proxy


def connect(endpoint: str) -> SynchronousFlyteClient:
    return SynchronousFlyteClient(AdminSettings.isolated(endpoint=endpoint, insecure=True))


def test_the_real_servers_message_is_kept_and_the_readable_diff_shown(
    real_answers: AdminProxy, package: Package
) -> None:
    with connect(real_answers.endpoint) as client:
        result = register_package(
            client, changed_workflow(package, FLAKY, more_retries), PROJECT, DOMAIN, "v1"
        )

    [conflict] = conflicts(result.outcomes)
    assert conflict.detail == "node n1 (maybe_fail): metadata.retries: 0 -> 3"
    assert conflict.server_message == ENTRY_14_MESSAGE.replace("<P>", PROJECT)
    assert "GetWorkflow" in real_answers.methods()


def test_without_the_registered_workflow_the_servers_diff_shows_trimmed(
    real_answers: AdminProxy, package: Package
) -> None:
    def unreadable(request: bytes, context: grpc.ServicerContext, forward: Callable[[bytes], bytes]) -> bytes:
        context.abort(grpc.StatusCode.INTERNAL, "Unable to read WorkflowClosure from location s3://x")
        raise AssertionError("unreachable")

    real_answers.on("GetWorkflow", unreadable)
    with connect(real_answers.endpoint) as client:
        result = register_package(
            client, changed_workflow(package, FLAKY, more_retries), PROJECT, DOMAIN, "v1"
        )

    [conflict] = conflicts(result.outcomes)
    first, *rest = conflict.detail.splitlines()
    assert first.startswith(
        "could not read the registered workflow (INTERNAL): primary.connections: (none) ->"
    )
    assert rest[0].startswith("primary.template.id: (none) -> map[domain:development")
    assert len(conflict.detail) < len(conflict.server_message) / 2
    assert conflict.changes == ()
    assert conflict.server_message == ENTRY_14_MESSAGE.replace("<P>", PROJECT)


def test_promote_reports_a_copy_conflict_by_field_and_activates_nothing(
    client: SynchronousFlyteClient, package: Package
) -> None:
    # The same version was registered in production from a package where flaky_wf retries its second node.
    assert register_package(
        client, changed_workflow(package, FLAKY, more_retries), PROJECT, "production", "v1"
    ).ok

    result = promote_launch_plan(client, "ops_demo.nightly", "v1", PROJECT, "production", from_domain=DOMAIN)

    [conflict] = conflicts(result.outcomes)
    assert conflict.name == f"{PROJECT}:production:{FLAKY}:v1"
    assert conflict.detail == "node n1 (maybe_fail): metadata.retries: 3 -> 0"
    assert result.outcomes[-1].status == Status.SKIPPED


def test_promote_copies_workflows_with_branches_without_a_conflict(
    client: SynchronousFlyteClient, package: Package
) -> None:
    # Registered directly in production too: the copy from development must be identical, branches included.
    assert register_package(client, package, PROJECT, "production", "v1").ok

    result = promote_launch_plan(client, MAIN, "v1", PROJECT, "production", from_domain=DOMAIN)

    assert result.ok, result.to_json()
    assert {o.status for o in result.outcomes if o.kind == "workflow"} == {Status.EXISTS}


def test_a_change_in_a_subworkflow_names_the_subworkflow(
    client: SynchronousFlyteClient, package: Package
) -> None:
    def sub_retries(spec: workflow_pb2.WorkflowSpec) -> None:
        spec.sub_workflows[0].nodes[1].metadata.retries.retries = 5

    result = register_package(client, changed_workflow(package, MAIN, sub_retries), PROJECT, DOMAIN, "v1")

    [conflict] = conflicts(result.outcomes)
    assert conflict.detail == (
        "subworkflow ops_demo.workflows.sub_wf node n1 (square): metadata.retries: 0 -> 5"
    )
    assert (
        conflict.changes[0].path
        == "/sub_workflows/ops_demo.workflows.sub_wf/nodes/n1/metadata/retries/retries"
    )
