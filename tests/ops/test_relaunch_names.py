"""Derived execution names and the window arguments, offline."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from flyteadmin_ops.ops.relaunch import (
    ExecutionId,
    Selection,
    derived_name,
    parse_duration,
    parse_timestamp,
)
from flyteadmin_ops.ops.results import OperationInputError

FLYTEADMIN_NAME = re.compile(r"^[a-z][a-z\-0-9]*$")  # checked on the lower-cased name, at most 63 characters


@pytest.mark.parametrize(
    "name",
    ["abc123", "a" * 63, "Mixed-CASE-name", "x", "f" + "9" * 62, "a--b--", "ab" + "-" * 61],
)
def test_derived_names_follow_the_server_rule(name: str) -> None:
    for mode in ("recover", "relaunch"):
        for attempt in range(3):
            derived = derived_name(ExecutionId(project="p", domain="d", name=name), mode, attempt)  # type: ignore[arg-type]
            assert len(derived) <= 63 and FLYTEADMIN_NAME.match(derived), derived


def test_derived_names_are_stable_and_distinct() -> None:
    base = ExecutionId(project="p", domain="d", name="a" * 60)
    same_prefix = ExecutionId(project="p", domain="d", name="a" * 60 + "b")
    assert derived_name(base, "recover") == derived_name(
        ExecutionId(project="p", domain="d", name="a" * 60), "recover"
    )
    variants = {
        derived_name(base, "recover"),
        derived_name(base, "relaunch"),
        derived_name(base, "recover", 1),
        derived_name(same_prefix, "recover"),  # truncation cannot merge two long names
        derived_name(ExecutionId(project="q", domain="d", name="a" * 60), "recover"),
        derived_name(ExecutionId(project="p", domain="e", name="a" * 60), "recover"),
    }
    assert len(variants) == 6
    readable = derived_name(ExecutionId(project="p", domain="d", name="nightly-run"), "recover")
    assert readable.startswith("rc-nightly-run-")


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("24h", 86400), ("7d", 604800), ("1.5h", 5400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["24", "h", "-1h", "1y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(OperationInputError, match="duration"):
        parse_duration(text)


def test_timestamps_need_a_zone() -> None:
    assert parse_timestamp("2024-05-01T00:00:00Z") == dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    assert parse_timestamp("2024-05-01T02:00:00+02:00") == dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(OperationInputError, match="add a time zone"):
        parse_timestamp("2024-05-01T00:00:00")
    with pytest.raises(OperationInputError, match="RFC 3339"):
        parse_timestamp("yesterday")


def test_selection_filters_use_flyteadmin_columns() -> None:
    start = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    selection = Selection("p", "d", start, start + dt.timedelta(hours=1), ("FAILED", "TIMED_OUT"), "nightly")
    assert str(selection.failed_filters()) == (
        "value_in(phase,FAILED;TIMED_OUT)+gte(execution_created_at,2024-05-01T00:00:00Z)"
        "+lte(execution_created_at,2024-05-01T01:00:00Z)+eq(launch_plan.name,nightly)"
    )
    assert (
        str(selection.handling_filters())
        == "value_in(mode,3;5)+gte(execution_created_at,2024-05-01T00:00:00Z)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phases": ("ABORTED",)}, "choose from FAILED, TIMED_OUT"),
        ({"phases": ()}, "choose from"),
        ({"end": dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc)}, "is not after"),
        ({"project": ""}, "needs a project and a domain"),
    ],
)
def test_bad_selections(kwargs: dict, message: str) -> None:
    values = {
        "project": "p",
        "domain": "d",
        "start": dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc),
        **kwargs,
    }
    with pytest.raises(OperationInputError, match=message):
        Selection(**values)
