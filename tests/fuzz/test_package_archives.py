"""Package archives and their `.pb` members: whatever the bytes, `load_package` returns a package or raises
PackageError naming the file at fault, never another exception, never a hang, and never writes a file.

A package that loads must also survive what `register --dry-run` does next (`hydrate`, `dependency_waves`),
where a mutated but parseable protobuf could still surprise a walker."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from flyteadmin_ops.ops.package import Package, PackageError, dependency_waves, hydrate, load_package
from tests.fuzz.archives import PB_NAMES, SAMPLE, Archive, Member, archives, mutated_bytes
from tests.fuzz.support import bounded, fuzz_settings

pytestmark = pytest.mark.fuzz

SUFFIXES = (".tgz", ".tar.gz", ".tar", ".tar.xz", ".pb", "")


def load_checked(path: Path) -> Package | None:
    """Load `path` as the CLI would; None when it was refused with PackageError. Asserts nothing was
    written next to it (the loader reads archives in memory)."""
    before = sorted(path.parent.rglob("*"))
    try:
        with bounded():
            package = load_package(path)
            dependency_waves(package)
            hydrate(package, "flytesnacks", "development", "v1", source_url="s3://bucket/fast.tar.gz")
    except PackageError as exc:
        assert str(exc).startswith(str(path)), f"error names {exc.source!r}, not the package {path}"
        assert "\n" not in str(exc), "a package error is one line"
        return None
    finally:
        assert sorted(path.parent.rglob("*")) == before, "loading a package wrote files"
    return package


@given(archive=archives(), suffix=st.sampled_from(SUFFIXES))
@fuzz_settings()
@example(
    archive=Archive((Member("../up_1.pb", SAMPLE[PB_NAMES[0]]),), 0, "gz", 2, ("none", 0, 0)), suffix=".tgz"
)
def test_any_archive_loads_or_is_refused_with_a_package_error(archive: Archive, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"package{suffix}"
        path.write_bytes(archive.to_bytes())
        load_checked(path)


@given(name=st.sampled_from(PB_NAMES), data=st.data())
@fuzz_settings()
def test_a_mutated_pb_member_in_a_folder_loads_or_is_refused(name: str, data: st.DataObject) -> None:
    """The real package as a folder, one `.pb` mutated: protobuf parsing is lenient, so most mutations
    still parse, and the package must then pass or fail its own checks with a PackageError."""
    mutated = data.draw(mutated_bytes(SAMPLE[name]), label="mutated")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "package"
        root.mkdir()
        for member, content in SAMPLE.items():
            (root / member).write_bytes(mutated if member == name else content)
        load_checked(root)


@given(cut=st.integers(min_value=0))
@fuzz_settings(0.5)
def test_a_truncated_real_archive_is_refused_or_still_whole(cut: int) -> None:
    from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH

    whole = SAMPLE_PACKAGE_PATH.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cut.tgz"
        path.write_bytes(whole[: cut % len(whole)])
        package = load_checked(path)
    assert package is None or len(package) == len(PB_NAMES)


def test_the_real_archive_still_loads() -> None:
    """The seeds are valid: the strategies above start from a package that loads."""
    from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH

    package = load_package(SAMPLE_PACKAGE_PATH)
    assert len(package) == len(PB_NAMES) and package.fast_archive is not None
