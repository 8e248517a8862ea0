"""Launch plans: interface and schedule checks, expected inputs, INACTIVE on create, one ACTIVE
version per name.

flyteadmin (`launch_plan_manager.go`, `validation/launch_plan_validator.go`) looks the workflow up first (so a
missing workflow is NOT_FOUND, unlike workflow compilation), then validates, rewrites
`default_inputs` with the
unbound workflow inputs as required, and digests `LaunchPlan{id, spec, closure{expected_inputs,
expected_outputs}}`. Activation deactivates the previously active version of the name in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from flyteidl.admin import common_pb2, launch_plan_pb2, schedule_pb2
from flyteidl.core import execution_pb2, identifier_pb2, interface_pb2, literals_pb2, types_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.common import INVALID, db_time, go_text, invalid, missing, require, timestamp
from flyteadmin_ops.emulator.cron import validate_cron_expression
from flyteadmin_ops.emulator.filters import Join, Predicate, identifier_predicates, page_of_request
from flyteadmin_ops.emulator.literal_types import castable, literal_type_error, literal_type_of, type_text
from flyteadmin_ops.emulator.projects import validate_labels, validate_project_and_domain
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.versioned import (
    ResourceType,
    VersionedKind,
    fill_resource_type,
    insert_version,
    new_version_digest,
    register_versioned_rpcs,
    validate_identifier,
    versioned_table,
)
from flyteadmin_ops.emulator.workflows import KIND as WORKFLOW_KIND
from flyteadmin_ops.emulator.workflows import WORKFLOWS, get_workflow

LAUNCH_PLANS = versioned_table(
    "launch_plan",
    "launch_plans",
    {
        "spec": "BLOB NOT NULL",
        "workflow_id": "INTEGER NOT NULL REFERENCES workflows(id)",
        "closure": "BLOB NOT NULL",
        "state": "INTEGER NOT NULL DEFAULT 0",
        "schedule_type": "TEXT NOT NULL DEFAULT 'NONE'",
        "launch_condition_type": "TEXT",
        "heap_position": "INTEGER NOT NULL DEFAULT 0",
    },
    unfilterable=frozenset({"heap_position"}),
    joins={
        "workflow": Join(
            "workflows", "workflows.id = launch_plans.workflow_id", WORKFLOWS.columns, types=WORKFLOWS.types
        )
    },
    physical_order="heap_position",
)

ACTIVE, INACTIVE = launch_plan_pb2.ACTIVE, launch_plan_pb2.INACTIVE
_TERMINAL_PHASES = {
    execution_pb2.WorkflowExecution.SUCCEEDED,
    execution_pb2.WorkflowExecution.FAILED,
    execution_pb2.WorkflowExecution.TIMED_OUT,
    execution_pb2.WorkflowExecution.ABORTED,
}


def _row_to_launch_plan(
    row: sqlite3.Row, into: launch_plan_pb2.LaunchPlan | None = None
) -> launch_plan_pb2.LaunchPlan:
    plan = launch_plan_pb2.LaunchPlan() if into is None else into
    plan.spec.ParseFromString(row["spec"])
    plan.closure.ParseFromString(row["closure"])
    plan.closure.state = row["state"]
    plan.id.CopyFrom(
        identifier_pb2.Identifier(
            resource_type=ResourceType.LAUNCH_PLAN,
            project=row["project"],
            domain=row["domain"],
            name=row["name"],
            version=row["version"],
        )
    )
    return plan


KIND = VersionedKind(ResourceType.LAUNCH_PLAN, LAUNCH_PLANS, _row_to_launch_plan, "LaunchPlans")
get_launch_plan: Callable[
    [sqlite3.Connection, identifier_pb2.Identifier], tuple[int, launch_plan_pb2.LaunchPlan]
] = KIND.fetch


def launch_plan_workflow(conn: sqlite3.Connection, launch_plan_row_id: int) -> tuple[int, Any]:
    """(row id, admin Workflow) of the workflow a launch plan row is linked to. flyteadmin follows this link,
    not `spec.workflow_id`, which for a single-task launch plan names the bare task."""
    row = conn.execute(
        "SELECT workflows.* FROM workflows JOIN launch_plans ON launch_plans.workflow_id = workflows.id"
        " WHERE launch_plans.id = ?",
        (launch_plan_row_id,),
    ).fetchone()
    return int(row["id"]), WORKFLOW_KIND.to_proto(row)


# --- validation ---------------------------------------------------------------------------------------------


def expected_inputs(
    workflow_inputs: interface_pb2.VariableMap,
    fixed: literals_pb2.LiteralMap,
    defaults: interface_pb2.ParameterMap,
) -> interface_pb2.ParameterMap:
    """`checkAndFetchExpectedInputForLaunchPlan`: check names and types, add unbound inputs as required."""
    variables = workflow_inputs.variables
    if not variables:
        if defaults.parameters:
            raise AdminError(
                INVALID,
                f"invalid launch plan default inputs, expected none but found {len(defaults.parameters)}",
            )
        if fixed.literals:
            raise AdminError(
                INVALID, f"invalid launch plan fixed inputs, expected none but found {len(fixed.literals)}"
            )
        return interface_pb2.ParameterMap()
    for name in sorted(defaults.parameters):
        if name not in variables:
            raise AdminError(INVALID, f"unexpected default_input {name}")
        if not castable(defaults.parameters[name].var.type, variables[name].type):
            raise AdminError(
                INVALID,
                f"invalid default_input wrong type {name}, expected "
                f"{type_text(defaults.parameters[name].var.type)}, got {type_text(variables[name].type)} "
                "instead",
            )
    for name in sorted(fixed.literals):
        if name not in variables:
            raise AdminError(INVALID, f"unexpected fixed_input {name}")
        literal_type = _checked_type(fixed.literals[name], name)
        if not castable(literal_type, variables[name].type):
            raise AdminError(
                INVALID,
                f"invalid fixed_input wrong type {name}, expected {type_text(variables[name].type)}, got "
                f"{type_text(literal_type)} instead",
            )
    result = interface_pb2.ParameterMap()
    for name, variable in variables.items():
        if name in defaults.parameters:
            result.parameters[name].CopyFrom(defaults.parameters[name])
        elif name not in fixed.literals:
            result.parameters[name].CopyFrom(
                interface_pb2.Parameter(
                    var=interface_pb2.Variable(type=variable.type, description=variable.description),
                    required=True,
                )
            )
    return result


# `Timestamp.CheckValid`'s bounds: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds.
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799
# Go's protobuf errors start "proto:" and a space that, in the same per-binary choice that doubles the
# spaces of printed messages (see `common.go_text`), is a no-break space.
_PROTO_ERROR_PREFIX = "proto:\u00a0"


def validate_literal_map(literals: literals_pb2.LiteralMap, field_name: str) -> None:
    """`validateLiteralMap` (launch plan fixed inputs, execution inputs): every entry named and holding a
    value (or offloaded data). The first datetime met decides the rest: flyteadmin returns its
    `ValidateDatetime` result straight away, so entries after a valid datetime are not looked at."""
    for name, literal in literals.literals.items():
        if not name:
            raise AdminError(INVALID, f"missing key in {field_name}")
        if literal.WhichOneof("value") is None:  # offloaded data is one of the values
            raise AdminError(INVALID, f"missing valid literal in {field_name} {name}")
        scalar = literal.scalar
        if scalar.HasField("primitive") and scalar.primitive.HasField("datetime"):
            _validate_datetime(scalar.primitive.datetime)
            return


def _validate_datetime(stamp: Timestamp, literal: literals_pb2.Literal | None = None) -> None:
    """`ValidateDatetime`: `Timestamp.CheckValid`'s error text as the message (for a `literal` given, one
    that holds no datetime at all is Go's nil timestamp)."""
    if literal is not None and not (
        literal.scalar.HasField("primitive") and literal.scalar.primitive.HasField("datetime")
    ):
        raise AdminError(INVALID, f"{_PROTO_ERROR_PREFIX}invalid nil Timestamp")
    problem = ""
    if stamp.seconds < _MIN_SECONDS:
        problem = "before 0001-01-01"
    elif stamp.seconds > _MAX_SECONDS:
        problem = "after 9999-12-31"
    elif not 0 <= stamp.nanos < 1_000_000_000:
        problem = "has out-of-range nanos"
    if problem:
        raise AdminError(INVALID, f"{_PROTO_ERROR_PREFIX}timestamp ({go_text(stamp)}) {problem}")


