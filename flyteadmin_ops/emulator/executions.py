"""AdminService executions: create, relaunch, recover, terminate, archive, get, list and data.

Behaviour follows flyteadmin v1.16 (`execution_manager.go`, `validation/execution_validator.go`,
`transformers/execution.go`); see section 6 of the semantics reference. Points a naive emulator gets wrong
and this one does not:

- a new execution is `UNDEFINED` (nothing runs until events arrive, or the simulate executor sends them);
- the name check lower-cases first, but the name is stored with its original case;
- a duplicate name is ALREADY_EXISTS *after* the stored inputs of the existing execution were overwritten,
  naming `execution_tags_pkey` when the new execution's tag rows (its labels and tags, written first and
  outside the transaction) collide, else `executions_pkey`;
- lookups are gorm struct queries: empty identifier parts match anything (`take_row`);
- terminate only marks `ABORTING` (the engine reports `ABORTED`), and refuses terminal executions with an
  `EventFailureReason.already_in_terminal_state` detail;
- ListExecutions hides archived executions unless a filter mentions `state`, trims error messages to 100
  bytes and clears the deprecated inline inputs;
- the stored spec is the request's, plus only what flyteadmin resolves into it: principal, namespace, the
  security context and (launch plan executions only) the max parallelism merged from request, launch plan,
  WORKFLOW_EXECUTION_CONFIG attributes and defaults, and the project's labels when the request has labels
  of its own; other launch plan settings are not copied in;
- a launch plan's concurrency policy (SKIP) refuses a new execution while `max` of its executions, any
  version, are QUEUED or RUNNING.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    security_pb2,
)
from google.protobuf.message import Message

from flyteadmin_ops.emulator.attributes import lookup
from flyteadmin_ops.emulator.common import (
    INVALID,
    db_time,
    missing,
    not_found_entity,
    timestamp,
)
from flyteadmin_ops.emulator.db import schema
from flyteadmin_ops.emulator.filters import (
    EntityTable,
    Join,
    Predicate,
    page,
    parse_filters,
    validate_limit,
)
from flyteadmin_ops.emulator.launch_plans import (
    LAUNCH_PLANS,
    get_launch_plan,
    launch_plan_workflow,
    validate_literal_map,
    validate_notifications,
)
from flyteadmin_ops.emulator.literal_types import castable, literal_type_error, literal_type_of, type_text
from flyteadmin_ops.emulator.projects import validate_labels, validate_project_and_domain
from flyteadmin_ops.emulator.registry import ADMIN, AdminError, CallInfo, rpc
from flyteadmin_ops.emulator.single_task import ensure_single_task_launch_plan
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import get_literal_map, join_uri, put_literal_map
from flyteadmin_ops.emulator.tasks import TASKS, get_task_row
from flyteadmin_ops.emulator.workflows import WORKFLOWS

Phase = core_execution_pb2.WorkflowExecution.Phase
Mode = execution_pb2.ExecutionMetadata.ExecutionMode

TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.TIMED_OUT, Phase.ABORTED})

# gorm's base model plus the execution key: the first columns of every execution-scoped table.
EXECUTION_SCOPED_DDL = """
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        execution_project TEXT NOT NULL,
        execution_domain TEXT NOT NULL,
        execution_name TEXT NOT NULL"""

schema(
    f"""
    CREATE TABLE IF NOT EXISTS executions ({EXECUTION_SCOPED_DDL},
        launch_plan_id INTEGER,
        workflow_id INTEGER,
        task_id INTEGER,
        phase TEXT NOT NULL,
        closure BLOB NOT NULL,
        spec BLOB NOT NULL,
        started_at TEXT,
        execution_created_at TEXT,
        execution_updated_at TEXT,
        duration INTEGER NOT NULL DEFAULT 0,
        abort_cause TEXT NOT NULL DEFAULT '',
        mode INTEGER NOT NULL DEFAULT 0,
        source_execution_id INTEGER,
        parent_node_execution_id INTEGER,
        cluster TEXT NOT NULL DEFAULT '',
        inputs_uri TEXT NOT NULL DEFAULT '',
        user_inputs_uri TEXT NOT NULL DEFAULT '',
        error_kind TEXT,
        error_code TEXT,
        user TEXT NOT NULL DEFAULT '',
        state INTEGER NOT NULL DEFAULT 0,
        launch_entity TEXT NOT NULL DEFAULT '',
        UNIQUE (execution_project, execution_domain, execution_name)
    );
    CREATE TABLE IF NOT EXISTS execution_tags ({EXECUTION_SCOPED_DDL},
        key TEXT NOT NULL,
        value TEXT NOT NULL DEFAULT '',
        UNIQUE (execution_project, execution_domain, execution_name, key, value)
    )
    """
)

# Columns every execution-scoped table has (gorm's base model plus the execution key).
EXECUTION_SCOPED_COLUMNS = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "deleted_at",
        "execution_project",
        "execution_domain",
        "execution_name",
    }
)

# flyteadmin joins execution_tags on the execution name alone (`execution_repo.go`): a tag of a same-named
# execution in another project or domain matches too, and an execution appears once per matching tag.
_SAME_EXECUTION = "execution_tags.execution_name = executions.execution_name"
# `admin_tag.name` reads execution_tags.key (the admin_tags table was migrated away); `execution_tag` filters
# on the execution_tags model's own columns; `execution_admin_tag` is no entity executions may join.
_TAG_TYPES = {"key": "character varying(255)", "value": "character varying(255)"}
_ADMIN_TAG_JOIN = Join(
    table="execution_tags",
    on_sql=_SAME_EXECUTION,
    columns=frozenset({"id", "created_at", "updated_at", "deleted_at", "name"}),
    renames={"name": "key"},
    kind="INNER",
    types=_TAG_TYPES,
)
_TAG_JOIN = Join(
    table="execution_tags",
    on_sql=_SAME_EXECUTION,
    columns=EXECUTION_SCOPED_COLUMNS | {"key", "value"},
    kind="INNER",
    types=_TAG_TYPES,
)
# Postgres types of the executions columns that are not text or timestamps (gorm: uint -> bigint,
# int32 -> integer, time.Duration -> bigint, []byte -> bytea).
EXECUTION_TYPES = {
    "launch_plan_id": "bigint",
    "workflow_id": "bigint",
    "task_id": "bigint",
    "source_execution_id": "bigint",
    "parent_node_execution_id": "bigint",
    "closure": "bytea",
    "spec": "bytea",
    "duration": "bigint",
    "mode": "integer",
    "state": "integer",
}

EXECUTIONS = EntityTable(
    entity="execution",
    table="executions",
    columns=EXECUTION_SCOPED_COLUMNS
    | frozenset(
        {
            "launch_plan_id",
            "workflow_id",
            "task_id",
            "phase",
            "closure",
            "spec",
            "started_at",
            "execution_created_at",
            "execution_updated_at",
            "duration",
            "abort_cause",
            "mode",
            "source_execution_id",
            "parent_node_execution_id",
            "cluster",
            "inputs_uri",
            "user_inputs_uri",
            "error_kind",
            "error_code",
            "user",
            "state",
            "launch_entity",
        }
    ),
    joins={
        "launch_plan": Join(
            LAUNCH_PLANS.table,
            f"{LAUNCH_PLANS.table}.id = executions.launch_plan_id",
            LAUNCH_PLANS.columns,
            LAUNCH_PLANS.renames,
            types=LAUNCH_PLANS.types,
        ),
        "workflow": Join(
            WORKFLOWS.table,
            f"{WORKFLOWS.table}.id = executions.workflow_id",
            WORKFLOWS.columns,
            WORKFLOWS.renames,
            types=WORKFLOWS.types,
        ),
        "task": Join(
            TASKS.table,
            f"{TASKS.table}.id = executions.task_id",
            TASKS.columns,
            TASKS.renames,
            types=TASKS.types,
        ),
        "admin_tag": _ADMIN_TAG_JOIN,
        "execution_tag": _TAG_JOIN,
    },
    types=EXECUTION_TYPES,
)

# --- names and identifiers -------------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[a-z][a-z\-0-9]*$")
_NAME_MAX = 63
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
_RANDOM = random.Random()


def generate_name() -> str:
    """flyteadmin's generated execution name: "a" + 19 characters of the k8s alphabet (20 in all)."""
    return "a" + "".join(_RANDOM.choice(_NAME_ALPHABET) for _ in range(19))


