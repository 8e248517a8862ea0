"""The simulate executor: executions reach SUCCEEDED or FAILED by the documented rules, with node and task
executions and outputs, through the event handlers a real engine uses; relaunch and recover end to end."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import event_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2 as engine_event_pb2

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.executor import start_executor, wait_idle
from tests.emulator.exec.helpers import (
    DOMAIN,
    LP,
    LP_FAILS,
    PROJECT,
    TASK,
    Clock,
    Stubs,
    create_request,
    exec_id,
    literal_map,
    plain,
    refusal,
    stamp,
    task_request,
)

Phase = core_execution_pb2.WorkflowExecution.Phase
NodePhase = core_execution_pb2.NodeExecution.Phase
TaskPhase = core_execution_pb2.TaskExecution.Phase


def run(emu: Emulator, admin: Any, request: execution_pb2.ExecutionCreateRequest) -> execution_pb2.Execution:
    created = admin.CreateExecution(request)
    assert emu.state is not None and wait_idle(emu.state, 10)
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))


def drive_once(emu: Emulator) -> None:
    """Start an engine on an emulator that runs without one, let it finish what is pending, stop it."""
    assert emu.state is not None
    engine = start_executor(emu.state)
    try:
        assert engine.wait_idle(10)
    finally:
        engine.stop()


def nodes(admin: Any, name: str) -> dict[str, int]:
    listing = node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=exec_id(name), limit=50)
    return {n.id.node_id: n.closure.phase for n in admin.ListNodeExecutions(listing).node_executions}


def attempts(admin: Any, name: str, node: str) -> list[int]:
    node_id = identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id(name), node_id=node)
    listing = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, limit=10)
    return [t.closure.phase for t in admin.ListTaskExecutions(listing).task_executions]


def node_data(admin: Any, name: str, node: str) -> node_execution_pb2.NodeExecutionGetDataResponse:
    node_id = identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id(name), node_id=node)
    return admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=node_id))


def test_success_produces_nodes_attempts_and_outputs(simulated: tuple[Emulator, Stubs], clock: Clock) -> None:
    emu, calls = simulated
    admin = calls.admin
    done = run(emu, admin, create_request("ok", x=4))
    assert done.closure.phase == Phase.SUCCEEDED
    outputs = admin.GetExecutionData(
        execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id("ok"))
    ).full_outputs
    assert plain(outputs) == {"result": 0}  # n1's o0: no input of that name, so the zero int
    assert nodes(admin, "ok") == {
        "start-node": NodePhase.SUCCEEDED,
        "n0": NodePhase.SUCCEEDED,
        "n1": NodePhase.SUCCEEDED,
        "end-node": NodePhase.SUCCEEDED,
    }
    assert attempts(admin, "ok", "n0") == [TaskPhase.SUCCEEDED]
    assert plain(node_data(admin, "ok", "n0").full_inputs) == {"x": 4}
    assert plain(node_data(admin, "ok", "n1").full_inputs) == {"x": 0}  # wired from n0.o0
    # The executor went through the real state machine: the finished execution refuses further events.
    event = engine_event_pb2.WorkflowExecutionEvent(
        execution_id=exec_id("ok"), phase=Phase.RUNNING, occurred_at=stamp(clock)
    )
    late = refusal(admin.CreateWorkflowEvent, event_pb2.WorkflowExecutionEventRequest(event=event))
    assert late.code == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "request_",
    [
        create_request("boom", fail=True),
        create_request("boom", tag="fail"),
        create_request("boom", launch_plan=LP_FAILS),
    ],
    ids=["input-fail-true", "string-input-fail", "launch-plan-name-_fails"],
)
def test_failure_rules(
    simulated: tuple[Emulator, Stubs], request_: execution_pb2.ExecutionCreateRequest
) -> None:
    emu, calls = simulated
    failed = run(emu, calls.admin, request_)
    assert failed.closure.phase == Phase.FAILED
    assert failed.closure.error.code == "SimulatedFailure"
    assert failed.closure.error.kind == core_execution_pb2.ExecutionError.USER
    assert nodes(calls.admin, "boom") == {
        "start-node": NodePhase.SUCCEEDED,
        "n0": NodePhase.SUCCEEDED,
        "n1": NodePhase.FAILED,
    }
    assert attempts(calls.admin, "boom", "n1") == [TaskPhase.FAILED]


def test_relaunch_and_recover_of_a_failure_succeed(simulated: tuple[Emulator, Stubs]) -> None:
    emu, calls = simulated
    admin = calls.admin
    assert run(emu, admin, create_request("flaky", fail=True)).closure.phase == Phase.FAILED
    relaunch = execution_pb2.ExecutionRelaunchRequest(id=exec_id("flaky"), name="flaky-again")
    admin.RelaunchExecution(relaunch)
    assert emu.state is not None and wait_idle(emu.state, 10)
    again = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("flaky-again")))
    assert (again.closure.phase, again.spec.metadata.mode) == (
        Phase.SUCCEEDED,
        execution_pb2.ExecutionMetadata.RELAUNCH,
    )

    admin.RecoverExecution(execution_pb2.ExecutionRecoverRequest(id=exec_id("flaky"), name="flaky-recovered"))
    assert wait_idle(emu.state, 10)
    recovered = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("flaky-recovered")))
    assert recovered.closure.phase == Phase.SUCCEEDED
    phases = nodes(admin, "flaky-recovered")
    assert (phases["n0"], phases["n1"]) == (NodePhase.RECOVERED, NodePhase.SUCCEEDED)
    assert attempts(admin, "flaky-recovered", "n0") == []  # recovered nodes do not run again


def test_fail_always_keeps_failing(simulated: tuple[Emulator, Stubs]) -> None:
    emu, calls = simulated
    admin = calls.admin
    assert run(emu, admin, create_request("stubborn", tag="fail_always")).closure.phase == Phase.FAILED
    admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=exec_id("stubborn"), name="stubborn-2"))
    assert emu.state is not None and wait_idle(emu.state, 10)
    again = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("stubborn-2")))
    assert again.closure.phase == Phase.FAILED


def test_single_task_execution_runs_the_generated_workflow(simulated: tuple[Emulator, Stubs]) -> None:
    emu, calls = simulated
    done = run(emu, calls.admin, create_request("solo", launch_plan=TASK, x=2))
    assert done.closure.phase == Phase.SUCCEEDED
    assert done.closure.workflow_id.name == ".flytegen.t.double"
    outputs = calls.admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=exec_id("solo")))
    assert plain(outputs.full_outputs) == {"o0": 0}


def test_engine_started_later_drives_backlog_and_finishes_aborts(
    served: tuple[Emulator, Stubs], clock: Clock
) -> None:
    emu, calls = served
    admin = calls.admin
    admin.CreateExecution(create_request("waiting"))
    admin.CreateExecution(create_request("cancelled"))
    running_node = engine_event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id("cancelled"), node_id="n0"),
        phase=NodePhase.RUNNING,
        occurred_at=stamp(clock),
    )
    admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=running_node))
    running_task = engine_event_pb2.TaskExecutionEvent(
        task_id=TASK,
        parent_node_execution_id=running_node.id,
        phase=TaskPhase.RUNNING,
        occurred_at=stamp(clock),
    )
    admin.CreateTaskEvent(event_pb2.TaskExecutionEventRequest(event=running_task))
    admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=exec_id("cancelled"), cause="no"))
    drive_once(emu)
    phase = {
        name: admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id(name))).closure.phase
        for name in ("waiting", "cancelled")
    }
    assert phase == {"waiting": Phase.SUCCEEDED, "cancelled": Phase.ABORTED}
    assert nodes(admin, "cancelled") == {"n0": NodePhase.ABORTED}
    assert attempts(admin, "cancelled", "n0") == [TaskPhase.ABORTED]


def test_flytekit_remote_executes_and_reads_back(simulated: tuple[Emulator, Stubs]) -> None:
    """flytekit's own FlyteRemote: launch, wait, outputs, node executions with their data, and a failure."""
    from flytekit.configuration import Config, PlatformConfig
    from flytekit.remote import FlyteRemote

    emu, _ = simulated
    remote = FlyteRemote(
        Config(platform=PlatformConfig(endpoint=emu.endpoint, insecure=True)),
        default_project=PROJECT,
        default_domain=DOMAIN,
    )
    launch_plan = remote.fetch_launch_plan(name=LP.name, version=LP.version)

    def execute(name: str, **inputs: object) -> Any:
        # Let the engine finish first, so flytekit's wait() finds the execution done on its first poll.
        started = remote.execute(launch_plan, inputs=inputs, execution_name=name)
        assert emu.state is not None and wait_idle(emu.state, 10)
        return remote.wait(started, timeout=10)

    done = execute("remote-ok", x=4, fail=False, tag="hi")
    assert done.closure.phase == Phase.SUCCEEDED
    assert done.outputs["result"] == 0
    synced = remote.sync_execution(done, sync_nodes=True)
    assert set(synced.node_executions) == {"start-node", "n0", "n1", "end-node"}
    assert synced.node_executions["n0"].inputs["x"] == 4
    failed = execute("remote-no", x=1, fail=True, tag="")
    assert failed.closure.phase == Phase.FAILED
    assert failed.error.code == "SimulatedFailure"


