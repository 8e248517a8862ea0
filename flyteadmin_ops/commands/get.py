"""Look at what a Flyte control plane holds, as flytectl's `get` does.

  flyteadmin-ops get projects
  flyteadmin-ops get launch-plans -p flytesnacks -d development            newest versions of every plan
  flyteadmin-ops get launch-plans ops_demo.nightly -p P -d D               versions of one plan
  flyteadmin-ops get tasks ops_demo.square -p P -d D --version v7 -o yaml  one version, in full
  flyteadmin-ops get executions -p P -d D --filter 'eq(phase,FAILED)' --limit 20
  flyteadmin-ops get execution f3a9c1 -p P -d D                            its nodes and its error

Lists are newest first, at most --limit rows. --filter takes flyteadmin's own syntax (`eq(phase,FAILED)`,
several joined by `+`) and passes it through; one it cannot parse is bad input. -o json|yaml prints
protobuf's JSON mapping of each item, under `items` (or `execution` and `node_executions`).

Exit codes: 0 shown, 1 the server failed, 2 bad input (an unknown project, entity or execution, a bad
filter, bad settings).
"""

from __future__ import annotations

import argparse
import itertools
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flyteadmin_ops.commands import views
from flyteadmin_ops.commands.admin_session import not_found, run_with_client
from flyteadmin_ops.commands.common import add_connection_arguments
from flyteadmin_ops.ops.results import OperationInputError

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient

KINDS = ("projects", "tasks", "workflows", "launch-plans", "executions", "execution")
_SINGULAR = {"tasks": "task", "workflows": "workflow", "launch-plans": "launch plan"}
DEFAULT_LIMIT = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=" | ".join(KINDS))
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="one project, task, workflow or launch plan name (its versions; for executions, those of "
        "that launch plan); for `execution`, the execution name",
    )
    parser.add_argument("-p", "--project", help="project (required except for `projects`)")
    parser.add_argument("-d", "--domain", help="domain (required except for `projects`)")
    parser.add_argument("--version", help="one version of NAME (tasks, workflows, launch-plans)")
    parser.add_argument(
        "--filter", metavar="EXPR", help="flyteadmin filter, e.g. 'eq(phase,FAILED)+gte(duration,60s)'"
    )
    parser.add_argument(
        "--limit", type=_positive, default=DEFAULT_LIMIT, metavar="N", help="at most N rows (default 100)"
    )
    views.add_format_argument(parser)
    add_connection_arguments(parser)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    return run_with_client(args, lambda client: show(client, args))


def show(client: SynchronousFlyteClient, args: argparse.Namespace) -> int:
    _check_arguments(args)
    if args.kind == "execution":
        return _show_execution(client, args)
    items = _single_version(client, args) if args.version else _listing(client, args)
    if args.output == "table":
        row = views.project_row if args.kind == "projects" else _row_function(args.kind)
        print(views.render_rows([row(item) for item in items], f"no {args.kind} found"))
    else:
        document = {
            "ok": True,
            "kind": args.kind,
            "items": [views.message_document(item) for item in items],
        }
        views.print_document(document, args.output)
    return 0


def _row_function(kind: str) -> Callable[[Any], dict[str, str]]:
    return views.execution_row if kind == "executions" else views.entity_row


def _check_arguments(args: argparse.Namespace) -> None:
    if args.kind != "projects" and not (args.project and args.domain):
        raise OperationInputError(f"get {args.kind}: -p/--project and -d/--domain are required")
    if args.kind == "execution" and not args.name:
        raise OperationInputError("get execution: give the execution NAME")
    if args.version and (args.kind not in _SINGULAR or not args.name):
        raise OperationInputError("--version: only with NAME, for tasks, workflows or launch-plans")
    if args.filter is not None:
        check_filter(args.filter)


# flyteadmin's own parse of one expression (pkg/common/filters.go): function(field,value)
_EXPRESSION = re.compile(r"^(?P<function>[a-z_]+)\((?P<field>[^,()]+),\s?(?P<value>.+)\)$")


