"""How `get`, `launch`, `wait` and `terminate` show what they read: tables for people, documents for scripts.

A table keeps the columns an operator scans (name, version, created, state or phase, duration). A JSON or
YAML document is protobuf's own JSON mapping (`MessageToDict`, camelCase keys, enums by name, as flytectl's
`-o json` prints), wrapped in an envelope whose keys are always present (`ok`, `kind`, `items`), so a
script reads every command the same way.

YAML, protobuf and the flyteidl modules are imported by the functions that use them, so that declaring
the `--output` option (every one of these commands' `--help`) costs nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from flyteidl.admin import project_pb2
    from google.protobuf.duration_pb2 import Duration
    from google.protobuf.message import Message
    from google.protobuf.timestamp_pb2 import Timestamp

FORMATS = ("table", "json", "yaml")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default="table",
        help="table for people (default); json or yaml for scripts (protobuf's JSON mapping)",
    )


# ------------------------------------------------------------------------------------------------ values


def message_document(message: Message) -> dict[str, Any]:
    """A protobuf as protobuf's JSON mapping (stable across versions of this tool)."""
    from google.protobuf import json_format

    return json_format.MessageToDict(message)


def plain(value: Any) -> Any:
    """A Python value (e.g. an execution output) as JSON/YAML can hold it: datetimes in ISO-8601 UTC,
    durations as seconds with an `s`, protobufs in their JSON mapping, containers recursively."""
    from google.protobuf.message import Message

    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, Message):
        return message_document(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def timestamp_text(stamp: Timestamp) -> str:
    """A timestamp as `2026-01-31T08:00:00Z`; empty when unset."""
    if not stamp.seconds and not stamp.nanos:
        return ""
    moment = datetime.datetime.fromtimestamp(stamp.seconds, tz=datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def duration_text(duration: Duration) -> str:
    """A duration as `1h2m3.5s` style text; empty when zero (not started, or still running)."""
    seconds = duration.seconds + duration.nanos / 1e9
    if seconds <= 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if minutes or hours:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return text


def workflow_phase(phase: int) -> str:
    from flyteidl.core import execution_pb2 as core_execution_pb2

    return str(core_execution_pb2.WorkflowExecution.Phase.Name(phase))


def node_phase(phase: int) -> str:
    from flyteidl.core import execution_pb2 as core_execution_pb2

    return str(core_execution_pb2.NodeExecution.Phase.Name(phase))


# ------------------------------------------------------------------------------------------------- rows


def project_row(project: project_pb2.Project) -> dict[str, str]:
    from flyteidl.admin import project_pb2

    state = project_pb2.Project.ProjectState.Name(project.state)
    return {"ID": project.id, "NAME": project.name, "STATE": state, "DESCRIPTION": project.description}


def entity_row(entity: Any) -> dict[str, str]:
    """A task, workflow or launch plan version."""
    from flyteidl.admin import launch_plan_pb2

    row = {"NAME": entity.id.name, "VERSION": entity.id.version}
    if isinstance(entity, launch_plan_pb2.LaunchPlan):
        row["STATE"] = launch_plan_pb2.LaunchPlanState.Name(entity.closure.state)
    row["CREATED"] = timestamp_text(entity.closure.created_at)
    return row


def execution_row(execution: Any) -> dict[str, str]:
    closure, launch_plan = execution.closure, execution.spec.launch_plan
    return {
        "NAME": execution.id.name,
        "LAUNCH PLAN": f"{launch_plan.name}:{launch_plan.version}" if launch_plan.name else "",
        "PHASE": workflow_phase(closure.phase),
        "STARTED": timestamp_text(closure.started_at),
        "DURATION": duration_text(closure.duration),
    }


def node_row(node: Any) -> dict[str, str]:
    closure = node.closure
    error = f"{closure.error.code}: {closure.error.message}" if closure.error.message else ""
    return {
        "NODE": node.id.node_id,
        "PHASE": node_phase(closure.phase),
        "DURATION": duration_text(closure.duration),
        "ERROR": one_line(error),
    }


def one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def render_rows(rows: Sequence[Mapping[str, str]], empty: str) -> str:
    """Left-aligned columns under upper-case headers, or `empty` when there are no rows."""
    if not rows:
        return empty
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(row.get(h, "")) for row in rows)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    lines += ["  ".join(row.get(h, "").ljust(widths[h]) for h in headers).rstrip() for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- printing


def print_document(document: Mapping[str, Any], output: str, stream: TextIO | None = None) -> None:
    """A document as JSON (indented, keys in the order built) or YAML, on stdout."""
    out = stream or sys.stdout
    if output == "yaml":
        import yaml

        out.write(yaml.safe_dump(plain(document), sort_keys=False, allow_unicode=True))
    else:
        print(json.dumps(plain(document), indent=2, ensure_ascii=False), file=out)