def _checked_type(literal: literals_pb2.Literal, name: str) -> types_pb2.LiteralType:
    """The value's inferred type, or flyteadmin's `NewInvalidLiteralTypeError` when it has none."""
    inferred = literal_type_of(literal)
    problem = literal_type_error(inferred)
    if inferred is None or problem is not None:
        raise AdminError(INVALID, f"Failed to validate literal type for [{name}] with err: {problem}")
    return inferred


def _validate_parameters(defaults: interface_pb2.ParameterMap, fixed: literals_pb2.LiteralMap) -> None:
    """The launch plan's own inputs (`ValidateLaunchPlan`): fixed inputs as a literal map, then
    `validateParameterMapDisableArtifacts` over the defaults (artifact queries first, as artifacts are
    off), in flyteadmin's texts."""
    validate_literal_map(fixed, "fixed_inputs")
    field = "default_inputs"
    for name, parameter in defaults.parameters.items():
        if parameter.HasField("artifact_query"):
            raise AdminError(INVALID, f"artifact mode not enabled but query found {field} {name}")
    for name, parameter in defaults.parameters.items():
        if not name:
            raise AdminError(INVALID, f"missing key in {field}")
        if not parameter.HasField("var") or not parameter.var.HasField("type"):
            raise AdminError(
                INVALID,
                f"The Variable component of the Parameter {name} in {field} either is missing, or has a "
                "missing Type",
            )
        if not parameter.HasField("default"):
            if not parameter.required:  # an artifact_id alone counts as neither
                raise AdminError(
                    INVALID,
                    f"Invalid variable {name} in {field} - variable has neither default, nor is required. "
                    "One must be specified",
                )
            continue
        inferred = _checked_type(parameter.default, name)
        if not castable(inferred, parameter.var.type):
            # flyteadmin names the declared type as "has" and the value's as "expected".
            raise AdminError(
                INVALID,
                f"Type mismatch for Parameter {name} in {field} has type {type_text(parameter.var.type)}, "
                f"expected {type_text(inferred)}",
            )
        if parameter.var.type.simple == types_pb2.DATETIME:
            # flyteadmin returns this check's result, so later parameters go unchecked
            _validate_datetime(parameter.default.scalar.primitive.datetime, parameter.default)
            return


