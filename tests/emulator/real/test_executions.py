"""Executions, events, node and task executions, metrics: the real flyteadmin v1.16.8's answers replayed.

Each test builds the state its entry needs in a fresh project (`<P>`), as the reference scenario did: tasks
`heldout_app.pipelines.normalize` and `heldout_app.pipelines.is_big`, a workflow
`heldout_app.pipelines.scoring`
(n0 -> n1 -> n2, n2 a branch running `n2-n0`), its launch plan `scoring_default`, executions `e-overrides`
(node events without spec node ids) and `e-metrics` (a full run, with spec node ids), then makes the recorded
call and expects the real answer. Messages are compared exactly: the real server's protobuf text has two
spaces between fields (Go's prototext, whose choice of one or two is fixed per binary), and so has the
emulator's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    project_pb2,
    task_execution_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.event import event_pb2 as core_event_pb2
from google.protobuf import text_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from tests.emulator.real.support import Real, case

NodePhase = core_execution_pb2.NodeExecution.Phase
TaskPhase = core_execution_pb2.TaskExecution.Phase
WorkflowPhase = core_execution_pb2.WorkflowExecution.Phase
NOT_FOUND, ALREADY_EXISTS = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS
NORMALIZE, IS_BIG = "heldout_app.pipelines.normalize", "heldout_app.pipelines.is_big"


def masked_times(message: Message) -> Message:
    """A copy with every timestamp and duration emptied (kept present), as the reference masks them."""
    copy = type(message)()
    copy.CopyFrom(message)
    _empty_times(copy)
    return copy


def _empty_times(message: Message) -> None:
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        values = value if _repeated(field) else [value]
        for item in values:
            if not isinstance(item, Message):
                continue
            if item.DESCRIPTOR.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
                item.Clear()
                item.SetInParent()
            else:
                _empty_times(item)


def _repeated(field: Any) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == 3


def body(real: Real, message: Message) -> str:
    """The reference's form of a response body: protobuf text, the project as `<P>`, times emptied."""
    return text_format.MessageToString(masked_times(message)).replace(real.project, "<P>")


# --- the scenario ------------------------------------------------------------------------------------------

_TASK = """
id {{ resource_type: TASK project: "<P>" domain: "development" name: "{name}" version: "v1" }}
spec {{ template {{
  id {{ resource_type: TASK project: "<P>" domain: "development" name: "{name}" version: "v1" }}
  type: "python-task"
  metadata {{ runtime {{ type: FLYTE_SDK version: "1.16.8" flavor: "python" }} }}
  interface {{
    inputs {{ variables {{ key: "x" value {{ type {{ simple: INTEGER }} }} }} }}
    outputs {{ variables {{ key: "o0" value {{ type {{ simple: {output} }} }} }} }}
  }}
  container {{ image: "ghcr.io/flyteorg/flytekit:py3.11" args: "pyflyte-execute" }}
}} }}
"""

_WORKFLOW_ID = (
    'resource_type: WORKFLOW project: "<P>" domain: "development" name: "heldout_app.pipelines.scoring" '
)
_WORKFLOW = f"""
id {{ {_WORKFLOW_ID} version: "v1" }}
spec {{ template {{
  id {{ {_WORKFLOW_ID} version: "v1" }}
  metadata {{ }}
  interface {{
    inputs {{ variables {{ key: "x" value {{ type {{ simple: INTEGER }} }} }} }}
    outputs {{ variables {{ key: "o0" value {{ type {{ simple: INTEGER }} }} }} }}
  }}
  nodes {{
    id: "n0"
    inputs {{ var: "x" binding {{ promise {{ node_id: "start-node" var: "x" }} }} }}
    task_node {{ reference_id {{ resource_type: TASK project: "<P>" domain: "development"
      name: "{NORMALIZE}" version: "v1" }} }}
  }}
  nodes {{
    id: "n1"
    upstream_node_ids: "n0"
    inputs {{ var: "x" binding {{ promise {{ node_id: "n0" var: "o0" }} }} }}
    task_node {{ reference_id {{ resource_type: TASK project: "<P>" domain: "development"
      name: "{IS_BIG}" version: "v1" }} }}
  }}
  nodes {{
    id: "n2"
    upstream_node_ids: "n1"
    upstream_node_ids: "n0"
    inputs {{ var: ".n1.o0" binding {{ promise {{ node_id: "n1" var: "o0" }} }} }}
    inputs {{ var: "x" binding {{ promise {{ node_id: "n0" var: "o0" }} }} }}
    branch_node {{ if_else {{
      case {{
        condition {{ comparison {{ operator: EQ
          left_value {{ var: ".n1.o0" }}
          right_value {{ primitive {{ boolean: true }} }} }} }}
        then_node {{
          id: "n0"
          inputs {{ var: "x" binding {{ promise {{ node_id: "n0" var: "o0" }} }} }}
          task_node {{ reference_id {{ resource_type: TASK project: "<P>" domain: "development"
            name: "{NORMALIZE}" version: "v1" }} }}
        }}
      }}
      error {{ failed_node_id: "n2" message: "small" }}
    }} }}
  }}
  outputs {{ var: "o0" binding {{ promise {{ node_id: "n0" var: "o0" }} }} }}
}} }}
"""

_LAUNCH_PLAN = f"""
id {{ resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "scoring_default" version: "v1" }}
spec {{
  workflow_id {{ {_WORKFLOW_ID} version: "v1" }}
  default_inputs {{ parameters {{ key: "x" value {{
    var {{ type {{ simple: INTEGER }} }} default {{ scalar {{ primitive {{ integer: 3 }} }} }} }} }} }}
}}
"""


