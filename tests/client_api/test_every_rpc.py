"""Every RPC of the five services, called through the raw client and through the friendly client, against a
live gRPC server whose handlers come from flyteidl's descriptors: nothing missing, nothing UNIMPLEMENTED,
and each friendly method sends the request it should."""

# The table below keeps one RPC per line so it reads as a table.
# ruff: noqa: E501

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    project_pb2,
    version_pb2,
)
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from flyteidl.event import event_pb2
from flyteidl.service import dataproxy_pb2

from flyteadmin_ops.client import (
    Filters,
    RawSynchronousFlyteClient,
    SynchronousFlyteClient,
    execution_id,
    launch_plan_id,
    named_entity_id,
    node_execution_id,
    signal_id,
    sort_by,
    task_execution_id,
    task_id,
    workflow_id,
)
from flyteadmin_ops.client.rpcs import BY_RPC_NAME
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import METHODS, RecordingServer

TASK = task_id("p", "d", "t", "v1")
WORKFLOW = workflow_id("p", "d", "wf", "v1")
LAUNCH_PLAN = launch_plan_id("p", "d", "lp", "v1")
NAMED = named_entity_id("p", "d", "t")
EXECUTION = execution_id("p", "d", "e1")
NODE = node_execution_id(EXECUTION, "n0")
TASK_EXECUTION = task_execution_id(TASK, NODE, retry_attempt=1)
SIGNAL = signal_id(EXECUTION, "approve")
ATTRS = matchable_resource_pb2.MatchingAttributes(
    execution_queue_attributes=matchable_resource_pb2.ExecutionQueueAttributes(tags=["gpu"])
)
QUEUE = matchable_resource_pb2.EXECUTION_QUEUE
PHASE_FAILED = Filters.eq("phase", "FAILED")
ASC = sort_by("created_at")

Friendly = Callable[[SynchronousFlyteClient], Any]
Check = Callable[[Any], bool]

