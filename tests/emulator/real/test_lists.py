"""List RPCs, filters and sorting as a real flyteadmin v1.16.8 answers them (entries 38-43, 55-67, 123-125
and 178 of the reference).

The rules behind the entries:
- filter errors name flyteadmin's table aliases (`common.Entity`): t, w, l, e, ne, te, nen, nem, p, s, at,
  eat, et; a field must be a column of the entity's gorm model, a prefix an entity the primary one may join;
- filter values are not checked by flyteadmin but cast by Postgres, which refuses a non-integer for an
  integer column, a non-time for a timestamp (but takes `yesterday`, `Jan 5 2024`, ...), a LIKE on a
  non-text column, several `;` values in a single-value function; flyteadmin shows that as UNKNOWN
  `failed database operation with <postgres message>`, after its own checks of sort and token;
- the List*Ids queries group by (project, domain, name), so a sort on any other column is a Postgres
  GROUP BY error; their token errors name ListUniqueTaskIdentifiers / ListWorkflowIdentifiers / nothing;
- ListLaunchPlanIds validates nothing itself: a missing domain only drops that condition;
- ListTasks/ListWorkflows/ListLaunchPlans check id, project, domain, limit, then filters, sort, token.
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import common_pb2, event_pb2, node_execution_pb2, signal_pb2, task_execution_pb2

from tests.emulator.real.entities import launch, register_scoring, register_task
from tests.emulator.real.support import Real, case

INVALID = grpc.StatusCode.INVALID_ARGUMENT
UNKNOWN = grpc.StatusCode.UNKNOWN
DB = "failed database operation with "
TASK_LIST = 'id { project: "<P>" domain: "development" name: "t.filt" } limit: 100'
LIST = 'id { project: "<P>" domain: "development" } limit: 100'
IDS = 'project: "<P>" domain: "development" limit: 10'


@pytest.fixture
def listed(real: Real) -> Real:
    """The reference's entities: task t.filt, workflow ...scoring over ...normalize, launch plan
    scoring_default, execution e-overrides."""
    register_task(real, "t.filt")
    register_scoring(real)
    launch(real, "e-overrides")
    return real


def _refused(real: Real, rpc: str, message_type: type, body: str) -> tuple[grpc.StatusCode, str]:
    failure = real.refused(rpc, real.parse(message_type, body))
    return failure.code, failure.message


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(
            38,
            "bad filter eq(no_such_field,1)",
            "ListTasks",
            f'{TASK_LIST} filters: "eq(no_such_field,1)"',
            (INVALID, "'t.no_such_field' is invalid filter"),
        ),
        case(
            39,
            "bad filter eq(workflow.name,x)",
            "ListTasks",
            f'{TASK_LIST} filters: "eq(workflow.name,x)"',
            (INVALID, "'w' entity is not allowed in filters"),
        ),
        case(
            40,
            "bad filter gt(created_at,notatime)",
            "ListTasks",
            f'{TASK_LIST} filters: "gt(created_at,notatime)"',
            (UNKNOWN, DB + 'invalid input syntax for type timestamp with time zone: "notatime"'),
        ),
        case(
            41,
            "bad filter eq(launch_plan.name,x)",
            "ListTasks",
            f'{TASK_LIST} filters: "eq(launch_plan.name,x)"',
            (INVALID, "'l' entity is not allowed in filters"),
        ),
        case(
            42,
            "bad filter eq(state,abc)",
            "ListTasks",
            f'{TASK_LIST} filters: "eq(state,abc)"',
            (INVALID, "'t.state' is invalid filter"),
        ),
        case(43, "no id", "ListTasks", "limit: 100", (INVALID, "missing id")),
        case(
            55,
            "filter eq(state,0)",
            "ListWorkflows",
            f'{LIST} filters: "eq(state,0)" sort_by {{ key: "name" direction: ASCENDING }}',
            (INVALID, "'w.state' is invalid filter"),
        ),
        case(
            56,
            "filter eq(state,1)",
            "ListWorkflows",
            f'{LIST} filters: "eq(state,1)" sort_by {{ key: "name" direction: ASCENDING }}',
            (INVALID, "'w.state' is invalid filter"),
        ),
        case(
            57,
            "bad filter eq(image,x)",
            "ListWorkflows",
            f'{LIST} filters: "eq(image,x)"',
            (INVALID, "'w.image' is invalid filter"),
        ),
        case(
            58,
            "bad filter eq(task.name,x)",
            "ListWorkflows",
            f'{LIST} filters: "eq(task.name,x)"',
            (INVALID, "'t' entity is not allowed in filters"),
        ),
        case(
            59,
            "bad filter eq(phase,RUNNING)",
            "ListLaunchPlans",
            f'{LIST} filters: "eq(phase,RUNNING)"',
            (INVALID, "'l.phase' is invalid filter"),
        ),
        case(
            60,
            "bad filter eq(state,x)",
            "ListLaunchPlans",
            f'{LIST} filters: "eq(state,x)"',
            (UNKNOWN, DB + 'invalid input syntax for type integer: "x"'),
        ),
        case(
            123,
            "bad filter eq(bogus,1)",
            "ListExecutions",
            f'{LIST} filters: "eq(bogus,1)"',
            (INVALID, "'e.bogus' is invalid filter"),
        ),
        case(
            125,
            "bad filter eq(version,v1)",
            "ListExecutions",
            f'{LIST} filters: "eq(version,v1)"',
            (INVALID, "'e.version' is invalid filter"),
        ),
        # The same rules on other entities, columns and types.
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "eq(workflow.bogus,1)"',
            (INVALID, "'w.bogus' is invalid filter"),
            id="joined entity's column",
        ),
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "eq(workflow_id,wf)"',
            (UNKNOWN, DB + 'invalid input syntax for type bigint: "wf"'),
            id="uint column is bigint",
        ),
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "eq(workflow.created_at,later)"',
            (UNKNOWN, DB + 'invalid input syntax for type timestamp with time zone: "later"'),
            id="joined timestamp",
        ),
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "gte(created_at,2024-02-30)"',
            (UNKNOWN, DB + 'date/time field value out of range: "2024-02-30"'),
            id="no such day",
        ),
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "value_in(state,1;x)"',
            (UNKNOWN, DB + 'invalid input syntax for type integer: "x"'),
            id="value_in casts each",
        ),
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "eq(name,a;b)"',
            (UNKNOWN, DB + "operator does not exist: text = record"),
            id="several values in eq",
        ),
        pytest.param(
            "ListLaunchPlans",
            f'{LIST} filters: "contains(state,1)"',
            (UNKNOWN, DB + "operator does not exist: integer ~~ unknown"),
            id="LIKE on an integer",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "not_like(created_at,2024%)"',
            (UNKNOWN, DB + "operator does not exist: timestamp with time zone !~~ unknown"),
            id="NOT LIKE on a timestamp",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "eq(digest,\\\\q)"',
            (UNKNOWN, DB + "invalid input syntax for type bytea"),
            id="bytea escape",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "eq(id,1)+contains(id,1)"',
            (UNKNOWN, DB + "operator does not exist: bigint ~~ unknown"),
            id="analysis errors come before value errors",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "foo(bogus,1)"',
            (INVALID, "'t.bogus' is invalid filter"),
            id="the column is checked before the function",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "foo(name,1)"',
            (INVALID, "unrecognized filter function: foo"),
            id="unknown function",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "eq(id,x)" sort_by {{ key: "image" }}',
            (INVALID, "invalid sort key 'image'"),
            id="sort before the database",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} filters: "eq(id,x)" token: "x"',
            (INVALID, "invalid pagination token x for ListTasks"),
            id="token before the database",
        ),
        pytest.param(
            "ListTasks",
            f'{TASK_LIST} sort_by {{ key: "name" direction: 5 }}',
            (INVALID, 'invalid sort order specified: key:"name"  direction:5'),
            id="tasks direction",
        ),
        pytest.param(
            "ListWorkflows",
            f"{LIST} sort_by {{ direction: 9 }}",
            (INVALID, "invalid sort key ''"),
            id="a present sort needs a key",
        ),
        pytest.param(
            "ListTasks",
            'id { domain: "development" } limit: 100',
            (INVALID, "missing project"),
            id="no project",
        ),
        pytest.param(
            "ListLaunchPlans", 'id { project: "<P>" } limit: 100', (INVALID, "missing domain"), id="no domain"
        ),
        pytest.param(
            "ListWorkflows",
            'id { project: "<P>" domain: "development" } filters: "eq(bogus,1)"',
            (INVALID, "invalid value for limit"),
            id="limit before filters",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(project,<P>)"',
            (INVALID, "'e.project' is invalid filter"),
            id="executions have execution_project",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(mode,manual)"',
            (UNKNOWN, DB + 'invalid input syntax for type integer: "manual"'),
            id="mode is an integer",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(execution_admin_tag.key,x)"',
            (INVALID, "'eat' entity is not allowed in filters"),
            id="eat",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(admin_tag.key,x)"',
            (INVALID, "'at.key' is invalid filter"),
            id="admin tags have a name",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(execution_tag.name,x)"',
            (INVALID, "'et.name' is invalid filter"),
            id="execution tags have a key",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(node_execution.phase,x)"',
            (INVALID, "'ne' entity is not allowed in filters"),
            id="ne",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(duration,1000000)"',
            (INVALID, "Failed to parse duration [1e+06s]"),
            id="duration numbers are formatted by Go",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "eq(duration,soon)"',
            (INVALID, "Failed to parse duration [soon]"),
            id="duration",
        ),
        pytest.param(
            "ListExecutions",
            f'{LIST} filters: "contains(duration,1h)"',
            (UNKNOWN, DB + "operator does not exist: bigint ~~ unknown"),
            id="duration is a bigint",
        ),
    ],
)
def test_list_filter_and_validation_errors(
    listed: Real, rpc: str, body: str, expected: tuple[grpc.StatusCode, str]
) -> None:
    assert _refused(listed, rpc, common_pb2.ResourceListRequest, body) == expected


def test_filters_postgres_accepts_find_rows(listed: Real) -> None:
    """Entry 124 and values like it: Postgres' special words and date forms are timestamps."""
    for filters in (
        "gte(execution_created_at,yesterday)",  # entry 124
        "lt(execution_created_at,tomorrow)",
        "gt(created_at,epoch)",
        "lt(created_at,infinity)",
        "gt(updated_at,-infinity)+eq(mode,0)",
        "gte(execution_created_at,Jan 1 2000)",
        "value_in(state, 0;1)",
        "eq(duration,0)",
        "lt(duration,1000000s)",
    ):
        request = listed.parse(common_pb2.ResourceListRequest, f'{LIST} filters: "{filters}"')
        found = listed.call("ListExecutions", request)
        assert [e.id.name for e in found.executions] == ["e-overrides"], filters


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(
            124,
            "bad filter gte(execution_created_at,yesterday)",
            'id { project: "<P>" domain: "development" } limit: 10'
            ' filters: "gte(execution_created_at,yesterday)"',
            ["e-overrides"],
        ),
    ],
)
def test_executions_since_yesterday(listed: Real, body: str, expected: list[str]) -> None:
    found = listed.call("ListExecutions", listed.parse(common_pb2.ResourceListRequest, body))
    assert [e.id.name for e in found.executions] == expected