class Scenario:
    """The reference's registrations in the test's project, and helpers to send events as propeller does."""

    def __init__(self, real: Real) -> None:
        self.real = real
        self.base = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=10)
        admin = real.admin
        admin.CreateTask(
            real.parse(task_pb2.TaskCreateRequest, _TASK.format(name=NORMALIZE, output="INTEGER"))
        )
        admin.CreateTask(real.parse(task_pb2.TaskCreateRequest, _TASK.format(name=IS_BIG, output="BOOLEAN")))
        admin.CreateWorkflow(real.parse(workflow_pb2.WorkflowCreateRequest, _WORKFLOW))
        admin.CreateLaunchPlan(real.parse(launch_plan_pb2.LaunchPlanCreateRequest, _LAUNCH_PLAN))

    def at(self, second: int) -> Timestamp:
        stamp = Timestamp()
        stamp.FromDatetime(self.base + timedelta(seconds=second))
        return stamp

    def launch(self, name: str, spec: str = "") -> None:
        self.real.admin.CreateExecution(
            self.real.parse(
                execution_pb2.ExecutionCreateRequest,
                f'project: "<P>" domain: "development" name: "{name}" spec {{ launch_plan {{ '
                'resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "scoring_default" '
                f'version: "v1" }} {spec} }}',
            )
        )

    def workflow_event(self, execution: str, phase: int, second: int) -> None:
        event = core_event_pb2.WorkflowExecutionEvent(
            execution_id=self.execution_id(execution),
            phase=phase,
            producer_id="propeller",
            occurred_at=self.at(second),
        )
        self.real.admin.CreateWorkflowEvent(
            event_pb2.WorkflowExecutionEventRequest(request_id="w", event=event)
        )

    def node_event(self, execution: str, node_id: str, phase: int, second: int, **fields: Any) -> None:
        event = core_event_pb2.NodeExecutionEvent(
            id=core_execution_id(self.execution_id(execution), node_id),
            phase=phase,
            producer_id="propeller",
            occurred_at=self.at(second),
            **fields,
        )
        self.real.admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(request_id="n", event=event))

    def task_event(
        self, execution: str, node_id: str, task: str, phase: int, second: int, retry: int = 0, **fields: Any
    ) -> None:
        event = core_event_pb2.TaskExecutionEvent(
            task_id=self.real.parse(
                type(core_event_pb2.TaskExecutionEvent().task_id),
                f'resource_type: TASK project: "<P>" domain: "development" name: "{task}" version: "v1"',
            ),
            parent_node_execution_id=core_execution_id(self.execution_id(execution), node_id),
            retry_attempt=retry,
            phase=phase,
            producer_id="propeller",
            occurred_at=self.at(second),
            **fields,
        )
        self.real.admin.CreateTaskEvent(event_pb2.TaskExecutionEventRequest(request_id="t", event=event))

    def execution_id(self, name: str) -> Any:
        return self.real.parse(
            type(execution_pb2.ExecutionCreateResponse().id),
            f'project: "<P>" domain: "development" name: "{name}"',
        )

    def overrides(self) -> None:
        """`e-overrides`: launched with labels; node events without spec node ids (as a hand-made client sends
        them); n0 failed once (its log hidden once finished) and succeeded on retry 1."""
        self.launch("e-overrides", 'labels { values { key: "l" value: "v" } }')
        for second, node_id in enumerate(("n0", "n1", "n2")):
            self.node_event("e-overrides", node_id, NodePhase.RUNNING, second)
        log = 'uri: "http://flyte.example/1" name: "log"'
        self.task_event("e-overrides", "n0", NORMALIZE, TaskPhase.RUNNING, 3, retry=1)
        self.task_event(
            "e-overrides",
            "n0",
            NORMALIZE,
            TaskPhase.SUCCEEDED,
            4,
            retry=1,
            output_uri="s3://my-s3-bucket/out/t1",
        )
        self.task_event("e-overrides", "n0", NORMALIZE, TaskPhase.RUNNING, 5, logs=[self.log(log)])
        error = core_execution_pb2.ExecutionError(code="x", message="oom")
        finished = self.log(log + " HideOnceFinished: true")
        self.task_event("e-overrides", "n0", NORMALIZE, TaskPhase.FAILED, 6, logs=[finished], error=error)

    def metrics(self) -> None:
        """`e-metrics`: a full run reported with spec node ids: start-node, n0, n1, the branch n2 running
        n2-n0 (never started), end-node; n0's attempt reported three logs."""
        self.launch("e-metrics")
        self.workflow_event("e-metrics", WorkflowPhase.RUNNING, 0)
        self.node_event("e-metrics", "start-node", NodePhase.SUCCEEDED, 1, spec_node_id="start-node")
        self.node_event("e-metrics", "n0", NodePhase.QUEUED, 2, spec_node_id="n0")
        logs = [
            self.log('uri: "http://flyte.example/pending" name: "pending" ShowWhilePending: true'),
            self.log('uri: "http://flyte.example/live" name: "live" HideOnceFinished: true'),
            self.log('uri: "http://flyte.example/always" name: "always"'),
        ]
        self.task_event("e-metrics", "n0", NORMALIZE, TaskPhase.QUEUED, 3, logs=logs)
        self.task_event("e-metrics", "n0", NORMALIZE, TaskPhase.RUNNING, 4)
        self.task_event(
            "e-metrics", "n0", NORMALIZE, TaskPhase.SUCCEEDED, 6, output_uri="s3://my-s3-bucket/out/n0"
        )
        self.node_event("e-metrics", "n0", NodePhase.SUCCEEDED, 7, output_uri="s3://my-s3-bucket/out/n0")
        self.node_event("e-metrics", "n1", NodePhase.QUEUED, 8, spec_node_id="n1")
        self.task_event("e-metrics", "n1", IS_BIG, TaskPhase.RUNNING, 9)
        self.task_event("e-metrics", "n1", IS_BIG, TaskPhase.SUCCEEDED, 10)
        self.node_event("e-metrics", "n1", NodePhase.SUCCEEDED, 11)
        self.node_event("e-metrics", "n2", NodePhase.RUNNING, 12, spec_node_id="n2")
        parent = core_event_pb2.ParentNodeExecutionMetadata(node_id="n2")
        self.node_event(
            "e-metrics", "n2-n0", NodePhase.QUEUED, 13, spec_node_id="n2-n0", parent_node_metadata=parent
        )
        self.node_event("e-metrics", "n2", NodePhase.SUCCEEDED, 14)
        self.node_event("e-metrics", "end-node", NodePhase.SUCCEEDED, 15, spec_node_id="end-node")
        self.workflow_event("e-metrics", WorkflowPhase.SUCCEEDED, 16)

    def log(self, text: str) -> Any:
        return text_format.Parse(text, type(task_execution_pb2.TaskExecutionClosure().logs.add())())