def test_metrics_have_node_and_attempt_spans(simulated: tuple[Emulator, Stubs]) -> None:
    emu, calls = simulated
    run(emu, calls.admin, create_request("timed"))
    request = execution_pb2.WorkflowExecutionGetMetricsRequest(id=exec_id("timed"), depth=2)
    span = calls.admin.GetExecutionMetrics(request).span
    # flyteadmin's metrics manager: WORKFLOW_SETUP, the workflow's nodes (not start/end), WORKFLOW_TEARDOWN.
    assert [child.operation_id or child.node_id.node_id for child in span.spans] == [
        "WORKFLOW_SETUP",
        "n0",
        "n1",
        "WORKFLOW_TEARDOWN",
    ]
    n0 = span.spans[1]
    assert [child.operation_id for child in n0.spans] == ["NODE_TRANSITION", "NODE_SETUP", "NODE_TEARDOWN"]
    deep = calls.admin.GetExecutionMetrics(
        execution_pb2.WorkflowExecutionGetMetricsRequest(id=exec_id("timed"), depth=3)
    ).span.spans[1]
    assert [child.task_id.task_id for child in deep.spans if child.HasField("task_id")] == [TASK]
    shallow = calls.admin.GetExecutionMetrics(
        execution_pb2.WorkflowExecutionGetMetricsRequest(id=exec_id("timed"))
    )
    assert list(shallow.span.spans) == []


