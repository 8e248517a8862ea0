"""Filter, sort and identifier helpers render what flyteadmin parses, and refuse what it would misparse."""

from __future__ import annotations

import datetime
import enum

import pytest
from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.client import (
    FilterError,
    Filters,
    execution_id,
    launch_plan_id,
    named_entity_id,
    node_execution_id,
    render_filters,
    sort_by,
    task_execution_id,
    task_id,
    workflow_id,
)
from flyteadmin_ops.client.filters import FUNCTIONS, Filter, FilterList, gte, value_in
from flyteadmin_ops.client.sorting import as_sort

UTC = datetime.timezone.utc


class Phase(enum.Enum):
    FAILED = 6


def test_rendering() -> None:
    combined = Filters.eq("phase", "FAILED") + gte(
        "started_at", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert str(combined) == "eq(phase,FAILED)+gte(started_at,2024-01-02T03:04:05Z)"
    assert isinstance(combined, FilterList) and len(combined) == 2
    assert (
        str(value_in("execution.phase", ["FAILED", Phase.FAILED, 3]))
        == "value_in(execution.phase,FAILED;FAILED;3)"
    )
    assert str(Filters.ne("state", True)) == "ne(state,true)"
    assert (
        str(Filters.gt("duration", datetime.timedelta(minutes=1, milliseconds=500))) == "gt(duration,60.5s)"
    )
    assert str(Filters.not_like("name", ".flytegen%")) == "not_like(name,.flytegen%)"
    assert str(Filters.contains("launch_plan.name", "nightly")) == "contains(launch_plan.name,nightly)"
    assert str(Filters.lte("created_at", datetime.date(2024, 5, 1))) == "lte(created_at,2024-05-01)"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # flyteadmin would format the bare number 1000000 as `1e+06s` and refuse it: a unit avoids that
        (datetime.timedelta(seconds=1_000_000), "1000000s"),
        (datetime.timedelta(days=30), "2592000s"),
        (datetime.timedelta(microseconds=1), "0.000001s"),
        (datetime.timedelta(seconds=-90), "-90s"),
        (datetime.timedelta(0), "0s"),
    ],
)
def test_durations_are_exact_go_duration_text(value: datetime.timedelta, text: str) -> None:
    assert str(Filters.gte("duration", value)) == f"gte(duration,{text})"


def test_datetimes_become_utc_rfc3339() -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    moment = datetime.datetime(2024, 1, 1, 12, 0, 0, 250000, tzinfo=plus_two)
    assert str(Filters.lt("started_at", moment)) == "lt(started_at,2024-01-01T10:00:00.250000Z)"


def test_filter_lists_compose() -> None:
    a, b, c = Filters.eq("a", 1), Filters.eq("b", 2), Filters.eq("c", 3)
    assert str((a + b) + (c + a)) == "eq(a,1)+eq(b,2)+eq(c,3)+eq(a,1)"
    assert str(FilterList()) == ""


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Filter.of("like", "name", "x"), "unknown function 'like'"),
        (lambda: Filters.eq("Phase", "x"), "'Phase' is not a column name"),
        (lambda: Filters.eq("phase)", "x"), "is not a column name"),
        (lambda: Filters.eq("name", "a+b"), "contains '\\+', which joins expressions"),
        (lambda: Filters.eq("name", "a,b"), "contains ',', which separates field and value"),
        (lambda: Filters.eq("name", ""), "the value is empty"),
        (lambda: Filters.gte("started_at", datetime.datetime(2024, 1, 1)), "has no time zone"),
        (lambda: value_in("phase", "FAILED"), "value_in takes a list"),
        (lambda: value_in("phase", []), "needs at least one value"),
        (lambda: value_in("phase", ["a;b"]), "contains ';'"),
        (lambda: Filters.eq("phase", ["FAILED"]), "eq takes one value, got list"),
        (lambda: Filters.eq("phase", b"x"), "eq takes one value, got bytes"),
        (lambda: Filters.eq("name", "a;b"), "use value_in for several values"),
        (lambda: Filters.gt("duration", datetime.timedelta(days=106752)), "longer than a Go duration holds"),
    ],
)
def test_validation_errors_name_the_filter_and_the_fault(build: object, message: str) -> None:
    with pytest.raises(FilterError, match=message) as caught:
        build()  # type: ignore[operator]
    assert "filter " in str(caught.value)


def test_the_function_list_is_flyteadmins() -> None:
    assert {
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "contains",
        "not_like",
        "value_in",
        "value_not_in",
    } == FUNCTIONS


def test_render_filters_accepts_every_form() -> None:
    assert render_filters(None) == ""
    assert render_filters("eq(a,b)") == "eq(a,b)"
    assert render_filters(Filters.eq("a", "b")) == "eq(a,b)"
    assert render_filters(["eq(a,b)", Filters.ne("c", "d"), []]) == "eq(a,b)+ne(c,d)"
    with pytest.raises(FilterError, match="cannot use a int as filters"):
        render_filters(3)


def test_sort_helpers() -> None:
    assert sort_by("created_at") == common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)
    assert sort_by("created_at", ascending=False).direction == common_pb2.Sort.DESCENDING
    assert as_sort(None) is None
    with pytest.raises(ValueError, match="sort key 'created at'"):
        sort_by("created at")
    with pytest.raises(TypeError, match=r"sort_by: expected flyteidl\.admin\.Sort"):
        as_sort("created_at")


def test_identifier_builders() -> None:
    assert task_id("p", "d", "t", "v").resource_type == identifier_pb2.TASK
    assert workflow_id("p", "d", "w", "v").resource_type == identifier_pb2.WORKFLOW
    assert launch_plan_id("p", "d", "l", "v", org="o").org == "o"
    assert named_entity_id("p", "d") == common_pb2.NamedEntityIdentifier(project="p", domain="d")
    node = node_execution_id(execution_id("p", "d", "e"), "n0")
    attempt = task_execution_id(task_id("p", "d", "t", "v"), node, retry_attempt=2)
    assert attempt.node_execution_id.execution_id.name == "e" and attempt.retry_attempt == 2
