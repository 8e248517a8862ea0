"""Matchable attributes as a real flyteadmin v1.16.8 answers them (entries 127-159 of the reference).

The rules behind the entries:
- NOT_FOUND prints the repository's `ResourceID` with `%+v` (v1.16.8's has no `Org` field);
- an update whose oneof flyteadmin does not know (quality_of_service, or none) is "Unrecognized matching
  attributes type for request <key>", the key being the scope's fields joined with '-';
- project-level updates go through `ValidateProjectForUpdate` (no InactiveProject detail, the repository's
  own NOT_FOUND text in the message), project-level gets through `ValidateProjectExists`;
- every project-level PLUGIN_OVERRIDE update is INTERNAL: the merge reads the stored record through `GetRaw`,
  which refuses an empty domain with an "invalid input" error the Postgres transformer does not know.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import (
    matchable_resource_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    project_pb2,
    workflow_attributes_pb2,
)

from tests.emulator.real.support import Real, case

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
WF = "heldout_app.pipelines.scoring"

GET_TYPES = {
    "GetProjectAttributes": project_attributes_pb2.ProjectAttributesGetRequest,
    "GetProjectDomainAttributes": project_domain_attributes_pb2.ProjectDomainAttributesGetRequest,
    "GetWorkflowAttributes": workflow_attributes_pb2.WorkflowAttributesGetRequest,
}
UPDATE_TYPES = {
    "UpdateProjectAttributes": project_attributes_pb2.ProjectAttributesUpdateRequest,
    "UpdateProjectDomainAttributes": project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest,
    "UpdateWorkflowAttributes": workflow_attributes_pb2.WorkflowAttributesUpdateRequest,
}
DELETE_TYPES = {
    "DeleteProjectAttributes": project_attributes_pb2.ProjectAttributesDeleteRequest,
    "DeleteProjectDomainAttributes": project_domain_attributes_pb2.ProjectDomainAttributesDeleteRequest,
    "DeleteWorkflowAttributes": workflow_attributes_pb2.WorkflowAttributesDeleteRequest,
}
TYPES = {**GET_TYPES, **UPDATE_TYPES, **DELETE_TYPES}

PD = 'project: "<P>" domain: "development"'
WF_KEY = f'{PD} workflow: "{WF}"'
KEYS = {"Project": 'project: "<P>"', "ProjectDomain": PD, "Workflow": WF_KEY}


def _not_found(domain: str, workflow: str, kind: str, project: str = "<P>") -> str:
    return (
        f"Resource [{{Project:{project} Domain:{domain} Workflow:{workflow} LaunchPlan: "
        f"ResourceType:{kind}}}] not found"
    )


def _get(scope: str, kind: str | None) -> tuple[str, str, str]:
    """A Get of `scope` for `kind` (left out: the default, TASK_RESOURCE) and the NOT_FOUND it answers."""
    body = KEYS[scope] + (f" resource_type: {kind}" if kind else "")
    domain = "" if scope == "Project" else "development"
    workflow = WF if scope == "Workflow" else ""
    return f"Get{scope}Attributes", body, _not_found(domain, workflow, kind or "TASK_RESOURCE")


def _call(real: Real, rpc: str, body: str) -> Any:
    return real.call(rpc, real.parse(TYPES[rpc], body))


def _refused(real: Real, rpc: str, body: str) -> tuple[grpc.StatusCode, str]:
    failure = real.refused(rpc, real.parse(TYPES[rpc], body))
    return failure.code, failure.message


def _update(scope: str, matching: str, key: str | None = None) -> tuple[str, str]:
    key = KEYS[scope] if key is None else key
    return f"Update{scope}Attributes", f"attributes {{ {key} matching_attributes {{ {matching} }} }}"


QOS = "quality_of_service { tier: HIGH }"
QOS_TYPE = "QUALITY_OF_SERVICE_SPECIFICATION"
PLUGIN = (
    'plugin_overrides { overrides { task_type: "python-task" plugin_id: "p" '
    "missing_plugin_behavior: USE_DEFAULT } }"
)


# --- NOT_FOUND before anything is stored -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(127, "TASK_RESOURCE before", *_get("ProjectDomain", None)),
        case(128, "TASK_RESOURCE before", *_get("Project", None)),
        case(129, "CLUSTER_RESOURCE before", *_get("ProjectDomain", "CLUSTER_RESOURCE")),
        case(130, "CLUSTER_RESOURCE before", *_get("Project", "CLUSTER_RESOURCE")),
        case(131, "EXECUTION_QUEUE before", *_get("ProjectDomain", "EXECUTION_QUEUE")),
        case(132, "EXECUTION_QUEUE before", *_get("Project", "EXECUTION_QUEUE")),
        case(133, "EXECUTION_CLUSTER_LABEL before", *_get("ProjectDomain", "EXECUTION_CLUSTER_LABEL")),
        case(134, "EXECUTION_CLUSTER_LABEL before", *_get("Project", "EXECUTION_CLUSTER_LABEL")),
        case(135, "QUALITY_OF_SERVICE_SPECIFICATION before", *_get("ProjectDomain", QOS_TYPE)),
        case(136, "QUALITY_OF_SERVICE_SPECIFICATION before", *_get("Project", QOS_TYPE)),
        case(146, "PLUGIN_OVERRIDE before", *_get("ProjectDomain", "PLUGIN_OVERRIDE")),
        case(147, "PLUGIN_OVERRIDE before", *_get("Project", "PLUGIN_OVERRIDE")),
        case(152, "WORKFLOW_EXECUTION_CONFIG before", *_get("ProjectDomain", "WORKFLOW_EXECUTION_CONFIG")),
        case(153, "CLUSTER_ASSIGNMENT before", *_get("ProjectDomain", "CLUSTER_ASSIGNMENT")),
        case(154, "CLUSTER_ASSIGNMENT before", *_get("Project", "CLUSTER_ASSIGNMENT")),
        # the same rule at the workflow scope, and for a type number flyteadmin does not know (Go prints it)
        pytest.param(*_get("Workflow", "CLUSTER_RESOURCE"), id="workflow scope"),
        pytest.param(*_get("Workflow", "WORKFLOW_EXECUTION_CONFIG"), id="workflow scope, exec config"),
        pytest.param(*_get("ProjectDomain", "42"), id="unknown type number"),
    ],
)
def test_not_found_prints_the_resource_id_without_org(real: Real, rpc: str, body: str, expected: str) -> None:
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


# --- updates flyteadmin does not recognise -------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "identifier"),
    [
        case(137, "QUALITY_OF_SERVICE_SPECIFICATION", "Project", "<P>"),
        case(141, "QUALITY_OF_SERVICE_SPECIFICATION", "ProjectDomain", "<P>-development"),
        case(144, "QUALITY_OF_SERVICE_SPECIFICATION", "Workflow", f"<P>-development-{WF}"),
    ],
)
def test_quality_of_service_updates_are_unrecognized(real: Real, scope: str, identifier: str) -> None:
    expected = f"Unrecognized matching attributes type for request {identifier}"
    assert _refused(real, *_update(scope, QOS)) == (INVALID, expected)


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(138, "QUALITY_OF_SERVICE_SPECIFICATION after", *_get("Project", QOS_TYPE)),
        case(
            139, "QUALITY_OF_SERVICE_SPECIFICATION falls back to project?", *_get("ProjectDomain", QOS_TYPE)
        ),
        case(140, "QUALITY_OF_SERVICE_SPECIFICATION falls back to project?", *_get("Workflow", QOS_TYPE)),
        case(142, "QUALITY_OF_SERVICE_SPECIFICATION after", *_get("ProjectDomain", QOS_TYPE)),
        case(
            143, "QUALITY_OF_SERVICE_SPECIFICATION falls back to project-domain", *_get("Workflow", QOS_TYPE)
        ),
        case(145, "QUALITY_OF_SERVICE_SPECIFICATION after", *_get("Workflow", QOS_TYPE)),
    ],
)
def test_refused_quality_of_service_updates_store_nothing(
    real: Real, rpc: str, body: str, expected: str
) -> None:
    for scope in KEYS:
        assert _refused(real, *_update(scope, QOS))[0] == INVALID
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


@pytest.mark.parametrize(
    ("scope", "identifier"),
    [("Project", "<P>"), ("ProjectDomain", "<P>-development"), ("Workflow", f"<P>-development-{WF}")],
)
def test_an_empty_oneof_is_unrecognized_too(real: Real, scope: str, identifier: str) -> None:
    expected = f"Unrecognized matching attributes type for request {identifier}"
    assert _refused(real, *_update(scope, "")) == (INVALID, expected)


def test_cluster_assignment_is_accepted_at_every_scope(real: Real) -> None:
    for scope in KEYS:
        _call(real, *_update(scope, 'cluster_assignment { cluster_pool_name: "gpu" }'))
    got = _call(real, "GetWorkflowAttributes", f"{WF_KEY} resource_type: CLUSTER_ASSIGNMENT")
    assert got.attributes.matching_attributes.cluster_assignment.cluster_pool_name == "gpu"


# --- PLUGIN_OVERRIDE ----------------------------------------------------------------------------------------

PLUGIN_FAILS = "unexpected error type for: missing and/or invalid parameters: {<P>    PLUGIN_OVERRIDE}"


@pytest.mark.parametrize(
    ("matching",),
    [
        case(148, "PLUGIN_OVERRIDE", PLUGIN),
        pytest.param("plugin_overrides { }", id="no overrides"),
    ],
)
def test_project_plugin_override_updates_are_internal(real: Real, matching: str) -> None:
    """GetRaw refuses the empty domain of a project-level key, whatever is stored (here a project-domain
    record of the type exists) and whatever the overrides; Go's `%v` of the ResourceID gives the spaces."""
    _call(real, *_update("ProjectDomain", PLUGIN))
    assert _refused(real, *_update("Project", matching)) == (grpc.StatusCode.INTERNAL, PLUGIN_FAILS)


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(149, "PLUGIN_OVERRIDE after", *_get("Project", "PLUGIN_OVERRIDE")),
        case(150, "PLUGIN_OVERRIDE falls back to project?", *_get("ProjectDomain", "PLUGIN_OVERRIDE")),
        case(151, "PLUGIN_OVERRIDE falls back to project?", *_get("Workflow", "PLUGIN_OVERRIDE")),
    ],
)
def test_refused_project_plugin_overrides_store_nothing(
    real: Real, rpc: str, body: str, expected: str
) -> None:
    assert _refused(real, *_update("Project", PLUGIN))[0] == grpc.StatusCode.INTERNAL
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