def check_filter(text: str) -> None:
    """Refuse, before any call, a filter flyteadmin would not parse, naming the expression at fault."""
    from flyteadmin_ops.client.filters import FUNCTIONS

    if not text.strip():
        raise OperationInputError("--filter: empty; e.g. 'eq(phase,FAILED)'")
    for expression in text.split("+"):
        match = _EXPRESSION.match(expression.strip())
        if match is None:
            raise OperationInputError(
                f"--filter {text!r}: {expression!r} is not function(field,value), e.g. eq(phase,FAILED)"
            )
        if match["function"] not in FUNCTIONS:
            raise OperationInputError(
                f"--filter {text!r}: unknown function {match['function']!r}; "
                f"flyteadmin knows {', '.join(sorted(FUNCTIONS))}"
            )


def _newest_first() -> Any:
    from flyteadmin_ops.client import sort_by

    return sort_by("created_at", ascending=False)


def _listing(client: SynchronousFlyteClient, args: argparse.Namespace) -> list[Any]:
    """At most --limit items, newest first; a filter the server refuses is reported as bad input."""
    from flyteadmin_ops.client import named_entity_id
    from flyteadmin_ops.errors import FlyteInvalidInputException

    page_size = min(args.limit, DEFAULT_LIMIT)
    common: dict[str, Any] = {"filters": args.filter, "page_size": page_size}
    items: Iterable[Any]
    if args.kind == "projects" and args.name:
        with not_found(f"project {args.name}"):
            return [client.get_project(args.name)]
    if args.kind == "projects":
        items = client.iter_projects(**common)
    elif args.kind == "executions":
        if args.name:  # NAME is a launch plan: its executions, selected by the server
            common["filters"] = _joined(args.filter, f"eq(launch_plan.name,{args.name})")
        items = client.iter_executions(args.project, args.domain, sort_by=_newest_first(), **common)
    else:
        lister = {
            "tasks": client.iter_tasks,
            "workflows": client.iter_workflows,
            "launch-plans": client.iter_launch_plans,
        }[args.kind]
        named = named_entity_id(args.project, args.domain, args.name or "")
        items = lister(named, sort_by=_newest_first(), **common)
    where = f"{args.kind} in {args.project}/{args.domain}" if args.project else args.kind
    with not_found(where):  # the server's INVALID_ARGUMENT is the filter's fault when there is one
        try:
            return list(itertools.islice(items, args.limit))
        except FlyteInvalidInputException as exc:
            if args.filter is None:
                raise
            raise OperationInputError(
                f"--filter {args.filter!r}: refused by the server: {exc.server_message}"
            ) from None


def _joined(first: str | None, second: str) -> str:
    return f"{first}+{second}" if first else second


def _single_version(client: SynchronousFlyteClient, args: argparse.Namespace) -> list[Any]:
    from flyteadmin_ops.client import launch_plan_id, task_id, workflow_id

    make_id = {"tasks": task_id, "workflows": workflow_id, "launch-plans": launch_plan_id}[args.kind]
    getter = {
        "tasks": client.get_task,
        "workflows": client.get_workflow,
        "launch-plans": client.get_launch_plan,
    }[args.kind]
    what = f"{_SINGULAR[args.kind]} {args.project}/{args.domain}/{args.name} version {args.version}"
    with not_found(what):
        return [getter(make_id(args.project, args.domain, args.name, args.version))]


def _show_execution(client: SynchronousFlyteClient, args: argparse.Namespace) -> int:
    from flyteadmin_ops.client import execution_id

    ident = execution_id(args.project, args.domain, args.name)
    with not_found(f"execution {args.project}/{args.domain}/{args.name}"):
        execution = client.get_execution(ident)
    nodes = list(client.iter_node_executions(ident))
    if args.output != "table":
        document = {
            "ok": True,
            "kind": "execution",
            "execution": views.message_document(execution),
            "node_executions": [views.message_document(node) for node in nodes],
        }
        views.print_document(document, args.output)
        return 0
    print(views.render_rows([views.execution_row(execution)], ""))
    error = execution.closure.error
    if error.message:
        print(f"\nerror: {error.code}: {error.message}")
    print()
    print(views.render_rows([views.node_row(node) for node in nodes], "no node executions"))
    return 0
