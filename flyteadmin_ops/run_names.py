"""Execution names derived from the Prefect run that launches them, so a retried run finds its own launch.

A Prefect retry (of a task run or of a whole flow run) calls the same code again. If that code launches a
Flyte execution under a fresh random name, every retry launches once more. Naming the execution after the
run instead makes the second launch find the first: the name is a pure function of

- the id of the current Prefect flow run (a task run outside any flow uses its own task run id): the same
  across retries of the flow run and of every task run in it, and different for every new flow run;
- a `key` the caller derives from the call (e.g. project, domain, launch plan, version and inputs), so two
  different launches in one flow run get two names, and the same launch in one flow run gets one;
- an `attempt` number, so a retry that has to start over after a failed execution can take the next name.

The rule: `"p" + base32(sha256(run_id + "\\0" + key))[:16] + "-" + attempt`, in lower case, e.g.
`pq3mz7v2k4bx7c2ad-0`, then `pq3mz7v2k4bx7c2ad-1` (the attempts of one call share the stem). That is at
most 24 characters, starting with a letter, only letters, digits and '-', so it passes flyteadmin's rule for
execution names (`^[a-z][a-z\\-0-9]*$`, at most 63) and stays short enough for the Kubernetes names Flyte
derives from it (flyteadmin's own names have 20 characters). 80 bits of digest make an accidental
collision between two runs or two calls no practical concern.

Outside a Prefect run there is nothing stable to derive from, and `execution_name_for_run` returns None:
the caller then lets the client generate a random name (one launch per call, exactly once per send).
"""

from __future__ import annotations

import flyteadmin_ops._prefect_required  # noqa: F401  (first: without Prefect, names the extra)

import base64
import hashlib

from prefect.context import FlowRunContext, TaskRunContext

PREFIX = "p"
DIGEST_CHARACTERS = 16


def current_run_id() -> str | None:
    """The id that stays the same across retries: the flow run's, else (no flow) the task run's."""
    flow_run_context = FlowRunContext.get()
    if flow_run_context is not None and flow_run_context.flow_run is not None:
        return str(flow_run_context.flow_run.id)
    task_run_context = TaskRunContext.get()
    if task_run_context is not None:
        task_run = task_run_context.task_run
        return str(task_run.flow_run_id or task_run.id)
    return None


def name_for(run_id: str, key: str, attempt: int = 0) -> str:
    """The execution name of `key` in the run `run_id` at `attempt` (the rule in the module docstring)."""
    if attempt < 0:
        raise ValueError(f"attempt must be 0 or more, got {attempt}")
    material = f"{run_id}\0{key}".encode()
    digest = base64.b32encode(hashlib.sha256(material).digest()).decode().lower()
    return f"{PREFIX}{digest[:DIGEST_CHARACTERS]}-{attempt}"


def execution_name_for_run(key: str, *, attempt: int = 0) -> str | None:
    """The execution name for `key` at `attempt` in the current Prefect run, or None outside a run."""
    run_id = current_run_id()
    if run_id is None:
        return None
    return name_for(run_id, key, attempt)