def test_interrupted_run_is_resumed_without_rerunning_finished_nodes(
    served: tuple[Emulator, Stubs], clock: Clock
) -> None:
    """What a crash mid-run leaves (events of producer `simulate` up to n0) is finished by the next engine."""
    emu, calls = served
    admin = calls.admin
    admin.CreateExecution(create_request("crashed", x=2))
    for phase in (Phase.QUEUED, Phase.RUNNING):
        event = engine_event_pb2.WorkflowExecutionEvent(
            execution_id=exec_id("crashed"), phase=phase, producer_id="simulate", occurred_at=stamp(clock)
        )
        admin.CreateWorkflowEvent(event_pb2.WorkflowExecutionEventRequest(event=event))
    n0 = identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id("crashed"), node_id="n0")
    node_done = engine_event_pb2.NodeExecutionEvent(
        id=n0,
        phase=NodePhase.SUCCEEDED,
        producer_id="simulate",
        occurred_at=stamp(clock),
        output_data=literal_map(o0=9),
    )
    admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=node_done))
    drive_once(emu)
    finished = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("crashed")))
    assert finished.closure.phase == Phase.SUCCEEDED
    assert finished.spec.metadata.system_metadata.execution_cluster == "simulate"
    assert attempts(admin, "crashed", "n0") == []  # not run again
    assert plain(node_data(admin, "crashed", "n1").full_inputs) == {"x": 9}  # wired from the recorded output