@pytest.mark.parametrize(
    ("rpc", "body", "expected"),
    [
        case(
            61,
            "bad token",
            "ListTaskIds",
            f'{IDS} token: "x"',
            (INVALID, "invalid pagination token x for ListUniqueTaskIdentifiers"),
        ),
        case(
            62,
            "sort by version",
            "ListTaskIds",
            f'{IDS} sort_by {{ key: "version" direction: ASCENDING }}',
            (
                UNKNOWN,
                DB + 'column "tasks.version" must appear in the GROUP BY clause or be used in an '
                "aggregate function",
            ),
        ),
        case(
            63,
            "bad token",
            "ListWorkflowIds",
            f'{IDS} token: "x"',
            (INVALID, "invalid pagination token x for ListWorkflowIdentifiers"),
        ),
        case(
            64,
            "sort by version",
            "ListWorkflowIds",
            f'{IDS} sort_by {{ key: "version" direction: ASCENDING }}',
            (
                UNKNOWN,
                DB + 'column "workflows.version" must appear in the GROUP BY clause or be used in an '
                "aggregate function",
            ),
        ),
        case(
            66, "bad token", "ListLaunchPlanIds", f'{IDS} token: "x"', (INVALID, "invalid pagination token x")
        ),
        case(
            67,
            "sort by version",
            "ListLaunchPlanIds",
            f'{IDS} sort_by {{ key: "version" direction: ASCENDING }}',
            (
                UNKNOWN,
                DB + 'column "launch_plans.version" must appear in the GROUP BY clause or be used in an '
                "aggregate function",
            ),
        ),
        pytest.param(
            "ListLaunchPlanIds",
            f'{IDS} sort_by {{ key: "state" }}',
            (
                UNKNOWN,
                DB + 'column "launch_plans.state" must appear in the GROUP BY clause or be used '
                "in an aggregate function",
            ),
            id="any ungrouped column",
        ),
        pytest.param(
            "ListTaskIds",
            f'{IDS} sort_by {{ key: "created_at" }}',
            (
                UNKNOWN,
                DB + 'column "tasks.created_at" must appear in the GROUP BY clause or be used in '
                "an aggregate function",
            ),
            id="tasks created_at",
        ),
        pytest.param(
            "ListTaskIds",
            f'{IDS} sort_by {{ key: "state" }}',
            (INVALID, "invalid sort key 'state'"),
            id="not a task column",
        ),
        pytest.param(
            "ListWorkflowIds",
            f'{IDS} sort_by {{ key: "name" direction: 3 }}',
            (INVALID, 'invalid sort order specified: key:"name"  direction:3'),
            id="direction",
        ),
        pytest.param(
            "ListTaskIds", 'project: "<P>" limit: 10', (INVALID, "missing domain"), id="task ids domain"
        ),
        pytest.param(
            "ListWorkflowIds",
            'project: "<P>" domain: "development"',
            (INVALID, "invalid value for limit"),
            id="workflow ids limit",
        ),
        pytest.param(
            "ListLaunchPlanIds",
            'project: "<P>" token: "x"',
            (INVALID, "invalid pagination token x"),
            id="launch plan ids: token before limit",
        ),
        pytest.param(
            "ListLaunchPlanIds",
            'project: "<P>"',
            (INVALID, "missing and/or invalid parameters: limit"),
            id="launch plan ids limit",
        ),
        pytest.param(
            "ListLaunchPlanIds",
            "limit: 10",
            (INVALID, "missing and/or invalid parameters: filters"),
            id="launch plan ids without scope",
        ),
    ],
)
def test_list_ids_errors(listed: Real, rpc: str, body: str, expected: tuple[grpc.StatusCode, str]) -> None:
    assert _refused(listed, rpc, common_pb2.NamedEntityIdentifierListRequest, body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(65, "no domain", 'project: "<P>" limit: 10', ("development", "scoring_default")),
        pytest.param('domain: "development" limit: 10', ("development", "scoring_default"), id="no project"),
    ],
)
def test_launch_plan_ids_without_a_domain_list_every_domain(
    listed: Real, body: str, expected: tuple[str, str]
) -> None:
    found = listed.call("ListLaunchPlanIds", listed.parse(common_pb2.NamedEntityIdentifierListRequest, body))
    assert [(e.domain, e.name) for e in found.entities if e.project == listed.project] == [expected]