def check_execution_name(name: str) -> None:
    lowered = name.lower()
    if len(lowered.encode()) > _NAME_MAX:  # Go's len(): bytes
        raise AdminError(INVALID, f"size of name exceeded length {_NAME_MAX} : {lowered}")
    if not _NAME_RE.fullmatch(lowered):  # Go's `$` matches only at the end of the text, never before a "\n"
        raise AdminError(
            INVALID, f"invalid name format: {lowered}, does not match regex '{_NAME_RE.pattern}'"
        )


def validate_execution_id(
    identifier: identifier_pb2.WorkflowExecutionIdentifier | None, present: bool
) -> None:
    """`ValidateWorkflowExecutionIdentifier`: id, project, domain and name are required, in that order."""
    if not present or identifier is None:
        raise missing("id")
    for field in ("project", "domain", "name"):
        if not getattr(identifier, field):
            raise missing(field)


def execution_id(project: str, domain: str, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


def row_execution_id(row: sqlite3.Row) -> identifier_pb2.WorkflowExecutionIdentifier:
    return execution_id(row["execution_project"], row["execution_domain"], row["execution_name"])


def require_row(row: sqlite3.Row | None, kind: str, identifier: Message) -> sqlite3.Row:
    """`row`, or NOT_FOUND `missing entity of type <kind> with identifier <id>` when there is none."""
    if row is None:
        raise not_found_entity(kind, identifier)
    return row


def validate_execution_child_id(identifier: Any, present: bool, child_field: str) -> None:
    """`ValidateNodeExecutionIdentifier` / `ValidateSignalIdentifier`: id, execution id, the child's own
    name (`node_id`, `signal_id`), then the execution id's fields, in that order."""
    if not present:
        raise missing("id")
    if not identifier.HasField("execution_id"):
        raise missing("execution_id")
    if not getattr(identifier, child_field):
        raise missing(child_field)
    validate_execution_id(identifier.execution_id, True)


def validate_execution_listing(
    identifier: identifier_pb2.WorkflowExecutionIdentifier, present: bool, limit: int
) -> None:
    """Lists scoped to one execution: any bad execution id is `missing execution_id`, then the limit."""
    try:
        validate_execution_id(identifier, present)
    except AdminError:
        raise missing("execution_id") from None
    validate_limit(limit)


def execution_key(identifier: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, str]:
    """The execution's key columns, which every execution-scoped table (executions, node and task
    executions, tags, signals) carries under these names."""
    return {
        "execution_project": identifier.project,
        "execution_domain": identifier.domain,
        "execution_name": identifier.name,
    }


def select_rows(
    conn: sqlite3.Connection,
    table: str,
    key: Mapping[str, object],
    condition: str = "",
    order_by: str = "",
) -> list[sqlite3.Row]:
    """Rows of `table` whose columns hold `key`'s values and that meet the extra SQL `condition`."""
    clauses = [f"{column} = ?" for column in key]
    if condition:
        clauses.append(condition)
    sql = f"SELECT * FROM {table} WHERE {' AND '.join(clauses)}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    return conn.execute(sql, tuple(key.values())).fetchall()


def find_row(conn: sqlite3.Connection, table: str, key: Mapping[str, object]) -> sqlite3.Row | None:
    """The row of `table` whose unique key columns hold `key`'s values, if there is one."""
    rows = select_rows(conn, table, key)
    return rows[0] if rows else None


def take_row(conn: sqlite3.Connection, table: str, example: Mapping[str, object]) -> sqlite3.Row | None:
    """One row like flyteadmin's repositories find it: `db.Where(&Model{...}).Take(&row)`.

    gorm leaves a struct's zero-valued fields out of the query, so an identifier with empty parts matches any
    row having the parts it does give, and an empty identifier matches any row at all (a node event without an
    id updates some node execution). Only empty strings count as zero here: integer key parts such as
    `retry_attempt` are pointers in flyteadmin's models and always take part. `Take` has no order; Postgres
    returns the first row of its heap, for a table written in order the oldest, as here.
    """
    given = {column: value for column, value in example.items() if value != ""}
    where = " AND ".join(f"{column} = ?" for column in given) or "1 = 1"
    sql = f"SELECT * FROM {table} WHERE {where} ORDER BY id LIMIT 1"
    row: sqlite3.Row | None = conn.execute(sql, tuple(given.values())).fetchone()
    return row


def insert_row(conn: sqlite3.Connection, table: str, columns: Mapping[str, object]) -> int:
    """Insert one row given as column -> value; returns its id."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    cursor = conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(columns.values()))
    return int(cursor.lastrowid or 0)


def fetch_execution_row(
    conn: sqlite3.Connection, identifier: identifier_pb2.WorkflowExecutionIdentifier
) -> sqlite3.Row:
    """The execution `ExecutionRepo.Get` finds (see `take_row`: empty parts match anything), or NOT_FOUND
    `missing entity of type execution with identifier ...`."""
    row = take_row(conn, "executions", execution_key(identifier))
    return require_row(row, "execution", execution_id(identifier.project, identifier.domain, identifier.name))


def load_closure(row: sqlite3.Row) -> execution_pb2.ExecutionClosure:
    return execution_pb2.ExecutionClosure.FromString(row["closure"])


def load_spec(row: sqlite3.Row) -> execution_pb2.ExecutionSpec:
    return execution_pb2.ExecutionSpec.FromString(row["spec"])


def phase_name(phase: int) -> str:
    return Phase.Name(phase)


def stored_phase(row: sqlite3.Row) -> int:
    return Phase.Value(row["phase"])


def metadata_uri(state: EmulatorState, *parts: str) -> str:
    """`s3://my-s3-bucket/metadata/<parts...>`: where flyteadmin offloads execution inputs."""
    return join_uri(state.config.storage_prefix, state.config.metadata_prefix, *parts)


def notify_engine(state: EmulatorState) -> None:
    """Wake the simulate executor (if one runs) after an execution was created or terminated."""
    engine = state.extensions.get("executor")
    if engine is not None:
        engine.notify()


# --- listing and data helpers shared by executions, node/task executions and signals ----------------------


def execution_scope(
    table: EntityTable, execution: identifier_pb2.WorkflowExecutionIdentifier, **more: object
) -> list[Predicate]:
    """The implicit `eq` filters flyteadmin adds for a request's execution id (empty parts are skipped)."""
    values: dict[str, object] = {
        "execution_project": execution.project,
        "execution_domain": execution.domain,
        "execution_name": execution.name,
        **more,
    }
    return [
        Predicate(f"{table.table}.{column} = ?", (value,), table.entity, column)
        for column, value in values.items()
        if value != ""
    ]


def list_rows(
    conn: sqlite3.Connection,
    table: EntityTable,
    request: Any,
    implicit: list[Predicate],
    list_name: str,
    filters: list[Predicate] | None = None,
) -> tuple[list[sqlite3.Row], str]:
    """One page of a List RPC request (`filters`, `sort_by`, `limit`, `token`) with flyteadmin's grammar."""
    return page(
        conn,
        table,
        filters=request.filters if filters is None else filters,
        implicit=implicit,
        sort=request.sort_by if request.HasField("sort_by") else None,
        limit=request.limit,
        token=request.token,
        list_name=list_name,
    )


def data_response(response: Any, conn: sqlite3.Connection, inputs_uri: str, closure: Any) -> Any:
    """Fill a Get*Data response: full inputs from storage, full outputs from the closure, empty URL blobs.

    The URL blobs stay empty as with flyteadmin's default `remoteData.signedUrls.enabled: false`.
    """
    response.full_inputs.CopyFrom(get_literal_map(conn, inputs_uri))
    response.full_outputs.CopyFrom(read_outputs(conn, closure))
    response.inputs.SetInParent()
    response.outputs.SetInParent()
    return response


def check_and_fetch_inputs(
    user_inputs: literals_pb2.LiteralMap,
    fixed_inputs: literals_pb2.LiteralMap,
    expected_inputs: interface_pb2.ParameterMap,
) -> literals_pb2.LiteralMap:
    """`CheckAndFetchInputsForExecution`: the computed inputs, or the first INVALID_ARGUMENT flyteadmin gives.

    flyteadmin walks Go maps (random order); names are walked sorted here so the same request always
    fails with the same message.
    """
    expected = expected_inputs.parameters
    computed = literals_pb2.LiteralMap()
    for name in sorted(user_inputs.literals):
        if name not in expected:
            raise AdminError(INVALID, f"invalid input {name}")
        computed.literals[name].CopyFrom(user_inputs.literals[name])
    for name in sorted(expected):
        parameter = expected[name]
        if name not in computed.literals:
            if parameter.required:
                raise AdminError(INVALID, f"expected_inputs {name} missing")
            if parameter.HasField("default"):
                computed.literals[name].CopyFrom(parameter.default)
        else:
            inferred = literal_type_of(computed.literals[name])
            problem = literal_type_error(inferred)
            if problem is not None:
                raise AdminError(INVALID, f"Failed to validate literal type for [{name}] with err: {problem}")
            if inferred is not None and not castable(inferred, parameter.var.type):
                raise AdminError(
                    INVALID,
                    f"invalid {name} input wrong type. Expected {type_text(parameter.var.type)}, "
                    f"but got {type_text(inferred)}",
                )
    for name in sorted(fixed_inputs.literals):
        if name in computed.literals:
            raise AdminError(INVALID, f"fixed_inputs {name} cannot be overridden")
        computed.literals[name].CopyFrom(fixed_inputs.literals[name])
    return computed


# --- create / relaunch / recover ------------------------------------------------------------------------

_LAUNCHABLE = {identifier_pb2.ResourceType.TASK, identifier_pb2.ResourceType.LAUNCH_PLAN}
# Phases that count against a launch plan's concurrency limit (`activeExecutionPhases`); an UNDEFINED
# execution (created, never picked up by an engine) does not count.
_ACTIVE_PHASES = (phase_name(Phase.QUEUED), phase_name(Phase.RUNNING))


def _validate_create_request(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: execution_pb2.ExecutionCreateRequest,
    inputs: literals_pb2.LiteralMap,
) -> None:
    """`ValidateExecutionRequest`, in flyteadmin's order; `inputs` are the request's, or the deprecated
    `spec.inputs` when those are empty (flyteadmin swaps them in before validating)."""
    if not request.project:
        raise missing("project")
    if not request.domain:
        raise missing("domain")
    if request.name:
        check_execution_name(request.name)
    validate_project_and_domain(conn, state, request.project, request.domain)
    if not request.HasField("spec"):
        raise missing("spec")
    reference = request.spec.launch_plan
    if not request.spec.HasField("launch_plan"):
        raise missing("id")
    for field in ("project", "domain", "name", "version"):
        if not getattr(reference, field):
            raise missing(field)
    if reference.resource_type not in _LAUNCHABLE:
        kind = identifier_pb2.ResourceType.Name(reference.resource_type)
        raise AdminError(
            INVALID,
            f"Invalid reference entity resource type [{kind}], only [map[TASK:<nil> LAUNCH_PLAN:<nil>]] "
            "allowed",
        )
    validate_literal_map(inputs, "inputs")
    validate_notifications(request.spec.notifications.notifications)
    validate_labels(request.spec.labels)


def _names_an_identity(context: security_pb2.SecurityContext) -> bool:
    """flyteadmin's "deep check": an empty `run_as` (as the console sends) does not count as set."""
    run_as = context.run_as
    return bool(run_as.k8s_service_account or run_as.iam_role or run_as.execution_identity)


def _merge_into(config: matchable_resource_pb2.WorkflowExecutionConfig, source: Any) -> None:
    """`MergeIntoExecConfig` for the two settings the stored spec keeps: the first source to set one wins."""
    if not config.max_parallelism and source.max_parallelism > 0:
        config.max_parallelism = source.max_parallelism
    if not config.HasField("security_context") and _names_an_identity(source.security_context):
        config.security_context.CopyFrom(source.security_context)


def _auth_role(
    spec: execution_pb2.ExecutionSpec, launch_plan_spec: launch_plan_pb2.LaunchPlanSpec | None
) -> common_pb2.AuthRole:
    """`resolveAuthRole`: the deprecated role fields, request first, then the launch plan's three forms."""
    if spec.HasField("auth_role"):
        return spec.auth_role
    if launch_plan_spec is None:
        return common_pb2.AuthRole()
    if launch_plan_spec.HasField("auth_role"):
        return launch_plan_spec.auth_role
    if launch_plan_spec.HasField("auth"):
        auth = launch_plan_spec.auth
        return common_pb2.AuthRole(
            assumable_iam_role=auth.assumable_iam_role,
            kubernetes_service_account=auth.kubernetes_service_account,
        )
    return common_pb2.AuthRole(assumable_iam_role=launch_plan_spec.role)


def execution_config(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: execution_pb2.ExecutionCreateRequest,
    launch_plan_spec: launch_plan_pb2.LaunchPlanSpec | None,
) -> matchable_resource_pb2.WorkflowExecutionConfig:
    """`getExecutionConfig`: max parallelism and security context, taken from the first source that sets them.

    The sources in order: the request spec, the launch plan (not for single-task executions), the most
    specific WORKFLOW_EXECUTION_CONFIG attribute (workflow, then project-domain, then project), the
    project-level attribute alone (so a project-wide max parallelism still applies under a project-domain
    record that only names a service account), the deprecated auth role fields, and the platform default
    (`max_parallelism` 25, an empty identity).
    """
    sources: list[Any] = [request.spec]
    workflow = ""
    if launch_plan_spec is not None:
        sources.append(launch_plan_spec)
        workflow = launch_plan_spec.workflow_id.name
    for key in (
        {"project": request.project, "domain": request.domain, "workflow": workflow},
        {"project": request.project, "domain": "", "workflow": ""},
    ):
        row = lookup(conn, key, matchable_resource_pb2.MatchableResource.WORKFLOW_EXECUTION_CONFIG)
        if row is not None:
            attributes = matchable_resource_pb2.MatchingAttributes.FromString(row["attributes"])
            sources.append(attributes.workflow_execution_config)
    config = matchable_resource_pb2.WorkflowExecutionConfig()
    for source in sources:
        _merge_into(config, source)
    if not config.HasField("security_context"):
        role = _auth_role(request.spec, launch_plan_spec)
        if role.kubernetes_service_account or role.assumable_iam_role:
            config.security_context.run_as.iam_role = role.assumable_iam_role
            config.security_context.run_as.k8s_service_account = role.kubernetes_service_account
    if not config.max_parallelism:
        config.max_parallelism = state.config.max_parallelism
    config.security_context.run_as.SetInParent()
    return config


def _check_concurrency(conn: sqlite3.Connection, launch_plan: launch_plan_pb2.LaunchPlan) -> None:
    """`checkLaunchPlanConcurrency`: QUEUED/RUNNING executions of any version of this launch plan name in its
    project and domain, against `concurrency_policy.max`.

    Reached with behaviour SKIP: ALREADY_EXISTS; UNSPECIFIED lets the execution through; any other
    behaviour is a plain Go error upstream, hence INTERNAL.
    """
    policy = launch_plan.spec.concurrency_policy
    lp = launch_plan.id
    marks = ", ".join("?" for _ in _ACTIVE_PHASES)
    count = conn.execute(
        f"SELECT COUNT(*) FROM executions JOIN {LAUNCH_PLANS.table} AS lp "
        "ON executions.launch_plan_id = lp.id WHERE executions.execution_project = ? "
        f"AND executions.execution_domain = ? AND lp.name = ? AND executions.phase IN ({marks})",
        (lp.project, lp.domain, lp.name, *_ACTIVE_PHASES),
    ).fetchone()[0]
    if count < policy.max:
        return
    if policy.behavior == launch_plan_pb2.ConcurrencyLimitBehavior.CONCURRENCY_LIMIT_BEHAVIOR_SKIP:
        raise AdminError(
            grpc.StatusCode.ALREADY_EXISTS,
            f"concurrency limit ({policy.max}) reached for launch plan {lp.name}; skipping execution",
        )
    if policy.behavior != launch_plan_pb2.ConcurrencyLimitBehavior.CONCURRENCY_LIMIT_BEHAVIOR_UNSPECIFIED:
        raise AdminError(
            grpc.StatusCode.INTERNAL, f"unsupported concurrency-limit behavior: {policy.behavior}"
        )


def _inherit_from_parent_node(
    conn: sqlite3.Connection, spec: execution_pb2.ExecutionSpec
) -> tuple[int | None, int | None]:
    """`getInheritedExecMetadata`: an execution launched by a node (a child launch plan) takes the launching
    execution's principal, nesting + 1 and execution cluster label; both records must exist (NOT_FOUND
    otherwise, found as the repositories find them: see `take_row`).

    Returns the row ids of the parent node execution and of its execution (None, None without a parent).
    """
    if not spec.metadata.HasField("parent_node_execution"):
        return None, None
    parent = spec.metadata.parent_node_execution
    node_key = {**execution_key(parent.execution_id), "node_id": parent.node_id}
    model_key = identifier_pb2.NodeExecutionIdentifier(
        node_id=parent.node_id,
        execution_id=execution_id(
            parent.execution_id.project, parent.execution_id.domain, parent.execution_id.name
        ),
    )
    node = require_row(take_row(conn, "node_executions", node_key), "node execution", model_key)
    source = fetch_execution_row(conn, parent.execution_id)
    source_spec = load_spec(source)
    spec.metadata.principal = source["user"]
    spec.metadata.nesting = source_spec.metadata.nesting + 1
    if source_spec.HasField("execution_cluster_label"):
        spec.execution_cluster_label.CopyFrom(source_spec.execution_cluster_label)
    return int(node["id"]), int(source["id"])


def launch(
    state: EmulatorState,
    request: execution_pb2.ExecutionCreateRequest,
    principal: str,
    relaunched_from: int | None = None,
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Validate, resolve the launch entity and inputs, offload inputs and store a new UNDEFINED execution.

    Shared by CreateExecution, RelaunchExecution and RecoverExecution, as in flyteadmin; `relaunched_from`
    is the row id of the execution a relaunch or recovery copies.
    """
    now = state.now()
    duplicate = ""
    user_inputs = request.inputs if request.inputs.literals else request.spec.inputs
    with state.db.tx() as conn:
        _validate_create_request(conn, state, request, user_inputs)
        name = request.name or generate_name()
        reference = request.spec.launch_plan
        is_task = reference.resource_type == identifier_pb2.ResourceType.TASK
        task_row_id: int | None = None
        if is_task:
            task_row_id, task = get_task_row(conn, reference)
            lp_row_id, launch_plan = ensure_single_task_launch_plan(
                conn, state, reference, request.spec, task
            )
        else:
            lp_row_id, launch_plan = get_launch_plan(conn, reference)
        computed = check_and_fetch_inputs(
            user_inputs, launch_plan.spec.fixed_inputs, launch_plan.closure.expected_inputs
        )
        inputs_uri = put_literal_map(
            conn, metadata_uri(state, request.project, request.domain, name, "inputs"), computed, now
        )
        user_inputs_uri = put_literal_map(
            conn, metadata_uri(state, request.project, request.domain, name, "user_inputs"), user_inputs, now
        )
        spec = execution_pb2.ExecutionSpec()
        spec.CopyFrom(request.spec)
        spec.metadata.principal = principal
        parent_node_row_id, source_row_id = _inherit_from_parent_node(conn, spec)
        config = execution_config(conn, state, request, None if is_task else launch_plan.spec)
        if not is_task:
            # Single-task executions keep the request's max parallelism (flyteadmin sets it only here).
            spec.max_parallelism = config.max_parallelism
            if launch_plan.spec.HasField("concurrency_policy"):
                _check_concurrency(conn, launch_plan)
        spec.security_context.CopyFrom(config.security_context)
        # `CreateExecutionModel` replaces the system metadata whole: a relaunch does not keep its original's
        # cluster (the engine reports its own; the emulator has none to report).
        spec.metadata.system_metadata.CopyFrom(
            execution_pb2.SystemMetadata(namespace=f"{request.project}-{request.domain}")
        )
        _add_project_labels(conn, request.project, spec)
        new_id = execution_id(request.project, request.domain, name)
        # `ExecutionRepo.Create` inserts the tag rows first, then the execution, both outside its transaction:
        # a duplicate name with tags fails on `execution_tags_pkey`; one without (or with other tags) fails on
        # `executions_pkey` and leaves the new tag rows behind. The inputs were overwritten before either.
        pairs = [] if is_task else _tag_pairs(spec)  # single-task executions write no tags
        if not _insert_tags(conn, new_id, pairs, now):
            duplicate = "execution_tags_pkey"
        elif find_row(conn, "executions", execution_key(new_id)):
            duplicate = "executions_pkey"
        else:
            _insert_execution(
                conn,
                request,
                name,
                spec,
                now,
                launch_plan,
                lp_row_id,
                _ExecutionLinks(
                    launch_plan=None if is_task else lp_row_id,
                    task=task_row_id,
                    parent_node_execution=parent_node_row_id,
                    source_execution=relaunched_from if relaunched_from is not None else source_row_id,
                ),
                (inputs_uri, user_inputs_uri),
            )
    if duplicate:
        raise AdminError(
            grpc.StatusCode.ALREADY_EXISTS,
            "value with matching already exists (duplicate key value violates unique constraint "
            f'"{duplicate}")',
        )
    notify_engine(state)
    return execution_id(request.project, request.domain, name)


@dataclass(frozen=True)
class _ExecutionLinks:
    """Row ids an execution row points at (`launch_plan_id` is empty for single-task executions)."""

    launch_plan: int | None
    task: int | None
    parent_node_execution: int | None
    source_execution: int | None


def _insert_execution(
    conn: sqlite3.Connection,
    request: execution_pb2.ExecutionCreateRequest,
    name: str,
    spec: execution_pb2.ExecutionSpec,
    now: datetime,
    launch_plan: launch_plan_pb2.LaunchPlan,
    lp_row_id: int,
    links: _ExecutionLinks,
    uris: tuple[str, str],
) -> None:
    lp_spec = launch_plan.spec
    # The linked workflow's id: for a single-task execution `.flytegen.<task>`, not the spec's bare name.
    _, workflow = launch_plan_workflow(conn, lp_row_id)
    closure = execution_pb2.ExecutionClosure(
        phase=Phase.UNDEFINED,
        created_at=timestamp(now),
        updated_at=timestamp(now),
        workflow_id=workflow.id,
        state_change_details=execution_pb2.ExecutionStateChangeDetails(
            state=execution_pb2.ExecutionState.EXECUTION_ACTIVE,
            occurred_at=timestamp(now),
            principal=spec.metadata.principal,
        ),
    )
    if not spec.disable_all:
        notifications = spec.notifications.notifications or lp_spec.entity_metadata.notifications
        closure.notifications.extend(notifications)
    workflow_row = conn.execute(
        f"SELECT workflow_id FROM {LAUNCH_PLANS.table} WHERE id = ?", (lp_row_id,)
    ).fetchone()
    stamp = db_time(now)
    inputs_uri, user_inputs_uri = uris
    row = {
        "created_at": stamp,
        "updated_at": stamp,
        **execution_key(execution_id(request.project, request.domain, name)),
        "launch_plan_id": links.launch_plan,
        "workflow_id": workflow_row["workflow_id"] if workflow_row else None,
        "task_id": links.task,
        "phase": phase_name(Phase.UNDEFINED),
        "closure": closure.SerializeToString(),
        "spec": spec.SerializeToString(),
        "execution_created_at": stamp,
        "execution_updated_at": stamp,
        "mode": int(spec.metadata.mode),
        "source_execution_id": links.source_execution,
        "parent_node_execution_id": links.parent_node_execution,
        "inputs_uri": inputs_uri,
        "user_inputs_uri": user_inputs_uri,
        "user": spec.metadata.principal,
        "state": execution_pb2.ExecutionState.EXECUTION_ACTIVE,
        "launch_entity": "launch_plan" if links.launch_plan is not None else "task",
    }
    insert_row(conn, "executions", row)


def _tag_pairs(spec: execution_pb2.ExecutionSpec) -> list[tuple[str, str]]:
    """`CreateExecutionTagModel`: one `execution_tags` row per label (key, value) and per tag (tag, "")."""
    return [*sorted(spec.labels.values.items()), *((tag, "") for tag in spec.tags)]


def _insert_tags(
    conn: sqlite3.Connection,
    identifier: identifier_pb2.WorkflowExecutionIdentifier,
    pairs: list[tuple[str, str]],
    now: datetime,
) -> bool:
    """Insert an execution's tag rows as the one multi-row INSERT flyteadmin sends; False when that violates
    the table's primary key (execution key, key, value), against stored rows or within itself (nothing is
    inserted then)."""
    key = execution_key(identifier)
    stored = {(row["key"], row["value"]) for row in select_rows(conn, "execution_tags", key)}
    if len(set(pairs)) < len(pairs) or stored.intersection(pairs):
        return False
    stamp = db_time(now)
    for tag_key, value in pairs:
        insert_row(
            conn,
            "execution_tags",
            {"created_at": stamp, "updated_at": stamp, **key, "key": tag_key, "value": value},
        )
    return True


def _add_project_labels(conn: sqlite3.Connection, project: str, spec: execution_pb2.ExecutionSpec) -> None:
    """`addProjectLabels`, as far as the stored spec shows it: flyteadmin adds the project's labels (the
    execution's value wins on the same key) into the labels map its execution config took from the first
    source that has labels. When that is the request (its labels are not empty), the map is the request spec's
    own, so the stored spec carries the project labels too; a launch plan's or an attribute's map, or a new
    one, is not stored."""
    if not spec.labels.values:
        return
    row = conn.execute("SELECT labels FROM projects WHERE identifier = ?", (project,)).fetchone()
    if row is None or not row["labels"]:
        return
    for key, value in common_pb2.Labels.FromString(row["labels"]).values.items():
        if key not in spec.labels.values:
            spec.labels.values[key] = value


@rpc(ADMIN, "CreateExecution")
def create_execution(
    state: EmulatorState, request: execution_pb2.ExecutionCreateRequest, call: CallInfo
) -> execution_pb2.ExecutionCreateResponse:
    return execution_pb2.ExecutionCreateResponse(id=launch(state, request, call.principal))


def _relaunch(
    state: EmulatorState,
    original_id: identifier_pb2.WorkflowExecutionIdentifier,
    name: str,
    principal: str,
    adjust: Callable[[execution_pb2.ExecutionSpec], None],
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Launch a copy of an existing execution's stored spec (same launch plan or task version, its metadata
    kept) with its user inputs; `adjust` sets the mode and what else differs between relaunch and recover.

    The original's phase is not checked, as in flyteadmin. flyteadmin's fallback to the deprecated
    `spec.inputs` for rows without stored user inputs has no case here: every execution stores them.
    """
    with state.db.read() as conn:
        original = fetch_execution_row(conn, original_id)
        spec = execution_from_row(original).spec
        user_inputs = get_literal_map(conn, original["user_inputs_uri"])
    adjust(spec)
    spec.metadata.reference_execution.CopyFrom(row_execution_id(original))
    request = execution_pb2.ExecutionCreateRequest(
        project=original_id.project, domain=original_id.domain, name=name, spec=spec, inputs=user_inputs
    )
    return launch(state, request, principal, relaunched_from=int(original["id"]))


@rpc(ADMIN, "RelaunchExecution")
def relaunch_execution(
    state: EmulatorState, request: execution_pb2.ExecutionRelaunchRequest, call: CallInfo
) -> execution_pb2.ExecutionCreateResponse:
    def adjust(spec: execution_pb2.ExecutionSpec) -> None:
        spec.metadata.mode = Mode.RELAUNCH
        spec.overwrite_cache = request.overwrite_cache

    new_id = _relaunch(state, request.id, request.name, call.principal, adjust)
    return execution_pb2.ExecutionCreateResponse(id=new_id)


@rpc(ADMIN, "RecoverExecution")
def recover_execution(
    state: EmulatorState, request: execution_pb2.ExecutionRecoverRequest, call: CallInfo
) -> execution_pb2.ExecutionCreateResponse:
    def adjust(spec: execution_pb2.ExecutionSpec) -> None:
        spec.metadata.mode = Mode.RECOVERED
        if request.HasField("metadata"):  # a metadata without a parent clears the original's parent
            spec.metadata.ClearField("parent_node_execution")
            if request.metadata.HasField("parent_node_execution"):
                spec.metadata.parent_node_execution.CopyFrom(request.metadata.parent_node_execution)

    new_id = _relaunch(state, request.id, request.name, call.principal, adjust)
    return execution_pb2.ExecutionCreateResponse(id=new_id)


# --- terminate / archive ---------------------------------------------------------------------------------


def already_terminal(message: str, current_phase: str) -> AdminError:
    """FAILED_PRECONDITION with `EventFailureReason.already_in_terminal_state{current_phase}`."""
    reason = event_pb2.EventFailureReason(
        already_in_terminal_state=event_pb2.EventErrorAlreadyInTerminalState(current_phase=current_phase)
    )
    return AdminError(grpc.StatusCode.FAILED_PRECONDITION, message, [reason])


def save_row(
    conn: sqlite3.Connection, table: str, row_id: int, closure: Message, columns: Mapping[str, object]
) -> None:
    """Write a record's closure and the columns that mirror it (phase, times, error, ...) together."""
    values = {"closure": closure.SerializeToString(), **columns}
    assignments = ", ".join(f"{column} = ?" for column in values)
    conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*values.values(), row_id))


