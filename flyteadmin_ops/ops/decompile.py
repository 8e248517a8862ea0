"""Turn a workflow as flyteadmin stores it (GetWorkflow's compiled closure) back into what a client sends.

flyteadmin compiles every workflow with propeller's compiler and keeps the compiled templates, which are
not what was registered:
- two nodes are added in front, `start-node` (no target) and `end-node` (its inputs are the workflow's
  output bindings);
- every promise is resolved to its node, so a binding to a workflow input (sent with an empty node id)
  reads `node_id: "start-node"`;
- the nodes of a branch are renamed `<branch node id>-<their id>` (then-node `n0` of branch `n2` becomes
  `n2-n0`).

Two things need the registered form undone. `promote` copies a workflow to another domain by re-registering
what GetWorkflow returned: sent as is, the compiler would rename the branch nodes a second time (`n2-n2-n0`),
and the copy would differ from the same package registered there directly. And a conflict report compares
the registered workflow with the one being registered: only after undoing the compiler do the two show
nothing but the fields that really differ. The result is idempotent: a template that never went through the
compiler comes back unchanged (apart from an explicit `start-node` promise, which means the same as an
empty one).
"""

from __future__ import annotations

from collections.abc import Iterable

from flyteidl.admin import workflow_pb2 as admin_workflow_pb2
from flyteidl.core import compiler_pb2, types_pb2, workflow_pb2

from flyteadmin_ops.ops import protowalk

START_NODE = "start-node"
END_NODE = "end-node"
_ADDED_NODES = frozenset({START_NODE, END_NODE})
_OUTPUT_REFERENCE = types_pb2.OutputReference.DESCRIPTOR.full_name


def decompiled_template(template: workflow_pb2.WorkflowTemplate) -> workflow_pb2.WorkflowTemplate:
    """A copy of `template` as a client would register it; see the module docstring."""
    copy = workflow_pb2.WorkflowTemplate()
    copy.CopyFrom(template)
    kept = [node for node in copy.nodes if node.id not in _ADDED_NODES]
    if len(kept) != len(copy.nodes):
        del copy.nodes[:]
        copy.nodes.extend(kept)
    for reference in protowalk.messages_of_type(copy, _OUTPUT_REFERENCE):
        assert isinstance(reference, types_pb2.OutputReference)
        if reference.node_id == START_NODE:
            reference.node_id = ""
    nodes: list[workflow_pb2.Node] = list(copy.nodes)
    if copy.HasField("failure_node"):
        nodes.append(copy.failure_node)
    for node in nodes:
        _restore_branch_ids(node, ())
    return copy


def spec_from_closure(compiled: compiler_pb2.CompiledWorkflowClosure) -> admin_workflow_pb2.WorkflowSpec:
    """The WorkflowSpec that registers `compiled` again: its primary and subworkflow templates, decompiled."""
    return admin_workflow_pb2.WorkflowSpec(
        template=decompiled_template(compiled.primary.template),
        sub_workflows=[decompiled_template(sub.template) for sub in compiled.sub_workflows],
    )


def decompiled_spec(spec: admin_workflow_pb2.WorkflowSpec) -> admin_workflow_pb2.WorkflowSpec:
    """`spec` with its templates decompiled (the description is not part of a workflow's structure)."""
    return admin_workflow_pb2.WorkflowSpec(
        template=decompiled_template(spec.template),
        sub_workflows=[decompiled_template(sub) for sub in spec.sub_workflows],
    )


def _restore_branch_ids(node: workflow_pb2.Node, parents: tuple[str, ...]) -> None:
    """Strip the `<branch id>-` prefix the compiler put on the nodes of every branch, nested ones included.

    `parents` holds the enclosing branch node's id both as stored and as restored: whether propeller
    renames a nested branch's children before or after renaming the branch itself, one of them is the
    prefix."""
    if parents:
        for parent in parents:
            if node.id.startswith(parent + "-") and len(node.id) > len(parent) + 1:
                node.id = node.id[len(parent) + 1 :]
                break
    kind = node.WhichOneof("target")
    if kind == "branch_node":
        stored_and_restored = tuple(dict.fromkeys((*_stored_ids(node, parents), node.id)))
        for child in _branch_children(node.branch_node.if_else):
            _restore_branch_ids(child, stored_and_restored)
    elif kind == "array_node":
        _restore_branch_ids(node.array_node.node, ())


def _stored_ids(node: workflow_pb2.Node, parents: tuple[str, ...]) -> Iterable[str]:
    """The ids `node` may have had before `_restore_branch_ids` stripped its prefix."""
    return (f"{parent}-{node.id}" for parent in parents)


def _branch_children(if_else: workflow_pb2.IfElseBlock) -> list[workflow_pb2.Node]:
    children = [if_else.case.then_node, *(block.then_node for block in if_else.other)]
    if if_else.HasField("else_node"):
        children.append(if_else.else_node)
    return children
