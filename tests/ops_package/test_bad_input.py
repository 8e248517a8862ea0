"""Bad packages fail with a typed error that names the file (or archive member) at fault."""

from __future__ import annotations

import io
import pickle
import shutil
import tarfile
from pathlib import Path

import pytest
from flyteidl.admin import launch_plan_pb2
from flyteidl.core import identifier_pb2

from flyteadmin_ops.ops.package import (
    LAUNCH_PLAN,
    TASK,
    MissingReferenceError,
    PackageError,
    load_package,
)
from flyteadmin_ops.ops.results import OperationInputError


def _copy(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest)
    return dest


def _file(folder: Path, fragment: str) -> Path:
    return next(p for p in folder.iterdir() if fragment in p.name)


def _tar(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            link = tarfile.TarInfo(symlink)
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            archive.addfile(link)
    return path


def test_errors_are_operation_input_errors() -> None:
    # the CLI maps OperationInputError to exit code 2 ("bad input"), so package errors get it for free
    assert issubclass(PackageError, OperationInputError) and issubclass(PackageError, ValueError)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="no such file or folder") as err:
        load_package(tmp_path / "nope.tgz")
    assert err.value.source.endswith("nope.tgz")


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "pkg.tgz"
    bogus.write_text("this is not a tarball\n")
    with pytest.raises(PackageError, match=r"pkg\.tgz: not a readable .*archive"):
        load_package(bogus)


def test_truncated_archive(pyflyte_package: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.tgz"
    data = pyflyte_package.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PackageError, match=r"cut\.tgz: not a readable"):
        load_package(cut)


def test_garbage_pb(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    _file(folder, "tasks.add_1.pb").write_bytes(b"\xff\xfe garbage \x00\x01")
    with pytest.raises(PackageError, match=r"00_ops_demo\.tasks\.add_1\.pb: not a TaskSpec") as err:
        load_package(folder)
    assert err.value.source == f"{folder}/00_ops_demo.tasks.add_1.pb"


def test_pb_of_the_wrong_type_for_its_suffix(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    # protobuf parsing is lenient: a workflow's bytes parse as a LaunchPlan; the id's resource type catches it
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    workflow = _file(folder, "workflows.sub_wf_2.pb").read_bytes()
    _file(folder, "ops_demo.greet_lp_3.pb").write_bytes(workflow)
    with pytest.raises(
        PackageError, match=r"greet_lp_3\.pb: not a LaunchPlan \(its id is not a named launch plan"
    ):
        load_package(folder)


def test_unsuffixed_pb_that_is_nothing(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    (folder / "mystery.pb").write_bytes(b"\x0a\x00")
    with pytest.raises(
        PackageError, match=r"mystery\.pb: not a TaskSpec .*not a WorkflowSpec .*not a LaunchPlan"
    ):
        load_package(folder)


def test_unknown_file(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    (folder / "README.md").write_text("hello")
    with pytest.raises(PackageError, match=r"README\.md: unknown file"):
        load_package(folder)


def test_fast_archive_that_is_not_gzip(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    _file(folder, "fast").write_bytes(b"plain")
    with pytest.raises(PackageError, match=r"fast.*\.tar\.gz: .*not gzip"):
        load_package(folder)


def test_two_fast_archives(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    shutil.copy(_file(folder, "fast"), folder / "fast0000.tar.gz")
    with pytest.raises(PackageError, match="a second source archive"):
        load_package(folder)


def test_duplicate_entity(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    shutil.copy(_file(folder, "tasks.add_1.pb"), folder / "99_copy_of_add_1.pb")
    with pytest.raises(
        PackageError, match=r"99_copy_of_add_1\.pb: duplicate task ops_demo\.tasks\.add: also in 00_"
    ):
        load_package(folder)


def test_missing_reference_and_declared_external(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    folder = _copy(pyflyte_package_dir, tmp_path / "pkg")
    _file(folder, "tasks.maybe_fail_1.pb").unlink()
    with pytest.raises(MissingReferenceError, match="maybe_fail") as err:
        load_package(folder)
    assert err.value.source.endswith("_ops_demo.workflows.flaky_wf_2.pb")
    assert "neither in the package nor declared external" in str(err.value)
    # already registered elsewhere: declare it, with unset fields matching any project/domain/version
    external = identifier_pb2.Identifier(resource_type=TASK, name="ops_demo.tasks.maybe_fail")
    assert len(load_package(folder, external=[external])) == 18


def test_reference_to_another_project_needs_declaring(pyflyte_package: Path) -> None:
    package = load_package(pyflyte_package)
    lp = launch_plan_pb2.LaunchPlanCreateRequest()
    lp.CopyFrom(package.find(LAUNCH_PLAN, "ops_demo.greet_lp").request)
    lp.spec.workflow_id.project = "other"
    lp.spec.workflow_id.domain = "production"
    lp.spec.workflow_id.version = "v7"
    entities = [e.request for e in package if e.name != "ops_demo.greet_lp"] + [lp]
    with pytest.raises(MissingReferenceError, match=r"greet_wf in other/production version v7"):
        load_package(entities)
    assert len(load_package(entities, external=[lp.spec.workflow_id])) == 19


@pytest.mark.parametrize("member", ["../escape_1.pb", "/abs/olute_1.pb", "ok/../../up_1.pb"])
def test_path_traversal_member(pyflyte_package: Path, tmp_path: Path, member: str) -> None:
    with tarfile.open(pyflyte_package) as archive:
        first = archive.getmembers()[0]
        handle = archive.extractfile(first)
        assert handle is not None
        data = handle.read()
    evil = _tar(tmp_path / "evil.tgz", {first.name: data, member: data})
    with pytest.raises(PackageError, match="leaves the archive") as err:
        load_package(evil)
    assert err.value.source == f"{evil}!{member}"
    assert not (tmp_path.parent / "escape_1.pb").exists()


def test_link_member(tmp_path: Path) -> None:
    evil = _tar(tmp_path / "link.tgz", {}, symlink="00_link_1.pb")
    with pytest.raises(PackageError, match=r"link\.tgz!00_link_1\.pb: not a regular file"):
        load_package(evil)


def test_empty_package_and_foreign_messages(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="holds no task, workflow or launch plan"):
        load_package(_tar(tmp_path / "empty.tgz", {}))
    with pytest.raises(
        PackageError, match=r"<message 0>: unsupported message type flyteidl\.core\.Identifier"
    ):
        load_package([identifier_pb2.Identifier(name="x")])
    with pytest.raises(PackageError, match=r"<message 0>: not a protobuf message: int"):
        load_package([42])


def test_member_errors_name_the_archive_and_the_member(pyflyte_package_dir: Path, tmp_path: Path) -> None:
    members = {p.name: p.read_bytes() for p in pyflyte_package_dir.iterdir()}
    members["05_ops_demo.tasks.report_failure_1.pb"] = b"\x00garbage"
    archive = _tar(tmp_path / "pkg.tgz", members)
    with pytest.raises(PackageError) as err:
        load_package(archive)
    assert err.value.source == f"{archive}!05_ops_demo.tasks.report_failure_1.pb"
    assert str(err.value).startswith(f"{archive}!05_ops_demo.tasks.report_failure_1.pb: not a TaskSpec")


def test_errors_survive_pickling() -> None:
    original = MissingReferenceError("pkg.tgz!01_x_2.pb", "refers to task y")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is MissingReferenceError
    assert (copy.source, copy.problem, str(copy)) == (original.source, original.problem, str(original))
