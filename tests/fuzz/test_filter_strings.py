"""Filter strings: `client.filters.parse_filters` and the CLI's `get --filter` check. Whatever the text,
the answer is filters or a FilterError / OperationInputError on one line; filters the builders make are
rendered and parsed back to themselves, and what the parser accepts the CLI accepts too."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from flyteadmin_ops.client import filters as F
from flyteadmin_ops.commands.get import check_filter
from flyteadmin_ops.ops.results import OperationInputError
from tests.fuzz.support import bounded, fuzz_settings

pytestmark = pytest.mark.fuzz

FIELDS = [
    "phase",
    "execution_created_at",
    "duration",
    "launch_plan.name",
    "mode",
    "state",
    "Phase",
    "a,b",
    "",
]
FUNCTIONS = [*sorted(F.FUNCTIONS), "like", "EQ", ""]

scalar_values = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.datetimes(timezones=st.timezones()),
    st.datetimes(),
    st.dates(),
    st.timedeltas(),
)
filter_texts = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda parts: "+".join(parts),
        st.lists(
            st.builds(
                "{}({},{}{})".format,
                st.sampled_from(FUNCTIONS),
                st.sampled_from(FIELDS) | st.text(max_size=6),
                st.sampled_from(["", " ", "\t", "  "]),
                st.text(max_size=10),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
)


def built(function: str, field: str, value: Any) -> F.Filter | None:
    try:
        return F.Filter.of(function, field, value)
    except F.FilterError:
        return None


@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(sorted(F.FUNCTIONS)),
            st.sampled_from(FIELDS),
            st.one_of(scalar_values, st.lists(scalar_values, max_size=3)),
        ),
        min_size=1,
        max_size=4,
    )
)
@fuzz_settings()
@example(parts=[("eq", "phase", " FAILED")])
def test_built_filters_render_and_parse_back_to_themselves(parts: list[tuple[str, str, Any]]) -> None:
    made = [f for f in (built(*part) for part in parts) if f is not None]
    if not made:
        return
    filters = F.FilterList(tuple(made))
    with bounded():
        assert F.parse_filters(str(filters)) == filters
        check_filter(str(filters))


@given(text=filter_texts)
@fuzz_settings()
@example(text="eq(phase,FAILED)\n")
@example(text="eq(phase,\nFAILED)")
def test_any_filter_text_parses_or_is_refused_on_one_line(text: str) -> None:
    try:
        with bounded():
            parsed = F.parse_filters(text)
    except F.FilterError as exc:
        assert "\n" not in str(exc), str(exc)
        return
    assert F.parse_filters(str(parsed)) == parsed, "parsing is stable under rendering"
    check_filter(text)  # what the library accepts, `get --filter` accepts


@given(text=filter_texts)
@fuzz_settings()
def test_the_cli_filter_check_passes_or_refuses_on_one_line(text: str) -> None:
    try:
        with bounded():
            check_filter(text)
    except OperationInputError as exc:
        assert "\n" not in str(exc), str(exc)


def test_the_documented_filters_parse() -> None:
    text = "eq(phase,FAILED)+gte(started_at,2024-01-01T00:00:00Z)+value_in(mode,1;2)"
    assert [f.function for f in F.parse_filters(text)] == ["eq", "gte", "value_in"]
    assert str(F.eq("phase", "FAILED") + F.gte("duration", datetime.timedelta(seconds=60))) == (
        "eq(phase,FAILED)+gte(duration,60s)"
    )
