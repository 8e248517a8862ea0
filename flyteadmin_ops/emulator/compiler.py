"""The workflow compiler, as flytepropeller's (`pkg/compiler`) runs inside flyteadmin's CreateWorkflow.

What a client reads back from GetWorkflow is the compiler's output, so its shape follows propeller's:

- Each compiled template's nodes are `start-node`, `end-node` (whose inputs are the workflow's output
  bindings), then the template's own nodes in order; a node whose id is already taken is dropped, so a
  template read back from GetWorkflow compiles to itself.
- Every promise the compiler validates gets its node id filled in: an empty one (a workflow input) becomes
  `start-node`. That covers top-level nodes, the end node (and so the template's outputs), branch nodes and
  their branches, gate nodes and the failure node, not the node inside an array node.
- Branch children are renamed `<branch id>-<child id>` (nested branches compound: `n2-n0-n1`).
- Upstream node ids are sorted. Connections hold the edges of explicit upstream ids and of promises (an edge
  from `start-node` to nodes that depend on nothing, to `end-node` from top-level nodes nothing depends on);
  branch children only get upstream entries for their own promises.
- Subworkflows are compiled the same way when a node references them (each is compiled once per referencing
  workflow); the closure lists every supplied subworkflow in request order and the tasks sorted by
  identifier. Launch plans are looked up for their interfaces but not listed.

Findings are collected as a set and reported sorted by code, then text, in propeller's `Collected Errors`
form. Bindings are type-checked as propeller checks them (`validators/bindings.go`, with the cast rules of
`literal_types`): a promise's output must exist and cast to the input, a constant's inferred type must
cast (and an enum input take only its values), lists and maps bind item by item, and a list or map bound
to a union must fit exactly one variant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from flyteidl.admin import launch_plan_pb2
from flyteidl.core import (
    compiler_pb2,
    condition_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    types_pb2,
    workflow_pb2,
)

from flyteadmin_ops.emulator.common import go_text
from flyteadmin_ops.emulator.literal_types import castable, scalar_type_of, type_text

START_NODE = "start-node"
END_NODE = "end-node"

Key = tuple[str, str, str, str]


class CompileError(Exception):
    """propeller's CompileErrors: unique (code, node id, description) findings, sorted by code then text."""

    def __init__(self, findings: Iterable[tuple[str, str, str]]) -> None:
        unique = {
            (code, f"Code: {code}, Node Id: {node}, Description: {text}") for code, node, text in findings
        }
        self.findings = [line for _, line in sorted(unique)]
        text = f"Collected Errors: {len(self.findings)}\n"
        text += "".join(f"\tError {i}: {line}\n" for i, line in enumerate(self.findings))
        super().__init__(text)


def _id_text(identifier: identifier_pb2.Identifier) -> str:
    """`%v` of an identifier in propeller's texts, which shares flyteadmin's prototext."""
    return go_text(identifier)


_ID_FIELDS = tuple(field.name for field in identifier_pb2.Identifier.DESCRIPTOR.fields)


def _same_id(identifier: identifier_pb2.Identifier) -> tuple[object, ...]:
    """Equal exactly when `_id_text` is (every field is a scalar, printed when set): a cheaper dedup key."""
    return tuple(getattr(identifier, name) for name in _ID_FIELDS)


def version_key(identifier: identifier_pb2.Identifier) -> Key:
    """How a closure's templates are looked up: the resource type is implied by the list they sit in."""
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


def _sort_key(identifier: identifier_pb2.Identifier) -> tuple[int, str, str, str, str]:
    """propeller's IdentifierSet order: resource type, project, domain, name, version."""
    return (identifier.resource_type, *version_key(identifier))


def iter_nodes(nodes: Iterable[workflow_pb2.Node]) -> Iterator[workflow_pb2.Node]:
    """Every node, including those nested in branches and array nodes."""
    for node in nodes:
        yield node
        kind = node.WhichOneof("target")
        if kind == "branch_node":
            yield from iter_nodes(_branch_children(node))
        elif kind == "array_node":
            yield from iter_nodes([node.array_node.node])


def _branch_children(node: workflow_pb2.Node) -> list[workflow_pb2.Node]:
    if_else = node.branch_node.if_else
    children = (
        [if_else.case.then_node] if if_else.HasField("case") and if_else.case.HasField("then_node") else []
    )
    children += [block.then_node for block in if_else.other if block.HasField("then_node")]
    if if_else.HasField("else_node"):
        children.append(if_else.else_node)
    return children


