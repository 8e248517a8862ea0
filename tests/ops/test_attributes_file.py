"""The declared attributes file: every attribute type parses into the server's protobuf, and every mistake is
reported with file, line and key, all at once, before anything could be written."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.admin import matchable_resource_pb2 as mr

from flyteadmin_ops.ops.attribute_file import (
    ATTRIBUTE_TYPES,
    AttributeFileError,
    Scope,
    load_attribute_file,
    parse_attributes,
)
from flyteadmin_ops.ops.results import OperationInputError

REPO = Path(__file__).resolve().parents[2]

EVERY_TYPE = """\
- project: p
  domain: development
  type: task-resource
  defaults: {cpu: "1", memory: 150Mi, gpu: "0", storage: 1Gi, ephemeral_storage: 2Gi}
  limits: {cpu: "2", memory: 1Gi}
- project: p
  type: cluster-resource
  attributes: {projectQuotaCpu: "8"}
- project: p
  domain: development
  type: execution-queue-attribute
  tags: [a, b]
- project: p
  domain: development
  workflow: wf.one
  type: execution-cluster-label
  value: blue
- project: p
  domain: development
  type: plugin-override
  overrides:
    - {task_type: spark, plugin_id: [k8s-spark], missing_plugin_behavior: 1}
    - {task_type: ray, plugin_id: [ray], missing_plugin_behavior: FAIL}
