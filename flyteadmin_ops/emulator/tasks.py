"""Tasks: CreateTask's validation order, the propeller task compile check, digests, Get and List.

The order of checks is flyteadmin's (`task_manager.go`, `validation/task_validator.go`): identifier,
project/domain, spec, type, whitelist, metadata/runtime, interface, container image and resources (or a
pod spec's containers' resources), then propeller's task compiler, then the digest comparison with an
existing version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from flyteidl.admin import task_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, tasks_pb2
from google.protobuf.json_format import MessageToDict

from flyteadmin_ops.emulator.attributes import task_resource_limits
from flyteadmin_ops.emulator.common import INVALID, go_text, missing, timestamp
from flyteadmin_ops.emulator.compiler import CompileError
from flyteadmin_ops.emulator.k8s_names import dns1123_label
from flyteadmin_ops.emulator.quantity import Quantity, QuantityError, parse_quantity
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

_CHECKED = ("CPU", "MEMORY", "GPU", "EPHEMERAL_STORAGE")  # other resource names are skipped
_PLATFORM_NAMES = {"cpu": "CPU", "memory": "MEMORY", "gpu": "GPU", "ephemeral_storage": "EPHEMERAL_STORAGE"}
_PLATFORM = (
    "is greater than current limit set in the platform configuration [{}]. Please contact Flyte Admins to "
    "change these limits or consult the configuration"
)


def _quantities(
    identifier: identifier_pb2.Identifier, entries: Iterable[tasks_pb2.Resources.ResourceEntry]
) -> dict[str, Quantity]:
    """`requestedResourcesToQuantity`: the CPU/MEMORY/GPU/EPHEMERAL_STORAGE entries, parsed, by enum name."""
    parsed: dict[str, Quantity] = {}
    for entry in entries:
        name = tasks_pb2.Resources.ResourceName.Name(entry.name)
        if name not in _CHECKED:
            continue
        if name in parsed:
            raise AdminError(
                INVALID, f"can't specify {name} limit for task [{go_text(identifier)}] multiple times"
            )
        try:
            parsed[name] = parse_quantity(entry.value)
        except QuantityError as error:
            raise AdminError(
                INVALID,
                f"Parsing of {name} request failed for value {entry.value} - reason  {error}. Please follow "
                "K8s conventions for resources "
                "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
            ) from None
        if name == "GPU" and parsed[name].amount.denominator != 1:
            raise AdminError(
                INVALID,
                f"gpu for [{go_text(identifier)}] must be a whole number, got: {entry.value} instead",
            )
    return parsed


def _validate_resources(template: tasks_pb2.TaskTemplate, platform_limits: dict[str, str]) -> None:
    """`validateTaskResources`: a container's requests and limits, parsed, then `validateResource`."""
    identifier = template.id
    defaults = _quantities(identifier, template.container.resources.requests)
    limits = _quantities(identifier, template.container.resources.limits)
    _validate_resource(identifier, defaults, limits, platform_limits)


def _pod_quantities(resources: object) -> dict[str, Quantity]:
    """`resourceListToQuantity`: a pod container's Kubernetes resource list by Flyte resource name
    (`ephemeral-storage` is EPHEMERAL_STORAGE, others upper-cased; names Flyte has no enum for are not
    checked, nor are values Kubernetes would not read)."""
    parsed: dict[str, Quantity] = {}
    if not isinstance(resources, dict):
        return parsed
    for name, value in resources.items():
        flyte_name = "EPHEMERAL_STORAGE" if name == "ephemeral-storage" else str(name).upper()
        if flyte_name not in _CHECKED:
            continue
        try:
            parsed[flyte_name] = parse_quantity(str(value) if not isinstance(value, float) else f"{value:g}")
        except QuantityError:
            continue
    return parsed


