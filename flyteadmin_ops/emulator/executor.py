"""`--executor simulate`: a built-in engine that runs executions without Kubernetes, deterministically.

It plays propeller's part: it reports workflow, node and task events through the very handlers that serve
`CreateWorkflowEvent` / `CreateNodeEvent` / `CreateTaskEvent` (`events.py`), so every state change obeys the
same state machine a real engine's reports do, and a test can mix both.

Which executions fail (the rules users rely on in their tests)
-------------------------------------------------------------
An execution FAILS when any of these holds, and SUCCEEDS otherwise:

1. an input named ``fail`` is the boolean ``true`` (or a string input named ``fail`` equals ``"true"``);
2. any top-level string input equals ``"fail"``;
3. the launch plan name ends with ``_fails`` (for single-task executions the launch plan is
   ``.flytegen.<task name>``, so a task named ``..._fails`` fails too);
4. an input named ``fail_always`` is ``true``, or any top-level string input equals ``"fail_always"``.

Exception: a RELAUNCH or RECOVERED execution whose reference execution ended FAILED succeeds, unless rule 4
holds. So relaunching or recovering a failure "fixes" it, and ``fail_always`` keeps failing forever.

What a run produces
-------------------
- Workflow events QUEUED, RUNNING, then SUCCEEDED with outputs, or FAILED with the error of the failed node.
- Node executions: ``start-node`` (SUCCEEDED; its outputs are the execution inputs), then every node of the
  workflow in dependency order (ties in template order), then ``end-node`` on success. Each node goes
  QUEUED, RUNNING, SUCCEEDED/FAILED; a task node also gets one task execution (attempt 0) RUNNING then
  SUCCEEDED/FAILED. Branch, subworkflow and launch-plan nodes run as single nodes without children.
- On failure, the LAST node in dependency order fails (error code ``SimulatedFailure``, kind USER); the nodes
  before it succeed.
- A RECOVERED execution reports the nodes that SUCCEEDED in its reference execution as RECOVERED, with the
  same outputs, and runs only the others.
- Outputs of a node: for each declared output, the node input of the same name when its type fits, else the
  zero value of the type (0, 0.0, "", false, the epoch, 0s, empty collection/map/struct, a blob/dataset URI
  under the execution's raw-output prefix, the first enum value, the first union variant). Workflow
  outputs follow the workflow's output bindings.
- A terminated (ABORTING) execution gets an ABORTED event.
- Events carry producer id ``simulate``, so the executions this engine runs show execution cluster
  ``simulate``. A run interrupted by a stop or a crash (left QUEUED/RUNNING on that cluster) is resumed when
  the engine starts again: nodes that already SUCCEEDED are kept, the others run.

Tests wait without sleeping: `Executor.wait_idle(timeout)` returns once every execution created (or
terminated) before the call has been driven to the end.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import (
    catalog_pb2,
    compiler_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    types_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from flyteadmin_ops.emulator.common import timestamp
from flyteadmin_ops.emulator.compiler import END_NODE, START_NODE, version_key
from flyteadmin_ops.emulator.events import create_node_event, create_task_event, create_workflow_event
from flyteadmin_ops.emulator.executions import (
    execution_key,
    fetch_execution_row,
    load_spec,
    read_outputs,
    row_execution_id,
    select_rows,
)
from flyteadmin_ops.emulator.launch_plans import get_launch_plan, launch_plan_workflow
from flyteadmin_ops.emulator.literal_types import literal_fits
from flyteadmin_ops.emulator.node_executions import load_node_closure
from flyteadmin_ops.emulator.registry import AdminError, CallInfo
from flyteadmin_ops.emulator.single_task import ensure_single_task_launch_plan
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.storage import get_literal_map, join_uri, put_literal_map
from flyteadmin_ops.emulator.task_executions import task_execution_id_of

log = logging.getLogger(__name__)

WorkflowPhase = core_execution_pb2.WorkflowExecution.Phase
NodePhase = core_execution_pb2.NodeExecution.Phase
TaskPhase = core_execution_pb2.TaskExecution.Phase
Mode = execution_pb2.ExecutionMetadata.ExecutionMode

PRODUCER = "simulate"  # becomes the execution cluster, which marks the executions this engine owns
FAILURE_CODE = "SimulatedFailure"
EXTENSION_KEY = "executor"


# --- the rules -------------------------------------------------------------------------------------------


def _is_true(literal: literals_pb2.Literal) -> bool:
    primitive = literal.scalar.primitive
    kind = primitive.WhichOneof("value")
    return (kind == "boolean" and primitive.boolean) or (
        kind == "string_value" and primitive.string_value == "true"
    )


def _string_inputs(inputs: literals_pb2.LiteralMap) -> list[str]:
    return [
        literal.scalar.primitive.string_value
        for literal in inputs.literals.values()
        if literal.scalar.primitive.WhichOneof("value") == "string_value"
    ]


def should_fail(
    inputs: literals_pb2.LiteralMap, launch_plan_name: str, mode: int, reference_phase: str | None
) -> bool:
    """The documented failure rules (module docstring), as one pure function."""
    literals = inputs.literals
    always = (
        "fail_always" in literals and _is_true(literals["fail_always"])
    ) or "fail_always" in _string_inputs(inputs)
    if always:
        return True
    if mode in (Mode.RELAUNCH, Mode.RECOVERED) and reference_phase == "FAILED":
        return False
    return (
        ("fail" in literals and _is_true(literals["fail"]))
        or "fail" in _string_inputs(inputs)
        or launch_plan_name.endswith("_fails")
    )


# --- values ----------------------------------------------------------------------------------------------


def zero_literal(literal_type: types_pb2.LiteralType, uri: str) -> literals_pb2.Literal:
    """The empty value of a declared type (blob-like values point at `uri`)."""
    kind = literal_type.WhichOneof("type")
    literal = literals_pb2.Literal()
    scalar = literal.scalar
    if kind == "simple":
        _zero_simple(scalar, literal_type.simple)
    elif kind == "collection_type":
        literal.collection.SetInParent()
    elif kind == "map_value_type":
        literal.map.SetInParent()
    elif kind == "blob":
        scalar.blob.uri = uri
        scalar.blob.metadata.type.CopyFrom(literal_type.blob)
    elif kind == "schema":
        scalar.schema.uri = uri
        scalar.schema.type.CopyFrom(literal_type.schema)
    elif kind == "structured_dataset_type":
        scalar.structured_dataset.uri = uri
        scalar.structured_dataset.metadata.structured_dataset_type.CopyFrom(
            literal_type.structured_dataset_type
        )
    elif kind == "enum_type":
        scalar.primitive.string_value = (
            literal_type.enum_type.values[0] if literal_type.enum_type.values else ""
        )
    elif kind == "union_type" and literal_type.union_type.variants:
        variant = literal_type.union_type.variants[0]
        scalar.union.value.CopyFrom(zero_literal(variant, uri))
        scalar.union.type.CopyFrom(variant)
    else:
        scalar.none_type.SetInParent()
    return literal


def _zero_simple(scalar: literals_pb2.Scalar, simple: int) -> None:
    setters: dict[int, Callable[[], None]] = {
        types_pb2.SimpleType.INTEGER: lambda: setattr(scalar.primitive, "integer", 0),
        types_pb2.SimpleType.FLOAT: lambda: setattr(scalar.primitive, "float_value", 0.0),
        types_pb2.SimpleType.STRING: lambda: setattr(scalar.primitive, "string_value", ""),
        types_pb2.SimpleType.BOOLEAN: lambda: setattr(scalar.primitive, "boolean", False),
        types_pb2.SimpleType.DATETIME: lambda: scalar.primitive.datetime.SetInParent(),
        types_pb2.SimpleType.DURATION: lambda: scalar.primitive.duration.SetInParent(),
        types_pb2.SimpleType.STRUCT: lambda: scalar.generic.CopyFrom(Struct()),
        types_pb2.SimpleType.BINARY: lambda: scalar.binary.SetInParent(),
        types_pb2.SimpleType.ERROR: lambda: scalar.error.SetInParent(),
    }
    setters.get(simple, lambda: scalar.none_type.SetInParent())()


def node_outputs(
    inputs: literals_pb2.LiteralMap, outputs: interface_pb2.VariableMap, uri: str
) -> literals_pb2.LiteralMap:
    """Echo a same-named input when its type fits, else the zero value of each declared output."""
    result = literals_pb2.LiteralMap()
    for name, variable in outputs.variables.items():
        echoed = inputs.literals.get(name)
        if echoed is not None and literal_fits(echoed, variable.type):
            result.literals[name].CopyFrom(echoed)
        else:
            result.literals[name].CopyFrom(zero_literal(variable.type, f"{uri}/{name}"))
    return result


def resolve_binding(
    data: literals_pb2.BindingData,
    produced: Mapping[str, literals_pb2.LiteralMap],
    expected: types_pb2.LiteralType | None,
    uri: str,
) -> literals_pb2.Literal:
    """A binding's value given the outputs produced so far (`start-node` holds the execution inputs).

    A promise nobody produced (e.g. an output of a branch node) resolves to the zero value of the declared
    type; `BindingData.union` wraps the value in a union of the target type, as propeller does.
    """
    kind = data.WhichOneof("value")
    literal = literals_pb2.Literal()
    if kind == "scalar":
        literal.scalar.CopyFrom(data.scalar)
    elif kind == "collection":
        item_type = _inner(expected, "collection_type")
        literal.collection.literals.extend(
            resolve_binding(item, produced, item_type, uri) for item in data.collection.bindings
        )
    elif kind == "map":
        value_type = _inner(expected, "map_value_type")
        for key, item in data.map.bindings.items():
            literal.map.literals[key].CopyFrom(resolve_binding(item, produced, value_type, uri))
    elif kind == "promise":
        found = produced.get(data.promise.node_id, literals_pb2.LiteralMap()).literals.get(data.promise.var)
        if found is not None:
            literal.CopyFrom(found)
        elif expected is not None:
            literal.CopyFrom(zero_literal(expected, uri))
        else:
            literal.scalar.none_type.SetInParent()
    else:
        literal.scalar.none_type.SetInParent()
    if data.HasField("union") and not literal.scalar.HasField("union"):
        wrapped = literals_pb2.Literal()
        wrapped.scalar.union.value.CopyFrom(literal)
        wrapped.scalar.union.type.CopyFrom(data.union.targetType)
        return wrapped
    return literal


def _inner(expected: types_pb2.LiteralType | None, field: str) -> types_pb2.LiteralType | None:
    """The element type of a collection/map type, when the declared type is one."""
    if expected is not None and expected.HasField(field):
        inner: types_pb2.LiteralType = getattr(expected, field)
        return inner
    return None


# --- the plan of one run ---------------------------------------------------------------------------------


@dataclass
class _NodePlan:
    node: workflow_pb2.Node
    interface: interface_pb2.TypedInterface
    task_id: identifier_pb2.Identifier | None = None
    task_type: str = ""


@dataclass
class _RunPlan:
    row: sqlite3.Row
    inputs: literals_pb2.LiteralMap
    fails: bool
    nodes: list[_NodePlan]
    output_bindings: list[literals_pb2.Binding]
    outputs: interface_pb2.VariableMap
    recovered: dict[str, literals_pb2.LiteralMap] = field(default_factory=dict)
    finished: dict[str, literals_pb2.LiteralMap] = field(default_factory=dict)  # nodes done before a restart


def dependency_order(nodes: list[workflow_pb2.Node]) -> list[workflow_pb2.Node]:
    """Kahn's algorithm over upstream ids and binding promises; ties keep template order."""
    ids = [node.id for node in nodes]
    known = set(ids)
    upstream: dict[str, set[str]] = {}
    for node in nodes:
        deps = {dep for dep in node.upstream_node_ids if dep in known}
        deps |= {ref for ref in _promise_nodes(node.inputs) if ref in known}
        upstream[node.id] = deps - {node.id}
    ordered: list[workflow_pb2.Node] = []
    done: set[str] = set()
    remaining = list(nodes)
    while remaining:
        ready = next(
            (n for n in remaining if upstream[n.id] <= done), remaining[0]
        )  # a cycle: take the first
        ordered.append(ready)
        done.add(ready.id)
        remaining.remove(ready)
    return ordered


