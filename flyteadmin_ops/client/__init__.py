"""Clients for the Flyte Admin gRPC API, and helpers to build what their calls take.

`RawSynchronousFlyteClient` has one method per RPC (protobuf in, protobuf out); `SynchronousFlyteClient`
adds flytekit's friendly operations, paging iterators and an entity cache on top of it.
`AsyncRawFlyteClient` and `AsyncFlyteClient` are their asyncio counterparts on grpc.aio. `values` converts
Python values to Flyte literals and back, guided by a launch plan's or task's interface.

Start-up time is part of what a CLI step or a cron job pays on every run, so: the names below are
resolved lazily (PEP 562), each from its own module, and a script using the synchronous client does not
also load the asyncio client and its transport; and a process that imports the client skips the
interpreter's final garbage collection over everything imported (`fast_exit`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flyteadmin_ops.client.fast_exit import skip_final_collection

skip_final_collection()

# public name -> the module that defines it (a module's own name: the submodule itself)
_HOMES: dict[str, str] = {
    "filters": "flyteadmin_ops.client.filters",
    "identifiers": "flyteadmin_ops.client.identifiers",
    "values": "flyteadmin_ops.client.values",
    "AsyncFlyteClient": "flyteadmin_ops.client.aio",
    "AsyncRawFlyteClient": "flyteadmin_ops.client.aio",
    "EntityCache": "flyteadmin_ops.client.cache",
    "Filter": "flyteadmin_ops.client.filters",
    "FilterError": "flyteadmin_ops.client.filters",
    "FilterList": "flyteadmin_ops.client.filters",
    "Filters": "flyteadmin_ops.client.filters",
    "render_filters": "flyteadmin_ops.client.filters",
    "Launched": "flyteadmin_ops.client.friendly",
    "SynchronousFlyteClient": "flyteadmin_ops.client.friendly",
    "upload_root": "flyteadmin_ops.client.friendly",
    "execution_id": "flyteadmin_ops.client.identifiers",
    "launch_plan_id": "flyteadmin_ops.client.identifiers",
    "named_entity_id": "flyteadmin_ops.client.identifiers",
    "node_execution_id": "flyteadmin_ops.client.identifiers",
    "signal_id": "flyteadmin_ops.client.identifiers",
    "task_execution_id": "flyteadmin_ops.client.identifiers",
    "task_id": "flyteadmin_ops.client.identifiers",
    "workflow_id": "flyteadmin_ops.client.identifiers",
    "RawSynchronousFlyteClient": "flyteadmin_ops.client.raw",
    "CATALOG": "flyteadmin_ops.client.rpcs",
    "Rpc": "flyteadmin_ops.client.rpcs",
    "sort_by": "flyteadmin_ops.client.sorting",
    "InputValueError": "flyteadmin_ops.client.values",
}

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'flyteadmin_ops.client' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if home.rpartition(".")[2] == name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