def test_list_ids_sort_by_name_works(listed: Real) -> None:
    body = f'{IDS} sort_by {{ key: "name" direction: DESCENDING }}'
    found = listed.call("ListTaskIds", listed.parse(common_pb2.NamedEntityIdentifierListRequest, body))
    assert [e.name for e in found.entities] == ["t.filt", "heldout_app.pipelines.normalize"]


@pytest.mark.parametrize(
    ("rpc", "request_type", "body", "expected"),
    [
        case(
            178,
            "bad filter",
            "ListSignals",
            signal_pb2.SignalListRequest,
            'workflow_execution_id { project: "<P>" domain: "development" name: "e-overrides" } limit: 10 '
            'filters: "eq(bogus,1)"',
            (INVALID, "'s.bogus' is invalid filter"),
        ),
        pytest.param(
            "ListSignals",
            signal_pb2.SignalListRequest,
            'workflow_execution_id { project: "<P>" domain: "development" name: "e-overrides" } limit: 10 '
            'filters: "eq(execution.phase,x)"',
            (INVALID, "'e' entity is not allowed in filters"),
            id="signals join nothing",
        ),
        pytest.param(
            "ListNodeExecutions",
            node_execution_pb2.NodeExecutionListRequest,
            'workflow_execution_id { project: "<P>" domain: "development" name: "e-overrides" } limit: 10 '
            'filters: "eq(bogus,1)"',
            (INVALID, "'ne.bogus' is invalid filter"),
            id="ne",
        ),
        pytest.param(
            "ListNodeExecutions",
            node_execution_pb2.NodeExecutionListRequest,
            'workflow_execution_id { project: "<P>" domain: "development" name: "e-overrides" } limit: 10 '
            'filters: "eq(execution.name,x)"',
            (INVALID, "'e.name' is invalid filter"),
            id="ne joins e",
        ),
        pytest.param(
            "ListNodeExecutions",
            node_execution_pb2.NodeExecutionListRequest,
            'workflow_execution_id { project: "<P>" domain: "development" name: "e-overrides" } limit: 10 '
            'filters: "eq(parent_id,x)"',
            (UNKNOWN, DB + 'invalid input syntax for type bigint: "x"'),
            id="ne parent_id",
        ),
        pytest.param(
            "ListTaskExecutions",
            task_execution_pb2.TaskExecutionListRequest,
            'node_execution_id { node_id: "n0" execution_id { project: "<P>" domain: "development" '
            'name: "e-overrides" } } limit: 10 filters: "eq(workflow.name,x)"',
            (INVALID, "'w' entity is not allowed in filters"),
            id="te",
        ),
        pytest.param(
            "ListTaskExecutions",
            task_execution_pb2.TaskExecutionListRequest,
            'node_execution_id { node_id: "n0" execution_id { project: "<P>" domain: "development" '
            'name: "e-overrides" } } limit: 10 filters: "eq(retry_attempt,first)"',
            (UNKNOWN, DB + 'invalid input syntax for type bigint: "first"'),
            id="te retry_attempt",
        ),
    ],
)
def test_execution_scoped_lists_name_their_aliases(
    listed: Real, rpc: str, request_type: type, body: str, expected: tuple[grpc.StatusCode, str]
) -> None:
    assert _refused(listed, rpc, request_type, body) == expected


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("ASCENDING", ["e-started", "e-overrides"]), ("DESCENDING", ["e-overrides", "e-started"])],
)
def test_sorted_nulls_come_last_going_up_and_first_going_down(
    listed: Real, direction: str, expected: list[str]
) -> None:
    """Postgres' NULL order: an execution that has not started sorts after those that have, ascending."""
    launch(listed, "e-started")
    event = (
        'event { execution_id { project: "<P>" domain: "development" name: "e-started" } phase: RUNNING'
        " occurred_at { seconds: 1700000000 } }"
    )
    listed.call("CreateWorkflowEvent", listed.parse(event_pb2.WorkflowExecutionEventRequest, event))
    body = f'{LIST} sort_by {{ key: "started_at" direction: {direction} }}'
    found = listed.call("ListExecutions", listed.parse(common_pb2.ResourceListRequest, body))
    assert [e.id.name for e in found.executions] == expected
