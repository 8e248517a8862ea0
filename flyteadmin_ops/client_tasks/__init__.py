"""Every operation of `SynchronousFlyteClient` as a Prefect task of the same name, made by one wrapper.

`CLIENT_TASKS` maps each task name to its task; `flyteadmin_ops.tasks` exposes them as module attributes
(`from flyteadmin_ops.tasks import get_execution, list_executions, create_execution`). The rows come from
`catalog.client_operations()` (read from the client class), the behaviours from `behaviours.py`, and the
README's task table from `readme_table.py`.

Each task:
- takes `connection` first: a `FlyteAdminConnection`, or the name of a saved one (what a deployment's
  parameters can hold), then the operation's own parameters, with their annotations, so `inspect.signature`,
  `help(task.fn)` and Prefect's parameter schema show them;
- opens a client per task run attempt (`budget.task_client`: a retry's client gets what is left of the run
  retry budget) and closes it at the end. Reusing one client per connection across task runs would save a
  TLS handshake and a token fetch, but a client outliving its task run has no owner to close it, and task
  runs on other threads (`.submit`, `.map`) or in other processes would have to share it;
- is never cached, is retried only for errors a later attempt can outlive and within the run retry budget
  (`options.is_retryable`), and logs
  through the run logger what it changed (`created`, `exists`, `launched`, `re-attached`, `unchanged`);
- returns the operation's result as it is (protobufs, not dictionaries).

Example:
    ```python
    from prefect import flow
    from flyteadmin_ops.tasks import get_execution, list_executions

    @flow
    def latest_failures(connection: str = "flyteadmin") -> list[str]:
        failed = list_executions(
            connection, "flytesnacks", "production", filters="eq(phase,FAILED)", max_items=10
        )
        return [get_execution(connection, e.id).closure.error.message for e in failed]
    ```
"""

from __future__ import annotations

import flyteadmin_ops._prefect_required  # noqa: F401  (first: without Prefect, names the extra)

import textwrap
from typing import Any

from prefect import Task, get_run_logger

from flyteadmin_ops.client.operations import Launched
from flyteadmin_ops.client_tasks.behaviours import run_operation
from flyteadmin_ops.client_tasks.budget import task_client
from flyteadmin_ops.client_tasks.catalog import Behaviour, ClientOperation, client_operations
from flyteadmin_ops.client_tasks.options import TASK_OPTIONS, resolve_connection

DOC_WIDTH = 100
TASKS_MODULE = "flyteadmin_ops.tasks"
"""Where the tasks are exposed; their functions claim it as their module, so that is what docs show."""


def make_task(op: ClientOperation) -> Task[..., Any]:
    """The Prefect task of one table row."""

    def run(connection: Any, *args: Any, **kwargs: Any) -> Any:
        bound = op.signature.bind(connection, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["connection"]
        with task_client(resolve_connection(connection)) as client:
            return run_operation(client, op, arguments, get_run_logger())

    run.__name__ = run.__qualname__ = op.name
    run.__module__ = TASKS_MODULE
    run.__doc__ = task_docstring(op)
    run.__signature__ = op.signature  # type: ignore[attr-defined]
    run.__annotations__ = {
        **{p.name: p.annotation for p in op.signature.parameters.values()},
        "return": op.returns,
    }
    return Task(run, name=op.name, **TASK_OPTIONS)


def task_docstring(op: ClientOperation) -> str:
    """The task's docstring: what it does, how it behaves on repeats, and the `connection` parameter."""
    lines = [op.summary or f"`SynchronousFlyteClient.{op.method}` as a Prefect task.", ""]
    lines.append(f"Runs `SynchronousFlyteClient.{op.method}` with a client opened for this task run.")
    if op.notes and op.notes != op.summary:
        lines += textwrap.wrap(f"{op.notes[0].upper()}{op.notes[1:]}.", DOC_WIDTH)
    lines += ["", "Args:", "    connection: A `FlyteAdminConnection` block, or the name of a saved one."]
    if op.behaviour is Behaviour.LIST:
        lines.append("    max_items: Stop after this many items (None: every item).")
    if op.returns is Launched:
        lines.append("")
        lines.append("Returns: `Launched(id, created)`; `created` is False when it re-attached.")
    return "\n".join(lines)


OPERATIONS: tuple[ClientOperation, ...] = tuple(client_operations())
"""The table: one row per task, sorted by name."""

CLIENT_TASKS: dict[str, Task[..., Any]] = {op.name: make_task(op) for op in OPERATIONS}
"""Task name -> task."""

__all__ = ["CLIENT_TASKS", "OPERATIONS", "make_task", "task_docstring"]
