"""The catalog of every Flyte Admin RPC, read from flyteidl's service descriptors.

Reading the descriptors (instead of listing 66 methods by hand) means a new flyteidl release cannot add an RPC
the clients silently lack: the catalog, the raw client, its type stub and the coverage test all follow the
descriptors. What the descriptors cannot say is whether a resend is safe; that lives in the small table
`_WRITES` below, and an RPC missing from it is treated as unsafe to retry (and the catalog test fails).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType

from flyteidl.service import admin_pb2, auth_pb2, dataproxy_pb2, identity_pb2, signal_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message_factory import GetMessageClass

from flyteadmin_ops.transport.rpc import RpcSpec

SERVICE_MODULES: tuple[ModuleType, ...] = (admin_pb2, dataproxy_pb2, auth_pb2, identity_pb2, signal_pb2)
"""The flyteidl modules whose services the clients cover, in catalog order."""

# Python names flytekit's raw client uses where they differ from snake_case(RPC); users migrating from
# flytekit keep calling the names they know.
_FLYTEKIT_NAMES: Mapping[str, str] = {
    "ListTaskIds": "list_task_ids_paginated",
    "ListTasks": "list_tasks_paginated",
    "ListWorkflowIds": "list_workflow_ids_paginated",
    "ListWorkflows": "list_workflows_paginated",
    "ListLaunchPlanIds": "list_launch_plan_ids_paginated",
    "ListLaunchPlans": "list_launch_plans_paginated",
    "ListActiveLaunchPlans": "list_active_launch_plans_paginated",
    "ListExecutions": "list_executions_paginated",
    "ListNodeExecutions": "list_node_executions_paginated",
    "ListNodeExecutionsForTask": "list_node_executions_for_task_paginated",
    "ListTaskExecutions": "list_task_executions_paginated",
}

# The name flytekit's raw client gives each method's request parameter, so keyword callers
# (`client.create_task(task_create_request=...)`) keep working; RPCs flytekit lacks call it `request`.
_FLYTEKIT_REQUEST_PARAMETERS: Mapping[str, str] = {
    "CreateTask": "task_create_request",
    "GetTask": "get_object_request",
    "ListTaskIds": "identifier_list_request",
    "ListTasks": "resource_list_request",
    "CreateWorkflow": "workflow_create_request",
    "GetWorkflow": "get_object_request",
    "ListWorkflowIds": "identifier_list_request",
    "ListWorkflows": "resource_list_request",
    "CreateLaunchPlan": "launch_plan_create_request",
    "GetLaunchPlan": "object_get_request",
    "GetActiveLaunchPlan": "active_launch_plan_request",
    "ListActiveLaunchPlans": "active_launch_plan_list_request",
    "ListLaunchPlanIds": "identifier_list_request",
    "ListLaunchPlans": "resource_list_request",
    "UpdateLaunchPlan": "update_request",
    "CreateExecution": "create_execution_request",
    "RelaunchExecution": "relaunch_execution_request",
    "RecoverExecution": "recover_execution_request",
    "GetExecution": "get_object_request",
    "GetExecutionData": "get_execution_data_request",
    "ListExecutions": "resource_list_request",
    "TerminateExecution": "terminate_execution_request",
    "GetNodeExecution": "node_execution_request",
    "ListNodeExecutions": "node_execution_list_request",
    "ListNodeExecutionsForTask": "node_execution_for_task_list_request",
    "GetNodeExecutionData": "get_node_execution_data_request",
    "RegisterProject": "project_register_request",
    "UpdateProject": "project",
    "ListProjects": "project_list_request",
    "GetTaskExecution": "task_execution_request",
    "ListTaskExecutions": "task_execution_list_request",
    "GetTaskExecutionData": "get_task_execution_data_request",
    "UpdateProjectDomainAttributes": "project_domain_attributes_update_request",
    "GetProjectDomainAttributes": "project_domain_attributes_get_request",
    "UpdateWorkflowAttributes": "workflow_attributes_update_request",
    "GetWorkflowAttributes": "workflow_attributes_get_request",
    "ListMatchableAttributes": "matchable_attributes_list_request",
    "UpdateNamedEntity": "update_named_entity_request",
    "GetExecutionMetrics": "get_execution_metrics_request",
    "CreateUploadLocation": "create_upload_location_request",
    "CreateDownloadLocation": "create_download_location_request",
    "CreateDownloadLink": "create_download_link_request",
    "ListSignals": "signal_list_request",
    "SetSignal": "signal_set_request",
}

# RPCs that are pure reads although their names do not start with Get/List: they sign URLs or describe
# the server, and change nothing, so even a DEADLINE_EXCEEDED attempt may be repeated.
_READS_BY_OTHER_NAMES = frozenset(
    {"CreateUploadLocation", "CreateDownloadLocation", "CreateDownloadLink", "UserInfo"}
)
# "Get" that writes.
_WRITES_NAMED_GET = frozenset({"GetOrCreateSignal"})

# Every RPC that changes server state, and why sending it twice cannot change the outcome. The transport
# retries these after UNAVAILABLE / RESOURCE_EXHAUSTED only (never after DEADLINE_EXCEEDED, because the
# first attempt may still be applied).
_WRITES: Mapping[str, str] = {
    # The identifier travels with the request: an identical re-create is ALREADY_EXISTS, a different one is
    # INVALID_ARGUMENT; neither creates a second entity.
    "CreateTask": "identifier carried; identical re-create is ALREADY_EXISTS",
    "CreateWorkflow": "identifier carried; identical re-create is ALREADY_EXISTS",
    "CreateLaunchPlan": "identifier carried; identical re-create is ALREADY_EXISTS",
    "RegisterProject": "project id carried; a duplicate is ALREADY_EXISTS",
    # Safe ONLY because both clients always send a name (they generate one when the caller gives none,
    # see `execution_names`); a resend of a committed launch is ALREADY_EXISTS, not a second execution.
    "CreateExecution": "the client always sends a name; a duplicate is ALREADY_EXISTS",
    "RelaunchExecution": "the client always sends a name; a duplicate is ALREADY_EXISTS",
    "RecoverExecution": "the client always sends a name; a duplicate is ALREADY_EXISTS",
    # Full-state writes: the second send stores the same state again.
    "UpdateLaunchPlan": "sets a state; activating the active version again is accepted",
    "UpdateExecution": "sets a state",
    "UpdateProject": "full project record",
    "UpdateNamedEntity": "full metadata record",
    "UpdateProjectDomainAttributes": "full attributes record",
    "UpdateProjectAttributes": "full attributes record",
    "UpdateWorkflowAttributes": "full attributes record",
    "DeleteProjectDomainAttributes": "delete never says NOT_FOUND",
    "DeleteProjectAttributes": "delete never says NOT_FOUND",
    "DeleteWorkflowAttributes": "delete never says NOT_FOUND",
    "TerminateExecution": "terminating an ABORTING execution again is accepted",
    "GetOrCreateSignal": "get-or-create by signal id",
    "SetSignal": "sets one value for one signal id",
    # Events: flyteadmin deduplicates by phase (and phase_version for tasks). A resend of a committed event
    # answers ALREADY_EXISTS "phase already recorded", which event producers (propeller) treat as success;
    # it never applies the transition twice.
    "CreateWorkflowEvent": "deduplicated by phase; a resend is ALREADY_EXISTS",
    "CreateNodeEvent": "deduplicated by phase; a resend is ALREADY_EXISTS",
    "CreateTaskEvent": "deduplicated by phase and phase_version; a resend is ALREADY_EXISTS",
}

EXECUTION_LAUNCHES = frozenset({"CreateExecution", "RelaunchExecution", "RecoverExecution"})
"""RPCs whose requests must carry a client-chosen execution name before they are sent."""


@dataclass(frozen=True)
class Rpc:
    """One catalog entry: the transport's spec plus the Python name the clients expose it under."""

    spec: RpcSpec
    python_name: str
    descriptor: MethodDescriptor
    request_parameter: str = "request"
    """The raw method's parameter name for the request (flytekit's, where flytekit has the method)."""

    @property
    def name(self) -> str:
        return self.spec.method

    @property
    def label(self) -> str:
        """How errors name the RPC, e.g. `AdminService/CreateExecution` (as the transport's errors do)."""
        return f"{self.spec.short_service}/{self.spec.method}"

    def describe(self) -> str:
        """The docstring of the generated raw method: what goes in, what comes out, how it is retried."""
        spec = self.spec
        if spec.read_only:
            retry = "Read-only: retried on UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED."
        elif spec.retry_safe:
            retry = f"Retried on UNAVAILABLE and RESOURCE_EXHAUSTED ({_WRITES[spec.method]})."
        else:
            retry = "Never retried."
        return (
            f"{spec.short_service}.{spec.method}: {spec.request_type.__name__} -> "
            f"{spec.response_type.__name__}.\n\n{retry}"
        )