def core_execution_id(execution: Any, node_id: str) -> Any:
    node = type(core_event_pb2.NodeExecutionEvent().id)()
    node.execution_id.CopyFrom(execution)
    node.node_id = node_id
    return node


@pytest.fixture
def scenario(real: Real) -> Iterator[Scenario]:
    yield Scenario(real)


# --- events ------------------------------------------------------------------------------------------------

TASK_EVENT_UNKNOWN_NODE = f"""request_id: "tx-r" event {{ task_id {{ resource_type: TASK project: "<P>"
domain: "development" name: "{NORMALIZE}" version: "v1" }} parent_node_execution_id {{ node_id: "nX"
execution_id {{ project: "<P>" domain: "development" name: "e-overrides" }} }} phase: RUNNING
producer_id: "propeller" occurred_at {{ seconds: 1767000000 }} }}"""


@pytest.mark.parametrize(
    "request_text, code, message",
    [
        case(
            98,
            "task event for unknown node",
            TASK_EVENT_UNKNOWN_NODE,
            NOT_FOUND,
            'Failed to get existing node execution id: [node_id:"nX"  execution_id:{project:"<P>"  '
            'domain:"development"  name:"e-overrides"}] with err: entry not found',
        ),
    ],
)
def test_task_event_refused(
    real: Real, scenario: Scenario, request_text: str, code: Any, message: str
) -> None:
    scenario.overrides()
    failure = real.refused("CreateTaskEvent", real.parse(event_pb2.TaskExecutionEventRequest, request_text))
    assert (failure.code, failure.message) == (code, message)


@pytest.mark.parametrize("request_text", [case(100, "no event", 'request_id: "x"')])
def test_node_event_without_anything_lands_on_a_stored_node_execution(
    real: Real, scenario: Scenario, request_text: str
) -> None:
    """A CreateNodeEvent with no event: flyteadmin only logs its validation errors, and its gorm lookups drop
    empty identifier parts, so it finds some execution and some node execution (<ROWID> is that row's id, here
    the oldest: n0 of the first execution, SUCCEEDED) and refuses UNDEFINED after a terminal phase."""
    scenario.launch("e-first")
    scenario.node_event("e-first", "n0", NodePhase.SUCCEEDED, 1)
    scenario.overrides()
    failure = real.refused("CreateNodeEvent", real.parse(event_pb2.NodeExecutionEventRequest, request_text))
    assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert re.fullmatch(
        r"Invalid phase change from SUCCEEDED to UNDEFINED for node execution \d+", failure.message
    )
    assert [d.already_in_terminal_state.current_phase for d in failure.details] == ["UNDEFINED"]


def test_node_event_without_anything_and_no_execution_at_all(real: Real) -> None:
    """The same rule with nothing stored: the execution lookup fails; Go prints the missing id as `<nil>` and
    the repository's empty identifier as nothing."""
    failure = real.refused(
        "CreateNodeEvent", real.parse(event_pb2.NodeExecutionEventRequest, 'request_id: "x"')
    )
    assert (failure.code, failure.message) == (
        NOT_FOUND,
        "Failed to get existing execution id: [<nil>] with err: "
        "missing entity of type execution with identifier ",
    )


def test_node_event_without_node_id_updates_a_node_of_that_execution(real: Real, scenario: Scenario) -> None:
    """A partial id: the empty node id matches any node execution of the given execution (here its only one,
    RUNNING), so RUNNING again is ALREADY_EXISTS, printed with the id as sent."""
    scenario.launch("e-partial")
    scenario.node_event("e-partial", "n0", NodePhase.RUNNING, 1)
    request = real.parse(
        event_pb2.NodeExecutionEventRequest,
        'event { id { execution_id { project: "<P>" domain: "development" name: "e-partial" } } '
        "phase: RUNNING "
        "occurred_at { seconds: 1767000000 } }",
    )
    failure = real.refused("CreateNodeEvent", request)
    assert failure.code == ALREADY_EXISTS
    assert failure.message == (
        'This phase was already recorded RUNNING for execution_id:{project:"<P>"  domain:"development"  '
        'name:"e-partial"}'
    )


def test_workflow_event_with_an_empty_execution_id_matches_any_execution(
    real: Real, scenario: Scenario
) -> None:
    """CreateWorkflowEvent checks only that an execution id is present: an empty one finds the first execution
    (UNDEFINED), so UNDEFINED again is ALREADY_EXISTS, printed with the empty id."""
    scenario.launch("e-any")
    request = real.parse(event_pb2.WorkflowExecutionEventRequest, "event { execution_id { } }")
    failure = real.refused("CreateWorkflowEvent", request)
    assert (failure.code, failure.message) == (
        ALREADY_EXISTS,
        "This phase UNDEFINED was already recorded for workflow execution ",
    )