def _promise_nodes(bindings: Any) -> set[str]:
    found: set[str] = set()

    def walk(data: literals_pb2.BindingData) -> None:
        kind = data.WhichOneof("value")
        if kind == "promise":
            found.add(data.promise.node_id)
        elif kind == "collection":
            for item in data.collection.bindings:
                walk(item)
        elif kind == "map":
            for item in data.map.bindings.values():
                walk(item)

    for binding in bindings:
        walk(binding.binding)
    return found


def _interfaces(
    closure: compiler_pb2.CompiledWorkflowClosure,
) -> tuple[dict[tuple[str, str, str, str], Any], dict[tuple[str, str, str, str], Any]]:
    tasks = {version_key(task.template.id): task.template for task in closure.tasks}
    subs = {version_key(sub.template.id): sub.template for sub in closure.sub_workflows}
    return tasks, subs


def _plan_nodes(closure: compiler_pb2.CompiledWorkflowClosure) -> list[_NodePlan]:
    tasks, subs = _interfaces(closure)
    plans = []
    # The compiler lists start-node and end-node among the template's nodes; the run handles them itself.
    user_nodes = [n for n in closure.primary.template.nodes if n.id not in (START_NODE, END_NODE)]
    for node in dependency_order(user_nodes):
        plan = _NodePlan(node=node, interface=interface_pb2.TypedInterface())
        if node.HasField("task_node"):
            reference = node.task_node.reference_id
            template = tasks.get(version_key(reference))
            plan.task_id = reference
            if template is not None:
                plan.interface = template.interface
                plan.task_type = template.type
        elif node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref"):
            reference = node.workflow_node.sub_workflow_ref
            sub = subs.get(version_key(reference))
            if sub is not None:
                plan.interface = sub.interface
        plans.append(plan)
    return plans


