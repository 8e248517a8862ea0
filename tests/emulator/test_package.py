"""A real `pyflyte package` archive registered into the emulator and read back exactly.

The sample project (tests/fixtures) has tasks (one with resources, a map task), a workflow with a subworkflow
and a conditional branch, a launch plan with a schedule, and a launch plan referenced from a workflow node.
Tasks come back byte for byte; launch plan specs too, except `default_inputs`, which flyteadmin rewrites to
the expected inputs (every sent parameter is kept as sent). Workflows come back compiled as propeller compiles
them; undoing the compiler's four changes (start/end nodes, promise node ids of workflow inputs, branch child
ids, sorted upstream ids) gives back the sent template byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from flyteidl.admin import common_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import literals_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.package import Entity, dependency_waves, hydrate, load_package
from tests.emulator.support import DOMAIN, PROJECT, RT, Caller, Failure
from tests.fixtures import sample

VERSION = "pkg-v1"
_CREATE = {RT.TASK: "CreateTask", RT.WORKFLOW: "CreateWorkflow", RT.LAUNCH_PLAN: "CreateLaunchPlan"}
_GET = {RT.TASK: "GetTask", RT.WORKFLOW: "GetWorkflow", RT.LAUNCH_PLAN: "GetLaunchPlan"}


def _entities(archive: Path) -> list[Entity]:
    package = hydrate(load_package(archive), PROJECT, DOMAIN, VERSION, source_url="s3://bucket/fast.tar.gz")
    return [entity for wave in dependency_waves(package) for entity in wave]


def _register(caller: Caller, entities: list[Entity]) -> dict[str, Failure | None]:
    outcome: dict[str, Failure | None] = {}
    for entity in entities:
        try:
            caller.call(_CREATE[entity.resource_type], entity.request)
            outcome[str(entity)] = None
        except Failure as failure:
            outcome[str(entity)] = failure
    return outcome


def _sent(entity: Entity) -> bytes:
    """What the server must hand back: the sent template/spec with the request id written into it."""
    request = entity.request
    if isinstance(request, task_pb2.TaskCreateRequest):
        template = type(request.spec.template)()
        template.CopyFrom(request.spec.template)
        template.id.CopyFrom(request.id)
        return template.SerializeToString(deterministic=True)
    if isinstance(request, workflow_pb2.WorkflowCreateRequest):
        template = type(request.spec.template)()
        template.CopyFrom(request.spec.template)
        template.id.CopyFrom(request.id)
        return template.SerializeToString(deterministic=True)
    return _spec_without_defaults(request.spec)


def _spec_without_defaults(spec: launch_plan_pb2.LaunchPlanSpec) -> bytes:
    """A launch plan spec minus `default_inputs`, which flyteadmin rewrites (unbound inputs become
    required parameters); the rest comes back exactly as sent."""
    kept = launch_plan_pb2.LaunchPlanSpec()
    kept.CopyFrom(spec)
    kept.ClearField("default_inputs")
    return kept.SerializeToString(deterministic=True)


def _read_back(caller: Caller, entity: Entity) -> bytes:
    got = caller.call(_GET[entity.resource_type], common_pb2.ObjectGetRequest(id=entity.id))
    if entity.resource_type == RT.TASK:
        return bytes(got.closure.compiled_task.template.SerializeToString(deterministic=True))
    if entity.resource_type == RT.WORKFLOW:
        template = got.closure.compiled_workflow.primary.template
        uncompiled = _uncompiled(template, entity.request.spec.template)
        return bytes(uncompiled.SerializeToString(deterministic=True))
    sent = entity.request.spec.default_inputs.parameters
    assert {k: got.spec.default_inputs.parameters[k] for k in sent} == dict(sent), str(entity)
    assert got.spec.default_inputs == got.closure.expected_inputs
    return _spec_without_defaults(got.spec)


def _uncompiled(
    compiled: core_workflow_pb2.WorkflowTemplate, sent: core_workflow_pb2.WorkflowTemplate
) -> core_workflow_pb2.WorkflowTemplate:
    """`compiled` with the compiler's changes undone where the sent template differs (a promise of a workflow
    input sent without node id, a branch child sent under its own id, upstream ids in the sent order)."""
    template = core_workflow_pb2.WorkflowTemplate()
    template.CopyFrom(compiled)
    del template.nodes[:]
    template.nodes.extend(n for n in compiled.nodes if n.id not in ("start-node", "end-node"))
    for mine, theirs in zip(template.nodes, sent.nodes, strict=True):
        _undo_node(mine, theirs)
    for mine_binding, theirs_binding in zip(template.outputs, sent.outputs, strict=True):
        _undo_binding(mine_binding.binding, theirs_binding.binding)
    if template.HasField("failure_node"):
        _undo_node(template.failure_node, sent.failure_node)
    return template


def _undo_node(mine: core_workflow_pb2.Node, theirs: core_workflow_pb2.Node) -> None:
    mine.id = theirs.id
    del mine.upstream_node_ids[:]
    mine.upstream_node_ids.extend(theirs.upstream_node_ids)
    for mine_binding, theirs_binding in zip(mine.inputs, theirs.inputs, strict=True):
        _undo_binding(mine_binding.binding, theirs_binding.binding)
    if mine.HasField("branch_node"):
        a, b = mine.branch_node.if_else, theirs.branch_node.if_else
        pairs = [(a.case.then_node, b.case.then_node)]
        pairs += [(x.then_node, y.then_node) for x, y in zip(a.other, b.other, strict=True)]
        if a.HasField("else_node"):
            pairs.append((a.else_node, b.else_node))
        for x, y in pairs:
            _undo_node(x, y)


def _undo_binding(mine: literals_pb2.BindingData, theirs: literals_pb2.BindingData) -> None:
    if mine.HasField("promise"):
        mine.promise.node_id = theirs.promise.node_id
    elif mine.HasField("collection"):
        for x, y in zip(mine.collection.bindings, theirs.collection.bindings, strict=True):
            _undo_binding(x, y)
    elif mine.HasField("map"):
        for key in mine.map.bindings:
            _undo_binding(mine.map.bindings[key], theirs.map.bindings[key])


@pytest.fixture
def registered(emulator: Emulator, pyflyte_package: Path) -> tuple[Caller, list[Entity]]:
    caller = Caller("raw", emulator.endpoint)
    entities = _entities(pyflyte_package)
    outcome = _register(caller, entities)
    assert {name: f for name, f in outcome.items() if f is not None} == {}
    return caller, entities


def test_package_registers_and_reads_back_byte_for_byte(registered: tuple[Caller, list[Entity]]) -> None:
    caller, entities = registered
    kinds = {e.resource_type for e in entities}
    assert kinds == {RT.TASK, RT.WORKFLOW, RT.LAUNCH_PLAN}
    for entity in entities:
        assert _read_back(caller, entity) == _sent(entity), str(entity)
    nightly = caller.call(
        "GetLaunchPlan",
        common_pb2.ObjectGetRequest(id=next(e.id for e in entities if e.name == demo.SCHEDULED_LAUNCH_PLAN)),
    )
    assert nightly.spec.entity_metadata.schedule.WhichOneof("ScheduleExpression") is not None
    assert nightly.closure.state == launch_plan_pb2.INACTIVE
    main = next(
        e
        for e in entities
        if e.resource_type == RT.WORKFLOW
        and any(n.workflow_node.HasField("launchplan_ref") for n in e.request.spec.template.nodes)
    )
    closure = caller.call("GetWorkflow", common_pb2.ObjectGetRequest(id=main.id)).closure.compiled_workflow
    assert closure.tasks and closure.primary.connections.upstream


def test_package_reregistered_is_already_exists_everywhere(registered: tuple[Caller, list[Entity]]) -> None:
    caller, entities = registered
    outcome = _register(caller, entities)
    assert {name: f.code if f else None for name, f in outcome.items()} == {
        str(e): grpc.StatusCode.ALREADY_EXISTS for e in entities
    }


def test_changed_task_under_the_same_version_is_rejected_with_a_diff(
    registered: tuple[Caller, list[Entity]], pyflyte_variant_package: Path
) -> None:
    caller, _ = registered
    outcome = _register(caller, _entities(pyflyte_variant_package))
    rejected = {name: f for name, f in outcome.items() if f and f.code == grpc.StatusCode.INVALID_ARGUMENT}
    # the map task over the changed task embeds its resources, so it changes too (as on a real flyteadmin)
    changed = f"task {sample.CHANGED_TASK} version {VERSION}"
    assert sorted(rejected) == sorted([changed, *(n for n in rejected if demo.SAMPLE_MAP_TASK_PREFIX in n)])
    assert len(rejected) == 2
    assert all(
        f.code == grpc.StatusCode.ALREADY_EXISTS for n, f in outcome.items() if f and n not in rejected
    )
    failure = rejected[changed]
    assert failure.message.startswith(f"{sample.CHANGED_TASK} task with different structure already exists.")
    assert "- 500m \n\t+ 750m" in failure.message
    assert failure.details == []