def test_file_store_keeps_executions_and_objects_across_restarts(tmp_path: Any, clock: Clock) -> None:
    import requests
    from flyteidl.service import dataproxy_pb2

    from tests.emulator.exec.helpers import register, stubs

    path = str(tmp_path / "admin.db")
    with Emulator(db=path, clock=clock) as first, grpc.insecure_channel(first.endpoint) as channel:
        calls = stubs(channel)
        register(calls.admin)
        calls.admin.CreateExecution(create_request("before-restart"))
        location = calls.data.CreateUploadLocation(
            dataproxy_pb2.CreateUploadLocationRequest(
                project=PROJECT, domain=DOMAIN, filename_root="r", filename="f"
            )
        )
        assert requests.put(location.signed_url, data=b"kept", timeout=10).status_code == 200
    with (
        Emulator(db=path, clock=clock, executor="simulate") as second,
        grpc.insecure_channel(second.endpoint) as channel,
    ):
        calls = stubs(channel)
        assert second.state is not None and wait_idle(second.state, 10)
        restarted = calls.admin.GetExecution(
            execution_pb2.WorkflowExecutionGetRequest(id=exec_id("before-restart"))
        )
        assert restarted.closure.phase == Phase.SUCCEEDED
        link = calls.data.CreateDownloadLocation(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url=location.native_url)
        )
        assert requests.get(link.signed_url, timeout=10).content == b"kept"


def test_recovery_reuses_the_outputs_the_reference_produced(
    served: tuple[Emulator, Stubs], clock: Clock
) -> None:
    """The reference's n0 produced o0=41 (reported by hand, so a re-run would give the zero value instead):
    the recovered run reports n0 RECOVERED with 41 and feeds 41 to n1, which runs again."""
    emu, calls = served
    admin = calls.admin
    admin.CreateExecution(create_request("first-try", x=2))

    def report(node: str, phase: int, **fields: Any) -> None:
        event = engine_event_pb2.NodeExecutionEvent(
            id=identifier_pb2.NodeExecutionIdentifier(execution_id=exec_id("first-try"), node_id=node),
            phase=phase,
            occurred_at=stamp(clock),
            **fields,
        )
        admin.CreateNodeEvent(event_pb2.NodeExecutionEventRequest(event=event))

    report("n0", NodePhase.SUCCEEDED, output_data=literal_map(o0=41))
    report("n1", NodePhase.FAILED, error=core_execution_pb2.ExecutionError(code="OOM"))
    failed = engine_event_pb2.WorkflowExecutionEvent(
        execution_id=exec_id("first-try"), phase=Phase.FAILED, occurred_at=stamp(clock)
    )
    admin.CreateWorkflowEvent(event_pb2.WorkflowExecutionEventRequest(event=failed))
    admin.RecoverExecution(execution_pb2.ExecutionRecoverRequest(id=exec_id("first-try"), name="second-try"))
    drive_once(emu)
    recovered = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=exec_id("second-try")))
    assert recovered.closure.phase == Phase.SUCCEEDED
    assert nodes(admin, "second-try")["n0"] == NodePhase.RECOVERED
    assert plain(node_data(admin, "second-try", "n0").full_outputs) == {"o0": 41}
    assert plain(node_data(admin, "second-try", "n1").full_inputs) == {"x": 41}
    assert (attempts(admin, "second-try", "n0"), attempts(admin, "second-try", "n1")) == (
        [],
        [TaskPhase.SUCCEEDED],
    )


def test_a_task_named_fails_fails_as_a_single_task_execution(simulated: tuple[Emulator, Stubs]) -> None:
    emu, calls = simulated
    doomed = task_request("t.double_fails")
    calls.admin.CreateTask(doomed)
    failed = run(emu, calls.admin, create_request("solo-fails", launch_plan=doomed.id, x=2))
    assert failed.closure.phase == Phase.FAILED
    assert failed.closure.error.code == "SimulatedFailure"
