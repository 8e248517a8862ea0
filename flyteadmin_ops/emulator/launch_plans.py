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
from collections.abc import Callable
from typing import Any

import grpc
from flyteidl.admin import launch_plan_pb2, schedule_pb2
from flyteidl.core import execution_pb2, identifier_pb2, interface_pb2, literals_pb2, types_pb2

from flyteadmin_ops.emulator.common import INVALID, db_time, go_text, missing, require, timestamp
from flyteadmin_ops.emulator.cron import validate_cron_expression
from flyteadmin_ops.emulator.filters import Join, Predicate, identifier_predicates, page_of_request
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


def _row_to_launch_plan(row: sqlite3.Row) -> launch_plan_pb2.LaunchPlan:
    plan = launch_plan_pb2.LaunchPlan()
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


def _castable(source: types_pb2.LiteralType, target: types_pb2.LiteralType) -> bool:
    """A lenient `AreTypesCastable`: same kind (and same simple type), anything into a union holding it."""
    if target.HasField("union_type"):
        return any(_castable(source, variant) for variant in target.union_type.variants) or source == target
    if source.WhichOneof("type") != target.WhichOneof("type"):
        return source.simple == types_pb2.NONE and target.WhichOneof("type") is None
    kind = source.WhichOneof("type")
    if kind == "simple":
        return source.simple == target.simple
    if kind == "collection_type":
        return _castable(source.collection_type, target.collection_type)
    if kind == "map_value_type":
        return _castable(source.map_value_type, target.map_value_type)
    return True


def _literal_type(literal: literals_pb2.Literal) -> types_pb2.LiteralType | None:
    """The simple type of a scalar primitive literal (None when it is something richer: not checked)."""
    if literal.WhichOneof("value") != "scalar" or literal.scalar.WhichOneof("value") != "primitive":
        return None
    simple = {
        "integer": types_pb2.INTEGER,
        "float_value": types_pb2.FLOAT,
        "string_value": types_pb2.STRING,
        "boolean": types_pb2.BOOLEAN,
        "datetime": types_pb2.DATETIME,
        "duration": types_pb2.DURATION,
    }[literal.scalar.primitive.WhichOneof("value") or "integer"]
    return types_pb2.LiteralType(simple=simple)


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
        if not _castable(defaults.parameters[name].var.type, variables[name].type):
            raise AdminError(
                INVALID,
                f"invalid default_input wrong type {name}, expected "
                f"{go_text(defaults.parameters[name].var.type)}, got {go_text(variables[name].type)} instead",
            )
    for name in sorted(fixed.literals):
        if name not in variables:
            raise AdminError(INVALID, f"unexpected fixed_input {name}")
        literal_type = _literal_type(fixed.literals[name])
        if literal_type is not None and not _castable(literal_type, variables[name].type):
            raise AdminError(
                INVALID,
                f"invalid fixed_input wrong type {name}, expected {go_text(variables[name].type)}, got "
                f"{go_text(literal_type)} instead",
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


def _validate_parameters(defaults: interface_pb2.ParameterMap, fixed: literals_pb2.LiteralMap) -> None:
    for name, literal in fixed.literals.items():
        if not name:
            raise AdminError(INVALID, "missing key in fixed_inputs")
        if literal.WhichOneof("value") is None:
            raise AdminError(INVALID, f"missing valid literal in fixed_inputs {name}")
    for name, parameter in defaults.parameters.items():
        if not name:
            raise AdminError(INVALID, "missing key in default_inputs")
        if not parameter.HasField("var") or not parameter.var.HasField("type"):
            raise AdminError(INVALID, f"invalid default_inputs input type {name}")
        behavior = parameter.WhichOneof("behavior")
        if behavior in ("artifact_query", "artifact_id"):
            raise AdminError(INVALID, f"artifact mode not enabled, cannot use {behavior} for {name}")
        if behavior is None:
            raise AdminError(
                INVALID,
                f"Invalid variable {name} in default_inputs - variable has neither default, nor is required. "
                "One must be specified",
            )


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


def _validate_notifications(metadata: launch_plan_pb2.LaunchPlanMetadata) -> None:
    for notification in metadata.notifications:
        kind = notification.WhichOneof("type")
        target = getattr(notification, kind) if kind else None
        if target is None or not target.recipients_email:
            raise AdminError(INVALID, "missing recipients_email in notification")
        for phase in notification.phases:
            if phase not in _TERMINAL_PHASES:
                raise AdminError(
                    INVALID,
                    f"invalid phase {execution_pb2.WorkflowExecution.Phase.Name(phase)} in notification: "
                    "only terminal phases are supported",
                )
    if len(metadata.launch_conditions.value):
        raise AdminError(INVALID, "launch conditions are not supported")


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
    _validate_notifications(spec.entity_metadata)
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
    fill_resource_type(identifier, KIND)
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
