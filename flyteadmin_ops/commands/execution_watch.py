"""Waiting for an execution and telling how it ended: shared by `launch --wait` and `wait`.

Polling starts at half a second (a short run is reported promptly) and doubles up to ten seconds (a long
one costs the server a call every ten seconds). A timeout ends the wait, never the execution: the command
that started it may not be the one that owns it. An execution that ended FAILED, ABORTED or TIMED_OUT is
exit 1 with Flyte's error code and message; SUCCEEDED is 0.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyteadmin_ops.commands import views
from flyteadmin_ops.commands.admin_session import TERMINAL_PHASES, UNSUCCESSFUL_PHASES

if TYPE_CHECKING:
    from flyteidl.admin import execution_pb2
    from flyteidl.core import identifier_pb2

    from flyteadmin_ops.client import SynchronousFlyteClient

FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 10.0
EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class Ending:
    """How a watched execution stands when the wait ends: `phase` is terminal unless `timed_out`."""

    execution: execution_pb2.Execution
    timed_out: bool = False

    @property
    def phase(self) -> str:
        return views.workflow_phase(self.execution.closure.phase)

    @property
    def succeeded(self) -> bool:
        return self.phase == "SUCCEEDED" and not self.timed_out

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.succeeded else EXIT_FAILED

    def error(self) -> tuple[str, str]:
        """Flyte's (code, message) for an unsuccessful end; an abort's cause when it has no error."""
        closure = self.execution.closure
        if self.timed_out:
            return "WaitTimeout", f"still {self.phase} when the wait ended (the execution goes on)"
        code, message = closure.error.code, closure.error.message
        if not message and closure.HasField("abort_metadata"):
            code, message = code or "Aborted", closure.abort_metadata.cause
        if not message and self.phase in UNSUCCESSFUL_PHASES:
            message = f"ended {self.phase} without an error message"
        return code, message


def wait_for_end(
    client: SynchronousFlyteClient,
    ident: identifier_pb2.WorkflowExecutionIdentifier,
    timeout_seconds: float | None,
    *,
    on_phase: Any = None,
) -> Ending:
    """Poll with backoff until the execution is terminal or `timeout_seconds` have passed."""
    started = time.monotonic()
    interval = FIRST_POLL_SECONDS
    last_phase = ""
    while True:
        execution = client.get_execution(ident)
        phase = views.workflow_phase(execution.closure.phase)
        if phase != last_phase and on_phase is not None:
            on_phase(phase)
        last_phase = phase
        if phase in TERMINAL_PHASES:
            return Ending(execution)
        waited = time.monotonic() - started
        if timeout_seconds is not None and waited >= timeout_seconds:
            return Ending(execution, timed_out=True)
        pause = interval if timeout_seconds is None else min(interval, timeout_seconds - waited)
        time.sleep(max(pause, 0.0))
        interval = min(interval * 2, MAX_POLL_SECONDS)


def phase_to_stderr(output: str) -> Any:
    """A phase-change reporter for people (`RUNNING`...) on stderr; quiet for json/yaml pipes."""
    if output != "table" or not sys.stderr.isatty():
        return None
    return lambda phase: print(f"phase: {phase}", file=sys.stderr, flush=True)


def id_document(ident: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, str]:
    return {"project": ident.project, "domain": ident.domain, "name": ident.name}


def id_text(ident: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return f"{ident.project}/{ident.domain}/{ident.name}"


def ending_document(ending: Ending) -> dict[str, Any]:
    """The JSON/YAML fields that say how the execution ended (`error` is null on success)."""
    code, message = ending.error() if not ending.succeeded else ("", "")
    return {
        "ok": ending.succeeded,
        "phase": ending.phase,
        "timed_out": ending.timed_out,
        "exit_code": ending.exit_code,
        "error": {"code": code, "message": message} if not ending.succeeded else None,
    }


def report_ending(ending: Ending, ident: identifier_pb2.WorkflowExecutionIdentifier) -> None:
    """For people: the phase on stdout; an unsuccessful end as `error: ...` on stderr."""
    print(f"{id_text(ident)}: {ending.phase}")
    if not ending.succeeded:
        code, message = ending.error()
        print(f"error: execution {id_text(ident)} {ending.phase}: {code}: {message}", file=sys.stderr)
