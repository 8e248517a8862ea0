"""What CreateExecution stores beyond the request (flyteadmin v1.16.8 `getExecutionConfig` and
`checkLaunchPlanConcurrency`): max parallelism and security context merged from request, launch plan,
WORKFLOW_EXECUTION_CONFIG attributes and platform defaults; the launch plan's concurrency policy (SKIP)."""

from __future__ import annotations

from typing import Any

import grpc
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    workflow_attributes_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, security_pb2
from flyteidl.event import event_pb2 as engine_event_pb2

from tests.emulator.exec.helpers import (
    DOMAIN,
    LP,
    PROJECT,
    RT,
    TASK,
    WORKFLOW,
    Clock,
    create_request,
    exec_id,
    ident,
    launch_plan_request,
    refusal,
    stamp,
)

Phase = core_execution_pb2.WorkflowExecution.Phase
Behavior = launch_plan_pb2.ConcurrencyLimitBehavior


def stored_spec(admin: Any, request: execution_pb2.ExecutionCreateRequest) -> execution_pb2.ExecutionSpec:
    created = admin.CreateExecution(request)
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id)).spec


def config(**fields: Any) -> matchable_resource_pb2.MatchingAttributes:
    return matchable_resource_pb2.MatchingAttributes(
        workflow_execution_config=matchable_resource_pb2.WorkflowExecutionConfig(**fields)
    )


def set_workflow_config(admin: Any, **fields: Any) -> None:
    attributes = workflow_attributes_pb2.WorkflowAttributes(
        project=PROJECT, domain=DOMAIN, workflow=WORKFLOW.name, matching_attributes=config(**fields)
    )
    admin.UpdateWorkflowAttributes(
        workflow_attributes_pb2.WorkflowAttributesUpdateRequest(attributes=attributes)
    )


def set_project_domain_config(admin: Any, **fields: Any) -> None:
    attributes = project_domain_attributes_pb2.ProjectDomainAttributes(
        project=PROJECT, domain=DOMAIN, matching_attributes=config(**fields)
    )
    admin.UpdateProjectDomainAttributes(
        project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(attributes=attributes)
    )


def set_project_config(admin: Any, **fields: Any) -> None:
    attributes = project_attributes_pb2.ProjectAttributes(
        project=PROJECT, matching_attributes=config(**fields)
    )
    admin.UpdateProjectAttributes(
        project_attributes_pb2.ProjectAttributesUpdateRequest(attributes=attributes)
    )


def identity(service_account: str) -> security_pb2.SecurityContext:
    return security_pb2.SecurityContext(run_as=security_pb2.Identity(k8s_service_account=service_account))


def register_launch_plan(admin: Any, name: str, **spec_fields: Any) -> Any:
    request = launch_plan_request(ident(RT.LAUNCH_PLAN, name))
    for field, value in spec_fields.items():
        target = getattr(request.spec, field)
        if hasattr(target, "CopyFrom"):
            target.CopyFrom(value)
        else:
            setattr(request.spec, field, value)
    admin.CreateLaunchPlan(request)
    return request.id


def test_defaults_are_25_and_an_empty_identity(admin: Any) -> None:
    spec = stored_spec(admin, create_request("plain"))
    assert spec.max_parallelism == 25
    assert spec.HasField("security_context") and spec.security_context.HasField("run_as")
    assert spec.security_context.run_as == security_pb2.Identity()


def test_max_parallelism_request_then_launch_plan_then_attributes(admin: Any) -> None:
    limited = register_launch_plan(admin, "lp.limited", max_parallelism=7)
    set_project_config(admin, max_parallelism=3)
    assert stored_spec(admin, create_request("from-project")).max_parallelism == 3
    set_project_domain_config(admin, max_parallelism=4)
    assert stored_spec(admin, create_request("from-project-domain")).max_parallelism == 4
    set_workflow_config(admin, max_parallelism=5)
    assert stored_spec(admin, create_request("from-workflow")).max_parallelism == 5
    assert stored_spec(admin, create_request("from-lp", launch_plan=limited)).max_parallelism == 7
    request = create_request("from-request", launch_plan=limited)
    request.spec.max_parallelism = 2
    assert stored_spec(admin, request).max_parallelism == 2


def test_project_level_fills_what_the_more_specific_record_leaves_unset(admin: Any) -> None:
    set_project_config(admin, max_parallelism=9, security_context=identity("project-sa"))
    set_project_domain_config(admin, security_context=identity("domain-sa"))
    spec = stored_spec(admin, create_request("layered"))
    assert (spec.max_parallelism, spec.security_context.run_as.k8s_service_account) == (9, "domain-sa")


