"""The execution-name rule of `run_names`: valid for flyteadmin, stable within a Prefect run, distinct across
runs, calls and attempts, and None outside a run."""

from __future__ import annotations

import re

import pytest
from prefect import flow, task

from flyteadmin_ops.client.execution_names import MAX_LENGTH
from flyteadmin_ops.run_names import execution_name_for_run, name_for

FLYTEADMIN_RULE = re.compile(r"^[a-z][a-z\-0-9]*$")


def test_names_pass_flyteadmins_rule_and_attempts_share_a_stem() -> None:
    names = [name_for("6f1c3a52-0000-4000-8000-000000000000", "key", attempt) for attempt in (0, 1, 123)]
    assert all(FLYTEADMIN_RULE.match(name) and len(name) <= 24 < MAX_LENGTH for name in names)
    assert [name.rsplit("-", 1)[1] for name in names] == ["0", "1", "123"]
    assert len({name.rsplit("-", 1)[0] for name in names}) == 1
    assert name_for("run-a", "key") != name_for("run-b", "key") != name_for("run-b", "other")
    with pytest.raises(ValueError, match="attempt"):
        name_for("run", "key", -1)


def test_outside_a_run_there_is_no_name() -> None:
    assert execution_name_for_run("key") is None


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_a_flow_run_and_its_task_runs_derive_the_same_names() -> None:
    @task
    def in_task() -> str | None:
        return execution_name_for_run("key")

    @flow
    def names() -> tuple[str | None, str | None, str | None]:
        return execution_name_for_run("key"), in_task(), execution_name_for_run("key", attempt=1)

    first = names()
    second = names()
    assert first[0] is not None and first[0] == first[1] and first[2] == first[0][:-1] + "1"
    assert second[0] != first[0]  # another flow run, another name
