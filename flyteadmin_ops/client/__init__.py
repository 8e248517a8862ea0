"""Clients for the Flyte Admin gRPC API, and helpers to build what their calls take.

`RawSynchronousFlyteClient` has one method per RPC (protobuf in, protobuf out); `SynchronousFlyteClient`
adds flytekit's friendly operations, paging iterators and an entity cache on top of it.
`AsyncRawFlyteClient` and `AsyncFlyteClient` are their asyncio counterparts on grpc.aio. `values` converts
Python values to Flyte literals and back, guided by a launch plan's or task's interface.
"""

from flyteadmin_ops.client import filters, identifiers, values
from flyteadmin_ops.client.aio import AsyncFlyteClient, AsyncRawFlyteClient
from flyteadmin_ops.client.cache import EntityCache
from flyteadmin_ops.client.filters import Filter, FilterError, FilterList, Filters, render_filters
from flyteadmin_ops.client.friendly import Launched, SynchronousFlyteClient, upload_root
from flyteadmin_ops.client.identifiers import (
    execution_id,
    launch_plan_id,
    named_entity_id,
    node_execution_id,
    signal_id,
    task_execution_id,
    task_id,
    workflow_id,
)
from flyteadmin_ops.client.raw import RawSynchronousFlyteClient
from flyteadmin_ops.client.rpcs import CATALOG, Rpc
from flyteadmin_ops.client.sorting import sort_by
from flyteadmin_ops.client.values import InputValueError

__all__ = [
    "CATALOG",
    "AsyncFlyteClient",
    "AsyncRawFlyteClient",
    "EntityCache",
    "Filter",
    "FilterError",
    "FilterList",
    "Filters",
    "InputValueError",
    "Launched",
    "RawSynchronousFlyteClient",
    "Rpc",
    "SynchronousFlyteClient",
    "execution_id",
    "filters",
    "identifiers",
    "launch_plan_id",
    "named_entity_id",
    "node_execution_id",
    "render_filters",
    "signal_id",
    "sort_by",
    "task_execution_id",
    "task_id",
    "upload_root",
    "values",
    "workflow_id",
]
