"""How a client task runs its operation, by `Behaviour`: what makes a repeated task run harmless.

A Prefect task is retried, and a flow run is retried or simply run again, so each write must be safe to
repeat, and must say what it did (`created`, `exists`, `unchanged`, ...) in the run log:
- CREATE: an identical entity is success, the id is returned either way; a different one is a conflict;
- SET_STATE (`update_launch_plan`): read first, write only when the state differs;
- TERMINATE: an execution that already finished stays as it is, and the task succeeds;
- EVENT: an event already recorded is success, as for the engine that sends events;
- LAUNCH: named from the Prefect run (`launches.py`);
- LIST: every item, at most `max_items`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from flyteidl.admin import launch_plan_pb2, project_pb2
from flyteidl.core.identifier_pb2 import Identifier

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.client.coerce import to_idl
from flyteadmin_ops.client_tasks.catalog import CREATES, Behaviour, ClientOperation
from flyteadmin_ops.client_tasks.launches import launch_once
from flyteadmin_ops.errors import (
    FlyteEntityAlreadyExistsException,
    FlyteEntityConflictException,
    FlyteFailedPreconditionException,
)

Runner = Callable[[SynchronousFlyteClient, ClientOperation, dict[str, Any], Any], Any]

PROJECT_FIELDS = ("name", "description", "labels", "state")
"""What makes two registrations of a project identical (the server fills in `domains`)."""


def run_operation(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> Any:
    """Run `op` with `arguments` (its parameters by name, `connection` left out) on `client`."""
    return RUNNERS[op.behaviour](client, op, arguments, logger)


def call(client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any) -> Any:
    logger.debug("%s(%s)", op.method, ", ".join(arguments))
    return getattr(client, op.method)(**arguments)


def list_all(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> list[Any]:
    """Every item of the `iter_*` method, stopping after `max_items` (pages no larger than needed)."""
    max_items: int | None = arguments.pop("max_items", None)
    if max_items is not None and max_items < 0:
        raise ValueError(f"{op.name}: max_items must be 0 or more, got {max_items}")
    if max_items is not None and arguments.get("page_size") is None:
        arguments["page_size"] = max(1, min(max_items, client.settings.page_size))
    items = list(itertools.islice(getattr(client, op.method)(**arguments), max_items))
    capped = max_items is not None and len(items) == max_items
    logger.info("%s: %d item(s)%s", op.name, len(items), " (max_items reached)" if capped else "")
    return items


def create(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> Any:
    """Create, or find the identical entity; returns its id either way."""
    value = arguments[CREATES[op.name]]
    if op.name == "register_project":
        project = to_idl(value, project_pb2.Project, "project")
        ident: Any = project.id
    else:
        ident = to_idl(value, Identifier, CREATES[op.name])
    described = ident if isinstance(ident, str) else describe(ident)
    try:
        getattr(client, op.method)(**arguments)
    except FlyteEntityAlreadyExistsException as exists:
        if op.name == "register_project":
            _check_same_project(client, project, exists)
        logger.info("%s %s: exists", op.name, described)
        return ident
    logger.info("%s %s: created", op.name, described)
    return ident


def _check_same_project(
    client: SynchronousFlyteClient, wanted: project_pb2.Project, exists: FlyteEntityAlreadyExistsException
) -> None:
    """flyteadmin refuses any second registration of a project id; it is a conflict only when it differs."""
    current = client.get_project(wanted.id, wanted.org)
    changes = [
        f"{field}: {getattr(current, field)!r} -> {getattr(wanted, field)!r}".replace("\n", " ")
        for field in PROJECT_FIELDS
        if getattr(current, field) != getattr(wanted, field)
    ]
    if changes:
        message = f"project {wanted.id!r} already exists with a different definition:\n" + "\n".join(changes)
        raise FlyteEntityConflictException(exists.rpc, exists.code, message) from exists


def set_state(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> None:
    """`update_launch_plan` as a declaration: read the version's state, write only when it differs.

    The read is fresh: the task's client is new, so its entity cache is empty."""
    ident = to_idl(arguments["id"], Identifier, "id")
    current = client.get_launch_plan(ident).closure.state
    described = describe(ident)
    if current == arguments["state"]:
        logger.info("%s %s: unchanged", op.name, described)
        return
    client.update_launch_plan(**arguments)
    names = launch_plan_pb2.LaunchPlanState
    logger.info(
        "%s %s: updated (%s -> %s)", op.name, described, names.Name(current), names.Name(arguments["state"])
    )


def terminate(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> None:
    """Terminate, or succeed when the execution already ended (a retry after a lost reply, or a race)."""
    try:
        client.terminate_execution(**arguments)
    except FlyteFailedPreconditionException as refused:
        if refused.current_phase is None:
            raise
        logger.info(
            "%s: the execution already ended %s; nothing to terminate", op.name, refused.current_phase
        )
        return
    logger.info("%s: terminating", op.name)


def record_event(
    client: SynchronousFlyteClient, op: ClientOperation, arguments: dict[str, Any], logger: Any
) -> None:
    """Send an event; flyteadmin answers a repeat of a recorded phase with ALREADY_EXISTS, which event
    producers (propeller) take as success, and so does the task."""
    try:
        getattr(client, op.method)(**arguments)
    except FlyteEntityAlreadyExistsException as repeat:
        logger.info("%s: already recorded (%s)", op.name, repeat.server_message)


def describe(ident: Identifier) -> str:
    """`project/domain/name@version`, as the run log names an entity."""
    return f"{ident.project}/{ident.domain}/{ident.name}@{ident.version}"


RUNNERS: dict[Behaviour, Runner] = {
    Behaviour.CALL: call,
    Behaviour.RAW: call,
    Behaviour.LIST: list_all,
    Behaviour.CREATE: create,
    Behaviour.LAUNCH: launch_once,
    Behaviour.SET_STATE: set_state,
    Behaviour.TERMINATE: terminate,
    Behaviour.EVENT: record_event,
}