@pytest.mark.parametrize(
    "request_text, message",
    [
        ('request_id: "x"', "missing event"),
        ("event { phase: RUNNING }", "missing occurred_at"),
        ("event { occurred_at { seconds: 1 } }", "missing node_execution_id"),
        ("event { occurred_at { seconds: 1 } parent_node_execution_id { } }", "missing execution_id"),
        (
            "event { occurred_at { seconds: 1 } "
            'parent_node_execution_id { execution_id { } node_id: "n0" } }',
            "missing project",
        ),
        (
            'event { occurred_at { seconds: 1 } parent_node_execution_id { node_id: "n0" execution_id { '
            'project: "<P>" domain: "development" name: "e" } } }',
            "missing task_id",
        ),
    ],
)
def test_task_event_validation_order(real: Real, request_text: str, message: str) -> None:
    """`ValidateTaskExecutionRequest`: event, occurred_at, then the attempt's identifier part by part."""
    failure = real.refused("CreateTaskEvent", real.parse(event_pb2.TaskExecutionEventRequest, request_text))
    assert (failure.code, failure.message) == (grpc.StatusCode.INVALID_ARGUMENT, message)


# --- task executions ---------------------------------------------------------------------------------------

N0 = 'node_execution_id { node_id: "n0" execution_id { project: "<P>" domain: "development" name: "%s" } }'
ATTEMPT = (
    f'id {{ task_id {{ resource_type: TASK project: "<P>" domain: "development" name: "{NORMALIZE}" '
    f'version: "v1" }} {N0 % "e-overrides"} %s }}'
)


def _attempt(retry: int, closure: str) -> str:
    retry_line = f"\n    retry_attempt: {retry}" if retry else ""
    return f"""  id {{
    task_id {{
      resource_type: TASK
      project: "<P>"
      domain: "development"
      name: "{NORMALIZE}"
      version: "v1"
    }}
    node_execution_id {{
      node_id: "n0"
      execution_id {{
        project: "<P>"
        domain: "development"
        name: "e-overrides"
      }}
    }}{retry_line}
  }}
  closure {{
{closure}    started_at {{
    }}
    duration {{
    }}
    created_at {{
    }}
    updated_at {{
    }}
  }}
"""


SUCCEEDED_RETRY_1 = _attempt(1, '    output_uri: "s3://my-s3-bucket/out/t1"\n    phase: SUCCEEDED\n')
FAILED_RETRY_0 = _attempt(0, '    error {\n      code: "x"\n      message: "oom"\n    }\n    phase: FAILED\n')


def _items(*attempts: str, token: str = "") -> str:
    listed = "".join(f"task_executions {{\n{attempt}}}\n" for attempt in attempts)
    return listed + (f'token: "{token}"\n' if token else "")


@pytest.mark.parametrize(
    "request_text, expected",
    [
        case(104, "n0", f"{N0 % 'e-overrides'} limit: 100", _items(SUCCEEDED_RETRY_1, FAILED_RETRY_0)),
        case(
            105,
            "sort retry desc",
            f'{N0 % "e-overrides"} limit: 100 sort_by {{ key: "retry_attempt" }}',
            _items(SUCCEEDED_RETRY_1, FAILED_RETRY_0),
        ),
        case(
            106,
            "limit 1",
            f'{N0 % "e-overrides"} limit: 1 sort_by {{ key: "retry_attempt" direction: ASCENDING }}',
            _items(FAILED_RETRY_0, token="1"),
        ),
    ],
)
def test_list_task_executions(real: Real, scenario: Scenario, request_text: str, expected: str) -> None:
    """A log with `HideOnceFinished` disappears once the attempt is terminal; the log it replaced (same URI)
    went with it."""
    scenario.overrides()
    response = real.call(
        "ListTaskExecutions", real.parse(task_execution_pb2.TaskExecutionListRequest, request_text)
    )
    assert body(real, response) == expected


@pytest.mark.parametrize("request_text", [case(107, "retry 0", ATTEMPT % "")])
def test_get_task_execution_hides_finished_logs(real: Real, scenario: Scenario, request_text: str) -> None:
    scenario.overrides()
    request = real.parse(task_execution_pb2.TaskExecutionGetRequest, request_text)
    response = real.call("GetTaskExecution", request)
    expected = re.sub(r"(?m)^  ", "", FAILED_RETRY_0)
    assert body(real, response) == expected


MISSING_ATTEMPT = (
    'missing entity of type task execution with identifier task_id:{project:"<P>"  domain:"development"  '
    f'name:"{NORMALIZE}"  version:"v1"}}  node_execution_id:{{node_id:"n0"  execution_id:{{project:"<P>"  '
    'domain:"development"  name:"e-overrides"}}'
)


@pytest.mark.parametrize(
    "rpc, request_type",
    [
        case(108, "retry 5", "GetTaskExecution", task_execution_pb2.TaskExecutionGetRequest),
        case(
            110,
            "missing",
            "GetTaskExecutionData",
            task_execution_pb2.TaskExecutionGetDataRequest,
        ),
    ],
)
def test_missing_task_execution(real: Real, scenario: Scenario, rpc: str, request_type: Any) -> None:
    """NOT_FOUND prints the repository's key: no task resource type, no retry attempt."""
    scenario.overrides()
    failure = real.refused(rpc, real.parse(request_type, ATTEMPT % "retry_attempt: 5"))
    assert (failure.code, failure.message) == (NOT_FOUND, MISSING_ATTEMPT)


@pytest.mark.parametrize("request_text", [case(109, "retry 1", ATTEMPT % "retry_attempt: 1")])
def test_task_execution_data_has_flyte_urls(real: Real, scenario: Scenario, request_text: str) -> None:
    scenario.overrides()
    request = real.parse(task_execution_pb2.TaskExecutionGetDataRequest, request_text)
    response = real.call("GetTaskExecutionData", request)
    assert body(real, response) == (
        "inputs {\n}\noutputs {\n}\nfull_inputs {\n}\nfull_outputs {\n}\nflyte_urls {\n"
        '  inputs: "flyte://v1/<P>/development/e-overrides/n0/1/i"\n'
        '  outputs: "flyte://v1/<P>/development/e-overrides/n0/1/o"\n}\n'
    )


