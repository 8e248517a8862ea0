"""sync-attributes against the emulator: plan, apply, a second apply that changes nothing, prune (with
flyteadmin's cascading deletes), the Get fallback to broader scopes, bad files and the CLI's exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from flyteidl.admin import matchable_resource_pb2 as mr

from flyteadmin_ops.cli import main
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.attribute_file import ATTRIBUTE_TYPES, AttributeFileError, load_attribute_file
from flyteadmin_ops.ops.attributes import plan_from_file, sync_attributes
from flyteadmin_ops.ops.results import Status
from flyteadmin_ops.settings import AdminSettings
from tests.ops.admin_proxy import AdminProxy

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "attributes.yaml"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0, projects=("flytesnacks", "other")) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[SynchronousFlyteClient]:
    with SynchronousFlyteClient(AdminSettings.isolated(endpoint=emulator.endpoint, insecure=True)) as client:
        yield client


def stored(
    client: SynchronousFlyteClient, project: str = "flytesnacks"
) -> dict[tuple[str, str, str], mr.MatchingAttributes]:
    """Every row of every type for the project, keyed (type, domain, workflow): the server's truth."""
    rows = {}
    for attribute_type in ATTRIBUTE_TYPES.values():
        for config in client.list_matchable_attributes(attribute_type.resource).configurations:
            if config.project == project:
                rows[(attribute_type.name, config.domain, config.workflow)] = config.attributes
    return rows


def declared(path: Path) -> dict[tuple[str, str, str], mr.MatchingAttributes]:
    return {(e.type.name, e.scope.domain, e.scope.workflow): e.attributes for e in load_attribute_file(path)}