# RPC name -> (how the friendly client calls it, what the request must then hold)
# fmt: off
FRIENDLY: dict[str, tuple[Friendly, Check]] = {
    "CreateTask": (lambda c: c.create_task(TASK, _task_spec()), lambda r: r.id == TASK and r.spec.template.type == "python-task"),
    "GetTask": (lambda c: c.get_task(TASK), lambda r: r.id == TASK),
    "ListTaskIds": (lambda c: c.list_task_ids_paginated("p", "d", limit=7, token="14"), lambda r: (r.project, r.limit, r.token) == ("p", 7, "14")),
    "ListTasks": (lambda c: c.list_tasks_paginated(NAMED, filters="eq(version,v1)", sort_by=ASC), lambda r: r.id == NAMED and r.filters == "eq(version,v1)" and r.sort_by == ASC and r.limit == 100),
    "CreateWorkflow": (lambda c: c.create_workflow(WORKFLOW, _workflow_spec()), lambda r: r.id == WORKFLOW and r.spec.template.id == WORKFLOW),
    "GetWorkflow": (lambda c: c.get_workflow(WORKFLOW), lambda r: r.id == WORKFLOW),
    "ListWorkflowIds": (lambda c: c.list_workflow_ids_paginated("p", "d"), lambda r: (r.project, r.domain) == ("p", "d")),
    "ListWorkflows": (lambda c: c.list_workflows_paginated(named_entity_id("p", "d", "wf")), lambda r: r.id.name == "wf"),
    "CreateLaunchPlan": (lambda c: c.create_launch_plan(LAUNCH_PLAN, launch_plan_pb2.LaunchPlanSpec(workflow_id=WORKFLOW)), lambda r: r.spec.workflow_id == WORKFLOW),
    "GetLaunchPlan": (lambda c: c.get_launch_plan(LAUNCH_PLAN), lambda r: r.id == LAUNCH_PLAN),
    "GetActiveLaunchPlan": (lambda c: c.get_active_launch_plan(named_entity_id("p", "d", "lp")), lambda r: r.id.name == "lp"),
    "ListActiveLaunchPlans": (lambda c: c.list_active_launch_plans_paginated("p", "d", limit=3), lambda r: r.limit == 3),
    "ListLaunchPlanIds": (lambda c: c.list_launch_plan_ids_paginated("p", "d"), lambda r: r.domain == "d"),
    "ListLaunchPlans": (lambda c: c.list_launch_plans_paginated(named_entity_id("p", "d", "lp"), filters=[Filters.eq("state", 1)]), lambda r: r.filters == "eq(state,1)"),
    "UpdateLaunchPlan": (lambda c: c.update_launch_plan(LAUNCH_PLAN, launch_plan_pb2.ACTIVE), lambda r: r.id == LAUNCH_PLAN and r.state == launch_plan_pb2.ACTIVE),
    "CreateExecution": (lambda c: c.create_execution("p", "d", None, execution_pb2.ExecutionSpec(launch_plan=LAUNCH_PLAN), _inputs()), lambda r: r.name.startswith("f") and len(r.name) == 20 and r.spec.launch_plan == LAUNCH_PLAN and "x" in r.inputs.literals),
    "RelaunchExecution": (lambda c: c.relaunch_execution(EXECUTION, "again", overwrite_cache=True), lambda r: r.id == EXECUTION and r.name == "again" and r.overwrite_cache),
    "RecoverExecution": (lambda c: c.recover_execution(EXECUTION), lambda r: r.id == EXECUTION and len(r.name) == 20),
    "GetExecution": (lambda c: c.get_execution(EXECUTION), lambda r: r.id == EXECUTION),
    "UpdateExecution": (lambda c: c.update_execution(EXECUTION, execution_pb2.EXECUTION_ARCHIVED), lambda r: r.state == execution_pb2.EXECUTION_ARCHIVED),
    "GetExecutionData": (lambda c: c.get_execution_data(EXECUTION), lambda r: r.id == EXECUTION),
    "ListExecutions": (lambda c: c.list_executions_paginated("p", "d", filters=PHASE_FAILED, sort_by=ASC), lambda r: (r.id.project, r.id.domain, r.id.name) == ("p", "d", "") and r.filters == "eq(phase,FAILED)"),
    "TerminateExecution": (lambda c: c.terminate_execution(EXECUTION, "stop"), lambda r: r.cause == "stop"),
    "GetNodeExecution": (lambda c: c.get_node_execution(NODE), lambda r: r.id == NODE),
    "GetDynamicNodeWorkflow": (lambda c: c.get_dynamic_node_workflow(NODE), lambda r: r.id == NODE),
    "ListNodeExecutions": (lambda c: c.list_node_executions(EXECUTION, unique_parent_id="n0"), lambda r: r.workflow_execution_id == EXECUTION and r.unique_parent_id == "n0"),
    "ListNodeExecutionsForTask": (lambda c: c.list_node_executions_for_task_paginated(TASK_EXECUTION), lambda r: r.task_execution_id == TASK_EXECUTION),
    "GetNodeExecutionData": (lambda c: c.get_node_execution_data(NODE), lambda r: r.id == NODE),
    "RegisterProject": (lambda c: c.register_project(project_pb2.Project(id="p", name="P")), lambda r: r.project.id == "p"),
    "UpdateProject": (lambda c: c.update_project(project_pb2.Project(id="p", description="x")), lambda r: r.description == "x"),
    "GetProject": (lambda c: c.get_project("p"), lambda r: r.id == "p"),
    "ListProjects": (lambda c: c.list_projects_paginated(limit=10), lambda r: r.limit == 10),
    "GetDomains": (lambda c: c.get_domains(), lambda r: True),
    "CreateWorkflowEvent": (lambda c: c.create_workflow_event(event_pb2.WorkflowExecutionEvent(execution_id=EXECUTION), request_id="r1"), lambda r: r.request_id == "r1" and r.event.execution_id == EXECUTION),
    "CreateNodeEvent": (lambda c: c.create_node_event(event_pb2.NodeExecutionEvent(id=NODE)), lambda r: r.event.id == NODE),
    "CreateTaskEvent": (lambda c: c.create_task_event(event_pb2.TaskExecutionEvent(task_id=TASK)), lambda r: r.event.task_id == TASK),
    "GetTaskExecution": (lambda c: c.get_task_execution(TASK_EXECUTION), lambda r: r.id == TASK_EXECUTION),
    "ListTaskExecutions": (lambda c: c.list_task_executions_paginated(NODE), lambda r: r.node_execution_id == NODE),
    "GetTaskExecutionData": (lambda c: c.get_task_execution_data(TASK_EXECUTION), lambda r: r.id.retry_attempt == 1),
    "UpdateProjectDomainAttributes": (lambda c: c.update_project_domain_attributes("p", "d", ATTRS), lambda r: r.attributes.domain == "d" and r.attributes.matching_attributes == ATTRS),
    "GetProjectDomainAttributes": (lambda c: c.get_project_domain_attributes("p", "d", QUEUE), lambda r: r.resource_type == QUEUE),
    "DeleteProjectDomainAttributes": (lambda c: c.delete_project_domain_attributes("p", "d", QUEUE), lambda r: (r.project, r.domain) == ("p", "d")),
    "UpdateProjectAttributes": (lambda c: c.update_project_attributes("p", ATTRS), lambda r: r.attributes.project == "p"),
    "GetProjectAttributes": (lambda c: c.get_project_attributes("p", QUEUE), lambda r: r.resource_type == QUEUE),
    "DeleteProjectAttributes": (lambda c: c.delete_project_attributes("p", QUEUE), lambda r: r.project == "p"),
    "UpdateWorkflowAttributes": (lambda c: c.update_workflow_attributes("p", "d", "wf", ATTRS), lambda r: r.attributes.workflow == "wf"),
    "GetWorkflowAttributes": (lambda c: c.get_workflow_attributes("p", "d", "wf", QUEUE), lambda r: r.workflow == "wf"),
    "DeleteWorkflowAttributes": (lambda c: c.delete_workflow_attributes("p", "d", "wf", QUEUE), lambda r: r.workflow == "wf"),
    "ListMatchableAttributes": (lambda c: c.list_matchable_attributes(QUEUE), lambda r: r.resource_type == QUEUE),
    "ListNamedEntities": (lambda c: c.list_named_entities_paginated(identifier_pb2.TASK, "p", "d"), lambda r: r.resource_type == identifier_pb2.TASK),
    "GetNamedEntity": (lambda c: c.get_named_entity(identifier_pb2.WORKFLOW, NAMED), lambda r: r.id == NAMED),
    "UpdateNamedEntity": (lambda c: c.update_named_entity(identifier_pb2.TASK, NAMED, common_pb2.NamedEntityMetadata(description="hi")), lambda r: r.metadata.description == "hi"),
    "GetVersion": (lambda c: c.get_control_plane_version(), lambda r: True),
    "GetDescriptionEntity": (lambda c: c.get_description_entity(TASK), lambda r: r.id == TASK),
    "ListDescriptionEntities": (lambda c: c.list_description_entities_paginated(identifier_pb2.TASK, NAMED), lambda r: r.id == NAMED),
    "GetExecutionMetrics": (lambda c: c.get_execution_metrics(EXECUTION, depth=3), lambda r: r.depth == 3),
    "CreateUploadLocation": (lambda c: c.get_upload_signed_url("p", "d", filename="pkg.tgz", expires_in=datetime.timedelta(minutes=5)), lambda r: r.filename_root.startswith("up-") and r.expires_in.seconds == 300 and r.add_content_md5_metadata),
    "CreateDownloadLocation": (lambda c: c.get_download_signed_url("s3://b/k"), lambda r: r.native_url == "s3://b/k" and not r.HasField("expires_in")),
    "CreateDownloadLink": (lambda c: c.get_download_artifact_signed_url("n0", "p", "d", "e1"), lambda r: r.node_execution_id == NODE and r.artifact_type == dataproxy_pb2.ARTIFACT_TYPE_DECK),
    "GetData": (lambda c: c.get_data("flyte://v1/p/d/e1/n0/o"), lambda r: r.flyte_url == "flyte://v1/p/d/e1/n0/o"),
    "GetOAuth2Metadata": (lambda c: c.get_oauth2_metadata(), lambda r: True),
    "GetPublicClientConfig": (lambda c: c.get_public_client_config(), lambda r: True),
    "UserInfo": (lambda c: c.user_info(), lambda r: True),
    "GetOrCreateSignal": (lambda c: c.get_or_create_signal(SIGNAL, types_pb2.LiteralType(simple=types_pb2.BOOLEAN)), lambda r: r.id == SIGNAL and r.type.simple == types_pb2.BOOLEAN),
    "ListSignals": (lambda c: c.list_signals_paginated(EXECUTION), lambda r: r.workflow_execution_id == EXECUTION),
    "SetSignal": (lambda c: c.set_signal_value(SIGNAL, _true()), lambda r: r.value.scalar.primitive.boolean),
}
# fmt: on