def _override(task_type: str, plugin: str) -> str:
    return f'overrides {{ task_type: "{task_type}" plugin_id: "{plugin}" }}'


def _overrides(real: Real, rpc: str, body: str) -> dict[str, list[str]]:
    got = _call(real, rpc, body).attributes.matching_attributes.plugin_overrides.overrides
    return {o.task_type: list(o.plugin_id) for o in got}


def test_plugin_overrides_merge_by_task_type(real: Real) -> None:
    first = f"plugin_overrides {{ {_override('a', 'old')} {_override('b', 'old')} }}"
    _call(real, *_update("Workflow", first))
    _call(real, *_update("Workflow", f"plugin_overrides {{ {_override('b', 'new')} }}"))
    got = _overrides(real, "GetWorkflowAttributes", f"{WF_KEY} resource_type: PLUGIN_OVERRIDE")
    assert got == {"a": ["old"], "b": ["new"]}


def test_a_project_domain_plugin_override_merges_into_an_older_workflow_record(real: Real) -> None:
    """`GetRaw` drops the empty workflow from its gorm struct query, so with no project-domain record yet the
    workflow record of that project-domain is "the existing one": it gets the merge, and no project-domain
    record is created (read from `gormimpl/resource_repo.go` and `resource_manager.go`)."""
    _call(real, *_update("Workflow", f"plugin_overrides {{ {_override('a', 'w')} }}"))
    _call(real, *_update("ProjectDomain", f"plugin_overrides {{ {_override('b', 'pd')} }}"))
    got = _overrides(real, "GetWorkflowAttributes", f"{WF_KEY} resource_type: PLUGIN_OVERRIDE")
    assert got == {"a": ["w"], "b": ["pd"]}
    rpc, body, expected = _get("ProjectDomain", "PLUGIN_OVERRIDE")
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