@rpc(ADMIN, "TerminateExecution")
def terminate_execution(
    state: EmulatorState, request: execution_pb2.ExecutionTerminateRequest, call: CallInfo
) -> execution_pb2.ExecutionTerminateResponse:
    validate_execution_id(request.id, request.HasField("id"))
    with state.db.tx() as conn:
        row = fetch_execution_row(conn, request.id)
        current = stored_phase(row)
        if current in TERMINAL_PHASES:
            raise already_terminal(
                "Cannot abort an already terminated workflow execution", phase_name(current)
            )
        closure = load_closure(row)
        closure.abort_metadata.CopyFrom(
            execution_pb2.AbortMetadata(cause=request.cause, principal=call.principal)
        )
        closure.phase = Phase.ABORTING
        columns = {
            "phase": phase_name(Phase.ABORTING),
            "abort_cause": request.cause,
            "updated_at": db_time(state.now()),
        }
        save_row(conn, "executions", row["id"], closure, columns)
    notify_engine(state)
    return execution_pb2.ExecutionTerminateResponse()


@rpc(ADMIN, "UpdateExecution")
def update_execution(
    state: EmulatorState, request: execution_pb2.ExecutionUpdateRequest, call: CallInfo
) -> execution_pb2.ExecutionUpdateResponse:
    validate_execution_id(request.id, request.HasField("id"))
    now = state.now()
    with state.db.tx() as conn:
        row = fetch_execution_row(conn, request.id)
        closure = load_closure(row)
        closure.state_change_details.CopyFrom(
            execution_pb2.ExecutionStateChangeDetails(
                state=request.state, occurred_at=timestamp(now), principal=call.principal
            )
        )
        columns = {"state": int(request.state), "updated_at": db_time(now)}
        save_row(conn, "executions", row["id"], closure, columns)
    return execution_pb2.ExecutionUpdateResponse()