def _validate_schedule(schedule: schedule_pb2.Schedule, expected: interface_pb2.ParameterMap) -> None:
    kind = schedule.WhichOneof("ScheduleExpression")
    if kind is None or (kind == "cron_expression" and not schedule.cron_expression):
        return  # flyteadmin checks only a non-empty cron_expression, a rate or a cron_schedule
    for name in sorted(expected.parameters):
        if expected.parameters[name].required and name != schedule.kickoff_time_input_arg:
            raise AdminError(
                INVALID,
                "Cannot create a launch plan with a schedule if there is an unbound required input. "
                f"[{name}] is required",
            )
    arg = schedule.kickoff_time_input_arg
    if arg:
        if arg not in expected.parameters:
            raise AdminError(
                INVALID,
                "Cannot create a schedule with a KickoffTimeInputArg that does not point to a free input. "
                f"[{arg}] is not free or does not exist.",
            )
        if expected.parameters[arg].var.type.simple != types_pb2.DATETIME:
            raise AdminError(
                INVALID,
                f"KickoffTimeInputArg must reference a datetime input. [{arg}] is a "
                f"[{go_text(expected.parameters[arg].var.type)}]",
            )
    # The cron text is parsed when non-empty; a rate is not checked at all (not even a zero value).
    expression = schedule.cron_expression or schedule.cron_schedule.schedule
    if expression:
        validate_cron_expression(expression)


def validate_notifications(notifications: Iterable[common_pb2.Notification]) -> None:
    """`validateNotifications` (launch plans and executions): a known kind with recipients, none empty, and
    only terminal phases."""
    for notification in notifications:
        kind = notification.WhichOneof("type")
        if kind is None:
            raise invalid("notification type")
        recipients = getattr(notification, kind).recipients_email
        if not recipients:
            raise missing("recipients")
        if not all(recipients):
            raise missing("recipient")
        if any(phase not in _TERMINAL_PHASES for phase in notification.phases):
            raise invalid("phase")


