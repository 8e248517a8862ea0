"""hydrate fills every identifier and every registration placeholder of a real pyflyte package."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import task_pb2
from flyteidl.core import identifier_pb2
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    Package,
    hydrate,
    load_package,
)
from flyteadmin_ops.ops.results import OperationInputError

IDENTIFIER_FIELDS = {"resourceType", "project", "domain", "name", "version", "org"}
REGISTRATION_PLACEHOLDER = re.compile(r"\{\{\s*(registration\.|\.remote_package_path|\.dest_dir)")
SOURCE_URL = "s3://bucket/ops/fastabc.tar.gz"


def strings(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON-like tree, with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def identifiers(value: object) -> Iterator[dict[str, str]]:
    """Every Identifier in a JSON-like tree: an object with a resourceType and only identifier fields."""
    if isinstance(value, dict):
        if "resourceType" in value and set(value) <= IDENTIFIER_FIELDS:
            yield value
        for item in value.values():
            yield from identifiers(item)
    elif isinstance(value, list):
        for item in value:
            yield from identifiers(item)


def as_json(message: Message) -> dict[str, object]:
    # An independent view of the whole tree (map values and Struct contents included), not ops.protowalk.
    return json_format.MessageToDict(message)


@pytest.fixture(scope="module")
def package(pyflyte_package: Path) -> Package:
    return load_package(pyflyte_package)


@pytest.fixture(scope="module")
def hydrated(package: Package) -> Package:
    return hydrate(package, "flytesnacks", "development", "v42", source_url=SOURCE_URL, dest_dir="/work")


def test_every_identifier_is_filled(package: Package, hydrated: Package) -> None:
    empty = [
        i for e in package for i in identifiers(as_json(e.request)) if not {"project", "version"} & set(i)
    ]
    count = 0
    for entity in hydrated:
        for ident in identifiers(as_json(entity.request)):
            count += 1
            assert (ident.get("project"), ident.get("domain"), ident.get("version")) == (
                "flytesnacks",
                "development",
                "v42",
            ), entity.source
            assert ident["name"] and ident["resourceType"] in ("TASK", "WORKFLOW", "LAUNCH_PLAN")
    # own ids, request ids, node refs, branch cases, array and failure nodes, subworkflows: all were empty
    assert count == len(empty) > 40


def test_no_registration_placeholder_is_left_anywhere(package: Package, hydrated: Package) -> None:
    before = [
        p for e in package for p, v in strings(as_json(e.request)) if REGISTRATION_PLACEHOLDER.search(v)
    ]
    assert len(before) >= 7  # every task's args carried {{ .remote_package_path }}
    for entity in hydrated:
        for path, value in strings(as_json(entity.request)):
            assert not REGISTRATION_PLACEHOLDER.search(value), f"{entity.source}: {path} = {value}"


def test_task_args_get_the_source_url_and_keep_runtime_templates(hydrated: Package) -> None:
    args = list(hydrated.find(TASK, "ops_demo.tasks.square").request.spec.template.container.args)
    assert args[args.index("--additional-distribution") + 1] == SOURCE_URL
    assert "{{.input}}" in args and "{{.outputPrefix}}" in args  # filled by the engine at run time, not here


def test_nested_references_in_each_place(hydrated: Package) -> None:
    def filled(ident: identifier_pb2.Identifier) -> bool:
        return (ident.project, ident.domain, ident.version) == ("flytesnacks", "development", "v42")

    main = hydrated.find(WORKFLOW, "ops_demo.workflows.main_wf").request.spec
    nodes = {n.metadata.name: n for n in main.template.nodes}
    assert filled(nodes["sub_wf"].workflow_node.sub_workflow_ref)
    assert filled(nodes["greet_wf"].workflow_node.launchplan_ref)
    branch = nodes["size"].branch_node.if_else
    assert filled(branch.case.then_node.task_node.reference_id)
    assert filled(branch.else_node.task_node.reference_id)
    assert filled(main.sub_workflows[0].id) and filled(main.sub_workflows[0].nodes[0].task_node.reference_id)
    fanout = hydrated.find(WORKFLOW, "ops_demo.workflows.fanout_wf").request.spec.template
    assert filled(fanout.nodes[0].array_node.node.task_node.reference_id)
    flaky = hydrated.find(WORKFLOW, "ops_demo.workflows.flaky_wf").request.spec.template
    assert filled(flaky.failure_node.task_node.reference_id)
    nightly = hydrated.find(LAUNCH_PLAN, "ops_demo.nightly").request
    assert filled(nightly.id) and filled(nightly.spec.workflow_id)


def test_hydrate_is_pure(package: Package, hydrated: Package) -> None:
    assert all(e.id.project == "" for e in package)
    assert all(e.id.project == "flytesnacks" for e in hydrated)
    assert hydrated.fast_archive == package.fast_archive
    assert [e.source for e in hydrated] == [e.source for e in package]


def test_without_source_url_the_package_path_placeholder_stays(package: Package) -> None:
    dry = hydrate(package, "p", "d", "v1")
    args = dry.find(TASK, "ops_demo.tasks.add").request.spec.template.container.args
    assert "{{ .remote_package_path }}" in args


def _task_with_placeholders(package: Package) -> task_pb2.TaskSpec:
    spec = task_pb2.TaskSpec()
    spec.CopyFrom(package.find(TASK, "ops_demo.tasks.greet").request.spec)
    spec.template.id.project = "{{ registration.project }}"
    spec.template.id.version = "{{registration.version}}"
    spec.template.container.args[:] = [
        "run",
        "--dir",
        "{{ .dest_dir }}",
        "--pkg",
        "{{ .remote_package_path }}",
    ]
    return spec


def test_registration_placeholders_and_dest_dir(package: Package) -> None:
    out = hydrate(load_package([_task_with_placeholders(package)]), "p", "d", "v9", source_url="gs://b/x.tgz")
    (task,) = out
    assert (task.id.project, task.id.domain, task.id.version) == ("p", "d", "v9")
    template = task.request.spec.template
    assert (template.id.project, template.id.version) == ("p", "v9")
    assert list(template.container.args) == ["run", "--dir", ".", "--pkg", "gs://b/x.tgz"]


def _one_by_one(args: list[str], source_url: str, dest_dir: str) -> list[str]:
    """The substitution arg by arg, written out independently of `hydrate`."""
    remote = re.compile(r"\{\{\s*\.remote_package_path\s*\}\}")
    dest = re.compile(r"\{\{\s*\.dest_dir\s*\}\}")
    return [dest.sub(lambda _: dest_dir, remote.sub(lambda _: source_url, arg)) for arg in args]


@pytest.mark.parametrize(
    ("args", "source_url", "dest_dir"),
    [
        (
            ["a", "{{ .dest_dir }}", "", "b{{.remote_package_path}}c", "{{ .remote_package_path }}"],
            "s3://x",
            "/w",
        ),
        (["{{", " .dest_dir }}", "{{ .dest_", "dir }}"], "s3://x", "/w"),  # no placeholder spans two args
        (["x\x00{{ .dest_dir }}", "{{ .remote_package_path }}\x00y"], "s3://x", "/w"),  # a NUL in an arg
        (["{{ .remote_package_path }}", "{{ .dest_dir }}"], "s3://\x00x", "/w\x00"),  # a NUL in a value
        (["{{ .remote_package_path }}"], "s3://{{ .dest_dir }}/{{ .remote_package_path }}", "."),
        (["{{.dest_dir}}", "{{ .dest_dir }}"], "s3://x", "{{ .remote_package_path }}\\1"),
    ],
)
def test_container_args_are_rewritten_as_arg_by_arg(
    package: Package, args: list[str], source_url: str, dest_dir: str
) -> None:
    spec = _task_with_placeholders(package)
    spec.template.container.args[:] = args
    (task,) = hydrate(load_package([spec]), "p", "d", "v", source_url=source_url, dest_dir=dest_dir)
    assert list(task.request.spec.template.container.args) == _one_by_one(args, source_url, dest_dir)


def test_k8s_pod_args_are_substituted(package: Package) -> None:
    spec = _task_with_placeholders(package)
    spec.template.ClearField("container")
    spec.template.k8s_pod.pod_spec.update(
        {
            "containers": [
                {
                    "name": "primary",
                    "args": ["--pkg", "{{ .remote_package_path }}", "--to", "{{ .dest_dir }}"],
                },
            ],
            "initContainers": [{"name": "init", "args": ["{{ .dest_dir }}/setup"]}],
            "serviceAccountName": "{{ .dest_dir }}",  # not an arg: left alone, as flytectl does
        }
    )
    (task,) = hydrate(load_package([spec]), "p", "d", "v1", source_url="s3://x", dest_dir="/root")
    pod = task.request.spec.template.k8s_pod.pod_spec
    assert list(pod["containers"][0]["args"]) == ["--pkg", "s3://x", "--to", "/root"]
    assert list(pod["initContainers"][0]["args"]) == ["/root/setup"]
    assert pod["serviceAccountName"] == "{{ .dest_dir }}"
    assert isinstance(pod, struct_pb2.Struct)


def test_explicit_identifiers_are_kept(package: Package) -> None:
    lp = package.find(LAUNCH_PLAN, "ops_demo.greet_lp").request
    copy = type(lp)()
    copy.CopyFrom(lp)
    copy.spec.workflow_id.project, copy.spec.workflow_id.version = "shared", "v1"
    external = identifier_pb2.Identifier(
        resource_type=WORKFLOW, project="shared", name="ops_demo.workflows.greet_wf"
    )
    (out,) = hydrate(load_package([copy], external=[external]), "p", "d", "v2")
    wf = out.request.spec.workflow_id
    assert (wf.project, wf.domain, wf.version) == ("shared", "d", "v1")  # only unset fields are filled


@pytest.mark.parametrize(
    ("project", "domain", "version"),
    [("", "d", "v1"), ("p", "", "v1"), ("p", "d", ""), ("p", "d", "{{ registration.version }}")],
)
def test_bad_target_is_an_input_error(package: Package, project: str, domain: str, version: str) -> None:
    with pytest.raises(OperationInputError, match=r"hydrate: (project|domain|version) must be a real value"):
        hydrate(package, project, domain, version)


def test_pod_templates_in_task_node_overrides_are_substituted(package: Package) -> None:
    request = type(package.find(WORKFLOW, "ops_demo.workflows.sub_wf").request)()
    request.CopyFrom(package.find(WORKFLOW, "ops_demo.workflows.sub_wf").request)
    overrides = request.spec.template.nodes[0].task_node.overrides
    overrides.pod_template.pod_spec.update({"containers": [{"args": ["{{.remote_package_path}}", "x"]}]})
    tasks = [e.request for e in package.of_type(TASK)]
    out = hydrate(load_package([*tasks, request]), "p", "d", "v1", source_url="s3://pkg")
    node = out.find(WORKFLOW, "ops_demo.workflows.sub_wf").request.spec.template.nodes[0]
    assert list(node.task_node.overrides.pod_template.pod_spec["containers"][0]["args"]) == ["s3://pkg", "x"]