# --- reads -----------------------------------------------------------------------------------------------

_TRIMMED_ERROR_BYTES = 100


def trim_error_message(closure: Any) -> None:
    """`TrimErrorMessage` of list answers (executions, node executions): the error message cut to 100 bytes,
    without a broken UTF-8 sequence at the end."""
    if closure.HasField("error") and closure.error.message:
        trimmed = closure.error.message.encode("utf-8")[:_TRIMMED_ERROR_BYTES]
        closure.error.message = trimmed.decode("utf-8", errors="ignore")


def execution_from_row(row: sqlite3.Row, *, for_list: bool = False) -> execution_pb2.Execution:
    """`FromExecutionModel`: namespace default, abort metadata for old ABORTED rows, list trimming."""
    spec = load_spec(row)
    closure = load_closure(row)
    if not spec.metadata.system_metadata.namespace:
        spec.metadata.system_metadata.namespace = f"{row['execution_project']}-{row['execution_domain']}"
    if row["phase"] == phase_name(Phase.ABORTED) and not closure.HasField("abort_metadata"):
        closure.abort_metadata.cause = row["abort_cause"]
    if for_list:
        trim_error_message(closure)
        spec.ClearField("inputs")
        closure.ClearField("computed_inputs")
    return execution_pb2.Execution(id=row_execution_id(row), spec=spec, closure=closure)