def test_task_execution_data_validates_the_identifier(real: Real) -> None:
    """GetTaskExecutionData goes through GetTaskExecution, which validates the id first."""
    request = real.parse(task_execution_pb2.TaskExecutionGetDataRequest, f"id {{ {N0 % 'e'} }}")
    failure = real.refused("GetTaskExecutionData", request)
    assert (failure.code, failure.message) == (grpc.StatusCode.INVALID_ARGUMENT, "missing task_id")


def test_node_execution_data_flyte_urls_have_no_retry(real: Real, scenario: Scenario) -> None:
    """The same rule for a node: `flyte://v1/<P>/<domain>/<exec>/<node>/{i,o}`; a deck URL only with a
    deck."""
    scenario.overrides()
    request = real.parse(
        node_execution_pb2.NodeExecutionGetDataRequest,
        'id { node_id: "n1" execution_id { project: "<P>" domain: "development" name: "e-overrides" } }',
    )
    urls = real.call("GetNodeExecutionData", request).flyte_urls
    base = f"flyte://v1/{real.project}/development/e-overrides/n1"
    assert (urls.inputs, urls.outputs, urls.deck) == (f"{base}/i", f"{base}/o", "")


N0_METRICS_ATTEMPT = f"""task_executions {{
  id {{
    task_id {{
      resource_type: TASK
      project: "<P>"
      domain: "development"
      name: "{NORMALIZE}"
      version: "v1"
    }}
    node_execution_id {{
      node_id: "n0"
      execution_id {{
        project: "<P>"
        domain: "development"
        name: "e-metrics"
      }}
    }}
  }}
  closure {{
    output_uri: "s3://my-s3-bucket/out/n0"
    phase: SUCCEEDED
    logs {{
      uri: "http://flyte.example/pending"
      name: "pending"
      ShowWhilePending: true
    }}
    logs {{
      uri: "http://flyte.example/always"
      name: "always"
    }}
    started_at {{
    }}
    duration {{
    }}
    created_at {{
    }}
    updated_at {{
    }}
  }}
}}
"""


@pytest.mark.parametrize("request_text", [case(116, "logs after SUCCEEDED", f"{N0 % 'e-metrics'} limit: 10")])
def test_logs_after_succeeded(real: Real, scenario: Scenario, request_text: str) -> None:
    """Logs of an attempt: kept as first reported, then filtered by each later event's phase; once SUCCEEDED,
    `HideOnceFinished` logs are gone (the reference's `<HOST>` is flyte.example here)."""
    scenario.metrics()
    request = real.parse(task_execution_pb2.TaskExecutionListRequest, request_text)
    assert body(real, real.call("ListTaskExecutions", request)) == N0_METRICS_ATTEMPT


def test_logs_while_queued_show_only_pending_ones(real: Real, scenario: Scenario) -> None:
    """The other half of the rule: an update in QUEUED or INITIALIZING keeps only `ShowWhilePending` logs."""
    scenario.launch("e-logs")
    scenario.node_event("e-logs", "n0", NodePhase.QUEUED, 0)
    scenario.task_event("e-logs", "n0", NORMALIZE, TaskPhase.QUEUED, 1)
    logs = [
        scenario.log('uri: "http://flyte.example/p" name: "p" ShowWhilePending: true'),
        scenario.log('uri: "http://flyte.example/q" name: "q"'),
    ]
    scenario.task_event("e-logs", "n0", NORMALIZE, TaskPhase.INITIALIZING, 2, logs=logs)
    request = real.parse(task_execution_pb2.TaskExecutionListRequest, f"{N0 % 'e-logs'} limit: 10")
    closure = real.call("ListTaskExecutions", request).task_executions[0].closure
    assert [log.name for log in closure.logs] == ["p"]


# --- metrics -----------------------------------------------------------------------------------------------


def _span(*lines: str) -> str:
    return "\n".join(lines)


def _ids(kind: str, execution: str, node_id: str = "", task: str = "") -> str:
    """The id part of a span, as text (workflow_id, node_id or task_id)."""
    execution_text = f'project: "<P>" domain: "development" name: "{execution}"'
    if kind == "workflow":
        return f"workflow_id {{ {execution_text} }}"
    node = f'node_id: "{node_id}" execution_id {{ {execution_text} }}'
    if kind == "node":
        return f"node_id {{ {node} }}"
    return (
        f'task_id {{ task_id {{ resource_type: TASK project: "<P>" domain: "development" name: "{task}" '
        f'version: "v1" }} node_execution_id {{ {node} }} }}'
    )


def _op(name: str) -> str:
    return f'spans {{ start_time {{ }} end_time {{ }} operation_id: "{name}" }}'


def _node_span(node_id: str, *inner: str) -> str:
    return (
        f"spans {{ start_time {{ }} end_time {{ }} {_ids('node', 'e-metrics', node_id)} {' '.join(inner)} }}"
    )


def _task_span(node_id: str, task: str, *inner: str) -> str:
    task_id = _ids("task", "e-metrics", node_id, task)
    return f"spans {{ start_time {{ }} end_time {{ }} {task_id} {' '.join(inner)} }}"


def _metrics(execution: str, *spans: str) -> str:
    return f"span {{ start_time {{ }} end_time {{ }} {_ids('workflow', execution)} {' '.join(spans)} }}"


