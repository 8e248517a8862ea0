"""The fast archive reader (`ops.plain_archive`) returns exactly what tarfile gives, or steps aside.

It parses the archives pyflyte writes without tarfile (issue 9: re-runs must cost almost nothing), so
every archive it accepts must come out as tarfile reads it, and every archive it is unsure of must go
to tarfile, whose checks and errors stay the only ones. Each case compares the two readers on the same
file: the fast one either declines (None) or agrees.
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from flyteadmin_ops.ops import package as package_module
from flyteadmin_ops.ops import plain_archive
from flyteadmin_ops.ops.package import MAX_FILE_BYTES, MAX_PACKAGE_BYTES, PackageError, _read_archive

Member = tuple[str, str, bytes]
"""(kind: "f" file, "d" folder, "l" symlink; name; data or link target)."""


def _fast(path: Path) -> list[tuple[str, bytes]] | None:
    return plain_archive.read_plain_archive(
        path, max_file_bytes=MAX_FILE_BYTES, max_package_bytes=MAX_PACKAGE_BYTES
    )


def _tarfile_reads(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]] | str:
    """What `_read_archive` gives with the fast reader switched off: the members, or the error."""
    with monkeypatch.context() as patch:
        patch.setattr(package_module, "read_plain_archive", lambda _path, **_limits: None)
        try:
            return _read_archive(path)
        except PackageError as exc:
            return str(exc)


def _archive(members: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000.25  # a float mtime: a pax record per member, as pyflyte writes
            if kind == "f":
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            elif kind == "d":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.type = tarfile.SYMTYPE
                info.linkname = data.decode()
                archive.addfile(info)
    return buffer.getvalue()


def test_a_real_pyflyte_package_takes_the_fast_path_and_reads_the_same(
    pyflyte_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _fast(pyflyte_package)
    assert fast is not None
    assert fast == _tarfile_reads(pyflyte_package, monkeypatch)


CASES: dict[str, Callable[[], bytes]] = {
    "pax, gzip": lambda: gzip.compress(_archive([("d", "pkg", b""), ("f", "pkg/a_1.pb", b"abc")])),
    "pax, no compression": lambda: _archive([("f", "a_1.pb", b"x" * 700)]),
    "long name (pax path)": lambda: gzip.compress(_archive([("f", "n" * 150 + "_1.pb", b"long")])),
    "gnu format": lambda: gzip.compress(_archive([("f", "a_1.pb", b"x")], tarfile.GNU_FORMAT)),
    "non-ascii name": lambda: gzip.compress(_archive([("f", "ü_1.pb", b"u")])),
    "climbs out": lambda: gzip.compress(_archive([("f", "../evil_1.pb", b"e")])),
    "absolute": lambda: gzip.compress(_archive([("f", "/abs_1.pb", b"e")])),
    "symlink": lambda: gzip.compress(_archive([("l", "link", b"target")])),
    "empty": lambda: gzip.compress(_archive([])),
    "truncated": lambda: gzip.compress(_archive([("f", "a_1.pb", b"x" * 2000)])[:1500]),
    "trailing gzip data": lambda: gzip.compress(_archive([("f", "a_1.pb", b"x")])) + b"\0" * 8,
    "bz2": lambda: __import__("bz2").compress(_archive([("f", "a_1.pb", b"x")])),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_reader_agrees_with_tarfile_or_declines(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "package.tgz"
    path.write_bytes(CASES[case]())
    fast = _fast(path)
    assert fast is None or fast == _tarfile_reads(path, monkeypatch)


def test_damaged_archives_never_read_differently(
    pyflyte_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes of the real package changed at random (headers, pax records, sizes), then compressed again."""
    rng = random.Random(9)
    tar = gzip.decompress(pyflyte_package.read_bytes())
    path = tmp_path / "damaged.tgz"
    accepted = 0
    for _ in range(300):
        damaged = bytearray(tar)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(min(len(damaged), 8192))] = rng.choice([0, 32, 47, 48, 55, 56, 120, 255])
        path.write_bytes(gzip.compress(bytes(damaged), mtime=0))
        fast = _fast(path)
        if fast is not None:
            accepted += 1
            assert fast == _tarfile_reads(path, monkeypatch)
    assert accepted  # some damage (inside file data) leaves an archive both read the same way