@rpc(ADMIN, "GetExecution")
def get_execution(
    state: EmulatorState, request: execution_pb2.WorkflowExecutionGetRequest, call: CallInfo
) -> execution_pb2.Execution:
    validate_execution_id(request.id, request.HasField("id"))
    with state.db.read() as conn:
        return execution_from_row(fetch_execution_row(conn, request.id))


@rpc(ADMIN, "ListExecutions")
def list_executions(
    state: EmulatorState, request: common_pb2.ResourceListRequest, call: CallInfo
) -> execution_pb2.ExecutionList:
    if not request.HasField("id"):
        raise missing("id")
    if not request.id.project:
        raise missing("project")
    if not request.id.domain:
        raise missing("domain")
    validate_limit(request.limit)
    requested = parse_filters(request.filters, EXECUTIONS)
    implicit = execution_scope(
        EXECUTIONS,
        identifier_pb2.WorkflowExecutionIdentifier(
            project=request.id.project, domain=request.id.domain, name=request.id.name
        ),
    )
    if not any(predicate.field == "state" for predicate in requested):
        implicit.append(Predicate("executions.state = ?", (0,), "execution", "state"))
    with state.db.read() as conn:
        rows, token = list_rows(conn, EXECUTIONS, request, implicit, "ListExecutions", requested)
    return execution_pb2.ExecutionList(
        executions=[execution_from_row(row, for_list=True) for row in rows], token=token
    )


def read_outputs(conn: sqlite3.Connection, closure: Any) -> literals_pb2.LiteralMap:
    """`util.GetOutputs` for any of the three closures: offloaded outputs by URI, or inline `output_data`.

    Empty when there are none (an error, an abort, or nothing yet).
    """
    kind = closure.WhichOneof("output_result")
    result = literals_pb2.LiteralMap()
    if kind == "outputs" and closure.outputs.HasField("uri"):
        result.CopyFrom(get_literal_map(conn, closure.outputs.uri))
    elif kind == "output_uri":
        result.CopyFrom(get_literal_map(conn, closure.output_uri))
    elif kind == "output_data":
        result.CopyFrom(closure.output_data)
    return result


@rpc(ADMIN, "GetExecutionData")
def get_execution_data(
    state: EmulatorState, request: execution_pb2.WorkflowExecutionGetDataRequest, call: CallInfo
) -> execution_pb2.WorkflowExecutionGetDataResponse:
    with state.db.read() as conn:
        row = fetch_execution_row(conn, request.id)
        response = execution_pb2.WorkflowExecutionGetDataResponse()
        return data_response(response, conn, row["inputs_uri"], load_closure(row))
