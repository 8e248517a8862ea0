"""A workflow compiler in the spirit of propeller's: resolve references, check wiring, compute connections.

flyteadmin compiles every workflow before storing it (`workflowengine/impl/compiler.go`): every task node must
reference a registered task version, every subworkflow must be supplied in `spec.sub_workflows`, every launch
plan node must reference a registered launch plan, node ids must be unique, upstream ids and binding promises
must name real nodes, and task inputs must be bound to declared variables. The result is a
`CompiledWorkflowClosure` with the primary workflow, the subworkflows and tasks it reaches, and the
upstream/downstream connection sets. Templates are kept as sent (no start/end nodes are injected), so a client
reads back exactly what it registered; the connections name `start-node` and `end-node` as propeller does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, workflow_pb2

START_NODE = "start-node"
END_NODE = "end-node"


class CompileError(Exception):
    """One or more compiler findings; the text mimics propeller's `Collected Errors` report."""

    def __init__(self, findings: list[tuple[str, str, str]]) -> None:
        self.findings = findings
        lines = [f"Collected Errors: {len(findings)}"]
        lines += [
            f"\tError {i}: Code: {code}, Node Id: {node}, Description: {text}"
            for i, (code, node, text) in enumerate(findings)
        ]
        super().__init__("\n".join(lines))


def _id_text(identifier: identifier_pb2.Identifier) -> str:
    return (
        f"resource_type:{identifier_pb2.ResourceType.Name(identifier.resource_type)} "
        f'project:"{identifier.project}"'
        f' domain:"{identifier.domain}" name:"{identifier.name}" version:"{identifier.version}"'
    )