TASK_ATTEMPT_OPS = (_op("TASK_SETUP"), _op("TASK_RUNTIME"), _op("TASK_TEARDOWN"))
METRICS_DEPTH_1 = _metrics(
    "e-metrics",
    _op("WORKFLOW_SETUP"),
    _node_span("n0", _op("NODE_TRANSITION")),
    _node_span("n1", _op("NODE_TRANSITION")),
    _node_span("n2", _op("NODE_TRANSITION")),
    _op("WORKFLOW_TEARDOWN"),
)
METRICS_DEPTH_2 = _metrics(
    "e-metrics",
    _op("WORKFLOW_SETUP"),
    _node_span("n0", _op("NODE_TRANSITION"), _op("NODE_SETUP"), _op("NODE_TEARDOWN")),
    _node_span("n1", _op("NODE_TRANSITION"), _op("NODE_SETUP"), _op("NODE_TEARDOWN")),
    _node_span("n2", _op("NODE_TRANSITION"), _op("NODE_SETUP"), _node_span("n2-n0"), _op("NODE_TEARDOWN")),
    _op("WORKFLOW_TEARDOWN"),
)
METRICS_DEPTH_10 = _metrics(
    "e-metrics",
    _op("WORKFLOW_SETUP"),
    _node_span(
        "n0",
        _op("NODE_TRANSITION"),
        _op("NODE_SETUP"),
        _task_span("n0", NORMALIZE, *TASK_ATTEMPT_OPS),
        _op("NODE_TEARDOWN"),
    ),
    _node_span(
        "n1",
        _op("NODE_TRANSITION"),
        _op("NODE_SETUP"),
        _task_span("n1", IS_BIG, *TASK_ATTEMPT_OPS),
        _op("NODE_TEARDOWN"),
    ),
    _node_span(
        "n2",
        _op("NODE_TRANSITION"),
        _op("NODE_SETUP"),
        _node_span("n2-n0", _op("NODE_SETUP")),
        _op("NODE_TEARDOWN"),
    ),
    _op("WORKFLOW_TEARDOWN"),
)


@pytest.mark.parametrize(
    "depth, expected",
    [
        case(113, "depth 1", 1, METRICS_DEPTH_1),
        case(114, "depth 2", 2, METRICS_DEPTH_2),
        case(115, "depth 10", 10, METRICS_DEPTH_10),
    ],
)
def test_execution_metrics(real: Real, scenario: Scenario, depth: int, expected: str) -> None:
    """Spans as flyteadmin's metrics manager cuts them, one level of node spans per depth step."""
    scenario.metrics()
    request = real.parse(
        execution_pb2.WorkflowExecutionGetMetricsRequest,
        f'id {{ project: "<P>" domain: "development" name: "e-metrics" }} depth: {depth}',
    )
    response = real.call("GetExecutionMetrics", request)
    expected_message = real.parse(execution_pb2.WorkflowExecutionGetMetricsResponse, expected)
    assert body(real, response) == body(real, expected_message)


@pytest.mark.parametrize(
    "request_text",
    [case(111, "metrics", 'id { project: "<P>" domain: "development" name: "e-overrides" } depth: 2')],
)
def test_metrics_without_spec_node_ids(real: Real, scenario: Scenario, request_text: str) -> None:
    """Node events without `spec_node_id` leave the start node unknown: WORKFLOW_SETUP alone."""
    scenario.overrides()
    request = real.parse(execution_pb2.WorkflowExecutionGetMetricsRequest, request_text)
    response = real.call("GetExecutionMetrics", request)
    expected = _metrics("e-overrides", _op("WORKFLOW_SETUP"))
    assert body(real, response) == body(
        real, real.parse(execution_pb2.WorkflowExecutionGetMetricsResponse, expected)
    )


def test_metrics_depth_0_is_the_execution_alone(real: Real, scenario: Scenario) -> None:
    scenario.metrics()
    request = real.parse(
        execution_pb2.WorkflowExecutionGetMetricsRequest,
        'id { project: "<P>" domain: "development" name: "e-metrics" }',
    )
    response = real.call("GetExecutionMetrics", request)
    assert body(real, response) == body(
        real, real.parse(execution_pb2.WorkflowExecutionGetMetricsResponse, _metrics("e-metrics"))
    )


def test_metrics_of_a_retried_attempt_show_a_node_reset(real: Real, scenario: Scenario) -> None:
    """Two attempts of a task node: NODE_RESET between them; an attempt that never started is TASK_SETUP."""
    scenario.launch("e-retry")
    scenario.workflow_event("e-retry", WorkflowPhase.RUNNING, 0)
    scenario.node_event("e-retry", "start-node", NodePhase.SUCCEEDED, 1, spec_node_id="start-node")
    scenario.node_event("e-retry", "n0", NodePhase.RUNNING, 2, spec_node_id="n0")
    scenario.task_event("e-retry", "n0", NORMALIZE, TaskPhase.QUEUED, 3)
    scenario.task_event("e-retry", "n0", NORMALIZE, TaskPhase.FAILED, 4)
    scenario.task_event("e-retry", "n0", NORMALIZE, TaskPhase.QUEUED, 5, retry=1)
    request = real.parse(
        execution_pb2.WorkflowExecutionGetMetricsRequest,
        'id { project: "<P>" domain: "development" name: "e-retry" } depth: -1',
    )
    node = real.call("GetExecutionMetrics", request).span.spans[1]
    assert [span.operation_id or span.WhichOneof("id") for span in node.spans] == [
        "NODE_TRANSITION",
        "NODE_SETUP",
        "task_id",
        "NODE_RESET",
        "task_id",
    ]
    assert [[op.operation_id for op in span.spans] for span in node.spans if span.HasField("task_id")] == [
        ["TASK_SETUP"],
        ["TASK_SETUP"],
    ]


# --- relaunch, recover, create: duplicate names ------------------------------------------------------------

DUPLICATE = 'value with matching already exists (duplicate key value violates unique constraint "{}")'