# --- deletes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(155, "after delete", *_get("Project", "EXECUTION_QUEUE")),
        case(156, "after all deletes", *_get("Workflow", "EXECUTION_QUEUE")),
    ],
)
def test_deleted_queues_are_not_found(real: Real, rpc: str, body: str, expected: str) -> None:
    for scope in KEYS:
        _call(real, *_update(scope, 'execution_queue_attributes { tags: "gpu" }'))
    for scope in reversed(KEYS):
        _call(real, f"Delete{scope}Attributes", f"{KEYS[scope]} resource_type: EXECUTION_QUEUE")
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


def test_a_project_delete_takes_the_narrower_records_with_it(real: Real) -> None:
    for scope in KEYS:
        _call(real, *_update(scope, 'execution_queue_attributes { tags: "gpu" }'))
    _call(real, "DeleteProjectAttributes", 'project: "<P>" resource_type: EXECUTION_QUEUE')
    rpc, body, expected = _get("Workflow", "EXECUTION_QUEUE")
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


# --- project validation -------------------------------------------------------------------------------------

QUEUE = 'execution_queue_attributes { tags: "gpu" }'
UNREGISTERED = "failed to validate that project [<P>-nope] is registered, err: [project [<P>-nope] not found]"


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(157, "unknown project", *_update("Project", QUEUE, 'project: "<P>-nope"'), UNREGISTERED),
        pytest.param(
            "DeleteProjectAttributes",
            'project: "<P>-nope" resource_type: EXECUTION_QUEUE',
            UNREGISTERED,
            id="delete",
        ),
        pytest.param(
            "GetProjectAttributes",
            'project: "<P>-nope"',
            "failed to validate that project [<P>-nope] exists, err: [project [<P>-nope] not found]",
            id="get",
        ),
        pytest.param(
            "GetProjectDomainAttributes",
            'project: "<P>-nope" domain: "development"',
            "failed to validate that project [<P>-nope] and domain [development] are registered, "
            "err: [project [<P>-nope] not found]",
            id="project-domain",
        ),
    ],
)
def test_unknown_project(real: Real, rpc: str, body: str, expected: str) -> None:
    assert _refused(real, rpc, body) == (INVALID, expected)