def test_security_context_sources_and_the_deprecated_auth_role(admin: Any) -> None:
    with_auth = register_launch_plan(
        admin, "lp.auth", auth=launch_plan_pb2.Auth(kubernetes_service_account="lp-auth-sa")
    )
    assert stored_spec(admin, create_request("auth", launch_plan=with_auth)).security_context == identity(
        "lp-auth-sa"
    )
    empty_run_as = create_request("console-style", launch_plan=with_auth)
    empty_run_as.spec.security_context.run_as.SetInParent()  # set but empty: does not count
    assert stored_spec(admin, empty_run_as).security_context == identity("lp-auth-sa")
    set_workflow_config(admin, security_context=identity("workflow-sa"))
    assert stored_spec(admin, create_request("attr", launch_plan=with_auth)).security_context == identity(
        "workflow-sa"
    )
    explicit = create_request("explicit", launch_plan=with_auth)
    explicit.spec.security_context.CopyFrom(identity("request-sa"))
    assert stored_spec(admin, explicit).security_context == identity("request-sa")


def test_launch_plan_settings_other_than_these_are_not_copied_into_the_spec(admin: Any) -> None:
    labelled = register_launch_plan(admin, "lp.labelled", labels=common_pb2.Labels(values={"team": "ml"}))
    spec = stored_spec(admin, create_request("unlabelled", launch_plan=labelled))
    assert not spec.HasField("labels")


def test_single_task_executions_keep_the_request_max_parallelism(admin: Any) -> None:
    set_project_domain_config(admin, max_parallelism=4, security_context=identity("domain-sa"))
    spec = stored_spec(admin, create_request("solo", launch_plan=TASK, x=1))
    assert (spec.max_parallelism, spec.security_context) == (0, identity("domain-sa"))


def _advance(admin: Any, name: str, phase: int, clock: Clock) -> None:
    event = engine_event_pb2.WorkflowExecutionEvent(
        execution_id=exec_id(name), phase=phase, occurred_at=stamp(clock)
    )
    admin.CreateWorkflowEvent(event_pb2.WorkflowExecutionEventRequest(event=event))


def test_concurrency_policy_skip_counts_queued_and_running_of_every_version(admin: Any, clock: Clock) -> None:
    policy = launch_plan_pb2.ConcurrencyPolicy(max=1, behavior=Behavior.CONCURRENCY_LIMIT_BEHAVIOR_SKIP)
    first = register_launch_plan(admin, "lp.single", concurrency_policy=policy)
    second_version = launch_plan_request(ident(RT.LAUNCH_PLAN, "lp.single", version="v2"))
    second_version.spec.concurrency_policy.CopyFrom(policy)
    admin.CreateLaunchPlan(second_version)

    admin.CreateExecution(create_request("one", launch_plan=first))
    admin.CreateExecution(create_request("two", launch_plan=first))  # UNDEFINED executions do not count
    _advance(admin, "one", Phase.QUEUED, clock)
    skipped = refusal(admin.CreateExecution, create_request("three", launch_plan=second_version.id))
    assert (skipped.code, skipped.message) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "concurrency limit (1) reached for launch plan lp.single; skipping execution",
    )
    assert skipped.details == []
    admin.CreateExecution(create_request("other-plan", launch_plan=LP))  # other launch plans are not limited
    _advance(admin, "one", Phase.RUNNING, clock)
    assert refusal(admin.CreateExecution, create_request("four", launch_plan=first)).code == (
        grpc.StatusCode.ALREADY_EXISTS
    )
    _advance(admin, "one", Phase.SUCCEEDED, clock)
    admin.CreateExecution(create_request("five", launch_plan=first))


def test_concurrency_policy_without_behaviour_lets_executions_through(admin: Any, clock: Clock) -> None:
    unspecified = register_launch_plan(
        admin, "lp.counted", concurrency_policy=launch_plan_pb2.ConcurrencyPolicy(max=1)
    )
    admin.CreateExecution(create_request("busy", launch_plan=unspecified))
    _advance(admin, "busy", Phase.RUNNING, clock)
    admin.CreateExecution(create_request("still-allowed", launch_plan=unspecified))


def test_relaunch_copies_the_stored_spec_with_its_resolved_settings(admin: Any) -> None:
    request = create_request("narrow")
    request.spec.max_parallelism = 2
    admin.CreateExecution(request)
    set_project_domain_config(admin, max_parallelism=8)
    admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("narrow"), name="narrow-2"))
    again = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("narrow-2"))).spec
    assert (again.max_parallelism, again.metadata.reference_execution) == (2, exec_id("narrow"))


def test_a_child_execution_inherits_from_the_node_that_launched_it(admin: Any, clock: Clock) -> None:
    parent = identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id("parent"), node_id="n0")
    child = create_request("child")
    child.spec.metadata.parent_node_execution.CopyFrom(parent)
    absent = refusal(admin.CreateExecution, child)
    assert absent.code == grpc.StatusCode.NOT_FOUND
    assert absent.message.startswith("missing entity of type node execution with identifier")
    admin.CreateExecution(create_request("parent"))
    node_event = engine_event_pb2.NodeExecutionEvent(
        id=parent, phase=core_execution_pb2.NodeExecution.RUNNING, occurred_at=stamp(clock)
    )
    admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=node_event))
    spec = stored_spec(admin, child)
    assert (spec.metadata.nesting, spec.metadata.parent_node_execution) == (1, parent)
