"""How a task event folds into an attempt's closure: logs, custom info and plugin metadata.

flyteadmin does not simply append what each event reports (`repositories/transformers/task_execution.go`):

- logs: the event's logs replace stored ones with the same URI or name, and after every update the list is
  filtered by the event's phase: once the attempt is terminal, `hide_once_finished` logs are dropped; while
  it is QUEUED or INITIALIZING, only `show_while_pending` logs stay. A first event's logs stay unfiltered.
- custom info: a JSON merge patch of the event's struct onto the stored one.
- metadata: external resources (map tasks, array nodes) are merged by (index, retry_attempt), their logs too;
  other fields take the event's value when it sets one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from flyteidl.core import catalog_pb2, execution_pb2
from flyteidl.event import event_pb2
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct

TaskPhase = execution_pb2.TaskExecution.Phase
TASK_TERMINAL = frozenset({TaskPhase.SUCCEEDED, TaskPhase.FAILED, TaskPhase.ABORTED})
_PENDING = frozenset({TaskPhase.QUEUED, TaskPhase.INITIALIZING})


def merge_logs(
    existing: Sequence[execution_pb2.TaskLog], latest: Sequence[execution_pb2.TaskLog]
) -> list[execution_pb2.TaskLog]:
    """`mergeLogs`: the latest logs, then each stored log that none of them replaces (same URI, or same
    non-empty name)."""
    if not latest:
        return list(existing)
    if not existing:
        return list(latest)
    uris = {log.uri for log in latest}
    names = {log.name for log in latest if log.name}
    return [*latest, *(log for log in existing if log.uri not in uris and log.name not in names)]


def filter_logs_by_phase(logs: Iterable[execution_pb2.TaskLog], phase: int) -> list[execution_pb2.TaskLog]:
    """`filterLogsByPhase`: what a task in `phase` still shows (QUEUED and INITIALIZING count as pending)."""
    return [
        log
        for log in logs
        if not (phase in TASK_TERMINAL and log.HideOnceFinished)
        and not (phase in _PENDING and not log.ShowWhilePending)
    ]


def merge_custom(existing: Struct | None, latest: Struct | None) -> Struct | None:
    """`mergeCustom`: `latest` applied to `existing` as a JSON merge patch (RFC 7386; a null deletes)."""
    if existing is None:
        return latest
    if latest is None:
        return existing
    merged = _merge_patch(json_format.MessageToDict(existing), json_format.MessageToDict(latest))
    result = Struct()
    json_format.ParseDict(json.loads(json.dumps(merged)), result)
    return result


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def sort_external_resources(metadata: event_pb2.TaskExecutionMetadata) -> None:
    """The first event's external resources are stored ordered by (index, retry_attempt)."""
    if len(metadata.external_resources) > 1:
        ordered = sorted(metadata.external_resources, key=lambda r: (r.index, r.retry_attempt))
        copies = [_copy(resource) for resource in ordered]
        del metadata.external_resources[:]
        metadata.external_resources.extend(copies)


def merge_metadata(
    existing: event_pb2.TaskExecutionMetadata | None, latest: event_pb2.TaskExecutionMetadata | None
) -> event_pb2.TaskExecutionMetadata | None:
    """`mergeMetadata`: fields the event sets win; external resources merge; the resource pool info is always
    the event's (even none)."""
    if existing is None:
        return latest
    if latest is None:
        return existing
    merged = event_pb2.TaskExecutionMetadata()
    merged.CopyFrom(existing)
    if latest.generated_name:
        merged.generated_name = latest.generated_name
    resources = _merge_external_resources(list(merged.external_resources), list(latest.external_resources))
    del merged.external_resources[:]
    merged.external_resources.extend(resources)
    del merged.resource_pool_info[:]
    merged.resource_pool_info.extend(latest.resource_pool_info)
    if latest.plugin_identifier:
        merged.plugin_identifier = latest.plugin_identifier
    if latest.instance_class != event_pb2.TaskExecutionMetadata.DEFAULT:
        merged.instance_class = latest.instance_class
    return merged


def _merge_external_resources(
    existing: list[event_pb2.ExternalResourceInfo], latest: list[event_pb2.ExternalResourceInfo]
) -> list[event_pb2.ExternalResourceInfo]:
    """`mergeExternalResources`: each reported resource updates the stored one with its (index, retry), or is
    inserted where a binary search over the stored list puts it."""
    merged = [_copy(resource) for resource in existing]
    for resource in latest:
        key = (resource.index, resource.retry_attempt)
        position = next(
            (i for i, stored in enumerate(merged) if (stored.index, stored.retry_attempt) >= key), len(merged)
        )
        if position < len(merged) and (merged[position].index, merged[position].retry_attempt) == key:
            merged[position] = _merge_external_resource(merged[position], resource)
        else:
            merged.insert(position, _copy(resource))
    return merged


def _merge_external_resource(
    existing: event_pb2.ExternalResourceInfo, latest: event_pb2.ExternalResourceInfo
) -> event_pb2.ExternalResourceInfo:
    merged = _copy(existing)
    if latest.external_id:
        merged.external_id = latest.external_id
    merged.phase = latest.phase
    if latest.cache_status != catalog_pb2.CatalogCacheStatus.CACHE_DISABLED:
        merged.cache_status = latest.cache_status
    replace_logs(merged.logs, merge_logs(list(existing.logs), list(latest.logs)))
    if latest.HasField("custom_info"):
        merged.custom_info.CopyFrom(latest.custom_info)
    return merged


def filter_external_resource_logs(metadata: event_pb2.TaskExecutionMetadata, phase: int) -> None:
    """On a phase change, each external resource's logs are filtered like the attempt's own."""
    for resource in metadata.external_resources:
        replace_logs(resource.logs, filter_logs_by_phase(list(resource.logs), phase))


def replace_logs(target: Any, logs: Sequence[execution_pb2.TaskLog]) -> None:
    """Make the repeated field `target` hold `logs` (copied first: they may be `target`'s own elements)."""
    copies = []
    for log in logs:
        copy = execution_pb2.TaskLog()
        copy.CopyFrom(log)
        copies.append(copy)
    del target[:]
    target.extend(copies)


def _copy(resource: event_pb2.ExternalResourceInfo) -> event_pb2.ExternalResourceInfo:
    copy = event_pb2.ExternalResourceInfo()
    copy.CopyFrom(resource)
    return copy
