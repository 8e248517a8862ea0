"""Builders for the identifiers every call needs, so callers do not spell out resource types by hand."""

from __future__ import annotations

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

ResourceType = identifier_pb2.ResourceType


def _identifier(
    resource_type: int, project: str, domain: str, name: str, version: str, org: str
) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource_type,
        project=project,
        domain=domain,
        name=name,
        version=version,
        org=org,
    )


def task_id(project: str, domain: str, name: str, version: str, org: str = "") -> identifier_pb2.Identifier:
    return _identifier(ResourceType.TASK, project, domain, name, version, org)


def workflow_id(
    project: str, domain: str, name: str, version: str, org: str = ""
) -> identifier_pb2.Identifier:
    return _identifier(ResourceType.WORKFLOW, project, domain, name, version, org)


def launch_plan_id(
    project: str, domain: str, name: str, version: str, org: str = ""
) -> identifier_pb2.Identifier:
    return _identifier(ResourceType.LAUNCH_PLAN, project, domain, name, version, org)


def named_entity_id(
    project: str, domain: str, name: str = "", org: str = ""
) -> common_pb2.NamedEntityIdentifier:
    """(project, domain, name) without a version: what list and active-launch-plan calls take."""
    return common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name, org=org)


def execution_id(
    project: str, domain: str, name: str, org: str = ""
) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name, org=org)


def node_execution_id(
    execution: identifier_pb2.WorkflowExecutionIdentifier, node_id: str
) -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=execution)


def task_execution_id(
    task: identifier_pb2.Identifier,
    node_execution: identifier_pb2.NodeExecutionIdentifier,
    retry_attempt: int = 0,
) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=task, node_execution_id=node_execution, retry_attempt=retry_attempt
    )


def signal_id(
    execution: identifier_pb2.WorkflowExecutionIdentifier, signal: str
) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=signal, execution_id=execution)