@pytest.fixture
def archived(real: Real) -> str:
    project = f"{real.project}-arch"
    real.register_project(project, name="archived")
    real.admin.UpdateProject(
        project_pb2.Project(id=project, name="archived", state=project_pb2.Project.ARCHIVED)
    )
    return project


@pytest.mark.parametrize(
    ("rpc", "body"), [case(158, "archived project", *_update("Project", QUEUE, 'project: "<P>-arch"'))]
)
def test_archived_project_update_has_no_details(real: Real, archived: str, rpc: str, body: str) -> None:
    """`ValidateProjectForUpdate` builds a plain error, unlike `ValidateProjectAndDomain`, which adds the
    InactiveProject detail."""
    failure = real.refused(rpc, real.parse(TYPES[rpc], body))
    assert (failure.code, failure.message, failure.details) == (
        INVALID,
        "project [<P>-arch] is not active",
        [],
    )
    delete = 'project: "<P>-arch" resource_type: EXECUTION_QUEUE'
    assert real.refused(rpc, real.parse(TYPES["DeleteProjectAttributes"], delete)).details == []
    domain_rpc, domain_body = _update("ProjectDomain", QUEUE, 'project: "<P>-arch" domain: "development"')
    failure = real.refused(domain_rpc, real.parse(TYPES[domain_rpc], domain_body))
    assert failure.details == [project_pb2.InactiveProject(id=archived)]


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(
            159,
            "archived project",
            "GetProjectAttributes",
            'project: "<P>-arch" resource_type: EXECUTION_QUEUE',
            _not_found("", "", "EXECUTION_QUEUE", project="<P>-arch"),
        ),
    ],
)
def test_archived_project_attributes_stay_readable(
    real: Real, archived: str, rpc: str, body: str, expected: str
) -> None:
    assert _refused(real, rpc, body) == (NOT_FOUND, expected)


def test_list_matchable_attributes_refuses_an_unknown_type(real: Real) -> None:
    request = matchable_resource_pb2.ListMatchableAttributesRequest(resource_type=42)
    failure = real.refused("ListMatchableAttributes", request)
    assert (failure.code, failure.message) == (INVALID, "invalid value for resource_type")


# --- an empty project id (read from source: gorm drops zero fields from struct conditions) -----------------


def test_an_empty_project_id_passes_the_project_check_and_fails_in_the_repository(real: Real) -> None:
    """`ProjectRepo.Get("")` queries with an empty struct, so it finds the first project there is and the
    project checks pass; then the resource repository refuses a key with neither project nor domain: its own
    INVALID_ARGUMENT for a write (Go's `%v` of the unsaved model), and for a read the "invalid input" error
    passed through the Postgres transformer (INTERNAL)."""
    assert _refused(real, "GetProjectAttributes", 'project: ""') == (
        grpc.StatusCode.INTERNAL,
        "unexpected error type for: missing and/or invalid parameters: {    TASK_RESOURCE}",
    )
    zero_time = "0001-01-01 00:00:00 +0000 UTC"
    assert _refused(real, *_update("Project", QUEUE, 'project: ""')) == (
        INVALID,
        f"missing and/or invalid parameters: {{0 {zero_time} {zero_time} <nil>     EXECUTION_QUEUE 5 "
        "[26 5 10 3 103 112 117]}",
    )