def template_nodes(template: workflow_pb2.WorkflowTemplate) -> list[workflow_pb2.Node]:
    nodes = list(template.nodes)
    if template.HasField("failure_node"):
        nodes.append(template.failure_node)
    return list(iter_nodes(nodes))


def requirements(
    primary: workflow_pb2.WorkflowTemplate, sub_workflows: list[workflow_pb2.WorkflowTemplate]
) -> tuple[list[identifier_pb2.Identifier], list[identifier_pb2.Identifier]]:
    """`GetRequirements`: the task and launch plan ids the primary reaches, following the subworkflows it
    references, each sorted as propeller's IdentifierSet lists them (flyteadmin fetches them in order)."""
    subs = {version_key(sub.id): sub for sub in sub_workflows}
    tasks: dict[tuple[object, ...], identifier_pb2.Identifier] = {}
    launch_plans: dict[tuple[object, ...], identifier_pb2.Identifier] = {}
    seen: set[Key] = set()
    pending = [primary]
    while pending:
        for node in template_nodes(pending.pop()):
            if node.HasField("task_node") and node.task_node.HasField("reference_id"):
                tasks.setdefault(_same_id(node.task_node.reference_id), node.task_node.reference_id)
            elif node.HasField("workflow_node") and node.workflow_node.HasField("launchplan_ref"):
                ref = node.workflow_node.launchplan_ref
                launch_plans.setdefault(_same_id(ref), ref)
            elif node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref"):
                key = version_key(node.workflow_node.sub_workflow_ref)
                if key in subs and key not in seen:
                    seen.add(key)
                    pending.append(subs[key])
    return sorted(tasks.values(), key=_sort_key), sorted(launch_plans.values(), key=_sort_key)