def version_key(identifier: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    """How a closure's templates are looked up: the resource type is implied by the list they sit in."""
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


def iter_nodes(nodes: Iterator[workflow_pb2.Node] | list[workflow_pb2.Node]) -> Iterator[workflow_pb2.Node]:
    """Every node, including those nested in branches and array nodes."""
    for node in nodes:
        yield node
        kind = node.WhichOneof("target")
        if kind == "branch_node":
            if_else = node.branch_node.if_else
            nested = [if_else.case.then_node, *[c.then_node for c in if_else.other]]
            if if_else.HasField("else_node"):
                nested.append(if_else.else_node)
            yield from iter_nodes(nested)
        elif kind == "array_node":
            yield from iter_nodes([node.array_node.node])


def template_nodes(template: workflow_pb2.WorkflowTemplate) -> list[workflow_pb2.Node]:
    nodes = list(template.nodes)
    if template.HasField("failure_node"):
        nodes.append(template.failure_node)
    return list(iter_nodes(nodes))


def requirements(
    primary: workflow_pb2.WorkflowTemplate, sub_workflows: list[workflow_pb2.WorkflowTemplate]
) -> tuple[list[identifier_pb2.Identifier], list[identifier_pb2.Identifier]]:
    """Task and launch plan identifiers referenced by the primary and all supplied subworkflows
    (`GetRequirements`)."""
    tasks: dict[tuple[str, str, str, str], identifier_pb2.Identifier] = {}
    launch_plans: dict[tuple[str, str, str, str], identifier_pb2.Identifier] = {}
    for template in [primary, *sub_workflows]:
        for node in template_nodes(template):
            if node.HasField("task_node"):
                tasks.setdefault(version_key(node.task_node.reference_id), node.task_node.reference_id)
            elif node.HasField("workflow_node") and node.workflow_node.HasField("launchplan_ref"):
                ref = node.workflow_node.launchplan_ref
                launch_plans.setdefault(version_key(ref), ref)
    return list(tasks.values()), list(launch_plans.values())


def _binding_promises(binding: literals_pb2.BindingData) -> Iterator[str]:
    kind = binding.WhichOneof("value")
    if kind == "promise":
        # flytekit binds workflow inputs with an empty node id; propeller reads it as the start node.
        yield binding.promise.node_id or START_NODE
    elif kind == "collection":
        for item in binding.collection.bindings:
            yield from _binding_promises(item)
    elif kind == "map":
        for item in binding.map.bindings.values():
            yield from _binding_promises(item)


def _compile_template(
    template: workflow_pb2.WorkflowTemplate,
    tasks: dict[tuple[str, str, str, str], compiler_pb2.CompiledTask],
    sub_workflows: dict[tuple[str, str, str, str], workflow_pb2.WorkflowTemplate],
    findings: list[tuple[str, str, str]],
) -> compiler_pb2.CompiledWorkflow:
    top = list(template.nodes) + ([template.failure_node] if template.HasField("failure_node") else [])
    ids = [node.id for node in top]
    known = set(ids) | {START_NODE}
    for node_id in {i for i in ids if ids.count(i) > 1}:
        findings.append(
            ("DuplicateNodeID", node_id, f"Trying to insert two nodes with the same id [{node_id}].")
        )
    for node in template_nodes(template):
        if node.HasField("task_node"):
            task = tasks.get(version_key(node.task_node.reference_id))
            if task is None:
                findings.append(
                    (
                        "TaskReferenceNotFound",
                        node.id,
                        f"Referenced Task [{_id_text(node.task_node.reference_id)}] not found.",
                    )
                )
            else:
                declared = task.template.interface.inputs.variables
                bound = {b.var for b in node.inputs}
                findings.extend(
                    ("VariableNameNotFound", node.id, f"Variable [{name}] not found.")
                    for name in sorted(bound - set(declared))
                )
                findings.extend(
                    ("ParameterNotBound", node.id, f"Parameter not bound [{name}].")
                    for name in sorted(set(declared) - bound)
                )
        elif node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref"):
            ref = node.workflow_node.sub_workflow_ref
            if version_key(ref) not in sub_workflows:
                findings.append(
                    (
                        "WorkflowReferenceNotFound",
                        node.id,
                        f"Referenced Workflow [{_id_text(ref)}] not found.",
                    )
                )
    upstream: dict[str, set[str]] = {}
    for node in top:
        sources = set(node.upstream_node_ids)
        for binding in node.inputs:
            sources.update(_binding_promises(binding.binding))
        for source in sorted(sources - known):
            findings.append(("NodeReferenceNotFound", node.id, f"Referenced node [{source}] not found."))
        upstream[node.id] = (sources & known) or {START_NODE}
    end_sources = {s for b in template.outputs for s in _binding_promises(b.binding)}
    for source in sorted(end_sources - known):
        findings.append(("NodeReferenceNotFound", END_NODE, f"Referenced node [{source}] not found."))
    upstream[END_NODE] = (end_sources & known) or ({START_NODE} if not ids else set(ids))
    downstream: dict[str, set[str]] = {}
    for node_id, sources in upstream.items():
        for source in sources:
            downstream.setdefault(source, set()).add(node_id)
    connections = compiler_pb2.ConnectionSet()
    for target, table in ((connections.upstream, upstream), (connections.downstream, downstream)):
        for node_id in sorted(table):
            target[node_id].ids.extend(sorted(table[node_id]))
    return compiler_pb2.CompiledWorkflow(template=template, connections=connections)


def compile_workflow(
    primary: workflow_pb2.WorkflowTemplate,
    sub_workflows: list[workflow_pb2.WorkflowTemplate],
    fetch_task: Callable[[identifier_pb2.Identifier], compiler_pb2.CompiledTask],
) -> compiler_pb2.CompiledWorkflowClosure:
    """Compile `primary` with the supplied subworkflows; `fetch_task` raises for a missing task version."""
    task_ids, _ = requirements(primary, sub_workflows)
    tasks = {version_key(tid): fetch_task(tid) for tid in task_ids}
    subs = {version_key(sub.id): sub for sub in sub_workflows}
    findings: list[tuple[str, str, str]] = []
    compiled_primary = _compile_template(primary, tasks, subs, findings)
    reached: dict[tuple[str, str, str, str], compiler_pb2.CompiledWorkflow] = {}
    pending = [primary]
    while pending:
        for node in template_nodes(pending.pop()):
            if node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref"):
                key = version_key(node.workflow_node.sub_workflow_ref)
                if key in subs and key not in reached:
                    reached[key] = _compile_template(subs[key], tasks, subs, findings)
                    pending.append(subs[key])
    if findings:
        raise CompileError(findings)
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiled_primary,
        sub_workflows=[reached[k] for k in sorted(reached)],
        tasks=[tasks[k] for k in sorted(tasks)],
    )
