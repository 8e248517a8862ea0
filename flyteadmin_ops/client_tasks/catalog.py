"""The table of client tasks: one row per public operation of `SynchronousFlyteClient`, read from the class.

Reading the class (instead of listing ~90 operations by hand) means a new client operation becomes a task,
a README row and a test case without anyone remembering to add it. What the class cannot say is how an
operation behaves when a Prefect run repeats it; that is the small `BEHAVIOURS` table below, and every name in
it must be a client operation (tests/prefect_library/test_task_table.py checks both directions).

Rules that turn an operation into a task:
- every public method except `close` and `with_root_certificate` (the task opens and closes its own client);
- `iter_X` becomes `list_X`, returning every item as a list, at most `max_items`. Where the client already
  has a `list_X` (flytekit's one-page `list_node_executions`, or a raw `list_X(request)`), the task of that
  name is the complete list; one page stays reachable through the `*_paginated` task;
- `*_paginated` and every other method keep their name and parameters;
- raw RPC methods drop their per-call `timeout` and `metadata`: the connection block holds deadlines and
  credentials, and a task's parameters are stored in clear on the Prefect server.
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import GenericAlias
from typing import Any

from flyteidl.core.identifier_pb2 import Identifier
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client import RawSynchronousFlyteClient, SynchronousFlyteClient, operations
from flyteadmin_ops.client.rpcs import BY_RPC_NAME, CATALOG


class Behaviour(enum.Enum):
    """How a task runs its operation; `notes` is the README's wording."""

    CALL = "call"
    RAW = "raw"
    LIST = "list"
    CREATE = "create"
    LAUNCH = "launch"
    SET_STATE = "set_state"
    TERMINATE = "terminate"
    EVENT = "event"


EXCLUDED: Mapping[str, str] = {
    "close": "each task run opens and closes its own client",
    "with_root_certificate": "builds a client; the connection block holds the CA certificate",
}

CREATES: Mapping[str, str] = {
    "create_task": "task_identifer",
    "create_workflow": "workflow_identifier",
    "create_launch_plan": "launch_plan_identifer",
    "register_project": "project",
}
"""Creates whose identical entity counts as success -> the parameter that carries the entity's id."""

BEHAVIOURS: Mapping[str, Behaviour] = {
    **dict.fromkeys(CREATES, Behaviour.CREATE),
    **dict.fromkeys(
        ("create_execution", "relaunch_execution", "recover_execution", "launch"), Behaviour.LAUNCH
    ),
    **dict.fromkeys(("create_workflow_event", "create_node_event", "create_task_event"), Behaviour.EVENT),
    "update_launch_plan": Behaviour.SET_STATE,
    "terminate_execution": Behaviour.TERMINATE,
}
"""Operations that do more than call the client once (see `behaviours.py`); the rest are CALL, RAW or LIST."""

RAW_CALL_OPTIONS = ("timeout", "metadata")
"""Per-call options of the raw methods that a task leaves to the connection block."""

CONNECTION = inspect.Parameter(
    "connection",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    annotation=FlyteAdminConnection | str,
)
MAX_ITEMS = inspect.Parameter(
    "max_items", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=int | None
)


@dataclass(frozen=True)
class ClientOperation:
    """One row of the table: a task and the client method it runs."""

    name: str
    """The task's name and its attribute in `flyteadmin_ops.tasks`."""
    method: str
    """The `SynchronousFlyteClient` method it calls (`iter_X` for the list task `list_X`)."""
    behaviour: Behaviour
    signature: inspect.Signature
    """The task function's signature: `connection` first, then the method's parameters."""
    summary: str
    """The method's own first docstring line, if it has one."""
    notes: str
    """How the task behaves beyond calling the method (README wording)."""

    @property
    def parameters(self) -> list[inspect.Parameter]:
        """The operation's parameters, without `connection`."""
        return list(self.signature.parameters.values())[1:]

    @property
    def returns(self) -> Any:
        return self.signature.return_annotation


def client_operations() -> list[ClientOperation]:
    """Every row, sorted by task name."""
    rows = []
    for name, method in _public_methods(SynchronousFlyteClient).items():
        if name.startswith("iter_"):
            rows.append(_list_row(name, method))
        elif not _is_shadowed(name):
            rows.append(_row(name, method))
    return sorted(rows, key=lambda row: row.name)


def _public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    methods = {}
    for name in dir(cls):
        if name.startswith("_") or name in EXCLUDED:
            continue
        if isinstance(inspect.getattr_static(cls, name), property):
            continue
        member = getattr(cls, name)
        if callable(member):
            methods[name] = member
    return methods


def _is_shadowed(name: str) -> bool:
    """A `list_X` whose name the complete-list task of `iter_X` takes."""
    return name.startswith("list_") and hasattr(SynchronousFlyteClient, "iter_" + name.removeprefix("list_"))


def _is_raw(name: str, method: Callable[..., Any]) -> bool:
    return name in CATALOG and method is getattr(RawSynchronousFlyteClient, name, None)


