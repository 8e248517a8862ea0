"""Filter values on timestamp columns compare as instants, as Postgres' timestamp cast makes them compare.

Rows store `...T10:00:00.000000Z`; clients send `2024-05-02T10:00:00Z`, `...+00:00`, `...+02:00`, fractions
of any length. A string comparison would miss the row stored at exactly that second; these tests pin every
entity kind's time columns through both clients (raw stubs and flytekit's own), and the prefixes
flyteadmin knows for execution tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    event_pb2,
    execution_pb2,
    node_execution_pb2,
    project_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.event import event_pb2 as core_event_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.pg_values import PgError, parse_timestamptz
from tests.emulator.support import (
    DOMAIN,
    PROJECT,
    RT,
    Caller,
    ident,
    list_request,
    register_basic,
    task_request,
)

T0 = datetime(2024, 5, 2, 10, 0, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 12, 2, 6, 59, 3, tzinfo=timezone.utc)  # the server's time, for `today` and the like

# The same instant, T0, written the ways clients write it. flyteadmin splits `filters` on `+`, so a filter
# value can never hold a `+hh:mm` offset (see the refusal test below); those forms are parsed all the same.
IN_FILTERS = [
    "2024-05-02T10:00:00Z",
    "2024-05-02T10:00:00-00:00",
    "2024-05-02T10:00:00.000Z",
    "2024-05-02T10:00:00.000000000Z",
    "2024-05-02T07:30:00-02:30",
    "2024-05-02T07:30:00.0-0230",
    "2024-05-02 10:00:00",
]
AT_T0 = [
    *IN_FILTERS,
    "2024-05-02T10:00:00+00:00",
    "2024-05-02T12:00:00+02:00",
    "2024-05-02T12:00:00.000+0200",
]


class Clock:
    def __init__(self) -> None:
        self.moment = T0

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["raw", "flytekit"])
def timed(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Caller]:
    with Emulator(clock=clock) as emu:
        caller = Caller(request.param, emu.endpoint)
        yield caller
        caller.close()


@pytest.mark.parametrize("text", AT_T0)
def test_every_rfc3339_form_is_the_same_instant(text: str) -> None:
    assert parse_timestamptz(text, NOW) == T0


def test_fractions_round_to_microseconds_and_dates_mean_midnight() -> None:
    assert parse_timestamptz("2024-05-02T10:00:00.9999995Z", NOW) == T0 + timedelta(seconds=1)
    assert parse_timestamptz("2024-05-02T10:00:00.5Z", NOW) == T0 + timedelta(microseconds=500000)
    assert parse_timestamptz("2024-05-02", NOW) == T0.replace(hour=0)


def _task_versions(caller: Caller, filters: str) -> list[str]:
    listed = caller.call("ListTasks", list_request(filters=filters))
    return sorted(t.id.version for t in listed.tasks)


@pytest.mark.parametrize("text", IN_FILTERS)
def test_task_created_at_the_filtered_second_is_found(timed: Caller, clock: Clock, text: str) -> None:
    timed.call("CreateTask", task_request("t", "at"))
    clock.moment = T0 + timedelta(microseconds=1)
    timed.call("CreateTask", task_request("t", "after"))
    assert _task_versions(timed, f"gte(created_at,{text})") == ["after", "at"]
    assert _task_versions(timed, f"eq(created_at,{text})") == ["at"]
    assert _task_versions(timed, f"lte(task.created_at,{text})") == ["at"]
    assert _task_versions(timed, f"gt(updated_at,{text})") == ["after"]
    assert _task_versions(timed, f"lt(updated_at,{text})") == []
    assert _task_versions(timed, f"ne(created_at,{text})") == ["after"]
    assert _task_versions(timed, f"value_in(created_at,{text};2000-01-01T00:00:00Z)") == ["at"]
    assert _task_versions(timed, f"value_not_in(created_at,{text})") == ["after"]


def test_workflows_launch_plans_projects_and_descriptions_compare_instants(
    timed: Caller, clock: Clock
) -> None:
    described = task_request("d")
    described.spec.description.short_description = "words"
    timed.call("CreateTask", described)
    register_basic(timed)
    timed.call(
        "RegisterProject",
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="p1", name="p1")),
    )
    clock.moment = T0 + timedelta(hours=1)
    timed.call(
        "RegisterProject",
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="p2", name="p2")),
    )
    at = "2024-05-02T08:00:00-02:00"
    workflows = timed.call("ListWorkflows", list_request(filters=f"eq(created_at,{at})")).workflows
    assert [w.id.name for w in workflows] == ["wf"]
    plans = timed.call("ListLaunchPlans", list_request(filters=f"lte(updated_at,{at})")).launch_plans
    assert [p.id.name for p in plans] == ["lp"]
    projects = timed.call("ListProjects", project_pb2.ProjectListRequest(filters=f"eq(created_at,{at})"))
    assert sorted(p.id for p in projects.projects) == ["flytesnacks", "p1"]
    later = timed.call("ListProjects", project_pb2.ProjectListRequest(filters=f"gt(created_at,{at})"))
    assert [p.id for p in later.projects] == ["p2"]
    descriptions = timed.call(
        "ListDescriptionEntities",
        description_entity_pb2.DescriptionEntityListRequest(
            resource_type=RT.TASK,
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name="d"),
            limit=10,
            filters="gte(created_at,2024-05-02T10:00:00Z)",
        ),
    )
    assert [e.short_description for e in descriptions.descriptionEntities] == ["words"]


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _execution_names(caller: Caller, filters: str) -> list[str]:
    listed = caller.call("ListExecutions", list_request(filters=filters))
    return sorted(e.id.name for e in listed.executions)


def test_execution_and_node_execution_time_columns_compare_instants(timed: Caller, clock: Clock) -> None:
    register_basic(timed)
    for name in ("early", "late"):
        timed.call(
            "CreateExecution",
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                name=name,
                spec=execution_pb2.ExecutionSpec(launch_plan=ident(RT.LAUNCH_PLAN, "lp"), tags=[name]),
                inputs=literals_pb2.LiteralMap(),
            ),
        )
        clock.moment += timedelta(seconds=30)
    early = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="early")
    timed.call(
        "CreateWorkflowEvent",
        event_pb2.WorkflowExecutionEventRequest(
            event=core_event_pb2.WorkflowExecutionEvent(
                execution_id=early,
                phase=core_execution_pb2.WorkflowExecution.RUNNING,
                occurred_at=_stamp(T0 + timedelta(minutes=5)),
            )
        ),
    )
    timed.call(
        "CreateNodeEvent",
        event_pb2.NodeExecutionEventRequest(
            event=core_event_pb2.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=early),
                phase=core_execution_pb2.NodeExecution.RUNNING,
                occurred_at=_stamp(T0 + timedelta(minutes=6)),
            )
        ),
    )
    assert _execution_names(timed, "eq(execution_created_at,2024-05-02T10:00:00Z)") == ["early"]
    assert _execution_names(timed, "gte(created_at,2024-05-02T10:00:30.000000000Z)") == ["late"]
    assert _execution_names(timed, "eq(started_at,2024-05-02T10:05:00.000Z)") == ["early"]
    assert _execution_names(timed, "eq(execution_tag.key,late)") == ["late"]
    assert _execution_names(timed, "eq(admin_tag.name,late)+ne(execution_tag.key,early)") == ["late"]
    timed.fails(
        "ListExecutions",
        list_request(filters="eq(execution_admin_tag.key,late)"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "'eat' entity is not allowed in filters",
    )
    nodes = timed.call(
        "ListNodeExecutions",
        node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=early, limit=10, filters="eq(started_at,2024-05-02T10:06:00-00:00)"
        ),
    )
    assert [n.id.node_id for n in nodes.node_executions] == ["n0"]


def test_a_value_that_is_not_a_time_is_postgres_unknown_error(timed: Caller) -> None:
    """flyteadmin sends the value to Postgres unchecked: Postgres' own timestamp input decides (observed on a
    real flyteadmin v1.16.8: `gt(created_at,notatime)` is UNKNOWN, `gte(execution_created_at,yesterday)`
    finds rows)."""
    if timed.kind == "raw":
        failure = timed.fails(
            "ListTasks", list_request(filters="gte(created_at,notatime)"), grpc.StatusCode.UNKNOWN
        )
        assert failure.message == (
            "failed database operation with invalid input syntax for type timestamp with time zone: "
            '"notatime"'
        )
    else:  # flytekit takes UNKNOWN for expired credentials: its refresh finds no auth service
        timed.fails(
            "ListTasks",
            list_request(filters="gte(created_at,notatime)"),
            grpc.StatusCode.UNIMPLEMENTED,
            "unknown service flyteidl.service.AuthMetadataService",
        )
    timed.call("CreateTask", task_request())
    assert _task_versions(timed, "gte(created_at,2024-05-01)+lt(created_at,tomorrow)") == ["v1"]
    assert _task_versions(timed, "gt(created_at,epoch)+lt(created_at,infinity)") == ["v1"]
    # as in flyteadmin, `+` separates expressions, so a `+02:00` offset breaks the filter's grammar
    timed.fails(
        "ListTasks",
        list_request(filters="gte(created_at,2024-05-02T12:00:00+02:00)"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid value for filters",
    )
    if timed.kind == "raw":  # Postgres has no LIKE for timestamps
        timed.fails(
            "ListTasks",
            list_request(filters="contains(created_at,2024-05-02T10)"),
            grpc.StatusCode.UNKNOWN,
            "operator does not exist: timestamp with time zone ~~ unknown",
        )


def test_like_patterns_are_case_sensitive_with_postgres_wildcards(timed: Caller) -> None:
    for name in ("Alpha", "alpha", "al_pha", "a*b", "50%off"):
        timed.call("CreateTask", task_request(name))

    def names(filters: str) -> list[str]:
        return sorted(t.id.name for t in timed.call("ListTasks", list_request(filters=filters)).tasks)

    assert names("contains(name,alp)") == ["alpha"]  # Postgres LIKE: case matters
    assert names("not_like(name,A%)") == ["50%off", "a*b", "al_pha", "alpha"]
    assert names("not_like(name,alph_)") == ["50%off", "Alpha", "a*b", "al_pha"]  # `_`: one character
    assert names("contains(name,*)") == ["a*b"]  # GLOB's own wildcards are plain characters here
    assert names("contains(name,0\\%)") == ["50%off"]  # a backslash escapes LIKE's `%`


# Postgres 15's answers (`SELECT $1::timestamptz`, session time zone UTC), checked against a real server.
PG_TIMESTAMPS = [
    ("2024-01-02", datetime(2024, 1, 2, tzinfo=timezone.utc)),
    ("2024-01-02T10:00:00+02", datetime(2024, 1, 2, 8, tzinfo=timezone.utc)),
    ("2024-01-02 10:00 PST", datetime(2024, 1, 2, 18, tzinfo=timezone.utc)),
    ("Jan 5 2024", datetime(2024, 1, 5, tzinfo=timezone.utc)),
    ("5 Jan 2024", datetime(2024, 1, 5, tzinfo=timezone.utc)),
    ("January 5, 2024 10:00", datetime(2024, 1, 5, 10, tzinfo=timezone.utc)),
    ("Mon Jan 5 2024", datetime(2024, 1, 5, tzinfo=timezone.utc)),
    ("2024-Jan-05", datetime(2024, 1, 5, tzinfo=timezone.utc)),
    ("1/2/24", datetime(2024, 1, 2, tzinfo=timezone.utc)),
    ("20240102T101010", datetime(2024, 1, 2, 10, 10, 10, tzinfo=timezone.utc)),
    ("today 10:00", datetime(2026, 12, 2, 10, tzinfo=timezone.utc)),
    ("yesterday", datetime(2026, 12, 1, tzinfo=timezone.utc)),
    ("EPOCH", datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ("2024-01-02 24:00:00", datetime(2024, 1, 3, tzinfo=timezone.utc)),
    ("2024-01-02 10:00:00 Europe/Paris", datetime(2024, 1, 2, 9, tzinfo=timezone.utc)),
    ("1999.008", datetime(1999, 1, 8, tzinfo=timezone.utc)),
    ("J2451187", datetime(1999, 1, 8, tzinfo=timezone.utc)),
    ("2024-01-02 10:00 pm", datetime(2024, 1, 2, 22, tzinfo=timezone.utc)),
    ("2024-01-02T10:00:00.123456789+05:30", datetime(2024, 1, 2, 4, 30, 0, 123457, tzinfo=timezone.utc)),
]
PG_REFUSALS = [
    ("Jan 5", 'invalid input syntax for type timestamp with time zone: "Jan 5"'),
    ("10:00", 'invalid input syntax for type timestamp with time zone: "10:00"'),
    ("+infinity", 'invalid input syntax for type timestamp with time zone: "+infinity"'),
    ("2024-01-02 10am", 'invalid input syntax for type timestamp with time zone: "2024-01-02 10am"'),
    ("2024-02-30", 'date/time field value out of range: "2024-02-30"'),
    ("2024-01-02 10:60", 'date/time field value out of range: "2024-01-02 10:60"'),
    ("99-01-02", 'date/time field value out of range: "99-01-02"'),
    ("0000-01-01", 'date/time field value out of range: "0000-01-01"'),
    ("2024-01-02 10:00:00+25", 'time zone displacement out of range: "2024-01-02 10:00:00+25"'),
]


@pytest.mark.parametrize(("text", "moment"), PG_TIMESTAMPS)
def test_timestamps_read_as_postgres_reads_them(text: str, moment: datetime) -> None:
    assert parse_timestamptz(text, NOW) == moment


@pytest.mark.parametrize(("text", "message"), PG_REFUSALS)
def test_timestamps_postgres_refuses(text: str, message: str) -> None:
    with pytest.raises(PgError) as refused:
        parse_timestamptz(text, NOW)
    assert refused.value.message == f"failed database operation with {message}"


def test_relative_times_are_the_servers(timed: Caller) -> None:
    """`yesterday`, `now` and the like are the server's time (Postgres' transaction time): the emulator's
    clock, which also stamps the rows."""
    timed.call("CreateTask", task_request())
    assert _task_versions(timed, "gte(created_at,yesterday)+lte(created_at,now)") == ["v1"]
    assert _task_versions(timed, "lt(created_at,today)") == []
