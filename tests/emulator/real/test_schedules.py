"""Launch plan schedules as a real flyteadmin v1.16.8 checks them (entries 179-180 of the reference).

flyteadmin parses a non-empty `cron_expression`, else `cron_schedule.schedule`, with robfig/cron's
`ParseStandard` and answers `Invalid cron expression: <parser error>`; a fixed rate is not checked at all.
The expected texts below other than the two recorded ones were produced by that parser (the unionai fork
flyteadmin's go.mod pins) run on the same inputs.
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2
from flyteidl.core import identifier_pb2, types_pb2

from tests.emulator.real.support import Real, case
from tests.emulator.support import RT, task_request, workflow_request

INVALID = grpc.StatusCode.INVALID_ARGUMENT
WF = "heldout_app.pipelines.scoring"


@pytest.fixture
def scoring(real: Real) -> Real:
    """The reference's workflow `heldout_app.pipelines.scoring` v1, with a FLOAT input `x`."""
    ids = {"project": real.project, "domain": "development"}
    task = task_request("heldout_app.pipelines.score", inputs={"x": types_pb2.FLOAT}, **ids)
    real.call("CreateTask", task)
    workflow = workflow_request(WF, task=task.id, inputs={"x": types_pb2.FLOAT}, **ids)
    real.call("CreateWorkflow", workflow)
    return real


def _launch_plan(real: Real, name: str, schedule: str) -> launch_plan_pb2.LaunchPlanCreateRequest:
    """The reference's request shape: `x` defaulted, so only the schedule can be wrong."""
    body = (
        f'id {{ resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "{name}" '
        'version: "v1" } '
        f'spec {{ workflow_id {{ resource_type: WORKFLOW project: "<P>" domain: "development" name: "{WF}" '
        f'version: "v1" }} entity_metadata {{ schedule {{ {schedule} }} }} default_inputs {{ parameters {{ '
        'key: "x" value { var { type { simple: FLOAT } description: "x" } default { scalar { primitive { '
        "float_value: 42.0 } } } } } } fixed_inputs { } labels { } annotations { } "
        "raw_output_data_config { } }"
    )
    request: launch_plan_pb2.LaunchPlanCreateRequest = real.parse(
        launch_plan_pb2.LaunchPlanCreateRequest, body
    )
    return request