class _Edges(Enum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


@dataclass
class _Inputs:
    """What one compile can resolve: tasks, subworkflow templates, launch plan interfaces."""

    tasks: dict[Key, compiler_pb2.CompiledTask]
    subs: dict[Key, compiler_pb2.CompiledWorkflow]
    launch_plans: dict[Key, launch_plan_pb2.LaunchPlan]
    findings: list[tuple[str, str, str]] = field(default_factory=list)

    def find(self, code: str, node_id: str, text: str) -> None:
        self.findings.append((code, node_id, text))


class _Builder:
    """propeller's workflowBuilder for one template: its node index, edges and node interfaces."""

    def __init__(self, compiled: compiler_pb2.CompiledWorkflow, inputs: _Inputs) -> None:
        self.compiled = compiled
        self.inputs = inputs
        self.nodes: dict[str, workflow_pb2.Node] = {}
        self.upstream: dict[str, set[str]] = {}
        self.downstream: dict[str, set[str]] = {}
        self.interfaces: dict[str, interface_pb2.TypedInterface] = {}  # by node id (propeller: by builder)
        self.compiled_subs: set[Key] = set()

    # --- nodes ---------------------------------------------------------------------------------------------

    def build(self) -> None:
        template = self.compiled.template
        if not template.nodes:
            graph = _id_text(template.id)
            self.inputs.find("NoNodesFound", graph, f"Can't find any nodes in workflow [{graph}].")
            return
        # `ValidateInterface` of the workflow's own interface: the compiled template always has one, with
        # inputs and outputs; a bad variable stops the compile here.
        template.interface.inputs.SetInParent()
        template.interface.outputs.SetInParent()
        if not self.validate_interface(START_NODE, template.interface):
            return
        checkpoint = [_copy(node) for node in template.nodes]
        start = workflow_pb2.Node(id=START_NODE)
        end = workflow_pb2.Node(id=END_NODE, inputs=template.outputs)
        kept = [start, end]
        ids = {START_NODE, END_NODE}
        for node in checkpoint:
            if node.id not in ids:
                ids.add(node.id)
                kept.append(node)
        del template.nodes[:]
        template.nodes.extend(kept)
        live = {node.id: node for node in template.nodes}  # references into the template, mutated below
        self.nodes = live
        self.interfaces[START_NODE] = interface_pb2.TypedInterface(outputs=template.interface.inputs)
        self.interfaces[END_NODE] = interface_pb2.TypedInterface(inputs=template.interface.outputs)
        top_level = {node.id for node in checkpoint}
        for node_id in dict.fromkeys(node.id for node in checkpoint):
            if node_id not in (START_NODE, END_NODE):
                self.validate_node(live[node_id])
        for node_id, node in list(live.items()):
            if node_id != START_NODE:
                self.add_edges(node, _Edges.BOTH)
        if template.HasField("failure_node"):
            self.validate_node(template.failure_node)
            self.add_edges(template.failure_node, _Edges.UPSTREAM)
        for node_id in live:
            if node_id in (START_NODE, END_NODE) or node_id not in top_level:
                continue
            if node_id not in self.upstream:
                self.add_edge(START_NODE, node_id, _Edges.BOTH)
            if node_id not in self.downstream:
                self.add_edge(node_id, END_NODE, _Edges.BOTH)
        self.check_reachable()
        del template.outputs[:]
        template.outputs.extend(live[END_NODE].inputs)
        connections = self.compiled.connections
        connections.Clear()
        for target, table in (
            (connections.upstream, self.upstream),
            (connections.downstream, self.downstream),
        ):
            for node_id in sorted(table):
                target[node_id].ids.extend(sorted(table[node_id]))

    def check_reachable(self) -> None:
        """`validateReachable`: no cycle from the start node, and every node reached (propeller walks sets in
        random order; here neighbours go in sorted order)."""
        visited: set[str] = set()
        visiting: set[str] = set()

        def walk(node_id: str) -> list[str] | None:
            if node_id in visiting:
                return []
            visiting.add(node_id)
            visited.add(node_id)
            for next_id in sorted(self.downstream.get(node_id, ())):
                path = walk(next_id)
                if path is not None:
                    return [next_id, *path]
            visiting.discard(node_id)
            return None

        cycle = walk(START_NODE)
        if cycle is not None:
            text = (
                f"A cycle has been detected while traversing the Workflow [{'>'.join([START_NODE, *cycle])}]."
            )
            self.inputs.find("CycleDetected", START_NODE, text)
            return
        unreachable = sorted(set(self.nodes) - visited - {END_NODE})
        if len(visited) != len(self.nodes) and unreachable:
            text = f"The Workflow contain unreachable nodes [{','.join(unreachable)}]."
            self.inputs.find("UnreachableNodes", START_NODE, text)

    def validate_node(self, node: workflow_pb2.Node) -> bool:
        before = len(self.inputs.findings)
        if not node.id:
            self.inputs.find("ValueRequired", "<node>", "Value required [Id].")
        if node.id in (START_NODE, END_NODE):
            return True
        self.interface(node)
        node.upstream_node_ids.sort()
        kind = node.WhichOneof("target")
        if kind == "branch_node":
            self.validate_branch(node)
            children = _branch_children(node)
            valid = [child for child in children if self.validate_node(child)]
            if len(self.inputs.findings) == before:
                for child in valid:
                    self.add_edges(child, _Edges.UPSTREAM)
        elif kind == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
            ref = node.workflow_node.sub_workflow_ref
            key = version_key(ref)
            if key not in self.compiled_subs:
                sub = self.inputs.subs.get(key)
                if sub is None:
                    self.inputs.find(
                        "WorkflowReferenceNotFound",
                        node.id,
                        f"Referenced Workflow [{_id_text(ref)}] not found.",
                    )
                else:
                    count = len(self.inputs.findings)
                    _Builder(sub, self.inputs).build()
                    if len(self.inputs.findings) == count:
                        self.compiled_subs.add(key)
        elif kind == "task_node" and node.task_node.HasField("reference_id"):
            ref = node.task_node.reference_id
            if version_key(ref) not in self.inputs.tasks:
                self.inputs.find(
                    "TaskReferenceNotFound", node.id, f"Referenced Task [{_id_text(ref)}] not found."
                )
        return len(self.inputs.findings) == before

    def validate_branch(self, node: workflow_pb2.Node) -> None:
        """`ValidateBranchNode`: each case has a condition (validated) and a node, and there is an else node
        or an error to fail with."""
        if_else = node.branch_node.if_else
        if not if_else.HasField("case"):
            self._no_condition(node)
        blocks = ([if_else.case] if if_else.HasField("case") else []) + list(if_else.other)
        for block in blocks:
            self.validate_condition(node, block.condition if block.HasField("condition") else None)
            if not block.HasField("then_node"):
                self.inputs.find("BranchNodeIDNotFound", node.id, "BranchNode not assigned")
        if not if_else.HasField("else_node") and not if_else.HasField("error"):
            text = "Branch Node must have either the else case set or a default error."
            self.inputs.find("BranchNodeHasNoDefault", node.id, text)

    def _no_condition(self, node: workflow_pb2.Node) -> None:
        text = "One of the branches on the node doesn't have a condition."
        self.inputs.find("BranchNodeHasNoCondition", node.id, text)

    def validate_condition(
        self, node: workflow_pb2.Node, expression: condition_pb2.BooleanExpression | None
    ) -> None:
        """`ValidateBooleanExpression`: operands are primitives or variables the branch binds, and the two
        sides of a comparison have the same type (its text: an integer is no float)."""
        if expression is None:
            self._no_condition(node)
            return
        kind = expression.WhichOneof("expr")
        if kind == "comparison":
            comparison = expression.comparison
            right = self._operand(node, "RightValue", comparison, "right_value")
            left = self._operand(node, "LeftValue", comparison, "left_value")
            right_type = right[0] if right else None
            left_type = left[0] if left else None
            if (
                right_type is not None
                and left_type is not None
                and type_text(right_type) != type_text(left_type)
            ):
                text = (
                    f"Variable [RightValue] (type [{_type_str(right_type)}]) doesn't match expected type "
                    f"[{_type_str(left_type)}]."
                )
                self.inputs.find("MismatchingTypes", node.id, text)
        elif kind == "conjunction":
            conjunction = expression.conjunction
            for side in ("left_expression", "right_expression"):
                self.validate_condition(
                    node, getattr(conjunction, side) if conjunction.HasField(side) else None
                )
        else:
            self.inputs.find("ValueRequired", node.id, "Value required [Expr].")

    def _operand(
        self, node: workflow_pb2.Node, side: str, comparison: condition_pb2.ComparisonExpression, field: str
    ) -> tuple[types_pb2.LiteralType | None] | None:
        """`validateOperand`: (its type, or None where it has none) when valid, else None. Only a primitive or
        a variable counts: a scalar operand (flytekit's `is_none()`) is a missing value to v1.16.8."""
        before = len(self.inputs.findings)
        found: types_pb2.LiteralType | None = None
        operand = getattr(comparison, field)
        if not comparison.HasField(field):
            self.inputs.find("ValueRequired", node.id, f"Value required [{side}].")
        elif operand.HasField("primitive"):
            found = scalar_type_of(literals_pb2.Scalar(primitive=operand.primitive))
        elif operand.var:
            node_interface = self.interfaces.get(node.id)
            if node_interface is None:
                self.inputs.find("ValueRequired", node.id, f"Value required [{operand.var}].")
            elif operand.var in node_interface.inputs.variables:
                variable = node_interface.inputs.variables[operand.var]
                found = variable.type if variable.HasField("type") else None
            elif not any(binding.var == operand.var for binding in node.inputs):
                text = f"Variable [{operand.var}] not found on node [{node.id}]."
                self.inputs.find("VariableNameNotFound", node.id, text)
        else:
            self.inputs.find("ValueRequired", node.id, f"Value required [{side}.Val].")
        return (found,) if len(self.inputs.findings) == before else None

    def interface(self, node: workflow_pb2.Node, key: str = "") -> interface_pb2.TypedInterface | None:
        """`ValidateUnderlyingInterface`: the node's interface, remembered once found without errors."""
        key = key or node.id
        known = self.interfaces.get(key)
        if known is not None:
            return known
        before = len(self.inputs.findings)
        found: interface_pb2.TypedInterface | None = None
        kind = node.WhichOneof("target")
        if kind == "task_node":
            ref = node.task_node.reference_id
            task = self.inputs.tasks.get(version_key(ref))
            if not node.task_node.HasField("reference_id"):
                self.inputs.find("ValueRequired", node.id, "Value required [TaskNode.ReferenceId].")
            elif task is None:
                self.inputs.find(
                    "TaskReferenceNotFound", node.id, f"Referenced Task [{_id_text(ref)}] not found."
                )
            else:
                found = task.template.interface
        elif kind == "workflow_node":
            found = self._workflow_node_interface(node)
        elif kind == "branch_node":
            found = self._branch_interface(node)
        elif kind == "gate_node":
            gate = node.gate_node
            if gate.HasField("approve"):
                bound = self.validate_bindings(node, None, _Edges.UPSTREAM)
                found = interface_pb2.TypedInterface(inputs=bound, outputs=bound)
            elif gate.HasField("signal"):
                outputs = interface_pb2.VariableMap()
                outputs.variables[gate.signal.output_variable_name].type.CopyFrom(gate.signal.type)
                found = interface_pb2.TypedInterface(outputs=outputs)
            else:
                found = interface_pb2.TypedInterface()
        elif kind == "array_node":
            found = self.interface(node.array_node.node, f"{key}/array")
        else:
            self.inputs.find("ValueRequired", node.id, "Value required [Target].")
        if found is not None:
            self.validate_interface(node.id, found)
        if found is not None and len(self.inputs.findings) == before:
            self.interfaces[key] = found
            return found
        return None

    def validate_interface(self, node_id: str, interface: interface_pb2.TypedInterface) -> bool:
        """`ValidateInterface`: every input and output variable is named and typed."""
        before = len(self.inputs.findings)
        for variables in (interface.inputs.variables, interface.outputs.variables):
            for name in sorted(variables):
                if not name:
                    self.inputs.find("ValueRequired", node_id, "Value required [paramName].")
                if not variables[name].HasField("type"):
                    self.inputs.find("ValueRequired", node_id, "Value required [param.Type].")
        return len(self.inputs.findings) == before

    def _workflow_node_interface(self, node: workflow_pb2.Node) -> interface_pb2.TypedInterface | None:
        workflow_node = node.workflow_node
        if workflow_node.HasField("launchplan_ref"):
            plan = self.inputs.launch_plans.get(version_key(workflow_node.launchplan_ref))
            if plan is None:
                text = f"Referenced Workflow [{_id_text(workflow_node.launchplan_ref)}] not found."
                self.inputs.find("WorkflowReferenceNotFound", node.id, text)
                return None
            bound = {binding.var for binding in node.inputs}
            exposed = interface_pb2.VariableMap()
            for name, parameter in plan.closure.expected_inputs.parameters.items():
                if parameter.required or name in bound:
                    exposed.variables[name].CopyFrom(parameter.var)
            return interface_pb2.TypedInterface(inputs=exposed, outputs=plan.closure.expected_outputs)
        if not workflow_node.HasField("sub_workflow_ref"):  # neither reference: Go prints both nil pointers
            text = "Referenced Workflow [<nil>/<nil>] not found."
            self.inputs.find("WorkflowReferenceNotFound", node.id, text)
            return None
        sub = self.inputs.subs.get(version_key(workflow_node.sub_workflow_ref))
        if sub is None:
            text = f"Referenced Workflow [{_id_text(workflow_node.sub_workflow_ref)}] not found."
            self.inputs.find("WorkflowReferenceNotFound", node.id, text)
            return None
        return sub.template.interface

    def _branch_interface(self, node: workflow_pb2.Node) -> interface_pb2.TypedInterface | None:
        """`validateBranchInterface`: renames the children, takes the outputs they share, which must have the
        same type in every case (compared with the first case that has an interface)."""
        if_else = node.branch_node.if_else
        for missing_part, present in (
            ("Branch.IfElse.Case", if_else.HasField("case")),
            ("Branch.IfElse.Case.ThenNode", if_else.case.HasField("then_node")),
        ):
            if not present:
                self.inputs.find("ValueRequired", node.id, f"Value required [{missing_part}].")
                return None
        outputs: dict[str, interface_pb2.Variable] | None = None
        for child in _branch_children(node):
            child.id = f"{node.id}-{child.id}"
            child_interface = self.interface(child)
            if child_interface is None:
                continue
            variables = dict(child_interface.outputs.variables)
            if outputs is None:
                outputs = variables
                continue
            outputs = {name: variable for name, variable in outputs.items() if name in variables}
            for name in sorted(outputs):
                first, other = outputs[name].type, variables[name].type
                if type_text(first) != type_text(other):
                    text = (
                        f"Variable [{name}] (type [{_type_str(first)}]) doesn't match expected type "
                        f"[{_type_str(other)}]."
                    )
                    self.inputs.find("MismatchingTypes", child.id, text)
        bound = self.validate_bindings(node, None, _Edges.UPSTREAM)
        if outputs is None:
            return None
        result = interface_pb2.TypedInterface(inputs=bound)
        for name, variable in outputs.items():
            result.outputs.variables[name].CopyFrom(variable)
        return result

    # --- edges and bindings --------------------------------------------------------------------------------

    def add_edges(self, node: workflow_pb2.Node, direction: _Edges) -> None:
        node_interface = self.interfaces.get(node.id)
        if node_interface is None:
            return
        if direction is not _Edges.UPSTREAM:
            for upstream in node.upstream_node_ids:
                self.add_edge(upstream, node.id, _Edges.BOTH)
        self.validate_bindings(node, node_interface.inputs, direction)

    def add_edge(self, provider: str, dependent: str, direction: _Edges) -> None:
        provider = provider or START_NODE
        if direction is not _Edges.DOWNSTREAM:
            self.upstream.setdefault(dependent, set()).add(provider)
        if direction is not _Edges.UPSTREAM:
            self.downstream.setdefault(provider, set()).add(dependent)

    def validate_bindings(
        self, node: workflow_pb2.Node, params: interface_pb2.VariableMap | None, direction: _Edges
    ) -> interface_pb2.VariableMap:
        """`ValidateBindings`: fills promise node ids, adds edges, reports unknown and unbound variables and
        (with `params`) bindings whose types do not cast; `params` None: the node's own bindings define its
        inputs (branch and gate nodes), nothing is required and types are not checked, each binding being
        read as of type NONE."""
        resolved = interface_pb2.VariableMap()
        provided: set[str] = set()
        for binding in node.inputs:
            if params is not None and binding.var not in params.variables:
                text = f"Variable [{binding.var}] not found on node [{node.id}]."
                self.inputs.find("VariableNameNotFound", node.id, text)
            elif not binding.HasField("binding"):
                self.inputs.find("ValueRequired", node.id, "Value required [Binding].")
            elif binding.var in provided:
                text = f"Input [{binding.var}] is bound more than once."
                self.inputs.find("ParameterBoundMoreThanOnce", node.id, text)
            else:
                provided.add(binding.var)
                expected = (
                    params.variables[binding.var].type
                    if params is not None
                    else types_pb2.LiteralType(simple=types_pb2.SimpleType.NONE)
                )
                found = self._binding(node, binding.var, binding.binding, expected, params is not None)
                if found is not None:
                    resolved_type, upstream = found
                    for provider in upstream:
                        self.add_edge(provider, node.id, direction)
                    variable = resolved.variables[binding.var]
                    variable.SetInParent()
                    if resolved_type is not None:
                        variable.type.CopyFrom(resolved_type)
        if params is not None:
            for name in sorted(params.variables):
                if name not in provided and not _optional(params.variables[name]):
                    self.inputs.find("ParameterNotBound", node.id, f"Parameter not bound [{name}].")
        return resolved

    def _binding(
        self,
        node: workflow_pb2.Node,
        var: str,
        data: literals_pb2.BindingData,
        expected: types_pb2.LiteralType,
        check_types: bool,
    ) -> tuple[types_pb2.LiteralType | None, list[str]] | None:
        """`validateBinding`: the binding's type and the nodes it reads from (promise node ids filled in), or
        None when it reported a finding."""
        before = len(self.inputs.findings)
        kind = data.WhichOneof("value")
        if kind in ("collection", "map") and expected.HasField("union_type"):
            return self._union_binding(node, var, data, expected, check_types)
        if kind in ("collection", "map"):
            field = "collection_type" if kind == "collection" else "map_value_type"
            if not expected.HasField(field):
                received = go_text(data.collection if kind == "collection" else data.map)
                self._mismatching_bindings(node, var, expected, received)
                return None
            items = (
                list(data.collection.bindings)
                if kind == "collection"
                else [data.map.bindings[key] for key in sorted(data.map.bindings)]
            )
            element: types_pb2.LiteralType | None = None
            upstream: list[str] = []
            for item in items:
                found = self._binding(node, var, item, getattr(expected, field), check_types)
                if found is not None:
                    element = found[0]
                    upstream.extend(found[1])
            if len(self.inputs.findings) != before:
                return None
            container = types_pb2.LiteralType()
            getattr(container, field).CopyFrom(element or types_pb2.LiteralType())
            return container, upstream
        if kind == "promise":
            return self._promise(node, var, data.promise, expected, check_types)
        if kind == "scalar":
            return self._scalar(node, var, data.scalar, expected, check_types)
        self._mismatching_bindings(node, var, expected, "")
        return None

    def _union_binding(
        self,
        node: workflow_pb2.Node,
        var: str,
        data: literals_pb2.BindingData,
        expected: types_pb2.LiteralType,
        check_types: bool,
    ) -> tuple[types_pb2.LiteralType | None, list[str]] | None:
        """A collection or map bound to a union: exactly one variant must take it (each is tried without
        reporting)."""
        matching: types_pb2.LiteralType | None = None
        result: tuple[types_pb2.LiteralType | None, list[str]] | None = None
        where = f"Input [{var}] on node [{node.id}] expects bindings of union type [{type_text(expected)}]."
        for variant in expected.union_type.variants:
            kept, self.inputs.findings = self.inputs.findings, []
            try:
                attempt = self._binding(node, var, data, variant, check_types)
            finally:
                self.inputs.findings = kept
            if attempt is None:
                continue
            if matching is not None:
                text = (
                    f"{where}  Received [{go_text(data)}] which is ambiguous as both variants "
                    f"[{type_text(matching)}] and [{type_text(variant)}] match."
                )
                self.inputs.find("AmbiguousBindingUnionValue", node.id, text)
                return None
            matching, result = variant, attempt
        if result is None:
            text = f"{where}  Received [{go_text(data)}] which does not match any of the variants."
            self.inputs.find("IncompatibleBindingUnionValue", node.id, text)
        return result

    def _promise(
        self,
        node: workflow_pb2.Node,
        var: str,
        promise: types_pb2.OutputReference,
        expected: types_pb2.LiteralType,
        check_types: bool,
    ) -> tuple[types_pb2.LiteralType | None, list[str]] | None:
        """A promise: the node it names exists, its output exists (an `[i].name` index reads an item of a
        list, an attribute path a field), and that output's type casts to the input's."""
        source = promise.node_id or START_NODE
        if source not in self.nodes:
            self.inputs.find("NodeReferenceNotFound", source, f"Referenced node [{source}] not found.")
            self.inputs.find("ParameterNotBound", node.id, f"Parameter not bound [{var}].")
            return None
        parsed = _VAR_NAME.findall(promise.var)
        if len(parsed) != 1:
            self.inputs.find("SyntaxError", node.id, f"Failed to parse element [{promise.var}].")
            return None
        _, index, name = parsed[0]
        provider = self.nodes[source]
        input_var = f"{node.metadata.name}.{var}" if node.HasField("metadata") else var
        output_var = (
            f"{provider.metadata.name}.{promise.var}" if provider.HasField("metadata") else promise.var
        )
        provider_interface = self.interfaces.get(source)
        outputs = provider_interface.outputs.variables if provider_interface is not None else {}
        if name not in outputs:
            self.inputs.find(
                "VariableNameNotFound", source, f"Variable [{name}] not found on node [{source}]."
            )
            self.inputs.find("ParameterNotBound", node.id, f"Parameter not bound [{var}].")
            return None
        param = outputs[name]
        source_type = param.type
        if index and not param.type.HasField("collection_type"):
            self._mismatching_variables(node, output_var, param.type, input_var, expected)
        elif index:
            source_type = param.type.collection_type
        for attr in promise.attr_path:
            if source_type.HasField("collection_type"):
                source_type = source_type.collection_type
            elif source_type.HasField("map_value_type"):
                source_type = source_type.map_value_type
            elif source_type.structure.dataclass_type:
                key = attr.string_value
                if key not in source_type.structure.dataclass_type:
                    shown = type_text(source_type)
                    text = f"Variable [{promise.var}] (type [{shown}]) doesn't have field [{key}]."
                    self.inputs.find("FieldNotFound", node.id, text)
                    return None
                source_type = source_type.structure.dataclass_type[key]
        if not check_types or castable(source_type, expected):
            promise.node_id = source
            return param.type, [source]
        self._mismatching_variables(node, output_var, source_type, input_var, expected)
        return None

    def _scalar(
        self,
        node: workflow_pb2.Node,
        var: str,
        scalar: literals_pb2.Scalar,
        expected: types_pb2.LiteralType,
        check_types: bool,
    ) -> tuple[types_pb2.LiteralType | None, list[str]] | None:
        """A constant: its inferred type casts to the input's, and an enum input takes only its values."""
        before = len(self.inputs.findings)
        literal_type = scalar_type_of(scalar)
        if literal_type is None:
            kind = scalar.WhichOneof("value")
            go_type = f"*core.Scalar_{_GO_SCALAR_KINDS.get(kind or '', '')}" if kind else "<nil>"
            self.inputs.find("UnrecognizedValue", node.id, f"Unrecognized value [{go_type}].")
        elif check_types and not castable(literal_type, expected):
            text = (
                f"Variable [{var}] (type [{_type_str(literal_type)}]) doesn't match expected type "
                f"[{_type_str(expected)}]."
            )
            self.inputs.find("MismatchingTypes", node.id, text)
        if expected.HasField("enum_type"):
            value = scalar.primitive.string_value
            values = expected.enum_type.values
            if value not in values:
                text = (
                    f"Input [{var}] on node [{node.id}] is an Enum and expects value to be one of "
                    f"[[{' '.join(values)}]].  Received [{value}]"
                )
                self.inputs.find("IllegalEnumValue", node.id, text)
        return (literal_type, []) if len(self.inputs.findings) == before else None

    def _mismatching_bindings(
        self, node: workflow_pb2.Node, var: str, expected: types_pb2.LiteralType, received: str
    ) -> None:
        text = (
            f"Input [{var}] on node [{node.id}] expects bindings of type [{type_text(expected)}].  "
            f"Received [{received}]"
        )
        self.inputs.find("MismatchingBindings", node.id, text)

    def _mismatching_variables(
        self,
        node: workflow_pb2.Node,
        output_var: str,
        output_type: types_pb2.LiteralType,
        input_var: str,
        input_type: types_pb2.LiteralType,
    ) -> None:
        text = (
            f"The output variable '{output_var}' has type [{_type_str(output_type)}], but it's assigned to "
            f"the input variable '{input_var}' which has type type [{_type_str(input_type)}]."
        )
        self.inputs.find("MismatchingTypes", node.id, text)


# `typing.ParseVarName`: an output name, optionally `[index].` first; anything else that does not match
# exactly once (`a.b`, `a-b`) is a syntax error.
_VAR_NAME = re.compile(r"(\[(\d+)\]\.)?(\w+)", re.ASCII)  # RE2: \w is ASCII
# Go's type names of the scalar kinds propeller cannot type (`reflect.TypeOf(...).String()`).
_GO_SCALAR_KINDS = {"blob": "Blob"}


def _type_str(literal_type: types_pb2.LiteralType) -> str:
    """`LiteralTypeToStr`: a type's text, except STRUCT, printed with its dataclass fields."""
    if literal_type.simple != types_pb2.SimpleType.STRUCT:
        return type_text(literal_type)
    fields = literal_type.structure.dataclass_type
    structure = ", ".join(
        f"dataclass_type:{{key:{key} value:{{{_type_str(fields[key])}}}" for key in sorted(fields)
    )
    return f"simple: STRUCT structure{{{structure}}}"


def _copy(node: workflow_pb2.Node) -> workflow_pb2.Node:
    copied = workflow_pb2.Node()
    copied.CopyFrom(node)
    return copied


def _optional(variable: interface_pb2.Variable) -> bool:
    """`IsOptionalType`: a union with a NONE variant may stay unbound."""
    return variable.type.HasField("union_type") and any(
        v.HasField("simple") and v.simple == 0 for v in variable.type.union_type.variants
    )


def compile_workflow(
    primary: workflow_pb2.WorkflowTemplate,
    sub_workflows: list[workflow_pb2.WorkflowTemplate],
    tasks: Sequence[compiler_pb2.CompiledTask],
    launch_plans: Sequence[launch_plan_pb2.LaunchPlan] = (),
) -> compiler_pb2.CompiledWorkflowClosure:
    """`CompileWorkflow`: compile `primary` with the supplied subworkflows, the fetched tasks (in
    requirement order) and launch plans; raises :class:`CompileError` with the findings."""
    unique: dict[tuple[object, ...], compiler_pb2.CompiledTask] = {}
    for task in tasks:
        unique.setdefault(_same_id(task.template.id), task)
    compiled_subs = [compiler_pb2.CompiledWorkflow(template=sub) for sub in sub_workflows]
    inputs = _Inputs(
        tasks={version_key(t.template.id): t for t in unique.values()},
        subs={version_key(sub.template.id): sub for sub in compiled_subs},
        launch_plans={version_key(plan.id): plan for plan in launch_plans},
    )
    for code, node_id, text in _missing_requirements(primary, sub_workflows, inputs):
        inputs.find(code, node_id, text)
    if inputs.findings:
        raise CompileError(inputs.findings)
    compiled = compiler_pb2.CompiledWorkflow(template=primary)
    _Builder(compiled, inputs).build()
    if inputs.findings:
        raise CompileError(inputs.findings)
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiled, sub_workflows=compiled_subs, tasks=list(unique.values())
    )