def write(tmp_path: Path, text: str, name: str = "attributes.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def task_resource(cpu: str) -> mr.MatchingAttributes:
    return mr.MatchingAttributes(
        task_resource_attributes=mr.TaskResourceAttributes(defaults=mr.TaskResourceSpec(cpu=cpu))
    )


def test_shipped_file_plan_apply_and_second_apply(client: SynchronousFlyteClient) -> None:
    dry = sync_attributes(client, SHIPPED, dry_run=True)
    assert len(dry.with_status(Status.PLANNED)) == 9 and stored(client) == {}

    applied = sync_attributes(client, SHIPPED)
    assert len(applied.with_status(Status.CREATED)) == 9 and applied.ok
    assert stored(client) == declared(SHIPPED)  # every type, at project, project-domain and workflow scope

    again = sync_attributes(client, SHIPPED, prune=True)
    assert {o.status for o in again.outcomes} == {Status.UNCHANGED}
    _, plan = plan_from_file(client, SHIPPED, prune=True)
    assert not plan.drift


def test_only_changed_entries_are_written(client: SynchronousFlyteClient, tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "- {project: flytesnacks, domain: development, type: task-resource, defaults: {cpu: '1'}}\n"
        "- {project: flytesnacks, domain: development, type: execution-queue, tags: [a]}\n",
    )
    sync_attributes(client, first)
    second = write(
        tmp_path,
        "- {project: flytesnacks, domain: development, type: task-resource, defaults: {cpu: '2'}}\n"
        "- {project: flytesnacks, domain: development, type: execution-queue, tags: [a]}\n",
    )

    result = sync_attributes(client, second)

    assert [(o.kind, o.status, o.detail) for o in result.outcomes] == [
        ("task-resource", Status.UPDATED, 'update: defaults.cpu: "1" -> "2"'),
        ("execution-queue", Status.UNCHANGED, "in sync"),
    ]


def test_narrow_entry_is_not_satisfied_by_a_broader_row(
    client: SynchronousFlyteClient, tmp_path: Path
) -> None:
    # The server's Get falls back: with only a project-level row, GetProjectDomainAttributes answers with it.
    client.update_project_attributes("flytesnacks", task_resource("1"))
    fallback = client.get_project_domain_attributes("flytesnacks", "development", mr.TASK_RESOURCE)
    assert (fallback.attributes.domain, fallback.attributes.matching_attributes) == ("", task_resource("1"))
    path = write(
        tmp_path, "- {project: flytesnacks, domain: development, type: task-resource, defaults: {cpu: '1'}}\n"
    )

    result = sync_attributes(client, path)

    assert [(o.name, o.status) for o in result.outcomes] == [("flytesnacks/development", Status.CREATED)]
    assert stored(client) == {
        ("task-resource", "", ""): task_resource("1"),
        ("task-resource", "development", ""): task_resource("1"),
    }


def test_partial_project_level_workflow_execution_config_converges(
    client: SynchronousFlyteClient, tmp_path: Path
) -> None:
    # GetProjectAttributes merges WORKFLOW_EXECUTION_CONFIG with platform defaults; the stored row counts.
    path = write(
        tmp_path, "- {project: flytesnacks, type: workflow-execution-config, labels: {values: {a: b}}}\n"
    )
    assert sync_attributes(client, path).with_status(Status.CREATED)
    assert {o.status for o in sync_attributes(client, path).outcomes} == {Status.UNCHANGED}


def test_prune_deletes_unlisted_rows_and_restores_what_a_broad_delete_takes(
    client: SynchronousFlyteClient, tmp_path: Path
) -> None:
    client.update_project_attributes("flytesnacks", task_resource("9"))  # stale, not in the file
    client.update_project_domain_attributes(
        "flytesnacks",
        "staging",
        mr.MatchingAttributes(execution_cluster_label=mr.ExecutionClusterLabel(value="old")),
    )
    client.update_project_domain_attributes("other", "staging", task_resource("7"))  # another project
    path = write(
        tmp_path,
        "- {project: flytesnacks, domain: development, type: task-resource, defaults: {cpu: '1'}}\n"
        "- {project: flytesnacks, domain: development, workflow: wf, type: task-resource,"
        " defaults: {cpu: '3'}}\n",
    )
    sync_attributes(client, path)
    without_prune = stored(client)
    assert ("task-resource", "", "") in without_prune  # nothing deleted without --prune

    dry = sync_attributes(client, path, prune=True, dry_run=True)
    assert stored(client) == without_prune  # a dry run writes nothing
    pruned = sync_attributes(client, path, prune=True)

    assert [(o.kind, o.name, o.status) for o in pruned.outcomes] == [
        ("execution-cluster-label", "flytesnacks/staging", Status.DELETED),
        ("task-resource", "flytesnacks", Status.DELETED),
        ("task-resource", "flytesnacks/development", Status.UPDATED),  # restored: the project delete took it
        ("task-resource", "flytesnacks/development/wf", Status.UPDATED),
    ]
    assert [o.status for o in dry.outcomes] == [Status.PLANNED] * 4
    assert stored(client) == declared(path)
    assert stored(client, "other") == {("task-resource", "staging", ""): task_resource("7")}
    assert {o.status for o in sync_attributes(client, path, prune=True).outcomes} == {Status.UNCHANGED}


def test_plugin_override_removing_a_task_type_converges(
    client: SynchronousFlyteClient, tmp_path: Path
) -> None:
    # The server merges plugin overrides by task_type: dropping one needs a delete before the write.
    both = "[{task_type: spark, plugin_id: [s]}, {task_type: ray, plugin_id: [r]}]"
    sync_attributes(
        client,
        write(
            tmp_path,
            f"- {{project: flytesnacks, domain: production, type: plugin-override, overrides: {both}}}\n",
        ),
    )
    path = write(
        tmp_path,
        "- {project: flytesnacks, domain: production, type: plugin-override,"
        " overrides: [{task_type: spark, plugin_id: [s]}]}\n",
    )

    result = sync_attributes(client, path)

    assert [o.status for o in result.outcomes] == [Status.DELETED, Status.UPDATED]
    assert stored(client) == declared(path)
    assert {o.status for o in sync_attributes(client, path).outcomes} == {Status.UNCHANGED}


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (
            "- project: flytesnacks\n  domain: development\n  type: execution-queue\n  tags: [a]\n"
            "- project: nosuch\n  type: execution-queue\n",
            5,
            "project",
            "unknown project 'nosuch'",
        ),
        (
            "- project: flytesnacks\n  domain: qa\n  type: execution-queue\n",
            2,
            "domain",
            "unknown domain 'qa'",
        ),
    ],
)
def test_unknown_project_or_domain_fails_before_any_write(
    client: SynchronousFlyteClient, tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AttributeFileError) as caught:
        sync_attributes(client, path)
    (problem,) = caught.value.problems
    assert (problem.location.file, problem.location.line, problem.key) == (str(path), line, key)
    assert message in problem.message
    assert stored(client) == {}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_cli_dry_run_exit_codes_and_bad_file(emulator: Emulator, tmp_path: Path) -> None:
    connection = ("--endpoint", emulator.endpoint, "--insecure")

    drift = run_cli("sync-attributes", str(SHIPPED), "--dry-run", *connection)
    assert drift[0] == 2 and "planned" in drift[1]
    applied = run_cli("sync-attributes", str(SHIPPED), "-o", "json", *connection)
    assert applied[0] == 0 and json.loads(applied[1])["totals"] == {"created": 9}
    in_sync = run_cli("sync-attributes", str(SHIPPED), "--dry-run", "--prune", *connection)
    assert in_sync[0] == 0 and "ok: unchanged 9" in in_sync[1]

    bad = write(tmp_path, "- project: flytesnacks\n  type: execution-queue\n  tagz: [a]\n")
    code, out, err = run_cli("sync-attributes", str(bad), *connection)
    assert code == 2 and out == ""
    assert f"{bad}:3: tagz: unknown key; expected one of: tags" in err


