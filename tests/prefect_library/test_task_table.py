"""The client task table: one task per public client operation, exposed by `flyteadmin_ops.tasks`, and the
README's table generated from it (this test fails when they diverge). No Prefect server needed."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from flyteadmin_ops import tasks
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.client_tasks import CLIENT_TASKS, OPERATIONS
from flyteadmin_ops.client_tasks.catalog import BEHAVIOURS, CREATES, EXCLUDED, Behaviour
from flyteadmin_ops.client_tasks.readme_table import BEGIN, END, main, render

README = Path(__file__).resolve().parents[2] / "README.md"


def _client_operations() -> set[str]:
    return {
        name
        for name in dir(SynchronousFlyteClient)
        if not name.startswith("_")
        and not isinstance(inspect.getattr_static(SynchronousFlyteClient, name), property)
        and callable(getattr(SynchronousFlyteClient, name))
    }


def test_the_readme_table_is_generated_from_the_code() -> None:
    readme = README.read_text()
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == render(), (
        "README's client task table is stale: run `python -m flyteadmin_ops.client_tasks.readme_table`"
    )


def test_every_public_client_operation_is_a_task_of_the_same_name() -> None:
    operations = _client_operations() - set(EXCLUDED)
    expected = {
        ("list_" + name.removeprefix("iter_")) if name.startswith("iter_") else name for name in operations
    }
    assert set(CLIENT_TASKS) == expected
    assert set(EXCLUDED) == {"close", "with_root_certificate"}
    for name, task in CLIENT_TASKS.items():
        assert getattr(tasks, name) is task and task.name == name
        assert next(iter(inspect.signature(task).parameters)) == "connection"


def test_iterators_become_bounded_lists_and_pages_stay_pages() -> None:
    by_name = {op.name: op for op in OPERATIONS}
    assert by_name["list_executions"].method == "iter_executions"
    assert by_name["list_executions"].behaviour is Behaviour.LIST
    assert "max_items" in by_name["list_executions"].signature.parameters
    assert by_name["list_executions_paginated"].method == "list_executions_paginated"
    assert "limit" in by_name["list_executions_paginated"].signature.parameters
    # flytekit's one-page list_node_executions gives its name to the complete list
    assert by_name["list_node_executions"].method == "iter_node_executions"


def test_the_behaviour_table_names_only_client_operations() -> None:
    assert set(BEHAVIOURS) <= _client_operations()
    assert set(CREATES) <= set(BEHAVIOURS)
    for name, parameter in CREATES.items():
        assert parameter in inspect.signature(getattr(SynchronousFlyteClient, name)).parameters


def test_the_generator_rewrites_a_stale_table_and_check_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"# title\n\n{BEGIN}\n| old | table |\n{END}\n\nafter\n")
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0
    assert main([str(stale), "--check"]) == 0
    text = stale.read_text()
    assert text.startswith("# title\n\n") and text.endswith("\n\nafter\n") and "| `get_execution` |" in text
    assert "stale" in capsys.readouterr().err