def _missing_requirements(
    primary: workflow_pb2.WorkflowTemplate,
    sub_workflows: list[workflow_pb2.WorkflowTemplate],
    inputs: _Inputs,
) -> Iterator[tuple[str, str, str]]:
    """`validateAllRequirements`: unknown subworkflows (at the referencing node), launch plans and tasks (at
    the start node), following the subworkflows the primary reaches."""
    subs = {version_key(sub.id): sub for sub in sub_workflows}
    seen: set[Key] = set()
    pending = [primary]
    while pending:
        for node in template_nodes(pending.pop()):
            if node.HasField("workflow_node") and node.workflow_node.HasField("sub_workflow_ref"):
                ref = node.workflow_node.sub_workflow_ref
                if version_key(ref) not in subs:
                    text = f"Referenced Workflow [{_id_text(ref)}] not found."
                    yield ("WorkflowReferenceNotFound", node.id, text)
                elif version_key(ref) not in seen:
                    seen.add(version_key(ref))
                    pending.append(subs[version_key(ref)])
    task_ids, plan_ids = requirements(primary, sub_workflows)
    for ref in plan_ids:
        if version_key(ref) not in inputs.launch_plans:
            yield (
                "WorkflowReferenceNotFound",
                START_NODE,
                f"Referenced Workflow [{_id_text(ref)}] not found.",
            )
    for ref in task_ids:
        if version_key(ref) not in inputs.tasks:
            yield ("TaskReferenceNotFound", START_NODE, f"Referenced Task [{_id_text(ref)}] not found.")