def test_cli_dry_run_prints_the_whole_diff(emulator: Emulator, tmp_path: Path) -> None:
    connection = ("--endpoint", emulator.endpoint, "--insecure")
    wanted = write(
        tmp_path,
        "- project: flytesnacks\n"
        "  domain: development\n"
        "  type: workflow-execution-config\n"
        "  max_parallelism: 7\n"
        "  raw_output_data_config: {output_location_prefix: s3://a-rather-long-bucket-name/with/a/prefix}\n"
        "  labels: {values: {team: ml-platform, cost-center: research-and-development}}\n"
        "- project: flytesnacks\n"
        "  domain: development\n"
        "  type: plugin-override\n"
        "  overrides: [{task_type: spark, plugin_id: [spark-on-k8s], missing_plugin_behavior: 1}]\n",
    )

    code, out, _ = run_cli("sync-attributes", str(wanted), "--dry-run", *connection)

    assert code == 2
    for line in (
        "max_parallelism: + 7",
        'raw_output_data_config.output_location_prefix: + "s3://a-rather-long-bucket-name/with/a/prefix"',
        'labels.values.cost-center: + "research-and-development"',
        'labels.values.team: + "ml-platform"',
        '"plugin_id": ["spark-on-k8s"], "missing_plugin_behavior": "USE_DEFAULT"}]',  # one long line
    ):
        assert line in out, out


def test_dry_run_and_second_apply_send_no_write_rpc(
    emulator: Emulator, client: SynchronousFlyteClient
) -> None:
    """Not only the end state: a dry run with drift, and a second apply, send no Update or Delete at all."""
    with (
        AdminProxy(emulator.endpoint) as proxy,
        SynchronousFlyteClient(AdminSettings.isolated(endpoint=proxy.endpoint, insecure=True)) as watched,
    ):
        assert sync_attributes(watched, SHIPPED, dry_run=True).with_status(Status.PLANNED)
        assert proxy.writes() == []
        assert sync_attributes(watched, SHIPPED).ok
        assert len(proxy.writes()) == 9
        second = sync_attributes(watched, SHIPPED, prune=True)
        assert {o.status for o in second.outcomes} == {Status.UNCHANGED}
        assert len(proxy.writes()) == 9
