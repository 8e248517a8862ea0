"""Launch an execution of a launch plan with inputs typed as text, optionally waiting for its outputs.

  flyteadmin-ops launch ops_demo.nightly -p flytesnacks -d development --input epochs=3 --input rate=0.1
  flyteadmin-ops launch ops_demo.nightly -p P -d D --inputs-file inputs.yaml --wait --timeout 600 -o json

Without --version the active version is launched (the newest when none is active). Each `--input k=v`
is read by the input's declared type (ints, floats, true/false, strings, JSON for lists, maps and structs,
ISO-8601 datetimes with a zone, durations such as 90s or 5m); --inputs-file is a YAML or JSON mapping
of input name to value, and --input overrides it. Every input is checked against the launch plan before
anything is sent. --name makes the launch exactly-once: launching again with the same name reports the
existing execution. Prints the execution id; with --wait, the final phase and the outputs as Python values.

Exit codes: 0 launched (with --wait: SUCCEEDED), 1 the execution FAILED, ABORTED or TIMED_OUT, the wait
timed out, or the server failed, 2 bad input (an unknown launch plan, a bad input value: nothing launched).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flyteadmin_ops.commands import views
from flyteadmin_ops.commands.admin_session import not_found, run_with_client
from flyteadmin_ops.commands.common import add_connection_arguments, positive_seconds
from flyteadmin_ops.commands.execution_watch import (
    ending_document,
    id_document,
    id_text,
    phase_to_stderr,
    report_ending,
    wait_for_end,
)
from flyteadmin_ops.ops.results import OperationInputError

if TYPE_CHECKING:
    from flyteidl.admin import launch_plan_pb2
    from flyteidl.core import types_pb2

    from flyteadmin_ops.client import SynchronousFlyteClient


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("launch_plan", metavar="LAUNCH_PLAN", help="launch plan name, e.g. ops_demo.nightly")
    parser.add_argument("-p", "--project", required=True, help="project of the launch plan")
    parser.add_argument("-d", "--domain", required=True, help="domain of the launch plan (and the execution)")
    parser.add_argument("--version", help="launch plan version (default: the active one, else the newest)")
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one input, read by its declared type; repeat for more",
    )
    parser.add_argument("--inputs-file", metavar="FILE", help="YAML or JSON mapping of input name to value")
    parser.add_argument("--name", help="execution name (default: generated); relaunching it is a no-op")
    parser.add_argument("--wait", action="store_true", help="wait until it ends and print its outputs")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="with --wait: stop waiting after SECONDS (exit 1)",
    )
    views.add_format_argument(parser)
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_with_client(args, lambda client: launch(client, args))


def launch(client: SynchronousFlyteClient, args: argparse.Namespace) -> int:
    from flyteadmin_ops.client import InputValueError, launch_plan_id
    from flyteadmin_ops.commands.input_text import parse_assignment, read_inputs  # protobuf types

    if args.timeout is not None and (not args.wait or args.timeout <= 0):
        raise OperationInputError("--timeout: a positive number of seconds, and only with --wait")
    texts = dict(parse_assignment(item) for item in args.input)
    file_values = _read_inputs_file(args.inputs_file) if args.inputs_file else {}
    target = launch_plan_id(args.project, args.domain, args.launch_plan, args.version or "")
    version = f" version {args.version}" if args.version else ""
    with not_found(f"launch plan {args.project}/{args.domain}/{args.launch_plan}{version}"):
        plan = client.resolve_launchable(target)
    inputs = read_inputs(texts, file_values, _input_types(plan))
    try:
        launched = client.launch(plan, inputs, name=args.name)
    except InputValueError as exc:
        raise OperationInputError(str(exc)) from None
    if not args.wait:
        _print_launched(args, launched.id, launched.created)
        return 0
    if args.output == "table":
        _print_launched(args, launched.id, launched.created)
    ending = wait_for_end(client, launched.id, args.timeout, on_phase=phase_to_stderr(args.output))
    outputs = _outputs(client, launched.id) if ending.succeeded else {}
    if args.output == "table":
        report_ending(ending, launched.id)
        for name, value in outputs.items():
            print(f"  {name} = {json.dumps(views.plain(value), ensure_ascii=False)}")
    else:
        document = {
            "ok": ending.succeeded,
            "kind": "execution",
            "execution": id_document(launched.id),
            "created": launched.created,
            **ending_document(ending),
            "outputs": outputs,
        }
        views.print_document(document, args.output)
    return ending.exit_code


def _input_types(plan: launch_plan_pb2.LaunchPlan) -> dict[str, types_pb2.LiteralType]:
    """Each input's declared type: the registered plan's expected inputs (which leave out fixed ones)."""
    closure = plan.closure
    parameters = closure.expected_inputs if closure.HasField("expected_inputs") else plan.spec.default_inputs
    return {name: parameter.var.type for name, parameter in parameters.parameters.items()}


def _read_inputs_file(path: str) -> Mapping[str, Any]:
    import yaml

    if not os.path.isfile(path):
        raise OperationInputError(f"--inputs-file {path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, ValueError, yaml.YAMLError, RecursionError) as error:
        # ValueError: not UTF-8, or a tagged value that cannot be built (`!!int 0x`)
        raise OperationInputError(
            f"--inputs-file {path}: not readable YAML or JSON ({_one_line(error)})"
        ) from None
    if document is None:
        return {}
    if not isinstance(document, dict) or not all(isinstance(key, str) for key in document):
        raise OperationInputError(f"--inputs-file {path}: expected a mapping of input name to value")
    return document


def _one_line(error: BaseException) -> str:
    """PyYAML's messages span lines and quote the file back: keep the problem and where it is."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return " ".join(str(error).split()) or type(error).__name__


def _outputs(client: SynchronousFlyteClient, ident: Any) -> dict[str, Any]:
    from flyteadmin_ops.client import values

    data = client.get_execution_data(ident)
    return values.to_python_map(data.full_outputs)


def _print_launched(args: argparse.Namespace, ident: Any, created: bool) -> None:
    if args.output == "table":
        verb = "launched" if created else "already launched"
        print(f"{verb} {id_text(ident)}")
        return
    document = {"ok": True, "kind": "execution", "execution": id_document(ident), "created": created}
    views.print_document(document, args.output)