@pytest.mark.parametrize(
    ("name", "schedule", "expected"),
    [
        case(
            179,
            "bad cron expression",
            "badcron_lp",
            'cron_expression: "not a cron"',
            "Invalid cron expression: expected exactly 5 fields, found 3: [not a cron]",
        ),
        case(
            180,
            "bad cron schedule",
            "badcron2_lp",
            'cron_schedule { schedule: "61 * * * *" }',
            "Invalid cron expression: end of range (61) above maximum (59): 61",
        ),
    ],
)
def test_recorded_bad_schedules(scoring: Real, name: str, schedule: str, expected: str) -> None:
    failure = scoring.refused("CreateLaunchPlan", _launch_plan(scoring, name, schedule))
    assert (failure.code, failure.message) == (INVALID, expected)


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
        (" @hourly", "expected exactly 5 fields, found 1: [@hourly]"),
        ("0 24 * * *", "end of range (24) above maximum (23): 24"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("0 0 * 13 *", "end of range (13) above maximum (12): 13"),
        ("0 0 * * MON-FRI,7", "end of range (7) above maximum (6): 7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("60/5 * * * *", "beginning of range (60) beyond end of range (59): 60/5"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("-1 * * * *", 'failed to parse int from : strconv.Atoi: parsing "": invalid syntax'),
        ("*/-2 * * * *", "negative number (-2) not allowed: -2"),
        ("0 0 * foo *", 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'),
        (
            "99999999999999999999 * * * *",
            "failed to parse int from 99999999999999999999: strconv.Atoi: parsing "
            '"99999999999999999999": value out of range',
        ),
        ("@weekly ", "unrecognized descriptor: @weekly "),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@every 1d", 'failed to parse duration @every 1d: time: unknown unit "d" in duration "1d"'),
        ("@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'),
        ("@every .s", 'failed to parse duration @every .s: time: invalid duration ".s"'),
        ("@every 1.5.5s", 'failed to parse duration @every 1.5.5s: time: missing unit in duration "1.5.5s"'),
        (
            "@every 1h-5m",
            'failed to parse duration @every 1h-5m: time: unknown unit "h-" in duration "1h-5m"',
        ),
        ("@every 2562048h", 'failed to parse duration @every 2562048h: time: invalid duration "2562048h"'),
        ("*/ * * * *", 'failed to parse int from : strconv.Atoi: parsing "": invalid syntax'),
        ("0 0 * * sun-sat/0", "step of range should be a positive number: sun-sat/0"),
        (
            "CRON_TZ=Mars/Olympus 0 * * * *",
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus",
        ),
        ("TZ=../etc 0 * * * *", "provided bad location ../etc: time: invalid location name"),
    ],
)
@pytest.mark.parametrize("field", ["cron_expression", "cron_schedule"])
def test_other_bad_schedules_get_the_parser_text(scoring: Real, field: str, cron: str, problem: str) -> None:
    schedule = (
        f'cron_expression: "{cron}"'
        if field == "cron_expression"
        else f'cron_schedule {{ schedule: "{cron}" }}'
    )
    failure = scoring.refused("CreateLaunchPlan", _launch_plan(scoring, "bad", schedule))
    assert (failure.code, failure.message) == (INVALID, f"Invalid cron expression: {problem}")


@pytest.mark.parametrize(
    "cron",
    [
        "*/5 1-3 * JAN,FEB mon-fri",
        "? ? ? ? ?",
        "0 0 1-5/2 jan-DEC SUN-sat",
        "0/60 * * * *",
        "*-99 * * * *",
        "+5 * * * *",
        ", * * * *",
        "  0   0  *  *  *  ",
        "@midnight",
        "@every 1h30m",
        "@every -5m",
        "@every 2562047h47m16.854775807s",
        "1,2,,3 * * * *",
        "TZ=America/New_York 0 9 * * 1-5",
        "TZ= 0 * * * *",
    ],
)
def test_schedules_the_parser_accepts(scoring: Real, cron: str) -> None:
    created = scoring.call(
        "CreateLaunchPlan", _launch_plan(scoring, "ok", f'cron_schedule {{ schedule: "{cron}" }}')
    )
    assert isinstance(created, launch_plan_pb2.LaunchPlanCreateResponse)


def test_a_zone_prefix_without_a_space_makes_the_parser_panic(scoring: Real) -> None:
    """robfig/cron slices up to the first space, which is missing: the recovery interceptor answers INTERNAL
    with an empty message."""
    failure = scoring.refused(
        "CreateLaunchPlan", _launch_plan(scoring, "tz", 'cron_schedule { schedule: "TZ=UTC" }')
    )
    assert (failure.code, failure.message) == (grpc.StatusCode.INTERNAL, "")


@pytest.mark.parametrize(
    "schedule",
    [
        "rate { value: 0 unit: MINUTE }",
        "rate { value: 5 unit: DAY }",
        "cron_schedule { }",
        'cron_expression: ""',
    ],
)
def test_rates_and_empty_cron_texts_are_not_checked(scoring: Real, schedule: str) -> None:
    scoring.call("CreateLaunchPlan", _launch_plan(scoring, "unchecked", schedule))


def test_activating_a_cron_expression_fails_in_the_local_scheduler(scoring: Real) -> None:
    """The local scheduler's AddSchedule takes only rates and cron_schedule; its plain Go error prints the
    oneof wrapper with `%v` (`&{...}`) and becomes INTERNAL."""
    scoring.call("CreateLaunchPlan", _launch_plan(scoring, "legacy", 'cron_expression: "0 * * * *"'))
    identifier = identifier_pb2.Identifier(
        resource_type=RT.LAUNCH_PLAN,
        project=scoring.project,
        domain="development",
        name="legacy",
        version="v1",
    )
    update = launch_plan_pb2.LaunchPlanUpdateRequest(id=identifier, state=launch_plan_pb2.ACTIVE)
    failure = scoring.refused("UpdateLaunchPlan", update)
    assert (failure.code, failure.message) == (
        grpc.StatusCode.INTERNAL,
        "failed adding schedule for unknown schedule expression type &{0 * * * *}",
    )
    scoring.call(
        "CreateLaunchPlan", _launch_plan(scoring, "modern", 'cron_schedule { schedule: "0 * * * *" }')
    )
    scoring.call(
        "UpdateLaunchPlan",
        launch_plan_pb2.LaunchPlanUpdateRequest(
            id=identifier_pb2.Identifier(
                resource_type=RT.LAUNCH_PLAN,
                project=scoring.project,
                domain="development",
                name="modern",
                version="v1",
            ),
            state=launch_plan_pb2.ACTIVE,
        ),
    )