@pytest.mark.parametrize(
    "rpc, request_type, name",
    [
        case(
            119,
            "duplicate name",
            "RelaunchExecution",
            execution_pb2.ExecutionRelaunchRequest,
            "e-relaunch",
        ),
        case(
            122,
            "duplicate name",
            "RecoverExecution",
            execution_pb2.ExecutionRecoverRequest,
            "e-recover",
        ),
    ],
)
def test_duplicate_relaunch_names_collide_on_tags_first(
    real: Real, scenario: Scenario, rpc: str, request_type: Any, name: str
) -> None:
    """flyteadmin inserts an execution's tag rows (its labels and tags) before the execution: a copy of an
    execution with labels fails on `execution_tags_pkey`."""
    scenario.overrides()
    request = real.parse(
        request_type, f'id {{ project: "<P>" domain: "development" name: "e-overrides" }} name: "{name}"'
    )
    real.call(rpc, request)
    failure = real.refused(rpc, request)
    assert (failure.code, failure.message) == (ALREADY_EXISTS, DUPLICATE.format("execution_tags_pkey"))


@pytest.mark.parametrize(
    "first, second, constraint",
    [
        ("", "", "executions_pkey"),
        (
            'labels { values { key: "a" value: "1" } }',
            'labels { values { key: "a" value: "1" } }',
            "execution_tags_pkey",
        ),
        ('tags: "t"', 'tags: "t"', "execution_tags_pkey"),
        ('tags: "t"', 'tags: "u"', "executions_pkey"),
    ],
)
def test_create_execution_duplicate_names_the_first_constraint_hit(
    real: Real, scenario: Scenario, first: str, second: str, constraint: str
) -> None:
    """Which constraint fires: the tags' when the new execution repeats a stored tag row, else the
    execution's."""
    scenario.launch("e-dup", first)
    with pytest.raises(grpc.RpcError) as raised:
        scenario.launch("e-dup", second)
    assert (raised.value.code(), raised.value.details()) == (ALREADY_EXISTS, DUPLICATE.format(constraint))


def test_repeated_tags_in_one_request_collide_with_themselves(real: Real, scenario: Scenario) -> None:
    """The tag rows go in as one INSERT: the same tag twice violates the key even for a new name."""
    with pytest.raises(grpc.RpcError) as raised:
        scenario.launch("e-twice", 'tags: "t" tags: "t"')
    assert (raised.value.code(), raised.value.details()) == (
        ALREADY_EXISTS,
        DUPLICATE.format("execution_tags_pkey"),
    )


# --- project labels ----------------------------------------------------------------------------------------


def _with_team_label(real: Real) -> None:
    labels = common_pb2.Labels(values={"team": "df"})
    real.admin.UpdateProject(project_pb2.Project(id=real.project, name="diff project", labels=labels))


E_PROJLABELS = """id { project: "<P>" domain: "development" name: "e-projlabels" }
spec {
  launch_plan { resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "scoring_default"
    version: "v1" }
  metadata { system_metadata { namespace: "<P>-development" } }
  labels { values { key: "l" value: "from-request" } values { key: "team" value: "df" } }
  security_context { run_as { } }
  max_parallelism: 25
}
closure {
  created_at { } updated_at { }
  workflow_id { resource_type: WORKFLOW project: "<P>" domain: "development"
    name: "heldout_app.pipelines.scoring" version: "v1" }
  state_change_details { occurred_at { } }
}"""


@pytest.mark.parametrize(
    "request_text",
    [case(126, "project labels merged?", 'id { project: "<P>" domain: "development" name: "e-projlabels" }')],
)
def test_project_labels_are_copied_into_the_execution(
    real: Real, scenario: Scenario, request_text: str
) -> None:
    _with_team_label(real)
    scenario.launch("e-projlabels", 'labels { values { key: "l" value: "from-request" } }')
    response = real.call("GetExecution", real.parse(execution_pb2.WorkflowExecutionGetRequest, request_text))
    assert body(real, response) == body(real, real.parse(execution_pb2.Execution, E_PROJLABELS))


@pytest.mark.parametrize(
    "labels, stored",
    [
        ('labels { values { key: "team" value: "mine" } }', {"team": "mine"}),
        ("", {}),
    ],
)
def test_project_labels_join_only_the_requests_own_labels(
    real: Real, scenario: Scenario, labels: str, stored: dict[str, str]
) -> None:
    """The request's value wins on the same key; without request labels flyteadmin adds the project's into a
    map it does not store (the launch plan's or a new one), so the stored spec has none."""
    _with_team_label(real)
    scenario.launch("e-labels", labels)
    request = real.parse(
        execution_pb2.WorkflowExecutionGetRequest,
        'id { project: "<P>" domain: "development" name: "e-labels" }',
    )
    assert dict(real.call("GetExecution", request).spec.labels.values) == stored


def test_launch_plan_labels_are_not_stored_in_the_execution(real: Real, scenario: Scenario) -> None:
    """A launch plan's labels win over nothing in the execution config, but that map is the launch plan's: the
    stored spec keeps the request's (none here), and the project labels went into the launch plan's map."""
    _with_team_label(real)
    labeled = _LAUNCH_PLAN.replace('"scoring_default"', '"scoring_labeled"').replace(
        "spec {", 'spec { labels { values { key: "from" value: "lp" } }', 1
    )
    real.admin.CreateLaunchPlan(real.parse(launch_plan_pb2.LaunchPlanCreateRequest, labeled))
    real.admin.CreateExecution(
        real.parse(
            execution_pb2.ExecutionCreateRequest,
            'project: "<P>" domain: "development" name: "e-lplabels" spec { launch_plan { '
            'resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "scoring_labeled" '
            'version: "v1" } }',
        )
    )
    request = real.parse(
        execution_pb2.WorkflowExecutionGetRequest,
        'id { project: "<P>" domain: "development" name: "e-lplabels" }',
    )
    assert not real.call("GetExecution", request).spec.HasField("labels")