def _row(name: str, method: Callable[..., Any]) -> ClientOperation:
    raw = _is_raw(name, method)
    behaviour = BEHAVIOURS.get(name, Behaviour.RAW if raw else Behaviour.CALL)
    source = inspect.signature(method)
    drop = RAW_CALL_OPTIONS if raw else ()
    params = [_resolved(p, method) for p in list(source.parameters.values())[1:] if p.name not in drop]
    returns = _raw_returns(name) if raw else _returns(name, behaviour)
    if not raw and name.endswith("_paginated"):
        returns = GenericAlias(tuple, (GenericAlias(list, (_item_type(name),)), str))
    summary = _first_line(method.__doc__)
    notes = _notes(name, behaviour, summary)
    return ClientOperation(name, name, behaviour, _signature(params, returns), summary, notes)


def _list_row(name: str, method: Callable[..., Any]) -> ClientOperation:
    task_name = "list_" + name.removeprefix("iter_")
    paginated: str = method._paginated  # type: ignore[attr-defined]
    sort_key: str = method._default_sort_key  # type: ignore[attr-defined]
    params = [_resolved(p, method) for p in list(inspect.signature(method).parameters.values())[1:]]
    returns = GenericAlias(list, (_item_type(paginated),))
    notes = (
        f"every item of `{paginated}` (all pages), at most `max_items`; sorted by `{sort_key}` unless "
        "`sort_by` is given"
    )
    if hasattr(SynchronousFlyteClient, task_name):
        notes += f" (the client's own `{task_name}` returns one page)"
    summary = f"Every item `{paginated}` would return, across all pages."
    return ClientOperation(
        task_name, name, Behaviour.LIST, _signature([*params, MAX_ITEMS], returns), summary, notes
    )


def _signature(params: list[inspect.Parameter], returns: Any) -> inspect.Signature:
    return inspect.Signature([CONNECTION, *params], return_annotation=returns)


def _resolved(param: inspect.Parameter, method: Callable[..., Any]) -> inspect.Parameter:
    """The parameter with its annotation as an object: the client's are text (postponed annotations)."""
    return param.replace(annotation=_evaluate(param.annotation, method))


def _evaluate(annotation: Any, method: Callable[..., Any]) -> Any:
    if annotation is inspect.Parameter.empty:
        return Any
    if not isinstance(annotation, str):
        return annotation
    namespace = {**vars(operations), **getattr(method, "__globals__", {}), "Any": Any}
    try:
        return eval(annotation, namespace)
    except Exception:
        return Any


def _returns(name: str, behaviour: Behaviour) -> Any:
    """What the task returns: the operation's result, or for a create the id it made or found."""
    if behaviour is Behaviour.CREATE:
        return str if name == "register_project" else Identifier
    op = getattr(operations, name, None)
    if op is None:
        return Any
    returns = _evaluate(inspect.signature(op).return_annotation, op)
    if typing.get_origin(returns) is collections.abc.Generator:  # Steps[T]: the operation's result is T
        returns = typing.get_args(returns)[2]
    return None if returns is type(None) else returns


def _raw_returns(name: str) -> Any:
    return CATALOG[name].spec.response_type


def _item_type(paginated: str) -> Any:
    """The message type of a list RPC's items (`list_executions_paginated` -> ListExecutions -> Execution)."""
    rpc_name = "".join(part.capitalize() for part in paginated.removesuffix("_paginated").split("_"))
    entry = BY_RPC_NAME.get(rpc_name)
    if entry is None:
        return Any
    for field in entry.spec.response_type.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.is_repeated and field.message_type:
            item: type[Message] = GetMessageClass(field.message_type)  # type: ignore[arg-type]
            return item
    return Any


def _first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ") if doc else ""


def _notes(name: str, behaviour: Behaviour, summary: str) -> str:
    if behaviour is Behaviour.RAW:
        spec = CATALOG[name].spec
        return f"raw RPC: `{spec.request_type.__name__}` in, `{spec.response_type.__name__}` out"
    if behaviour is Behaviour.CREATE:
        return (
            "an identical entity already there is success (logged `exists`), a different one raises "
            "`FlyteEntityConflictException`; returns the id"
        )
    if behaviour is Behaviour.LAUNCH:
        return (
            "without a name, named from the Prefect run: a retried task or flow run re-attaches to its "
            "execution, and launches a new attempt only when that one failed"
        )
    if behaviour is Behaviour.SET_STATE:
        return "declarative: reads first; a launch plan already in `state` is left alone (logged `unchanged`)"
    if behaviour is Behaviour.TERMINATE:
        return "declarative: an execution that already finished is left alone (logged with its phase)"
    if behaviour is Behaviour.EVENT:
        return "an event whose phase is already recorded (a repeat) is success (logged `already recorded`)"
    if name.startswith("update_"):
        return "declarative: sends the whole record, so repeating it changes nothing"
    if name.startswith("delete_"):
        return "deleting what is already gone succeeds"
    return summary