def snake_case(rpc_name: str) -> str:
    """`GetOAuth2Metadata` -> `get_oauth2_metadata`; `ListTaskIds` -> `list_task_ids`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", rpc_name).lower()


def python_name(rpc_name: str) -> str:
    return _FLYTEKIT_NAMES.get(rpc_name, snake_case(rpc_name))


def is_read_only(rpc_name: str) -> bool:
    if rpc_name in _WRITES_NAMED_GET:
        return False
    return rpc_name.startswith(("Get", "List")) or rpc_name in _READS_BY_OTHER_NAMES


def is_retry_safe(rpc_name: str) -> bool:
    return is_read_only(rpc_name) or rpc_name in _WRITES


def _method_descriptors() -> Iterator[MethodDescriptor]:
    for module in SERVICE_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            yield from service.methods


def _build() -> Mapping[str, Rpc]:
    catalog: dict[str, Rpc] = {}
    for method in _method_descriptors():
        spec = RpcSpec(
            service=method.containing_service.full_name,
            method=method.name,
            request_type=GetMessageClass(method.input_type),
            response_type=GetMessageClass(method.output_type),
            retry_safe=is_retry_safe(method.name),
            read_only=is_read_only(method.name),
        )
        entry = Rpc(
            spec=spec,
            python_name=python_name(method.name),
            descriptor=method,
            request_parameter=_FLYTEKIT_REQUEST_PARAMETERS.get(method.name, "request"),
        )
        if entry.python_name in catalog:
            raise RuntimeError(f"two RPCs map to the Python name {entry.python_name!r}")
        catalog[entry.python_name] = entry
    return MappingProxyType(catalog)


CATALOG: Mapping[str, Rpc] = _build()
"""Python method name -> catalog entry, for every RPC of the five services, in descriptor order."""

BY_RPC_NAME: Mapping[str, Rpc] = MappingProxyType({rpc.name: rpc for rpc in CATALOG.values()})
"""RPC method name (`CreateTask`) -> catalog entry. RPC names are unique across the five services."""

if len(BY_RPC_NAME) != len(CATALOG):  # pragma: no cover - a flyteidl change would have to introduce this
    raise RuntimeError("two services define an RPC with the same name")


def rpc(name: str) -> Rpc:
    """The entry for an RPC name (`CreateTask`) or a Python name (`create_task`)."""
    found = BY_RPC_NAME.get(name) or CATALOG.get(name)
    if found is None:
        raise KeyError(f"no Flyte Admin RPC named {name!r}")
    return found