_SUB = 'resource_type: WORKFLOW project: "<P>" domain: "development" name: "sub" version: "v1"'
_SUB_TEMPLATE = f"""id {{ {_SUB} }} metadata {{ }}
  interface {{ inputs {{ variables {{ key: "x" value {{ type {{ simple: INTEGER }} }} }} }} }}
  nodes {{ id: "s0" inputs {{ var: "x" binding {{ promise {{ node_id: "start-node" var: "x" }} }} }}
    task_node {{ reference_id {{ resource_type: TASK project: "<P>" domain: "development" name: "{NORMALIZE}"
      version: "v1" }} }} }}"""
_GATED = 'resource_type: WORKFLOW project: "<P>" domain: "development" name: "gated" version: "v1"'
_GATED_WORKFLOW = f"""id {{ {_GATED} }} spec {{
  template {{ id {{ {_GATED} }} metadata {{ }} interface {{ }}
    nodes {{ id: "g" gate_node {{ sleep {{ duration {{ seconds: 5 }} }} }} }}
    nodes {{ id: "w" upstream_node_ids: "g"
      inputs {{ var: "x" binding {{ scalar {{ primitive {{ integer: 1 }} }} }} }}
      workflow_node {{ sub_workflow_ref {{ {_SUB} }} }} }} }}
  sub_workflows {{ {_SUB_TEMPLATE} }} }}"""


def test_metrics_of_gate_and_subworkflow_nodes(real: Real, scenario: Scenario) -> None:
    """Other node kinds: a gate node waits (NODE_IDLE between its start and its end); a subworkflow node
    shows the spans of its own nodes, read from the subworkflow's registered definition."""
    real.admin.CreateWorkflow(
        real.parse(
            workflow_pb2.WorkflowCreateRequest, f"id {{ {_SUB} }} spec {{ template {{ {_SUB_TEMPLATE} }} }}"
        )
    )
    real.admin.CreateWorkflow(real.parse(workflow_pb2.WorkflowCreateRequest, _GATED_WORKFLOW))
    real.admin.CreateLaunchPlan(
        real.parse(
            launch_plan_pb2.LaunchPlanCreateRequest,
            'id { resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "gated" '
            'version: "v1" } '
            f"spec {{ workflow_id {{ {_GATED} }} }}",
        )
    )
    real.admin.CreateExecution(
        real.parse(
            execution_pb2.ExecutionCreateRequest,
            'project: "<P>" domain: "development" name: "e-gated" spec { launch_plan { '
            'resource_type: LAUNCH_PLAN project: "<P>" domain: "development" name: "gated" version: "v1" } }',
        )
    )
    scenario.node_event("e-gated", "start-node", NodePhase.SUCCEEDED, 0, spec_node_id="start-node")
    scenario.node_event("e-gated", "g", NodePhase.RUNNING, 1, spec_node_id="g")
    scenario.node_event("e-gated", "g", NodePhase.SUCCEEDED, 6)
    scenario.node_event("e-gated", "w", NodePhase.RUNNING, 7, spec_node_id="w")
    parent = core_event_pb2.ParentNodeExecutionMetadata(node_id="w")
    start = {"spec_node_id": "start-node", "parent_node_metadata": parent}
    scenario.node_event("e-gated", "w-start-node", NodePhase.SUCCEEDED, 8, **start)
    scenario.node_event(
        "e-gated", "w-s0", NodePhase.RUNNING, 9, spec_node_id="s0", parent_node_metadata=parent
    )
    scenario.task_event("e-gated", "w-s0", NORMALIZE, TaskPhase.RUNNING, 10)
    request = real.parse(
        execution_pb2.WorkflowExecutionGetMetricsRequest,
        'id { project: "<P>" domain: "development" name: "e-gated" } depth: -1',
    )
    span = real.call("GetExecutionMetrics", request).span

    def shape(span: Any) -> Any:
        label = span.operation_id or span.node_id.node_id or span.task_id.node_execution_id.node_id
        return [label, *(shape(child) for child in span.spans)] if span.spans else label

    assert [shape(child) for child in span.spans] == [
        "WORKFLOW_SETUP",
        ["g", "NODE_TRANSITION", "NODE_SETUP", "NODE_IDLE", "NODE_TEARDOWN"],
        [
            "w",
            "NODE_TRANSITION",
            "NODE_SETUP",
            ["w-s0", "NODE_TRANSITION", "NODE_SETUP", ["w-s0", "TASK_SETUP", "TASK_RUNTIME"]],
        ],
    ]


@pytest.mark.parametrize("request_text", ["", 'id { node_id: "n1" }'])
def test_get_node_execution_with_a_partial_id_finds_a_stored_one(
    real: Real, scenario: Scenario, request_text: str
) -> None:
    """GetNodeExecution only logs an invalid id and looks the rest up as gorm does: the oldest node execution
    matching the parts given."""
    scenario.overrides()
    request = real.parse(node_execution_pb2.NodeExecutionGetRequest, request_text)
    found = real.call("GetNodeExecution", request)
    assert (found.id.execution_id.name, found.id.node_id) == ("e-overrides", "n1" if request_text else "n0")


def test_a_refused_duplicate_leaves_its_new_tag_rows_behind(real: Real, scenario: Scenario) -> None:
    """`ExecutionRepo.Create` writes the tag rows outside its transaction: when the execution insert then
    fails (`executions_pkey`), the new tags stay, and the existing execution is found by them."""
    scenario.launch("e-dup", 'tags: "t"')
    with pytest.raises(grpc.RpcError):
        scenario.launch("e-dup", 'tags: "u"')
    request = real.parse(
        common_pb2.ResourceListRequest,
        'id { project: "<P>" domain: "development" } limit: 10 filters: "eq(execution_tag.key,u)"',
    )
    assert [execution.id.name for execution in real.call("ListExecutions", request).executions] == ["e-dup"]
