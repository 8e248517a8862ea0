"""The reference's sections 1-5, 7, 9 and its closing checklist, through raw stubs and flytekit's client.

Each test runs twice (`caller` is parametrized): once through flyteidl stubs on a plain channel, once through
flytekit's RawSynchronousFlyteClient, which wraps errors in its own types (unwrapped by `Caller`).
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    project_pb2,
    version_pb2,
    workflow_attributes_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from tests.emulator.support import (
    DOMAIN,
    PROJECT,
    RT,
    Caller,
    ident,
    launch_plan_request,
    list_request,
    register_basic,
    simple,
    task_request,
    workflow_request,
)

Code = grpc.StatusCode
INVALID, NOT_FOUND, EXISTS = Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.ALREADY_EXISTS


def _archive(caller: Caller, project: str) -> None:
    caller.call(
        "RegisterProject",
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=project, name=project)),
    )
    caller.call("UpdateProject", project_pb2.Project(id=project, state=project_pb2.Project.ARCHIVED))


# --- 1. create task / workflow / launch plan ------------------------------------------------------------


def test_task_recreate_identical_is_already_exists_without_details(caller: Caller) -> None:
    caller.call("CreateTask", task_request())
    failure = caller.fails(
        "CreateTask", task_request(), EXISTS, "task with identical structure already exists"
    )
    assert failure.details == []


def test_task_recreate_different_is_invalid_argument_with_a_diff(caller: Caller) -> None:
    caller.call("CreateTask", task_request(image="img:1"))
    failure = caller.fails("CreateTask", task_request(image="img:2"), INVALID)
    assert failure.message.startswith(
        "t task with different structure already exists. (Please register a new version of the task):\n"
    )
    assert "/template/Target/Container/image:\n\t- img:1 \n\t+ img:2" in failure.message
    assert failure.details == []


def test_task_description_is_not_part_of_the_digest(caller: Caller) -> None:
    caller.call("CreateTask", task_request())
    described = task_request()
    described.spec.description.short_description = "now with words"
    caller.fails("CreateTask", described, EXISTS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda r: setattr(r.id, "resource_type", RT.WORKFLOW),
            "unexpected resource type workflow for identifier",
        ),
        (lambda r: r.id.ClearField("version"), "missing version"),
        (lambda r: setattr(r.id, "project", "nope"), "failed to validate that project [nope] and domain"),
        (lambda r: setattr(r.id, "domain", "qa"), "domain [qa] is unrecognized by system"),
        (lambda r: r.ClearField("spec"), "missing spec"),
        (lambda r: r.spec.template.ClearField("type"), "missing type"),
        (lambda r: r.spec.template.metadata.runtime.ClearField("version"), "missing runtime version"),
        (lambda r: r.spec.template.ClearField("interface"), "missing typed interface"),
        (lambda r: r.spec.template.container.ClearField("image"), "missing image"),
        (
            # only requested defaults are checked against the platform (a lone limit is not)
            lambda r: r.spec.template.container.resources.requests.add(
                name=tasks_pb2.Resources.CPU, value="3"
            ),
            "is greater than current limit set in the platform configuration [2]",
        ),
    ],
)
def test_task_validation(caller: Caller, mutate: object, message: str) -> None:
    request = task_request(inputs={"x": types_pb2.INTEGER})
    mutate(request)  # type: ignore[operator]
    caller.fails("CreateTask", request, INVALID, message)


def test_task_with_interface_needs_command_or_args(caller: Caller) -> None:
    caller.fails(
        "CreateTask",
        task_request(inputs={"x": types_pb2.INTEGER}, args=()),
        INVALID,
        "task failed compilation",
    )
    caller.call("CreateTask", task_request("no-io", args=()))  # an empty interface needs neither


def test_archived_project_is_invalid_argument_with_inactive_project_detail(caller: Caller) -> None:
    _archive(caller, "old")
    failure = caller.fails("CreateTask", task_request(project="old"), INVALID, "project [old] is not active")
    assert [d.id for d in failure.details] == ["old"]  # type: ignore[attr-defined]


def test_get_task_reads_back_the_template_and_ignores_an_empty_version(caller: Caller) -> None:
    request = task_request()
    caller.call("CreateTask", request)
    task = caller.call("GetTask", common_pb2.ObjectGetRequest(id=request.id))
    sent = tasks_pb2.TaskTemplate()
    sent.CopyFrom(request.spec.template)
    sent.id.CopyFrom(request.id)  # flyteadmin overwrites template.id with the request id
    assert task.closure.compiled_task.template == sent
    any_version = ident(RT.TASK, "t", "")
    assert caller.call("GetTask", common_pb2.ObjectGetRequest(id=any_version)).id.version == "v1"
    failure = caller.fails("GetTask", common_pb2.ObjectGetRequest(id=ident(RT.TASK, "t", "v9")), NOT_FOUND)
    assert failure.message == (
        'missing entity of type TASK with identifier project:"flytesnacks"  domain:"development"  '
        'name:"t"  version:"v9"'
    )


def test_workflow_with_missing_task_is_invalid_argument_not_not_found(caller: Caller) -> None:
    failure = caller.fails("CreateWorkflow", workflow_request(), INVALID, "failed to compile workflow for [")
    assert "missing entity of type TASK" in failure.message


def test_workflow_recreate_carries_create_workflow_failure_reason(caller: Caller) -> None:
    caller.call("CreateTask", task_request())
    caller.call("CreateWorkflow", workflow_request())
    same = caller.fails(
        "CreateWorkflow", workflow_request(), EXISTS, "workflow with identical structure already exists"
    )
    assert same.details[0].WhichOneof("reason") == "exists_identical_structure"  # type: ignore[attr-defined]
    different = caller.fails(
        "CreateWorkflow",
        workflow_request(nodes=2),
        INVALID,
        "wf workflow with different structure already exists. (Please register a new version",
    )
    reason = different.details[0]
    assert reason.WhichOneof("reason") == "exists_different_structure"  # type: ignore[attr-defined]
    assert reason.exists_different_structure.id.name == "wf"  # type: ignore[attr-defined]


def test_workflow_node_limit(caller: Caller) -> None:
    caller.call("CreateTask", task_request())
    caller.call("CreateWorkflow", workflow_request("hundred", nodes=100))
    caller.fails("CreateWorkflow", workflow_request("big", nodes=101), INVALID, "exceeds limit (101 > 100)")


def test_workflow_compiles_subworkflows_tasks_and_connections(caller: Caller) -> None:
    caller.call("CreateTask", task_request())
    sub = workflow_request("sub").spec.template
    parent = workflow_request("parent")
    parent.spec.template.nodes.add(
        id="n-sub",
        upstream_node_ids=["n0"],
        workflow_node=core_workflow_pb2.WorkflowNode(sub_workflow_ref=sub.id),
    )
    missing = workflow_pb2.WorkflowCreateRequest()
    missing.CopyFrom(parent)
    caller.fails("CreateWorkflow", missing, INVALID, "Referenced Workflow")
    parent.spec.sub_workflows.append(sub)
    caller.call("CreateWorkflow", parent)
    closure = caller.call("GetWorkflow", common_pb2.ObjectGetRequest(id=parent.id)).closure.compiled_workflow
    assert [s.template.id.name for s in closure.sub_workflows] == ["sub"]
    assert [t.template.id.name for t in closure.tasks] == ["t"]
    assert list(closure.primary.connections.upstream["n-sub"].ids) == ["n0"]
    # propeller's compiled template: start-node and end-node first, then the sent nodes in order
    assert [n.id for n in closure.primary.template.nodes] == [
        "start-node",
        "end-node",
        *(n.id for n in parent.spec.template.nodes),
    ]
    assert [n.id for n in closure.sub_workflows[0].template.nodes][:2] == ["start-node", "end-node"]


def test_workflow_referencing_a_missing_launch_plan_fails_to_compile(caller: Caller) -> None:
    caller.call("CreateTask", task_request())
    request = workflow_request("caller")
    request.spec.template.nodes.add(
        id="n-lp",
        workflow_node=core_workflow_pb2.WorkflowNode(launchplan_ref=ident(RT.LAUNCH_PLAN, "absent")),
    )
    caller.fails("CreateWorkflow", request, INVALID, "missing entity of type LAUNCH_PLAN")


def test_launch_plan_with_missing_workflow_is_not_found(caller: Caller) -> None:
    caller.fails("CreateLaunchPlan", launch_plan_request(), NOT_FOUND, "missing entity of type WORKFLOW")


def test_launch_plan_expected_inputs_state_and_recreate(caller: Caller) -> None:
    register_basic(caller, inputs={"x": types_pb2.INTEGER, "y": types_pb2.STRING})
    plan = caller.call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=ident(RT.LAUNCH_PLAN, "lp")))
    assert plan.closure.state == launch_plan_pb2.INACTIVE
    assert {k: p.required for k, p in plan.closure.expected_inputs.parameters.items()} == {
        "x": True,
        "y": True,
    }
    assert dict(plan.spec.default_inputs.parameters) == dict(plan.closure.expected_inputs.parameters)
    same = launch_plan_request("lp", workflow=ident(RT.WORKFLOW, "wf"))
    assert (
        caller.fails("CreateLaunchPlan", same, EXISTS, "launch plan with identical structure").details == []
    )
    fixed = launch_plan_request("lp", workflow=ident(RT.WORKFLOW, "wf"))
    fixed.spec.fixed_inputs.literals["y"].scalar.primitive.string_value = "s"
    different = caller.fails("CreateLaunchPlan", fixed, INVALID, "lp launch plan with different structure")
    assert different.details == []


def _unknown_default(request: launch_plan_pb2.LaunchPlanCreateRequest) -> None:
    request.spec.default_inputs.parameters["zz"].CopyFrom(
        interface_pb2.Parameter(var=interface_pb2.Variable(type=simple(types_pb2.INTEGER)), required=True)
    )


def _unknown_fixed(request: launch_plan_pb2.LaunchPlanCreateRequest) -> None:
    request.spec.fixed_inputs.literals["zz"].scalar.primitive.integer = 1


def _schedule_with_unbound_input(request: launch_plan_pb2.LaunchPlanCreateRequest) -> None:
    request.spec.entity_metadata.schedule.cron_schedule.schedule = "0 * * * *"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_unknown_default, "unexpected default_input zz"),
        (_unknown_fixed, "unexpected fixed_input zz"),
        (
            _schedule_with_unbound_input,
            "Cannot create a launch plan with a schedule if there is an unbound required input. [x] "
            "is required",
        ),
    ],
)
def test_launch_plan_interface_and_schedule_checks(caller: Caller, build: object, message: str) -> None:
    register_basic(caller, inputs={"x": types_pb2.INTEGER})
    request = launch_plan_request("lp2", workflow=ident(RT.WORKFLOW, "wf"))
    build(request)  # type: ignore[operator]
    caller.fails("CreateLaunchPlan", request, INVALID, message)


def test_launch_plan_schedules(caller: Caller) -> None:
    register_basic(caller, inputs={"kickoff": types_pb2.DATETIME})

    def scheduled(
        name: str, expression: str, kickoff: str = "kickoff"
    ) -> launch_plan_pb2.LaunchPlanCreateRequest:
        request = launch_plan_request(name, workflow=ident(RT.WORKFLOW, "wf"))
        request.spec.entity_metadata.schedule.cron_schedule.schedule = expression
        request.spec.entity_metadata.schedule.kickoff_time_input_arg = kickoff
        return request

    caller.call("CreateLaunchPlan", scheduled("hourly", "@hourly"))
    caller.call("CreateLaunchPlan", scheduled("cron", "*/5 1-3 * JAN,FEB mon-fri"))
    caller.fails(
        "CreateLaunchPlan",
        scheduled("bad", "61 * * * *"),
        INVALID,
        "Invalid cron expression: end of range (61) above maximum (59): 61",
    )
    caller.fails("CreateLaunchPlan", scheduled("six", "* * * * * *"), INVALID, "expected exactly 5 fields")
    caller.fails(
        "CreateLaunchPlan", scheduled("arg", "@daily", kickoff="nope"), INVALID, "[kickoff] is required"
    )


# --- 2. launch plan state ----------------------------------------------------------------------------------


def test_activating_a_version_deactivates_the_previous_one(caller: Caller) -> None:
    register_basic(caller, "v1")
    register_basic(caller, "v2")
    active = launch_plan_pb2.ActiveLaunchPlanRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="lp")
    )
    caller.fails(
        "GetActiveLaunchPlan",
        active,
        NOT_FOUND,
        "No active launch plan could be found: flytesnacks:development:lp",
    )
    for version in ("v1", "v2", "v2"):
        caller.call(
            "UpdateLaunchPlan",
            launch_plan_pb2.LaunchPlanUpdateRequest(
                id=ident(RT.LAUNCH_PLAN, "lp", version), state=launch_plan_pb2.ACTIVE
            ),
        )
    assert caller.call("GetActiveLaunchPlan", active).id.version == "v2"
    v1 = caller.call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=ident(RT.LAUNCH_PLAN, "lp", "v1")))
    assert v1.closure.state == launch_plan_pb2.INACTIVE
    listed = caller.call(
        "ListActiveLaunchPlans",
        launch_plan_pb2.ActiveLaunchPlanListRequest(project=PROJECT, domain=DOMAIN, limit=10),
    )
    assert [p.id.version for p in listed.launch_plans] == ["v2"]
    caller.call(
        "UpdateLaunchPlan",
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=ident(RT.LAUNCH_PLAN, "lp", "v2"), state=launch_plan_pb2.INACTIVE
        ),
    )
    caller.fails("GetActiveLaunchPlan", active, NOT_FOUND)
    caller.fails(
        "UpdateLaunchPlan",
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=ident(RT.LAUNCH_PLAN, "lp", "v9"), state=launch_plan_pb2.ACTIVE
        ),
        NOT_FOUND,
    )
    caller.fails(
        "UpdateLaunchPlan",
        launch_plan_pb2.LaunchPlanUpdateRequest(id=ident(RT.LAUNCH_PLAN, "lp", "v1"), state=7),
        INVALID,
        "Unrecognized launch plan state",
    )  # type: ignore[arg-type]


# --- 3. named entities
# ---------------------------------------------------------------------------------------


def test_named_entities(caller: Caller) -> None:
    register_basic(caller)
    name = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="wf")
    caller.fails(
        "GetNamedEntity",
        common_pb2.NamedEntityGetRequest(id=name),
        INVALID,
        "invalid value for resource_type",
    )
    absent = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="nope")
    caller.fails(
        "GetNamedEntity",
        common_pb2.NamedEntityGetRequest(resource_type=RT.WORKFLOW, id=absent),
        NOT_FOUND,
        "entry not found",
    )
    entity = caller.call(
        "GetNamedEntity", common_pb2.NamedEntityGetRequest(resource_type=RT.WORKFLOW, id=name)
    )
    assert entity.metadata == common_pb2.NamedEntityMetadata()
    caller.call(
        "UpdateNamedEntity",
        common_pb2.NamedEntityUpdateRequest(
            resource_type=RT.WORKFLOW,
            id=name,
            metadata=common_pb2.NamedEntityMetadata(description="d", state=common_pb2.NAMED_ENTITY_ARCHIVED),
        ),
    )
    entity = caller.call(
        "GetNamedEntity", common_pb2.NamedEntityGetRequest(resource_type=RT.WORKFLOW, id=name)
    )
    assert (entity.metadata.description, entity.metadata.state) == ("d", common_pb2.NAMED_ENTITY_ARCHIVED)
    # archiving does not hide versions
    assert len(caller.call("ListWorkflows", list_request()).workflows) == 1

    def names(filters: str = "") -> list[str]:
        listed = caller.call(
            "ListNamedEntities",
            common_pb2.NamedEntityListRequest(
                resource_type=RT.WORKFLOW, project=PROJECT, domain=DOMAIN, limit=10, filters=filters
            ),
        )
        return [e.id.name for e in listed.entities]

    assert names() == ["wf"]
    assert names("eq(state,0)") == []
    assert names("eq(state,1)") == ["wf"]


@pytest.mark.parametrize(
    ("resource_type", "with_metadata", "message"),
    [
        (RT.UNSPECIFIED, True, "invalid value for resource_type"),  # before the state rule
        (RT.WORKFLOW, False, "missing metadata"),
        (RT.DATASET, True, "Resource [DATASET] cannot have its state updated"),
    ],
)
def test_named_entity_update_checks_in_flyteadmin_order(
    caller: Caller, resource_type: int, with_metadata: bool, message: str
) -> None:
    request = common_pb2.NamedEntityUpdateRequest(
        resource_type=resource_type,  # type: ignore[arg-type]
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="wf"),
    )
    if with_metadata:
        request.metadata.state = common_pb2.NAMED_ENTITY_ARCHIVED
    caller.fails("UpdateNamedEntity", request, INVALID, message)


def test_generated_single_task_entities_are_hidden_unless_filtered(caller: Caller, emulator: object) -> None:
    from flyteadmin_ops.emulator.single_task import ensure_single_task_launch_plan

    caller.call(
        "CreateTask", task_request("solo", inputs={"x": types_pb2.INTEGER}, outputs={"o": types_pb2.INTEGER})
    )
    state = emulator.state  # type: ignore[attr-defined]
    with state.db.tx() as conn:
        _, plan = ensure_single_task_launch_plan(conn, state, ident(RT.TASK, "solo"))
    assert plan.id.name == ".flytegen.solo" and plan.closure.expected_inputs.parameters["x"].required
    request = common_pb2.NamedEntityListRequest(
        resource_type=RT.WORKFLOW, project=PROJECT, domain=DOMAIN, limit=10
    )
    assert caller.call("ListNamedEntities", request).entities == []
    request.filters = "eq(state,2)"
    assert [e.id.name for e in caller.call("ListNamedEntities", request).entities] == [".flytegen.solo"]


# --- 4. projects and domains
# ---------------------------------------------------------------------------------


def test_projects(caller: Caller) -> None:
    register = project_pb2.ProjectRegisterRequest
    caller.fails(
        "RegisterProject",
        register(project=project_pb2.Project(id="Bad_Id", name="x")),
        INVALID,
        "invalid project id [Bad_Id]",
    )
    caller.fails(
        "RegisterProject", register(project=project_pb2.Project(id="p1")), INVALID, "missing project_name"
    )
    caller.fails(
        "RegisterProject",
        register(
            project=project_pb2.Project(id="p1", name="n", domains=[project_pb2.Domain(id="d", name="d")])
        ),
        INVALID,
        "Domains are currently only set",
    )
    caller.call(
        "RegisterProject", register(project=project_pb2.Project(id="p1", name="one", description="first"))
    )
    caller.fails("RegisterProject", register(project=project_pb2.Project(id="p1", name="one")), EXISTS)
    caller.fails("GetProject", project_pb2.ProjectGetRequest(id="zz"), NOT_FOUND, "project [zz] not found")
    caller.call("UpdateProject", project_pb2.Project(id="p1"))  # zero values are not written
    got = caller.call("GetProject", project_pb2.ProjectGetRequest(id="p1"))
    assert (got.name, got.description) == ("one", "first")
    assert [d.id for d in got.domains] == ["development", "staging", "production"]
    _archive(caller, "p2")

    def ids(**fields: object) -> list[str]:
        return [p.id for p in caller.call("ListProjects", project_pb2.ProjectListRequest(**fields)).projects]

    assert ids() == ["flytesnacks", "p1"]  # limit 0 = all, identifier asc, archived hidden
    assert ids(filters="ne(name,x)") == ["flytesnacks", "p1", "p2"]  # any filter drops the default
    assert ids(limit=1, token="1") == ["p1"]
    domains = caller.call("GetDomains", project_pb2.GetDomainRequest())
    assert [d.id for d in domains.domains] == ["development", "staging", "production"]


# --- 5. pagination, filters, sort
# ----------------------------------------------------------------------------


def test_paging_filters_and_sort(caller: Caller) -> None:
    caller.call("CreateTask", task_request("t", "v1"))
    caller.call("CreateTask", task_request("t", "v2"))
    sort = common_pb2.Sort(key="version", direction=common_pb2.Sort.ASCENDING)
    first = caller.call("ListTasks", list_request(limit=1, sort_by=sort))
    assert (first.tasks[0].id.version, first.token) == ("v1", "1")
    second = caller.call("ListTasks", list_request(limit=1, sort_by=sort, token=first.token))
    assert (second.tasks[0].id.version, second.token) == ("v2", "2")  # full page: a token, even at the end
    last = caller.call("ListTasks", list_request(limit=1, sort_by=sort, token=second.token))
    assert (list(last.tasks), last.token) == ([], "")
    assert caller.call("ListTasks", list_request(limit=5)).token == ""
    assert len(caller.call("ListTasks", list_request(filters="eq(version,v2)+value_in(name,t;u)")).tasks) == 1
    caller.fails("ListTasks", list_request(limit=0), INVALID, "invalid value for limit")
    caller.fails("ListTasks", list_request(token="x"), INVALID, "invalid pagination token x for ListTasks")
    caller.fails("ListTasks", list_request(filters="eq(version)"), INVALID, "invalid value for filters")
    caller.fails(
        "ListTasks", list_request(filters="like(name,x)"), INVALID, "unrecognized filter function: like"
    )
    caller.fails(
        "ListTasks",
        list_request(filters="eq(workflow.name,x)"),
        INVALID,
        "'w' entity is not allowed in filters",
    )
    caller.fails("ListTasks", list_request(filters="eq(colour,x)"), INVALID, "'t.colour' is invalid filter")
    caller.fails(
        "ListTasks", list_request(sort_by=common_pb2.Sort(key="colour")), INVALID, "invalid sort key 'colour'"
    )
    ids = caller.call(
        "ListTaskIds", common_pb2.NamedEntityIdentifierListRequest(project=PROJECT, domain=DOMAIN, limit=5)
    )
    assert [e.name for e in ids.entities] == ["t"]


def test_launch_plans_may_filter_on_their_workflow(caller: Caller) -> None:
    register_basic(caller)
    found = caller.call("ListLaunchPlans", list_request(filters="eq(workflow.name,wf)"))
    assert [p.id.name for p in found.launch_plans] == ["lp"]
    assert caller.call("ListLaunchPlans", list_request(filters="eq(workflow.name,other)")).launch_plans == []


# --- 7. matchable attributes
# ---------------------------------------------------------------------------------


def _queue(*values: str) -> matchable_resource_pb2.MatchingAttributes:
    return matchable_resource_pb2.MatchingAttributes(
        execution_queue_attributes=matchable_resource_pb2.ExecutionQueueAttributes(tags=list(values))
    )


def test_attribute_fallback_and_broad_deletes(caller: Caller) -> None:
    queue = matchable_resource_pb2.EXECUTION_QUEUE
    pd = project_domain_attributes_pb2
    wa = workflow_attributes_pb2
    get_wf = wa.WorkflowAttributesGetRequest(
        project=PROJECT, domain=DOMAIN, workflow="wf", resource_type=queue
    )
    caller.fails("GetWorkflowAttributes", get_wf, NOT_FOUND, "Resource [")
    caller.call(
        "UpdateProjectAttributes",
        project_attributes_pb2.ProjectAttributesUpdateRequest(
            attributes=project_attributes_pb2.ProjectAttributes(
                project=PROJECT, matching_attributes=_queue("p")
            )
        ),
    )
    got = caller.call("GetWorkflowAttributes", get_wf).attributes
    assert (got.domain, got.workflow, list(got.matching_attributes.execution_queue_attributes.tags)) == (
        "",
        "",
        ["p"],
    )
    caller.call(
        "UpdateProjectDomainAttributes",
        pd.ProjectDomainAttributesUpdateRequest(
            attributes=pd.ProjectDomainAttributes(
                project=PROJECT, domain=DOMAIN, matching_attributes=_queue("pd")
            )
        ),
    )
    caller.call(
        "UpdateWorkflowAttributes",
        wa.WorkflowAttributesUpdateRequest(
            attributes=wa.WorkflowAttributes(
                project=PROJECT, domain=DOMAIN, workflow="wf", matching_attributes=_queue("w")
            )
        ),
    )
    assert caller.call("GetWorkflowAttributes", get_wf).attributes.workflow == "wf"
    listed = caller.call(
        "ListMatchableAttributes", matchable_resource_pb2.ListMatchableAttributesRequest(resource_type=queue)
    )
    assert [c.attributes.execution_queue_attributes.tags[0] for c in listed.configurations] == [
        "w",
        "pd",
        "p",
    ]
    # deleting the project-domain record also deletes the workflow record; deleting absent ones succeeds
    caller.call(
        "DeleteProjectDomainAttributes",
        pd.ProjectDomainAttributesDeleteRequest(project=PROJECT, domain=DOMAIN, resource_type=queue),
    )
    caller.call(
        "DeleteProjectDomainAttributes",
        pd.ProjectDomainAttributesDeleteRequest(project=PROJECT, domain=DOMAIN, resource_type=queue),
    )
    assert caller.call("GetWorkflowAttributes", get_wf).attributes.domain == ""
    caller.call(
        "DeleteProjectAttributes",
        project_attributes_pb2.ProjectAttributesDeleteRequest(project=PROJECT, resource_type=queue),
    )
    caller.fails("GetWorkflowAttributes", get_wf, NOT_FOUND)


def test_attribute_validation_and_defaults(caller: Caller) -> None:
    pd = project_domain_attributes_pb2
    qos = matchable_resource_pb2.MatchingAttributes(
        quality_of_service=core_execution_pb2.QualityOfService(tier=core_execution_pb2.QualityOfService.HIGH)
    )
    caller.fails(
        "UpdateProjectDomainAttributes",
        pd.ProjectDomainAttributesUpdateRequest(
            attributes=pd.ProjectDomainAttributes(project=PROJECT, domain=DOMAIN, matching_attributes=qos)
        ),
        INVALID,
        "Unrecognized matching attributes type",
    )
    caller.fails(
        "UpdateProjectDomainAttributes",
        pd.ProjectDomainAttributesUpdateRequest(
            attributes=pd.ProjectDomainAttributes(
                project="nope", domain=DOMAIN, matching_attributes=_queue("x")
            )
        ),
        INVALID,
        "failed to validate that project [nope]",
    )
    caller.fails(
        "GetProjectAttributes",
        project_attributes_pb2.ProjectAttributesGetRequest(
            project="nope", resource_type=matchable_resource_pb2.TASK_RESOURCE
        ),
        INVALID,
        "failed to validate that project [nope] exists",
    )
    caller.fails(
        "UpdateWorkflowAttributes",
        workflow_attributes_pb2.WorkflowAttributesUpdateRequest(
            attributes=workflow_attributes_pb2.WorkflowAttributes(
                project=PROJECT, domain=DOMAIN, matching_attributes=_queue("x")
            )
        ),
        INVALID,
        "missing name",
    )
    config = caller.call(
        "GetProjectAttributes",
        project_attributes_pb2.ProjectAttributesGetRequest(
            project=PROJECT, resource_type=matchable_resource_pb2.WORKFLOW_EXECUTION_CONFIG
        ),
    )
    assert config.attributes.matching_attributes.workflow_execution_config.max_parallelism == 25


# --- 9. version --------------------------------------------------------------------------------------------


def test_get_version_never_errors(caller: Caller) -> None:
    version = caller.call("GetVersion", version_pb2.GetVersionRequest()).control_plane_version
    assert (version.Version, version.Build) == ("unknown", "unknown") and version.BuildTime


def test_literal_binding_types_are_kept(caller: Caller) -> None:
    """A registered workflow keeps literal bindings exactly (no re-encoding on the way through the store)."""
    caller.call("CreateTask", task_request(inputs={"x": types_pb2.INTEGER}))
    request = workflow_request("lit")
    node = request.spec.template.nodes[0]
    node.inputs.add(
        var="x",
        binding=literals_pb2.BindingData(
            scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=7))
        ),
    )
    caller.call("CreateTask", task_request("t", "v2", inputs={"x": types_pb2.INTEGER}))
    node.task_node.reference_id.version = "v2"
    caller.call("CreateWorkflow", request)
    got = caller.call("GetWorkflow", common_pb2.ObjectGetRequest(id=request.id))
    assert got.closure.compiled_workflow.primary.template.nodes[2] == node  # after start-node, end-node


def test_description_entities_come_from_specs(caller: Caller) -> None:
    described = task_request()
    described.spec.description.short_description = "adds numbers"
    described.spec.description.long_description.value = "Adds two numbers."
    caller.call("CreateTask", described)
    entity = caller.call("GetDescriptionEntity", common_pb2.ObjectGetRequest(id=described.id))
    assert (entity.short_description, entity.long_description.value) == ("adds numbers", "Adds two numbers.")
    task = caller.call("GetTask", common_pb2.ObjectGetRequest(id=described.id))
    assert task.short_description == "adds numbers"
    listed = caller.call(
        "ListDescriptionEntities",
        description_entity_pb2.DescriptionEntityListRequest(
            resource_type=RT.TASK,
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="t"),
            limit=10,
        ),
    )
    assert [e.id.version for e in listed.descriptionEntities] == ["v1"]
    caller.fails("GetDescriptionEntity", common_pb2.ObjectGetRequest(id=ident(RT.TASK, "t", "v2")), NOT_FOUND)


def test_project_domain_attributes_fall_back_to_the_project(caller: Caller) -> None:
    queue = matchable_resource_pb2.EXECUTION_QUEUE
    caller.call(
        "UpdateProjectAttributes",
        project_attributes_pb2.ProjectAttributesUpdateRequest(
            attributes=project_attributes_pb2.ProjectAttributes(
                project=PROJECT, matching_attributes=_queue("p")
            )
        ),
    )
    got = caller.call(
        "GetProjectDomainAttributes",
        project_domain_attributes_pb2.ProjectDomainAttributesGetRequest(
            project=PROJECT, domain=DOMAIN, resource_type=queue
        ),
    ).attributes
    assert (got.project, got.domain) == (PROJECT, "")


def test_flytekit_friendly_client_round_trip(emulator: object) -> None:
    """flytekit's friendly client (flytekit models in and out) against the emulator's paging and states."""
    from flytekit.clients.friendly import SynchronousFlyteClient
    from flytekit.configuration import PlatformConfig
    from flytekit.exceptions.user import FlyteEntityAlreadyExistsException
    from flytekit.models.common import NamedEntityIdentifier
    from flytekit.models.core.identifier import Identifier
    from flytekit.models.task import TaskSpec

    client = SynchronousFlyteClient(PlatformConfig(endpoint=emulator.endpoint, insecure=True))  # type: ignore[attr-defined]
    for version in ("v1", "v2", "v3"):
        request = task_request("t", version)
        client.create_task(Identifier.from_flyte_idl(request.id), TaskSpec.from_flyte_idl(request.spec))
    with pytest.raises(FlyteEntityAlreadyExistsException):
        client.create_task(Identifier.from_flyte_idl(request.id), TaskSpec.from_flyte_idl(request.spec))
    assert client.get_task(Identifier.from_flyte_idl(request.id)).id.version == "v3"
    named = NamedEntityIdentifier(PROJECT, DOMAIN, "t")
    page, token = client.list_tasks_paginated(named, limit=2)
    assert (len(page), token) == (2, "2")
    page, token = client.list_tasks_paginated(named, limit=2, token=token)
    assert (len(page), token) == (1, "")
    projects, _ = client.list_projects_paginated(limit=10)
    assert [p.id for p in projects] == ["flytesnacks"]


def _overrides(*task_types: str, plugin: str) -> matchable_resource_pb2.MatchingAttributes:
    return matchable_resource_pb2.MatchingAttributes(
        plugin_overrides=matchable_resource_pb2.PluginOverrides(
            overrides=[
                matchable_resource_pb2.PluginOverride(task_type=t, plugin_id=[plugin]) for t in task_types
            ]
        )
    )


def test_plugin_overrides_merge_by_task_type_and_fail_at_project_level(caller: Caller) -> None:
    pd = project_domain_attributes_pb2
    plugin = matchable_resource_pb2.PLUGIN_OVERRIDE
    assert (
        caller.call(
            "ListMatchableAttributes",
            matchable_resource_pb2.ListMatchableAttributesRequest(resource_type=plugin),
        ).configurations
        == []
    )
    for matching in (_overrides("python", "spark", plugin="old"), _overrides("spark", plugin="new")):
        caller.call(
            "UpdateProjectDomainAttributes",
            pd.ProjectDomainAttributesUpdateRequest(
                attributes=pd.ProjectDomainAttributes(
                    project=PROJECT, domain=DOMAIN, matching_attributes=matching
                )
            ),
        )
    got = caller.call(
        "GetProjectDomainAttributes",
        pd.ProjectDomainAttributesGetRequest(project=PROJECT, domain=DOMAIN, resource_type=plugin),
    ).attributes.matching_attributes.plugin_overrides.overrides
    assert {o.task_type: list(o.plugin_id) for o in got} == {"python": ["old"], "spark": ["new"]}
    # flyteadmin reads the existing project-level overrides with an empty domain, which always fails
    caller.fails(
        "UpdateProjectAttributes",
        project_attributes_pb2.ProjectAttributesUpdateRequest(
            attributes=project_attributes_pb2.ProjectAttributes(
                project=PROJECT, matching_attributes=_overrides("python", plugin="x")
            )
        ),
        Code.INTERNAL,
    )


def test_a_task_resource_attribute_moves_the_platform_limit(caller: Caller) -> None:
    request = task_request(inputs={"x": types_pb2.INTEGER})
    request.spec.template.container.resources.requests.add(name=tasks_pb2.Resources.CPU, value="3")
    caller.fails("CreateTask", request, INVALID, "greater than current limit set in the platform")
    caller.call(
        "UpdateProjectDomainAttributes",
        project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(
            attributes=project_domain_attributes_pb2.ProjectDomainAttributes(
                project=PROJECT,
                domain=DOMAIN,
                matching_attributes=matchable_resource_pb2.MatchingAttributes(
                    task_resource_attributes=matchable_resource_pb2.TaskResourceAttributes(
                        limits=matchable_resource_pb2.TaskResourceSpec(cpu="4")
                    )
                ),
            )
        ),
    )
    caller.call("CreateTask", request)


def test_updating_the_metadata_of_an_unknown_name_is_not_found(caller: Caller) -> None:
    caller.fails(
        "UpdateNamedEntity",
        common_pb2.NamedEntityUpdateRequest(
            resource_type=RT.TASK,
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="nope"),
            metadata=common_pb2.NamedEntityMetadata(description="d"),
        ),
        NOT_FOUND,
        "entry not found",
    )
