"""Durations and time windows, wherever they are typed: relaunch-failed's `--since` / `--from` / `--to`,
`wait` and `launch`'s `--timeout`, and duration or datetime launch inputs. Every text gives a value in range
or the typed error of its parser (OperationInputError, InputTextError, argparse's ArgumentTypeError), and a
window that parses renders filters flyteadmin will read back as written."""

from __future__ import annotations

import argparse
import datetime as dt
import math

import pytest
from flyteidl.core import types_pb2
from hypothesis import example, given
from hypothesis import strategies as st

from flyteadmin_ops.client import filters as F
from flyteadmin_ops.commands.common import positive_seconds
from flyteadmin_ops.commands.input_text import InputTextError, read_input
from flyteadmin_ops.commands.relaunch_failed import selection_from_args
from flyteadmin_ops.ops.relaunch import parse_duration, parse_timestamp
from flyteadmin_ops.ops.results import OperationInputError
from tests.fuzz.support import bounded, fuzz_settings

pytestmark = pytest.mark.fuzz

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)

duration_texts = st.one_of(
    st.text(max_size=20),
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["", " ", "-", "+"]),
        st.one_of(
            st.integers(0, 10**6).map(str),
            st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
            st.sampled_from(["9" * 400, "0.0000001", "1e5", "٣", "1.", ".5", "nan", "inf"]),
        ),
        st.sampled_from(["s", "m", "h", "d", "w", "ms", "us", "µs", "H", "", "x", "1h30m", "PT1H"]),
    ),
)
timestamp_texts = st.one_of(
    st.text(max_size=30),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-05-01T00:00:00Z",
            "2024-05-01T00:00:00z",
            "2024-05-01",
            "2024-05-01T00:00:00",
            "2024-13-01T00:00:00Z",
        ]
    ),
)


@given(text=duration_texts)
@fuzz_settings()
@example(text="0.0000001s")
def test_since_durations_are_positive_or_refused(text: str) -> None:
    try:
        with bounded():
            value = parse_duration(text)
    except OperationInputError as exc:
        assert "\n" not in str(exc)
        return
    assert dt.timedelta(0) < value <= dt.timedelta(days=36525)


@given(amount=st.integers(1, 5000), unit=st.sampled_from(["s", "m", "h", "d", "w"]))
@fuzz_settings(0.5)
def test_whole_durations_mean_what_they_say(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{amount}{unit}") == dt.timedelta(seconds=amount * seconds)


@given(text=timestamp_texts)
@fuzz_settings()
@example(text="0001-01-01T00:00:00+01:00")
@example(text="\n\n0001-01-01T00:00")  # found by atheris: the hint quoted the text raw
def test_timestamps_are_utc_instants_or_refused(text: str) -> None:
    try:
        with bounded():
            value = parse_timestamp(text)
    except OperationInputError as exc:
        assert "\n" not in str(exc)
        return
    assert value.utcoffset() == dt.timedelta(0)


@given(moment=st.datetimes(timezones=st.timezones()))
@fuzz_settings(0.5)
def test_an_aware_timestamp_reads_back_as_the_same_instant(moment: dt.datetime) -> None:
    try:
        expected = moment.astimezone(dt.timezone.utc)
    except OverflowError:
        return  # not an instant a datetime can hold in UTC: covered by the test above
    assert parse_timestamp(moment.isoformat()) == expected


@given(
    since=st.none() | duration_texts,
    start=st.none() | timestamp_texts,
    end=st.none() | timestamp_texts,
    phases=st.lists(st.sampled_from(["FAILED", "TIMED_OUT"]), max_size=2),
    launch_plan=st.none() | st.text(max_size=12),
)
@fuzz_settings()
def test_a_window_is_a_selection_with_filters_that_read_back_or_refused(
    since: str | None, start: str | None, end: str | None, phases: list[str], launch_plan: str | None
) -> None:
    args = argparse.Namespace(
        project="flytesnacks",
        domain="development",
        since=since,
        start=start,
        end=end,
        phase=phases or None,
        launch_plan=launch_plan,
    )
    try:
        with bounded():
            selection = selection_from_args(args, now=NOW)
            filters = selection.failed_filters() + selection.handling_filters()
    except (OperationInputError, F.FilterError) as exc:  # FilterError: a launch plan name flyteadmin misreads
        assert "\n" not in str(exc)
        return
    assert F.parse_filters(str(filters)) == filters


@given(
    text=st.one_of(
        st.text(max_size=12),
        st.sampled_from(["nan", "-nan", "inf", "1e999", "0", "-1", "1e-320", "0x10", " 5 "]),
    )
)
@fuzz_settings()
@example(text="nan")
def test_timeouts_are_finite_positive_seconds_or_a_usage_error(text: str) -> None:
    try:
        value = positive_seconds(text)
    except argparse.ArgumentTypeError:
        return
    assert math.isfinite(value) and value > 0


SIMPLE = {
    "duration": types_pb2.LiteralType(simple=types_pb2.DURATION),
    "datetime": types_pb2.LiteralType(simple=types_pb2.DATETIME),
    "integer": types_pb2.LiteralType(simple=types_pb2.INTEGER),
    "float": types_pb2.LiteralType(simple=types_pb2.FLOAT),
    "struct": types_pb2.LiteralType(simple=types_pb2.STRUCT),
    "list": types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.INTEGER)),
    "optional int": types_pb2.LiteralType(
        union_type=types_pb2.UnionType(
            variants=[
                types_pb2.LiteralType(simple=types_pb2.INTEGER),
                types_pb2.LiteralType(simple=types_pb2.NONE),
            ]
        )
    ),
}


@given(
    kind=st.sampled_from(sorted(SIMPLE)),
    text=st.one_of(
        duration_texts, timestamp_texts, st.sampled_from(["[" * 5000, '{"a": ' * 3000, "1" * 5000])
    ),
)
@fuzz_settings()
@example(kind="duration", text="9" * 400 + "d")
@example(kind="list", text="[" * 100000)
def test_launch_input_texts_read_or_are_refused_naming_the_input(kind: str, text: str) -> None:
    try:
        with bounded():
            read_input("x", text, SIMPLE[kind])
    except InputTextError as exc:
        assert exc.input_name == "x" and "\n" not in str(exc)