---
project: p
Domain: staging
type: workflow-execution-config
max_parallelism: 5
security_context: {run_as: {k8s_service_account: sa, iam_role: arn:role}}
raw_output_data_config: {output_location_prefix: s3://b/raw}
labels: {values: {team: ml}}
annotations: {values: {owner: me}}
interruptible: false
overwrite_cache: true
envs: {values: [{key: A, value: "1"}]}
execution_env_assignments:
  - node_ids: [n0]
    execution_env: {name: env, type: ray, extant: {cluster: c1, replicas: 2}}
---
- project: p
  type: cluster-assignment
  cluster_pool_name: pool-a
"""


def test_every_attribute_type_parses_into_its_proto() -> None:
    entries = parse_attributes(EVERY_TYPE, "all.yaml")

    assert {e.type.name for e in entries} == set(ATTRIBUTE_TYPES)
    by_type = {e.type.name: e for e in entries}
    task = by_type["task-resource"].attributes.task_resource_attributes
    assert (task.defaults.cpu, task.defaults.ephemeral_storage, task.limits.memory) == ("1", "2Gi", "1Gi")
    overrides = by_type["plugin-override"].attributes.plugin_overrides.overrides
    assert [(o.task_type, o.missing_plugin_behavior) for o in overrides] == [
        ("spark", mr.PluginOverride.USE_DEFAULT),
        ("ray", mr.PluginOverride.FAIL),
    ]
    config = by_type["workflow-execution-config"]
    assert config.scope == Scope("p", "staging")  # `Domain:` matched case-insensitively, like flytectl
    wec = config.attributes.workflow_execution_config
    assert wec.max_parallelism == 5 and wec.HasField("interruptible") and not wec.interruptible.value
    assert wec.security_context.run_as.k8s_service_account == "sa"
    assert dict(wec.labels.values) == {"team": "ml"} and wec.envs.values[0].value == "1"
    assert wec.execution_env_assignments[0].execution_env.extant["replicas"] == 2
    assert by_type["execution-cluster-label"].scope.level == "workflow"
    assert by_type["cluster-assignment"].scope.level == "project"
    assert by_type["cluster-assignment"].attributes.WhichOneof("target") == "cluster_assignment"
    assert by_type["task-resource"].location.line == 1
    assert by_type["cluster-assignment"].location.line == 40


BAD = """\
- project: p
  domain: development
  type: task-resource
  defaults: {cpu: 1, memry: 150Mi}
- project: p
  type: workflow-execution-config
  max_parallelism: "5"
  labels: {values: [a]}
  colour: blue
- project: p
  type: plugin-override
  overrides: [{task_type: x, missing_plugin_behavior: 7}]
- domain: development
  type: execution-queue
- project: p
  type: quality-of-service
- project: p
  domain: development
  type: task-resource
"""


def test_bad_file_lists_every_problem_with_file_line_and_key() -> None:
    with pytest.raises(AttributeFileError) as caught:
        parse_attributes(BAD, "conf/bad.yaml")

    found = {(p.location.line, p.key) for p in caught.value.problems}
    assert found == {
        (4, "defaults.cpu"),  # a number where the proto wants a string
        (4, "defaults.memry"),  # unknown key inside a message
        (7, "max_parallelism"),  # a string where the proto wants an integer
        (8, "labels.values"),  # a list where a map belongs
        (9, "colour"),  # unknown top-level key
        (11, "type"),  # plugin-override at project scope cannot be stored by flyteadmin
        (12, "overrides[0].missing_plugin_behavior"),  # not an enum value
        (13, "project"),  # missing project
        (16, "type"),  # quality-of-service is rejected by the server
        (19, "type"),  # the same (scope, type) twice
    }
    text = str(caught.value)
    assert "conf/bad.yaml:4: defaults.cpu: expected a string, got an integer '1' (quote it" in text
    assert "conf/bad.yaml:4: defaults.memry: unknown key; expected one of: cpu, gpu, memory" in text
    assert "task-resource for p/development is already declared on line 3" in text
    assert isinstance(caught.value, OperationInputError)  # the CLI maps it to exit code 2


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        ("- project: p\n  type: nonsense\n", 2, "type", "unknown type 'nonsense'"),
        ("- project: p\n  domain: d\n", 1, "type", "missing"),
        ("- project: p\n  workflow: w\n  type: execution-queue\n", 1, "workflow", "also needs a domain"),
        ("- project: p\n  project: q\n  type: execution-queue\n", 2, "project", "given twice"),
        ("- project: [p]\n  type: execution-queue\n", 1, "project", "expected a string, got a list"),
        ("- project: p\n  type: execution-queue\n  tags: a\n", 3, "tags", "expected a list"),
        ("- project: p\n  type: execution-queue\n  tags: [a\n", 4, "", "not valid YAML"),
        ("project: p\n- x\n", 2, "", "not valid YAML"),
        ("just text\n", 1, "", "expected a list of entries"),
        (
            "- project: p\n  type: workflow-execution-config\n  max_parallelism: 99999999999\n",
            3,
            "max_parallelism",
            "expected an integer from -2147483648 to 2147483647",
        ),
    ],
)
def test_single_mistakes(text: str, line: int, key: str, message: str) -> None:
    with pytest.raises(AttributeFileError) as caught:
        parse_attributes(text, "f.yaml")
    problem = caught.value.problems[0]
    assert (problem.location.line, problem.key) == (line, key), caught.value
    assert message in problem.message


def test_null_value_means_unset_and_empty_file_is_empty() -> None:
    (entry,) = parse_attributes("- project: p\n  type: execution-queue\n  tags:\n")
    assert entry.attributes.HasField("execution_queue_attributes")
    assert list(entry.attributes.execution_queue_attributes.tags) == []
    assert parse_attributes("# nothing declared\n") == []


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(AttributeFileError, match=r"nope\.yaml: cannot read the file: No such file"):
        load_attribute_file(tmp_path / "nope.yaml")


def test_binary_file_is_a_named_problem_not_a_decode_crash(tmp_path: Path) -> None:
    binary = tmp_path / "attributes.yaml"
    binary.write_bytes(b"\x00\xff\xfe")
    with pytest.raises(AttributeFileError, match=r"attributes\.yaml: not UTF-8 text \(byte 1\)"):
        load_attribute_file(binary)


def test_shipped_config_file_is_valid() -> None:
    entries = load_attribute_file(REPO / "config" / "attributes.yaml")
    assert {e.scope.level for e in entries} == {"project", "project-domain", "workflow"}
    assert len({e.type.name for e in entries}) == len(ATTRIBUTE_TYPES)
