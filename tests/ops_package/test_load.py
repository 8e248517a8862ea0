"""load_package reads real pyflyte output the same way from an archive, a folder and memory."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

from flyteidl.admin import task_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    WORKFLOW,
    Entity,
    FastArchive,
    Package,
    identifier_key,
    load_package,
)

SUFFIX_TYPE = {"1": TASK, "2": WORKFLOW, "3": LAUNCH_PLAN}


def _summary(package: Package) -> list[tuple[object, ...]]:
    return [(e.key, e.request.SerializeToString(deterministic=True)) for e in package]


def test_archive_entities_have_the_type_of_their_file_suffix(pyflyte_package: Path) -> None:
    package = load_package(pyflyte_package)
    assert len(package) == 19
    for entity in package:
        assert entity.resource_type == SUFFIX_TYPE[entity.source[-4]], entity.source
        assert entity.source.endswith(f"_{entity.name}_{entity.source[-4]}.pb")
        if entity.resource_type != LAUNCH_PLAN:
            assert entity.request.id == entity.request.spec.template.id
    names = {(e.resource_type, e.name) for e in package}
    assert {(TASK, t) for t in demo.SAMPLE_TASKS} <= names
    assert {(WORKFLOW, w) for w in demo.SAMPLE_WORKFLOWS} <= names
    assert {(LAUNCH_PLAN, lp) for lp in demo.SAMPLE_LAUNCH_PLANS} == {
        (t, n) for t, n in names if t == LAUNCH_PLAN
    }
    # pyflyte leaves project, domain and version empty everywhere
    assert all(identifier_key(e.id)[1:] == ("", "", e.name, "") for e in package)


def test_fast_archive_is_found_with_its_md5(pyflyte_package: Path) -> None:
    package = load_package(pyflyte_package)
    assert package.fast_archive is not None
    with tarfile.open(pyflyte_package) as archive:
        member = archive.extractfile(package.fast_archive.name)
        assert member is not None
        data = member.read()
    assert package.fast_archive.data == data
    assert package.fast_archive.md5 == hashlib.md5(data).digest()
    assert package.fast_archive.name.startswith("fast") and package.fast_archive.name.endswith(".tar.gz")


def test_folder_and_memory_sources_load_like_the_archive(
    pyflyte_package: Path, pyflyte_package_dir: Path
) -> None:
    from_archive = load_package(pyflyte_package)
    from_folder = load_package(pyflyte_package_dir)
    assert _summary(from_folder) == _summary(from_archive)
    assert from_folder.fast_archive == from_archive.fast_archive
    # in memory: the create requests, or the specs as pyflyte wrote them (LaunchPlan from its request)
    specs: list[object] = [
        e.request if e.resource_type == LAUNCH_PLAN else e.request.spec for e in from_archive
    ]
    assert from_archive.fast_archive is not None
    from_memory = load_package([*specs, from_archive.fast_archive])
    assert _summary(from_memory) == _summary(from_archive)
    assert from_memory.fast_archive == from_archive.fast_archive


def test_objects_with_to_flyte_idl_are_accepted(pyflyte_package: Path) -> None:
    task = load_package(pyflyte_package).find(TASK, "ops_demo.tasks.add")

    class FlytekitLikeModel:
        def to_flyte_idl(self) -> task_pb2.TaskSpec:
            return task.request.spec

    loaded = load_package([FlytekitLikeModel()])
    assert [e.request for e in loaded] == [task.request]


def test_names_without_type_suffix_are_tried_in_order(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    for path in pyflyte_package_dir.iterdir():
        name = path.name
        if name.endswith(".pb"):
            name = name[: -len("_1.pb")] + ".pb"  # 00_ops_demo.tasks.add_1.pb -> 00_ops_demo.tasks.add.pb
        shutil.copy(path, tmp_path / name)
    plain = load_package(tmp_path)
    suffixed = load_package(pyflyte_package_dir)
    assert [(e.resource_type, e.name) for e in plain] == [(e.resource_type, e.name) for e in suffixed]


def test_references_name_what_each_entity_needs(pyflyte_package: Path) -> None:
    package = load_package(pyflyte_package)

    def refs(entity: Entity) -> set[tuple[int, str]]:
        return {(r.resource_type, r.name) for r in entity.references}

    assert refs(package.find(WORKFLOW, "ops_demo.workflows.main_wf")) == {
        (WORKFLOW, "ops_demo.workflows.sub_wf"),
        (LAUNCH_PLAN, "ops_demo.greet_lp"),
        (TASK, "ops_demo.tasks.add"),
        (TASK, "ops_demo.tasks.square"),
    }
    assert refs(package.find(LAUNCH_PLAN, "ops_demo.nightly")) == {(WORKFLOW, "ops_demo.workflows.flaky_wf")}
    assert refs(package.find(WORKFLOW, "ops_demo.workflows.flaky_wf")) >= {
        (TASK, "ops_demo.tasks.report_failure"),  # the failure node
        (TASK, "ops_demo.tasks.maybe_fail"),
    }
    fanout = refs(package.find(WORKFLOW, "ops_demo.workflows.fanout_wf"))
    assert len(fanout) == 1 and next(iter(fanout))[1].startswith("ops_demo.tasks.map_square_")  # array node
    assert all(not e.references for e in package.of_type(TASK))


def test_entities_are_hashable_values(pyflyte_package: Path) -> None:
    first, second = load_package(pyflyte_package), load_package(pyflyte_package)
    assert list(first) == list(second)
    assert len(set(first) | set(second)) == len(first)
    assert "FastArchive(name='fast" in repr(FastArchive("fastx.tar.gz", b"\x1f\x8b"))
