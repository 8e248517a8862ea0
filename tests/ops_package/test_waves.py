"""dependency_waves orders a real package by its references, and refuses cycles and dangling references."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.admin import launch_plan_pb2

from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    DependencyCycleError,
    Entity,
    MissingReferenceError,
    Package,
    dependency_waves,
    hydrate,
    identifier_key,
    load_package,
)
from flyteadmin_ops.ops.waves import CycleError, levels


@pytest.fixture(scope="module")
def package(pyflyte_package: Path) -> Package:
    return load_package(pyflyte_package)


def _position(waves: list[list[Entity]]) -> dict[tuple[object, ...], int]:
    return {e.key: i for i, wave in enumerate(waves) for e in wave}


def test_every_entity_comes_after_what_it_references(package: Package) -> None:
    waves = dependency_waves(package)
    position = _position(waves)
    assert sorted(position) == sorted(e.key for e in package)  # each entity exactly once
    assert sum(map(len, waves)) == len(package)
    for wave_index, wave in enumerate(waves):
        for entity in wave:
            for ref in entity.references:
                key = identifier_key(ref)
                if key in position:
                    assert position[key] < wave_index, f"{entity} before {ref.name}"


def test_wave_shape(package: Package) -> None:
    waves = dependency_waves(package)
    assert {e.resource_type for e in waves[0]} == {TASK}
    assert len(waves[0]) == len(package.of_type(TASK))
    position = {(e.resource_type, e.name): i for i, w in enumerate(waves) for e in w}
    # the launch plan main_wf calls is registered after its workflow and before main_wf
    assert (
        position[(WORKFLOW, "ops_demo.workflows.greet_wf")]
        < position[(LAUNCH_PLAN, "ops_demo.greet_lp")]
        < position[(WORKFLOW, "ops_demo.workflows.main_wf")]
    )
    # every other launch plan waits for the last wave, after all workflows
    last = {(e.resource_type, e.name) for e in waves[-1]}
    assert last == {
        (LAUNCH_PLAN, e.name) for e in package.of_type(LAUNCH_PLAN) if e.name != "ops_demo.greet_lp"
    }


def test_hydrated_package_has_the_same_waves(package: Package) -> None:
    def names(p: Package) -> list[list[str]]:
        return [[str(e.resource_type) + e.name for e in wave] for wave in dependency_waves(p)]

    assert names(hydrate(package, "p", "d", "v1")) == names(package)


def test_waves_keep_package_order(package: Package) -> None:
    order = {e.key: i for i, e in enumerate(package)}
    for wave in dependency_waves(package):
        assert [order[e.key] for e in wave] == sorted(order[e.key] for e in wave)


def test_cycle_through_a_launch_plan_is_refused(package: Package) -> None:
    # greet_lp launches main_wf, and main_wf calls greet_lp: no order can satisfy both
    lp = launch_plan_pb2.LaunchPlanCreateRequest()
    lp.CopyFrom(package.find(LAUNCH_PLAN, "ops_demo.greet_lp").request)
    lp.spec.workflow_id.name = "ops_demo.workflows.main_wf"
    cyclic = load_package([*(e.request for e in package if e.name != "ops_demo.greet_lp"), lp])
    with pytest.raises(DependencyCycleError, match="cycle: ") as err:
        dependency_waves(cyclic)
    message = str(err.value)
    assert "launch plan ops_demo.greet_lp" in message and "workflow ops_demo.workflows.main_wf" in message


def test_missing_reference_in_a_hand_built_package(package: Package) -> None:
    without_add = Package(tuple(e for e in package if e.name != "ops_demo.tasks.add"))
    with pytest.raises(
        MissingReferenceError, match=r"workflow ops_demo\.workflows\.\w+ refers to task ops_demo\.tasks\.add"
    ):
        dependency_waves(without_add)


def test_levels_of_a_small_graph() -> None:
    assert levels({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}) == {
        "a": 0,
        "b": 1,
        "c": 1,
        "d": 2,
        "e": 0,
    }
    chain = {i: [i - 1] if i else [] for i in range(5000)}  # deeper than the recursion limit
    assert levels(chain)[4999] == 4999
    with pytest.raises(CycleError) as err:
        levels({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert err.value.cycle in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
