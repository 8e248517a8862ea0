"""The package fixtures are real pyflyte output, with the entities the other tests and the demo rely on."""

from __future__ import annotations

import tarfile
from pathlib import Path

from flyteidl.admin import task_pb2

from flyteadmin_ops import demo
from tests.fixtures import sample


def _members(path: Path) -> list[str]:
    with tarfile.open(path) as archive:
        return sorted(m.name for m in archive.getmembers() if m.isfile())


def _entity_names(members: list[str]) -> set[tuple[str, str]]:
    # "{index}_{name}_{type}.pb" -> (name, type)
    return {(m.split("_", 1)[1][:-5], m[-4]) for m in members if m.endswith(".pb")}


def test_package_holds_every_named_entity(pyflyte_package: Path) -> None:
    members = _members(pyflyte_package)
    names = _entity_names(members)
    assert {(t, "1") for t in demo.SAMPLE_TASKS} <= names
    assert any(n.startswith(demo.SAMPLE_MAP_TASK_PREFIX) and k == "1" for n, k in names)
    assert {(w, "2") for w in demo.SAMPLE_WORKFLOWS} <= names
    assert {(lp, "3") for lp in demo.SAMPLE_LAUNCH_PLANS} <= names
    assert len([m for m in members if m.startswith("fast") and m.endswith(".tar.gz")]) == 1


def test_extracted_dir_matches_archive(pyflyte_package: Path, pyflyte_package_dir: Path) -> None:
    assert sorted(p.name for p in pyflyte_package_dir.iterdir()) == _members(pyflyte_package)


def _task_spec(path: Path, task_name: str) -> task_pb2.TaskSpec:
    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(f"_{task_name}_1.pb"))
        data = archive.extractfile(member)
        assert data is not None
        return task_pb2.TaskSpec.FromString(data.read())


def test_variant_changes_exactly_one_task(pyflyte_package: Path, pyflyte_variant_package: Path) -> None:
    assert _entity_names(_members(pyflyte_package)) == _entity_names(_members(pyflyte_variant_package))
    for task in demo.SAMPLE_TASKS:
        same = _task_spec(pyflyte_package, task) == _task_spec(pyflyte_variant_package, task)
        assert same == (task != sample.CHANGED_TASK), task
