"""Tasks: CreateTask's validation order, the propeller task compile check, digests, Get and List.

The order of checks is flyteadmin's (`task_manager.go`, `validation/task_validator.go`): identifier,
project/domain, spec, type, whitelist, metadata/runtime, interface, container image and resources, then the
compiler, then the digest comparison with an existing version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from fractions import Fraction

from flyteidl.admin import task_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, tasks_pb2

from flyteadmin_ops.emulator.common import INVALID, missing, timestamp
from flyteadmin_ops.emulator.registry import AdminError
from flyteadmin_ops.emulator.state import EmulatorState
from flyteadmin_ops.emulator.versioned import (
    ResourceType,
    VersionedKind,
    compiled_entity,
    insert_version,
    new_version_digest,
    register_versioned_rpcs,
    validate_create,
    versioned_table,
)

TASKS = versioned_table(
    "task", "tasks", {"closure": "BLOB NOT NULL", "type": "TEXT NOT NULL", "short_description": "TEXT"}
)
KIND = VersionedKind(
    ResourceType.TASK, TASKS, compiled_entity(task_pb2.Task, lambda c: c.compiled_task.template), "Tasks"
)
get_task_row: Callable[[sqlite3.Connection, identifier_pb2.Identifier], tuple[int, task_pb2.Task]] = (
    KIND.fetch
)


# --- validation ---------------------------------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_SUFFIXES: dict[str, Fraction] = {
    **{suffix: Fraction(factor) for suffix, factor in {**_BINARY, **_DECIMAL}.items()},
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
}


def parse_quantity(text: str) -> Fraction:
    """A Kubernetes resource quantity (`500m`, `1Gi`, `2`, `1e3`) as an exact number."""
    value = text.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if value.endswith(suffix) and value[: -len(suffix)]:
            try:
                return Fraction(value[: -len(suffix)]) * _SUFFIXES[suffix]
            except ValueError:
                break
    try:
        return Fraction(value) if "e" not in value.lower() else Fraction(float(value))
    except ValueError:
        raise AdminError(INVALID, f"Parsed resource quantity [{text}] is invalid") from None


def _validate_resources(template: tasks_pb2.TaskTemplate, platform_limits: dict[str, str]) -> None:
    resources = template.container.resources
    names = tasks_pb2.Resources.ResourceName
    requests = {names.Name(e.name).lower(): e.value for e in resources.requests}
    limits = {names.Name(e.name).lower(): e.value for e in resources.limits}
    for kind, values in (("default", requests), ("limit", limits)):
        for resource, value in values.items():
            quantity = parse_quantity(value)
            ceiling = platform_limits.get(resource)
            if ceiling is not None and quantity > parse_quantity(ceiling):
                raise AdminError(
                    INVALID,
                    f"Requested {resource} {kind} [{value}] is greater than current limit set in "
                    f"the platform "
                    f"configuration [{ceiling}]. Please contact Flyte Admins to change these limits "
                    f"or consult "
                    "the configuration",
                )
    for resource, value in requests.items():
        if resource in limits and parse_quantity(value) > parse_quantity(limits[resource]):
            raise AdminError(INVALID, f"Type {resource} for [{template.id.name}] cannot set default > limit")
    for values in (requests, limits):
        if "gpu" in values and parse_quantity(values["gpu"]).denominator != 1:
            raise AdminError(INVALID, f"gpu for [{template.id.name}] must be a whole number")
    if (
        "gpu" in requests
        and "gpu" in limits
        and parse_quantity(requests["gpu"]) != parse_quantity(limits["gpu"])
    ):
        raise AdminError(
            INVALID,
            f"For extended resource 'gpu' the default value must equal the limit value for task "
            f"[{template.id.name}]",
        )


def _validate_template(
    state: EmulatorState, template: tasks_pb2.TaskTemplate, limits: dict[str, str]
) -> None:
    if not template.type:
        raise missing("type")
    whitelist = state.config.task_type_whitelist
    if whitelist is not None and template.type not in whitelist:
        raise AdminError(INVALID, "task type must be whitelisted before use")
    if not template.HasField("metadata"):
        raise missing("metadata")
    if template.metadata.HasField("runtime") and not template.metadata.runtime.version:
        raise missing("runtime version")
    if not template.HasField("interface"):
        raise missing("typed interface")
    if template.HasField("container"):
        if not template.container.image:
            raise missing("image")
        _validate_resources(template, limits)
    if template.HasField("k8s_pod") and not template.k8s_pod.HasField("pod_spec"):
        raise missing("pod_spec")


def compile_task(template: tasks_pb2.TaskTemplate) -> compiler_pb2.CompiledTask:
    """propeller's task compiler check: a container with a non-empty interface needs a command or args."""
    interface = template.interface
    has_io = bool(interface.inputs.variables) or bool(interface.outputs.variables)
    if (
        template.HasField("container")
        and has_io
        and not template.container.command
        and not template.container.args
    ):
        raise AdminError(
            INVALID,
            f"task failed compilation with Collected Errors: 1\n\tError 0: Code: ValueRequired, Node Id: "
            f"{template.id.name}, Description: Value required [container.command/args].",
        )
    return compiler_pb2.CompiledTask(template=template)


def create_task_in_tx(
    conn: sqlite3.Connection,
    state: EmulatorState,
    request: task_pb2.TaskCreateRequest,
    *,
    check_project: bool = True,
) -> int:
    """CreateTask inside an open transaction; returns the new row id. Also used for `.flytegen` paths."""
    validate_create(conn, state, KIND, request, check_project)
    template = tasks_pb2.TaskTemplate()
    template.CopyFrom(request.spec.template)
    from flyteadmin_ops.emulator.attributes import task_resource_limits

    _validate_template(
        state, template, task_resource_limits(conn, state, request.id.project, request.id.domain)
    )
    template.id.CopyFrom(request.id)
    compiled = compile_task(template)
    new_digest = new_version_digest(
        conn, KIND, request.id, compiled, lambda row: KIND.to_proto(row).closure.compiled_task
    )
    now = state.now()
    closure = task_pb2.TaskClosure(compiled_task=compiled, created_at=timestamp(now))
    return insert_version(
        conn,
        KIND,
        request.id,
        now,
        new_digest,
        request.spec.description if request.spec.HasField("description") else None,
        closure=closure.SerializeToString(),
        type=template.type,
        short_description=request.spec.description.short_description,
    )


register_versioned_rpcs(
    KIND, "Task", create_task_in_tx, task_pb2.TaskCreateResponse, task_pb2.TaskList, "tasks", strict_get=False
)