def _validate_entity_metadata(spec: launch_plan_pb2.LaunchPlanSpec) -> None:
    """The last checks of `ValidateLaunchPlan`, made only when the spec has entity metadata: notifications,
    then launch conditions, which must be absent (even an empty one is refused, printed as Go prints it)."""
    if not spec.HasField("entity_metadata"):
        return
    validate_notifications(spec.entity_metadata.notifications)
    if spec.entity_metadata.HasField("launch_conditions"):
        raise AdminError(
            INVALID,
            f"Launch condition must be empty, found {go_text(spec.entity_metadata.launch_conditions)}",
        )


def _schedule_type(schedule: schedule_pb2.Schedule) -> str:
    kind = schedule.WhichOneof("ScheduleExpression")
    return {"cron_expression": "CRON", "cron_schedule": "CRON", "rate": "RATE"}.get(kind or "", "NONE")


def _stored_spec(row: sqlite3.Row) -> launch_plan_pb2.LaunchPlanSpec:
    """What a different-structure diff compares a new launch plan with: the stored spec only."""
    return _row_to_launch_plan(row).spec


def create_launch_plan_in_tx(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: launch_plan_pb2.LaunchPlanCreateRequest,
    *,
    check_project: bool = True,
) -> int:
    """CreateLaunchPlan inside an open transaction; returns the new row id."""
    validate_identifier(request.spec.workflow_id, WORKFLOW_KIND, request.spec.HasField("workflow_id"))
    workflow_row_id, workflow = get_workflow(conn, request.spec.workflow_id)
    interface = workflow.closure.compiled_workflow.primary.template.interface
    return insert_launch_plan(conn, state, request, workflow_row_id, interface, check_project=check_project)


def insert_launch_plan(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: launch_plan_pb2.LaunchPlanCreateRequest,
    workflow_row_id: int,
    interface: interface_pb2.TypedInterface,
    *,
    check_project: bool = True,
) -> int:
    """`ValidateLaunchPlan` against the workflow's interface, the digest check, and the INACTIVE row linked
    to `workflow_row_id` (which `spec.workflow_id` is not checked against: a single-task launch plan names
    the bare task there)."""
    validate_identifier(request.id, KIND, request.HasField("id"))
    if check_project:
        validate_project_and_domain(conn, state, request.id.project, request.id.domain)
    if not request.HasField("spec"):
        raise missing("spec")
    spec = launch_plan_pb2.LaunchPlanSpec()
    spec.CopyFrom(request.spec)
    validate_labels(spec.labels)
    _validate_parameters(spec.default_inputs, spec.fixed_inputs)
    expected = expected_inputs(interface.inputs, spec.fixed_inputs, spec.default_inputs)
    _validate_schedule(spec.entity_metadata.schedule, expected)
    _validate_entity_metadata(spec)
    spec.default_inputs.CopyFrom(expected)
    plan = launch_plan_pb2.LaunchPlan(
        id=request.id,
        spec=spec,
        closure=launch_plan_pb2.LaunchPlanClosure(
            expected_inputs=expected, expected_outputs=interface.outputs
        ),
    )
    new_digest = new_version_digest(conn, KIND, request.id, plan, _stored_spec, compared=spec)
    now = state.now()
    plan.closure.created_at.CopyFrom(timestamp(now))
    plan.closure.updated_at.CopyFrom(plan.closure.created_at)
    return insert_version(
        conn,
        KIND,
        request.id,
        now,
        new_digest,
        None,
        spec=spec.SerializeToString(),
        workflow_id=workflow_row_id,
        closure=plan.closure.SerializeToString(),
        state=INACTIVE,
        schedule_type=_schedule_type(spec.entity_metadata.schedule),
        heap_position=next_heap_position(conn),
    )


