"""A file database survives a restart, and a `kill -9` in the middle of a stream of writes leaves
it consistent.

The kill test runs `flyteadmin-ops emulator serve --db F` as a real subprocess, streams CreateTask /
CreateWorkflow / CreateLaunchPlan / UpdateLaunchPlan from a thread, kills the server with SIGKILL once enough
writes were acknowledged, and reopens the file: SQLite's integrity check passes, every acknowledged write is
there, every stored entity parses, no launch plan lacks its workflow, and at most one version per
name is ACTIVE.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path

import grpc
from flyteidl.admin import common_pb2, launch_plan_pb2, task_pb2, workflow_pb2

from flyteadmin_ops.emulator import Emulator
from tests.emulator.support import (
    RT,
    Caller,
    Failure,
    ident,
    launch_plan_request,
    register_basic,
    serve,
    started,
    task_request,
    workflow_request,
)


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "admin.db")
    with Emulator(db=db) as first:
        caller = Caller("raw", first.endpoint)
        register_basic(caller)
        caller.call(
            "UpdateLaunchPlan",
            launch_plan_pb2.LaunchPlanUpdateRequest(
                id=ident(RT.LAUNCH_PLAN, "lp"), state=launch_plan_pb2.ACTIVE
            ),
        )
        before = caller.call("GetWorkflow", common_pb2.ObjectGetRequest(id=ident(RT.WORKFLOW, "wf")))
        caller.close()
    with Emulator(db=db) as second:
        caller = Caller("raw", second.endpoint)
        assert caller.call("GetWorkflow", common_pb2.ObjectGetRequest(id=ident(RT.WORKFLOW, "wf"))) == before
        active = caller.call(
            "GetActiveLaunchPlan",
            launch_plan_pb2.ActiveLaunchPlanRequest(
                id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development", name="lp")
            ),
        )
        assert active.id.version == "v1"
        caller.fails("CreateTask", task_request(), grpc.StatusCode.ALREADY_EXISTS)  # the digest survived too
        caller.close()


def _write_stream(
    caller: Caller, acknowledged: list[str], enough: threading.Event, stop: threading.Event
) -> None:
    """Register numbered task/workflow/launch plan triples and flip the active version, until stopped."""
    index = 0
    while not stop.is_set():
        version = f"v{index}"
        try:
            caller.call("CreateTask", task_request("t", version))
            caller.call("CreateWorkflow", workflow_request("wf", version, task=ident(RT.TASK, "t", version)))
            caller.call(
                "CreateLaunchPlan",
                launch_plan_request("lp", version, workflow=ident(RT.WORKFLOW, "wf", version)),
            )
            caller.call(
                "UpdateLaunchPlan",
                launch_plan_pb2.LaunchPlanUpdateRequest(
                    id=ident(RT.LAUNCH_PLAN, "lp", version), state=launch_plan_pb2.ACTIVE
                ),
            )
        except Failure:
            return  # the server died under us
        acknowledged.append(version)
        if len(acknowledged) >= 25:
            enough.set()
        index += 1


def test_kill_9_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    db = tmp_path / "admin.db"
    process = serve("--port", "0", "--db", str(db))
    endpoint, _ = started(process)
    caller = Caller("raw", endpoint)
    acknowledged: list[str] = []
    enough, stop = threading.Event(), threading.Event()
    writer = threading.Thread(target=_write_stream, args=(caller, acknowledged, enough, stop))
    writer.start()
    try:
        assert enough.wait(60), "the writer did not get 25 writes acknowledged"
        os.kill(process.pid, signal.SIGKILL)  # while the writer keeps writing
        process.wait(10)
    finally:
        stop.set()
        writer.join(30)
        caller.close()
        if process.poll() is None:
            process.kill()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    tasks = {row[0]: row[1] for row in conn.execute("SELECT version, closure FROM tasks")}
    workflows = {row[0]: row[1] for row in conn.execute("SELECT version, closure FROM workflows")}
    plans = conn.execute("SELECT version, spec, closure, workflow_id, state FROM launch_plans").fetchall()
    assert set(acknowledged) <= {p[0] for p in plans}
    for closure in tasks.values():
        task_pb2.TaskClosure.FromString(closure)
    for closure in workflows.values():
        assert workflow_pb2.WorkflowClosure.FromString(closure).compiled_workflow.primary.template.nodes
    workflow_ids = {row[0] for row in conn.execute("SELECT id FROM workflows")}
    for version, spec, closure, workflow_id, _ in plans:
        assert version in workflows and version in tasks and workflow_id in workflow_ids
        launch_plan_pb2.LaunchPlanSpec.FromString(spec)
        launch_plan_pb2.LaunchPlanClosure.FromString(closure)
    assert sum(1 for p in plans if p[4] == launch_plan_pb2.ACTIVE) == 1
    conn.close()
    # and the emulator serves the file again
    with Emulator(db=str(db)) as again:
        reader = Caller("raw", again.endpoint)
        listed = reader.call(
            "ListLaunchPlans",
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"), limit=1000
            ),
        )
        assert len(listed.launch_plans) == len(plans)
        reader.close()