def _task_spec() -> Any:
    from flyteidl.admin import task_pb2
    from flyteidl.core import tasks_pb2

    return task_pb2.TaskSpec(template=tasks_pb2.TaskTemplate(id=TASK, type="python-task"))


def _workflow_spec() -> Any:
    from flyteidl.admin import workflow_pb2
    from flyteidl.core import workflow_pb2 as core_workflow_pb2

    return workflow_pb2.WorkflowSpec(template=core_workflow_pb2.WorkflowTemplate(id=WORKFLOW))


def _true() -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=True)))


def _inputs() -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"x": _true()})


def test_the_friendly_table_covers_every_rpc() -> None:
    assert set(FRIENDLY) == {method.name for method in METHODS}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_raw_client_calls_every_rpc(method: Any, server: RecordingServer, settings: AdminSettings) -> None:
    raw = RawSynchronousFlyteClient(settings)
    with raw:
        python_name = BY_RPC_NAME[method.name].python_name
        request = BY_RPC_NAME[method.name].spec.request_type()
        if "name" in request.DESCRIPTOR.fields_by_name and method.name.endswith("Execution"):
            request.name = "given-name"
        response = getattr(raw, python_name)(request)
    assert response.DESCRIPTOR.full_name == method.output_type.full_name
    assert [call.method for call in server.calls] == [method.name]
    assert server.calls[0].request.DESCRIPTOR.full_name == method.input_type.full_name


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_friendly_client_calls_every_rpc(
    method: Any, server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    call, check = FRIENDLY[method.name]
    call(client)
    assert [c.method for c in server.calls] == [method.name]
    request = server.last(method.name)
    assert check(request), f"{method.name} sent an unexpected request:\n{request}"


def test_friendly_results_are_protobufs(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    server.on(
        "GetVersion",
        lambda request, context: version_pb2.GetVersionResponse(
            control_plane_version=version_pb2.Version(Version="v1.16.8")
        ),
    )
    server.on(
        "ListExecutions",
        lambda request, context: execution_pb2.ExecutionList(
            executions=[execution_pb2.Execution(id=EXECUTION)], token="1"
        ),
    )
    assert client.get_control_plane_version() == "v1.16.8"
    items, token = client.list_executions_paginated("p", "d", limit=1)
    assert token == "1" and items == [execution_pb2.Execution(id=EXECUTION)]
    assert client.get_domains() == []


def test_raw_property_keeps_raw_signatures_on_the_same_channel(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    request = common_pb2.ObjectGetRequest(id=TASK)
    client.raw.get_task(request)
    assert server.last("GetTask") == request
    assert client.raw.transport is client.transport
    with pytest.raises(TypeError, match=r"get_task: expected flyteidl\.admin\.ObjectGetRequest"):
        client.raw.get_task(TASK)  # an Identifier is not the request


def test_bad_argument_type_names_the_argument(client: SynchronousFlyteClient) -> None:
    with pytest.raises(TypeError, match=r"task_identifer: expected flyteidl.core.Identifier.*got str"):
        client.create_task("my-task", _task_spec())


def test_per_call_timeout_and_metadata_reach_the_server(
    server: RecordingServer, settings: AdminSettings
) -> None:
    seen: list[tuple[dict[str, str], float]] = []

    def answer(request: Any, context: Any) -> version_pb2.GetVersionResponse:
        seen.append((dict(context.invocation_metadata()), context.time_remaining()))
        return version_pb2.GetVersionResponse()

    server.on("GetVersion", answer)
    with RawSynchronousFlyteClient(settings) as raw:  # settings.deadline_seconds is 5
        raw.get_version(timeout=2.0, metadata=[("x-team", "ml")])
    metadata, remaining = seen[0]
    assert metadata["x-team"] == "ml"
    assert 0 < remaining < 3
