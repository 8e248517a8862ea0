"""The attribute planner, on its own: it simulates flyteadmin's cascading deletes and plugin-override merging,
so what it writes makes the server equal to the file and nothing wanted is lost."""

from __future__ import annotations

from flyteidl.admin import matchable_resource_pb2 as mr

from flyteadmin_ops.ops.attribute_file import Scope, parse_attributes
from flyteadmin_ops.ops.attributes import Key, diff_lines, plan_attributes

TASK = mr.TASK_RESOURCE
PLUGIN = mr.PLUGIN_OVERRIDE


def task_resource(cpu: str) -> mr.MatchingAttributes:
    return mr.MatchingAttributes(
        task_resource_attributes=mr.TaskResourceAttributes(defaults=mr.TaskResourceSpec(cpu=cpu))
    )


def plugins(*task_types: str) -> mr.MatchingAttributes:
    return mr.MatchingAttributes(
        plugin_overrides=mr.PluginOverrides(
            overrides=[mr.PluginOverride(task_type=t, plugin_id=[t + "-plugin"]) for t in task_types]
        )
    )


FILE = """\
- {project: p, domain: development, type: task-resource, defaults: {cpu: "1"}}
- {project: p, domain: development, workflow: wf, type: task-resource, defaults: {cpu: "3"}}
"""


def summary(changes: list) -> list[tuple[str, str, int]]:
    return [(c.action, str(c.scope), c.type.resource) for c in changes]


def test_equal_rows_are_unchanged_and_different_ones_updated() -> None:
    entries = parse_attributes(FILE)
    current: dict[Key, mr.MatchingAttributes] = {
        (Scope("p", "development"), TASK): task_resource("1"),
        (Scope("p", "development", "wf"), TASK): task_resource("2"),
    }
    plan = plan_attributes(entries, current)

    assert summary(plan.changes) == [("update", "p/development/wf", TASK)]
    assert [str(e.scope) for e in plan.unchanged] == ["p/development"]
    assert plan.changes[0].describe() == 'update: defaults.cpu: "2" -> "3"'


def test_in_sync_has_no_drift() -> None:
    entries = parse_attributes(FILE)
    current = {(e.scope, e.type.resource): e.attributes for e in entries}
    plan = plan_attributes(entries, current, prune=True)
    assert not plan.drift and len(plan.unchanged) == 2


def test_prune_of_a_broader_row_restores_the_narrower_rows_it_takes_with_it() -> None:
    # flyteadmin's DeleteProjectAttributes deletes every row of the project and type, so the wanted
    # project-domain and workflow rows must be written again after it, even though they are equal now.
    entries = parse_attributes(FILE)
    current = {
        (Scope("p"), TASK): task_resource("9"),
        (Scope("p", "development"), TASK): task_resource("1"),
        (Scope("p", "development", "wf"), TASK): task_resource("3"),
        (Scope("p", "staging", "other"), TASK): task_resource("4"),
    }
    plan = plan_attributes(entries, current, prune=True)

    assert summary(plan.changes) == [
        ("delete", "p/staging/other", TASK),
        ("delete", "p", TASK),
        ("restore", "p/development", TASK),
        ("restore", "p/development/wf", TASK),
    ]
    assert plan.unchanged == []


def test_without_prune_nothing_is_deleted() -> None:
    entries = parse_attributes(FILE)
    current = {
        (Scope("p"), TASK): task_resource("9"),
        (Scope("p", "development"), TASK): task_resource("1"),
    }
    plan = plan_attributes(entries, current)
    assert summary(plan.changes) == [("create", "p/development/wf", TASK)]


def test_plugin_override_losing_a_task_type_is_deleted_first_and_unlisted_workflow_rows_are_kept() -> None:
    # Updates merge plugin overrides by task_type, so dropping `ray` needs a delete; that project-domain
    # delete also removes the workflow-level row, which the file does not list: it is restored as it was.
    entries = parse_attributes(
        "- {project: p, domain: development, type: plugin-override, overrides: [{task_type: spark}]}\n"
    )
    current = {
        (Scope("p", "development"), PLUGIN): plugins("ray", "spark"),
        (Scope("p", "development", "wf"), PLUGIN): plugins("dask"),
    }
    plan = plan_attributes(entries, current)

    assert summary(plan.changes) == [
        ("delete", "p/development", PLUGIN),
        ("update", "p/development", PLUGIN),
        ("restore", "p/development/wf", PLUGIN),
    ]
    assert "removing ray takes a delete first" in plan.changes[0].reason
    assert plan.changes[2].after == plugins("dask")


def test_plugin_override_order_from_the_server_is_not_drift() -> None:
    entries = parse_attributes(
        "- project: p\n  domain: d\n  type: plugin-override\n"
        "  overrides: [{task_type: a, plugin_id: [a-plugin]}, {task_type: b, plugin_id: [b-plugin]}]\n"
    )
    current = {(Scope("p", "d"), PLUGIN): plugins("b", "a")}  # Go map order
    assert not plan_attributes(entries, current).drift


def test_diff_lines_show_added_removed_and_changed_fields() -> None:
    before = mr.MatchingAttributes(
        task_resource_attributes=mr.TaskResourceAttributes(
            defaults=mr.TaskResourceSpec(cpu="1", memory="1Gi"), limits=mr.TaskResourceSpec(cpu="2")
        )
    )
    after = mr.MatchingAttributes(
        task_resource_attributes=mr.TaskResourceAttributes(
            defaults=mr.TaskResourceSpec(cpu="1", gpu="1"), limits=mr.TaskResourceSpec(cpu="4")
        )
    )
    assert diff_lines(before, after) == [
        'defaults.gpu: + "1"',
        'defaults.memory: - "1Gi"',
        'limits.cpu: "2" -> "4"',
    ]