def _validate_pod(template: tasks_pb2.TaskTemplate, platform_limits: dict[str, str]) -> None:
    """`validateK8sPod`: a pod spec is required, and each of its containers' resources pass
    `validateResource` as a container task's do."""
    if not template.k8s_pod.HasField("pod_spec"):
        raise AdminError(
            INVALID,
            "invalid TaskSpecification, pod tasks should specify their target as a K8sPod with a defined pod "
            "spec",
        )
    containers = MessageToDict(template.k8s_pod.pod_spec).get("containers")
    for container in containers if isinstance(containers, list) else []:
        resources = container.get("resources") if isinstance(container, dict) else None
        if not isinstance(resources, dict):
            resources = {}
        _validate_resource(
            template.id,
            _pod_quantities(resources.get("requests")),
            _pod_quantities(resources.get("limits")),
            platform_limits,
        )


def _validate_resource(
    identifier: identifier_pb2.Identifier,
    defaults: dict[str, Quantity],
    limits: dict[str, Quantity],
    platform_limits: dict[str, str],
) -> None:
    """`validateResource`: only requested defaults are checked (a limit alone never is), comparing
    `Quantity.Value()` (rounded up) and printing canonical quantities and the enum's name."""
    platform: dict[str, Quantity] = {}
    for key, value in platform_limits.items():
        if key in _PLATFORM_NAMES and parse_quantity(value).amount != 0:
            platform[_PLATFORM_NAMES[key]] = parse_quantity(value)
    for name, default in defaults.items():
        limit, ceiling = limits.get(name), platform.get(name)
        if name == "GPU":
            if limit is not None and default.value() != limit.value():
                raise AdminError(
                    INVALID,
                    "For extended resource 'gpu' the default value must equal the limit value for task "
                    f"[{go_text(identifier)}]",
                )
        else:
            if limit is not None and limit.value() < default.value():
                raise AdminError(
                    INVALID,
                    f"Requested {name} default [{default.canonical()}] is greater than the limit "
                    f"[{limit.canonical()}]. Please fix your configuration",
                )
            if limit is not None and ceiling is not None and limit.value() > ceiling.value():
                raise AdminError(
                    INVALID,
                    f"Requested {name} limit [{limit.canonical()}] " + _PLATFORM.format(ceiling.canonical()),
                )
        if ceiling is not None and default.value() > ceiling.value():
            raise AdminError(
                INVALID,
                f"Requested {name} default [{default.canonical()}] " + _PLATFORM.format(ceiling.canonical()),
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
    elif template.HasField("k8s_pod"):
        _validate_pod(template, limits)


def compile_task(template: tasks_pb2.TaskTemplate) -> compiler_pb2.CompiledTask:
    """propeller's `CompileTask` (`compiler/task_compiler.go`), run after flyteadmin's own checks: a container
    with inputs or outputs needs a command or args, and every resource value (of any name, also those
    flyteadmin skips) must be a Kubernetes quantity; a pod spec must read as one, with DNS-1123 container
    names. Findings in propeller's `Collected Errors` form."""
    findings: list[tuple[str, str, str]] = []
    kind = template.WhichOneof("target")
    if kind == "container":
        container = template.container
        interface = template.interface
        has_io = bool(interface.inputs.variables) or bool(interface.outputs.variables)
        if has_io and not container.command and not container.args:
            findings.append(("ValueRequired", "container", "Value required [command]."))
        for entry in (*container.resources.requests, *container.resources.limits):
            try:
                parse_quantity(entry.value)
            except QuantityError:
                name = tasks_pb2.Resources.ResourceName.Name(entry.name)
                findings.append(
                    ("UnrecognizedValue", f"resources.{name}", f"Unrecognized value [{entry.value}].")
                )
    elif kind == "k8s_pod":
        containers = MessageToDict(template.k8s_pod.pod_spec).get("containers", [])
        if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
            findings.append(("InvalidValue", "root", "Invalid value [k8s pod spec]."))
        elif any(dns1123_label(str(c.get("name", ""))) for c in containers):
            findings.append(("InvalidValue", "root", "Invalid value [k8s pod spec container name]."))
    if findings:
        raise AdminError(INVALID, f"task failed compilation with {CompileError(findings)}")
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