def _producer(row: sqlite3.Row) -> str:
    """Who reports: this engine, except when it only finishes an abort of a run it may not own."""
    return str(row["cluster"]) if row["phase"] == "ABORTING" else PRODUCER


def _succeeded_nodes(conn: sqlite3.Connection, execution: sqlite3.Row) -> dict[str, literals_pb2.LiteralMap]:
    """Outputs of the top-level nodes of `execution` that SUCCEEDED (or were RECOVERED), by node id."""
    key = execution_key(row_execution_id(execution))
    rows = select_rows(
        conn, "node_executions", key, "phase IN ('SUCCEEDED', 'RECOVERED') AND parent_id IS NULL"
    )
    return {node["node_id"]: read_outputs(conn, load_node_closure(node)) for node in rows}


# --- the engine ------------------------------------------------------------------------------------------


class Executor:
    """Drives executions in a background thread; `wait_idle` lets tests wait on a condition, not a sleep."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._condition = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._stopping = False
        self._given_up: set[int] = set()
        self._thread = threading.Thread(target=self._loop, name="emulator-executor", daemon=True)

    # lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> Executor:
        self._state.extensions[EXTENSION_KEY] = self
        self._thread.start()
        self.notify()  # executions left UNDEFINED by an earlier run of a file database
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._state.extensions.get(EXTENSION_KEY) is self:
            del self._state.extensions[EXTENSION_KEY]

    def notify(self) -> None:
        """Something changed (an execution was created or terminated): look for work."""
        with self._condition:
            self._requested += 1
            self._condition.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until all work requested before this call is done; False on timeout or when stopped."""
        with self._condition:
            target = self._requested
            self._condition.wait_for(lambda: self._completed >= target or self._stopping, timeout)
            return self._completed >= target

    def _loop(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._stopping or self._requested > self._completed)
                if self._stopping:
                    return
                target = self._requested
            try:
                self.run_pending()
            except Exception:  # keep the engine alive; the failing execution was recorded in _given_up
                log.exception("simulate executor pass failed")
            with self._condition:
                self._completed = target
                self._condition.notify_all()

    # one pass -------------------------------------------------------------------------------------------
    def run_pending(self) -> int:
        """Drive every UNDEFINED execution to its end, finish every ABORTING one, and resume the runs of this
        engine that a stop or a crash interrupted (QUEUED/RUNNING on cluster `simulate`); returns how many."""
        with self._state.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM executions WHERE phase IN ('UNDEFINED', 'ABORTING') "
                "OR (cluster = ? AND phase IN ('QUEUED', 'RUNNING')) ORDER BY id",
                (PRODUCER,),
            ).fetchall()
        driven = 0
        for row in rows:
            if self._stopping:
                break
            if row["id"] in self._given_up:
                continue
            try:
                if row["phase"] == "ABORTING":
                    self._abort(row)
                else:
                    self._run(row)
                driven += 1
            except Exception:
                self._given_up.add(row["id"])
                log.exception("simulate executor gave up on execution %s", row["execution_name"])
        return driven

    # events ---------------------------------------------------------------------------------------------
    def _call(self, handler: Callable[[EmulatorState, Any, CallInfo], Message], request: Message) -> bool:
        """Send one event through the public handler; a refusal (e.g. after a terminate) is not a crash."""
        try:
            handler(self._state, request, CallInfo())
        except AdminError as error:
            log.debug("simulated event refused: %s", error.message)
            return False
        return True

    def _now(self) -> Timestamp:
        return timestamp(self._state.now())

    def _workflow_event(self, row: sqlite3.Row, phase: int, **fields: Any) -> bool:
        event = event_pb2.WorkflowExecutionEvent(
            execution_id=row_execution_id(row),
            producer_id=_producer(row),
            phase=phase,
            occurred_at=self._now(),
            **fields,
        )
        return self._call(create_workflow_event, admin_event_pb2.WorkflowExecutionEventRequest(event=event))

    def _node_event(
        self, row: sqlite3.Row, node_id: str, phase: int, spec_node_id: str = "", **fields: Any
    ) -> bool:
        event = event_pb2.NodeExecutionEvent(
            id=identifier_pb2.NodeExecutionIdentifier(execution_id=row_execution_id(row), node_id=node_id),
            producer_id=_producer(row),
            phase=phase,
            occurred_at=self._now(),
            spec_node_id=spec_node_id or node_id,
            node_name=spec_node_id or node_id,
            **fields,
        )
        return self._call(create_node_event, admin_event_pb2.NodeExecutionEventRequest(event=event))

    def _task_event(
        self,
        row: sqlite3.Row,
        task_id: identifier_pb2.Identifier,
        node_id: str,
        phase: int,
        retry_attempt: int = 0,
        **fields: Any,
    ) -> bool:
        event = event_pb2.TaskExecutionEvent(
            task_id=task_id,
            parent_node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                execution_id=row_execution_id(row), node_id=node_id
            ),
            retry_attempt=retry_attempt,
            phase=phase,
            producer_id=_producer(row),
            occurred_at=self._now(),
            **fields,
        )
        return self._call(create_task_event, admin_event_pb2.TaskExecutionEventRequest(event=event))

    def _still_running(self, row: sqlite3.Row) -> bool:
        with self._state.db.read() as conn:
            current = fetch_execution_row(conn, row_execution_id(row))
        if current["phase"] == "ABORTING":
            self._abort(current)
            return False
        return True

    # a run ----------------------------------------------------------------------------------------------
    def _data_uri(self, row: sqlite3.Row, *parts: str) -> str:
        config = self._state.config
        run = f"{row['execution_project']}-{row['execution_domain']}-{row['execution_name']}"
        return join_uri(config.storage_prefix, config.metadata_prefix, "propeller", run, *parts)

    def _store(self, uri: str, literals: literals_pb2.LiteralMap) -> str:
        with self._state.db.tx() as conn:
            return put_literal_map(conn, uri, literals, self._state.now())

    def _plan(self, row: sqlite3.Row) -> _RunPlan:
        spec = load_spec(row)
        with self._state.db.tx() as conn:
            inputs = get_literal_map(conn, row["inputs_uri"])
            reference = spec.launch_plan
            if reference.resource_type == identifier_pb2.ResourceType.TASK:
                lp_row_id, launch_plan = ensure_single_task_launch_plan(conn, self._state, reference)
            else:
                lp_row_id, launch_plan = get_launch_plan(conn, reference)
            # The row link, not spec.workflow_id (a single-task launch plan names the bare task there).
            _, workflow = launch_plan_workflow(conn, lp_row_id)
            reference_phase, recovered = self._reference(conn, spec)
            finished = _succeeded_nodes(conn, row)
        closure = workflow.closure.compiled_workflow
        template = closure.primary.template
        plan = _RunPlan(
            row=row,
            inputs=inputs,
            fails=should_fail(inputs, launch_plan.id.name, spec.metadata.mode, reference_phase),
            nodes=_plan_nodes(closure),
            output_bindings=list(template.outputs),
            outputs=template.interface.outputs,
            finished=finished,
        )
        if spec.metadata.mode == Mode.RECOVERED:
            plan.recovered = recovered
        return plan

    def _reference(
        self, conn: sqlite3.Connection, spec: execution_pb2.ExecutionSpec
    ) -> tuple[str | None, dict[str, literals_pb2.LiteralMap]]:
        """The reference execution's phase and the outputs of its SUCCEEDED nodes (what a recovery reuses)."""
        if not spec.metadata.HasField("reference_execution"):
            return None, {}
        try:
            reference = fetch_execution_row(conn, spec.metadata.reference_execution)
        except AdminError:
            return None, {}
        return reference["phase"], _succeeded_nodes(conn, reference)

    def _run(self, row: sqlite3.Row) -> None:
        plan = self._plan(row)
        phase = row["phase"]
        if phase == "UNDEFINED" and not self._workflow_event(row, WorkflowPhase.QUEUED):
            return
        if phase in ("UNDEFINED", "QUEUED") and not self._workflow_event(row, WorkflowPhase.RUNNING):
            return
        produced: dict[str, literals_pb2.LiteralMap] = {START_NODE: plan.inputs}
        start_uri = self._store(self._data_uri(row, START_NODE, "data", "0", "outputs.pb"), plan.inputs)
        self._node_event(row, START_NODE, NodePhase.QUEUED)
        self._node_event(row, START_NODE, NodePhase.SUCCEEDED, output_uri=start_uri)
        for index, node_plan in enumerate(plan.nodes):
            if not self._still_running(row):
                return
            failing = plan.fails and index == len(plan.nodes) - 1
            error = self._run_node(row, plan, node_plan, produced, failing)
            if error is not None:
                self._workflow_event(row, WorkflowPhase.FAILED, error=error)
                return
        if plan.fails and not plan.nodes:
            error = core_execution_pb2.ExecutionError(
                code=FAILURE_CODE,
                message="simulated failure (workflow has no nodes)",
                kind=core_execution_pb2.ExecutionError.ErrorKind.USER,
            )
            self._workflow_event(row, WorkflowPhase.FAILED, error=error)
            return
        outputs = literals_pb2.LiteralMap()
        for binding in plan.output_bindings:
            variable = plan.outputs.variables.get(binding.var)
            outputs.literals[binding.var].CopyFrom(
                resolve_binding(
                    binding.binding,
                    produced,
                    variable.type if variable else None,
                    self._data_uri(row, END_NODE, binding.var),
                )
            )
        end_inputs = self._store(self._data_uri(row, END_NODE, "data", "inputs.pb"), outputs)
        self._node_event(row, END_NODE, NodePhase.QUEUED, input_uri=end_inputs)
        self._node_event(row, END_NODE, NodePhase.SUCCEEDED, output_uri=end_inputs)
        if self._still_running(row):
            self._workflow_event(row, WorkflowPhase.SUCCEEDED, output_data=outputs)

    def _run_node(
        self,
        row: sqlite3.Row,
        plan: _RunPlan,
        node_plan: _NodePlan,
        produced: dict[str, literals_pb2.LiteralMap],
        failing: bool,
    ) -> core_execution_pb2.ExecutionError | None:
        node = node_plan.node
        if node.id in plan.finished:  # resuming after a restart: this node already ran
            produced[node.id] = plan.finished[node.id]
            return None
        if node.id in plan.recovered and not failing:
            produced[node.id] = plan.recovered[node.id]
            uri = self._store(self._data_uri(row, node.id, "data", "0", "outputs.pb"), produced[node.id])
            self._node_event(row, node.id, NodePhase.RECOVERED, output_uri=uri)
            return None
        declared = node_plan.interface.inputs.variables
        inputs = literals_pb2.LiteralMap()
        for binding in node.inputs:
            variable = declared.get(binding.var)
            inputs.literals[binding.var].CopyFrom(
                resolve_binding(
                    binding.binding,
                    produced,
                    variable.type if variable else None,
                    self._data_uri(row, node.id, binding.var),
                )
            )
        input_uri = self._store(self._data_uri(row, node.id, "data", "inputs.pb"), inputs)
        task_fields: dict[str, Any] = {}
        if node_plan.task_id is not None:
            task_fields["task_node_metadata"] = event_pb2.TaskNodeMetadata(
                cache_status=catalog_pb2.CatalogCacheStatus.CACHE_DISABLED
            )

        def report_attempt(phase: int, **fields: Any) -> None:
            if node_plan.task_id is not None:
                self._task_event(
                    row, node_plan.task_id, node.id, phase, task_type=node_plan.task_type, **fields
                )

        self._node_event(row, node.id, NodePhase.QUEUED, input_uri=input_uri, **task_fields)
        self._node_event(row, node.id, NodePhase.RUNNING, input_uri=input_uri)
        report_attempt(TaskPhase.RUNNING, input_uri=input_uri)
        if failing:
            error = core_execution_pb2.ExecutionError(
                code=FAILURE_CODE,
                message=f"[{node.id}] simulated failure (see flyteadmin_ops.emulator.executor for the rules)",
                kind=core_execution_pb2.ExecutionError.ErrorKind.USER,
            )
            report_attempt(TaskPhase.FAILED, error=error)
            self._node_event(row, node.id, NodePhase.FAILED, error=error)
            return error
        outputs = node_outputs(inputs, node_plan.interface.outputs, self._data_uri(row, node.id, "data", "0"))
        produced[node.id] = outputs
        output_uri = self._store(self._data_uri(row, node.id, "data", "0", "outputs.pb"), outputs)
        report_attempt(TaskPhase.SUCCEEDED, output_uri=output_uri)
        self._node_event(row, node.id, NodePhase.SUCCEEDED, output_uri=output_uri)
        return None

    def _abort(self, row: sqlite3.Row) -> None:
        """Finish a terminate: ABORTED for running nodes and attempts, then for the execution."""
        key = execution_key(row_execution_id(row))
        with self._state.db.read() as conn:
            nodes = select_rows(
                conn, "node_executions", key, "phase IN ('UNDEFINED', 'QUEUED', 'RUNNING', 'DYNAMIC_RUNNING')"
            )
            running_attempts = select_rows(
                conn, "task_executions", key, "phase NOT IN ('SUCCEEDED', 'FAILED', 'ABORTED')"
            )
        for attempt in running_attempts:
            task_id = task_execution_id_of(attempt).task_id
            self._task_event(row, task_id, attempt["node_id"], TaskPhase.ABORTED, attempt["retry_attempt"])
        for node in nodes:
            self._node_event(row, node["node_id"], NodePhase.ABORTED)
        self._workflow_event(row, WorkflowPhase.ABORTED)


def start_executor(state: EmulatorState) -> Executor:
    """Start the simulate engine for `state` (emulator-core calls this when `config.executor == "
    ""simulate"`)."""
    return Executor(state).start()


def executor_of(state: EmulatorState) -> Executor | None:
    """The running simulate engine of `state`, if any."""
    engine = state.extensions.get(EXTENSION_KEY)
    return engine if isinstance(engine, Executor) else None


def stop_executor(state: EmulatorState) -> None:
    """Stop the simulate engine of `state` (a no-op when none runs); called before the store closes."""
    engine = executor_of(state)
    if engine is not None:
        engine.stop()


def wait_idle(state: EmulatorState, timeout: float = 10.0) -> bool:
    """Wait until the simulate engine has driven everything created so far; True at once when none runs."""
    engine = executor_of(state)
    return True if engine is None else engine.wait_idle(timeout)