@rpc(ADMIN, "UpdateLaunchPlan")
def update_launch_plan(
    state: EmulatorState, request: launch_plan_pb2.LaunchPlanUpdateRequest, call: CallInfo
) -> launch_plan_pb2.LaunchPlanUpdateResponse:
    if request.state not in (ACTIVE, INACTIVE):
        raise AdminError(
            INVALID,
            f"Unrecognized launch plan state {request.state} for update for launch plan "
            f"[{go_text(request.id)}]",
        )
    identifier = identifier_pb2.Identifier()
    identifier.CopyFrom(request.id)
    if request.HasField("id"):
        fill_resource_type(identifier, KIND)
    if request.state == INACTIVE:
        # `disableLaunchPlan` validates the identifier (`enableLaunchPlan` does not, and its lookup, like
        # every gorm struct query, ignores empty parts).
        validate_identifier(identifier, KIND, request.HasField("id"))
    now = db_time(state.now())
    with state.db.tx() as conn:
        row_id, plan = get_launch_plan(conn, identifier)
        if request.state == INACTIVE:
            _write_state(conn, row_id, INACTIVE, now)
        else:
            schedule = plan.spec.entity_metadata.schedule
            if schedule.cron_expression:
                # The local scheduler accepts only `rate` and `cron_schedule`: AddSchedule fails with a
                # plain Go error (INTERNAL) printing the oneof wrapper `&{<expression>}`. An empty
                # expression is "no schedule" and is never added.
                raise AdminError(
                    grpc.StatusCode.INTERNAL,
                    "failed adding schedule for unknown schedule expression type "
                    f"&{{{schedule.cron_expression}}}",
                )
            formerly = conn.execute(
                "SELECT id FROM launch_plans WHERE project=? AND domain=? AND name=? AND state=?"
                " ORDER BY heap_position LIMIT 1",
                (plan.id.project, plan.id.domain, plan.id.name, ACTIVE),
            ).fetchone()
            if formerly is not None:  # `SetActive`: the formerly active version first (even this one)
                _write_state(conn, int(formerly["id"]), INACTIVE, now)
            _write_state(conn, row_id, ACTIVE, now)
    return launch_plan_pb2.LaunchPlanUpdateResponse()


def next_heap_position(conn: sqlite3.Connection) -> int:
    """Where Postgres writes the next row version of `launch_plans`: after every other one."""
    return int(conn.execute("SELECT COALESCE(MAX(heap_position), 0) + 1 FROM launch_plans").fetchone()[0])


def _write_state(conn: sqlite3.Connection, row_id: int, new_state: int, now: str) -> None:
    """One UPDATE of a launch plan row: the new version of the row goes after all others (see
    `EntityTable.physical_order`), which is the order lists return ties of their sort key in."""
    conn.execute(
        "UPDATE launch_plans SET state = ?, updated_at = ?, heap_position = ? WHERE id = ?",
        (new_state, now, next_heap_position(conn), row_id),
    )


@rpc(ADMIN, "GetActiveLaunchPlan")
def get_active_launch_plan(
    state: EmulatorState, request: launch_plan_pb2.ActiveLaunchPlanRequest, call: CallInfo
) -> launch_plan_pb2.LaunchPlan:
    require(project=request.id.project, domain=request.id.domain, name=request.id.name)
    with state.db.read() as conn:
        row = conn.execute(
            "SELECT * FROM launch_plans WHERE project=? AND domain=? AND name=? AND state=? LIMIT 1",
            (request.id.project, request.id.domain, request.id.name, ACTIVE),
        ).fetchone()
    if row is None:
        raise AdminError(
            grpc.StatusCode.NOT_FOUND,
            f"No active launch plan could be found: "
            f"{request.id.project}:{request.id.domain}:{request.id.name}",
        )
    return _row_to_launch_plan(row)


@rpc(ADMIN, "ListActiveLaunchPlans")
def list_active_launch_plans(
    state: EmulatorState, request: launch_plan_pb2.ActiveLaunchPlanListRequest, call: CallInfo
) -> launch_plan_pb2.LaunchPlanList:
    require(project=request.project, domain=request.domain)
    implicit = identifier_predicates(LAUNCH_PLANS, project=request.project, domain=request.domain)
    implicit.append(Predicate("launch_plans.state = ?", (ACTIVE,), "launch_plan", "state"))
    with state.db.read() as conn:
        rows, token = page_of_request(
            conn,
            LAUNCH_PLANS,
            request,
            list_name="ListActiveLaunchPlans",
            implicit=implicit,
            use_filters=False,
        )
    return launch_plan_pb2.LaunchPlanList(launch_plans=[_row_to_launch_plan(r) for r in rows], token=token)


register_versioned_rpcs(
    KIND,
    "LaunchPlan",
    create_launch_plan_in_tx,
    launch_plan_pb2.LaunchPlanCreateResponse,
    launch_plan_pb2.LaunchPlanList,
    "launch_plans",
    strict_get=True,
)
