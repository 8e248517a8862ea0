"""Hypothesis strategies for package archives: tar streams built member by member, so a test can say
exactly what is hostile about one (a path that climbs out, a link, a device, a size the header lies about,
a duplicate, a mutated `.pb`, a truncated or corrupted compression layer).

The seeds are the real members of the bundled `pyflyte package --fast` archive (`support.sample_members`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
from dataclasses import dataclass
from typing import Literal

from hypothesis import strategies as st

from tests.fuzz.support import sample_members

SAMPLE = sample_members()
SAMPLE_NAMES = sorted(SAMPLE)
PB_NAMES = [name for name in SAMPLE_NAMES if name.endswith(".pb")]

BLOCK = 512


@dataclass(frozen=True)
class Member:
    """One tar header and the bytes that follow it; `declared_size` may lie about `data`."""

    name: str
    data: bytes
    kind: bytes = tarfile.REGTYPE
    linkname: str = ""
    declared_size: int | None = None

    def to_tar(self, tar_format: Literal[0, 1, 2]) -> bytes:
        info = tarfile.TarInfo(self.name)
        info.type = self.kind
        info.linkname = self.linkname
        info.mode = 0o644
        carries_data = self.kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
        info.size = (
            (len(self.data) if self.declared_size is None else self.declared_size) if carries_data else 0
        )
        try:
            header = info.tobuf(format=tar_format, encoding="utf-8", errors="surrogateescape")
        except ValueError:  # a name or size USTAR cannot hold: PAX can
            header = info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
        if not carries_data:
            return header
        padding = b"\0" * (-len(self.data) % BLOCK)
        return header + self.data + padding


def mutated_bytes(seed: bytes) -> st.SearchStrategy[bytes]:
    """`seed` with a few byte-level edits: flips, inserts, deletions, a truncation, or a splice of another
    real member (so field tags stay plausible and protobuf parsing goes deep)."""
    edit: st.SearchStrategy[tuple[str, int, int | bytes | str]] = st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
        st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 16)),
        st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
        st.tuples(st.just("splice"), st.integers(0, 10**6), st.sampled_from(PB_NAMES)),
    )

    def apply(edits: list[tuple[str, int, int | bytes | str]]) -> bytes:
        data = bytearray(seed)
        for kind, position, argument in edits:
            at = position % (len(data) + 1)
            if kind == "flip" and data and isinstance(argument, int):
                data[at % len(data)] ^= argument
            elif kind == "insert" and isinstance(argument, bytes):
                data[at:at] = argument
            elif kind == "delete" and isinstance(argument, int):
                del data[at : at + argument]
            elif kind == "truncate":
                del data[at:]
            elif kind == "splice":
                other = SAMPLE[str(argument)]
                data[at:] = other[len(other) // 2 :]
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=4).map(apply)


_HOSTILE_NAMES = st.sampled_from(
    [
        "../escape_1.pb",
        "a/../../escape_2.pb",
        "/etc/absolute_3.pb",
        "\\windows_1.pb",
        "C:evil_1.pb",
        "./dot_1.pb",
        "",
        ".",
        "dir/",
        "nested/deep/00_x_1.pb",
        "fast0.tar.gz",
        "fastdup.tar.gz",
        "notes.txt",
        "x.pb",
        "caf\u00e9_1.pb",
        "surrogate_\udcff_1.pb",
        "n" * 300 + "_1.pb",
    ]
)


def member_names() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SAMPLE_NAMES),
        _HOSTILE_NAMES,
        st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=40),
    )


def members() -> st.SearchStrategy[Member]:
    real = st.sampled_from(SAMPLE_NAMES).map(lambda name: Member(name, SAMPLE[name]))
    mutated = st.sampled_from(PB_NAMES).flatmap(
        lambda name: mutated_bytes(SAMPLE[name]).map(lambda data: Member(name, data))
    )
    renamed = st.builds(Member, member_names(), st.sampled_from(list(SAMPLE.values())))
    random_bytes = st.builds(Member, member_names(), st.binary(max_size=300))
    special = st.builds(
        Member,
        member_names(),
        st.just(b""),
        st.sampled_from(
            [
                tarfile.SYMTYPE,
                tarfile.LNKTYPE,
                tarfile.CHRTYPE,
                tarfile.BLKTYPE,
                tarfile.FIFOTYPE,
                tarfile.DIRTYPE,
                tarfile.CONTTYPE,
                tarfile.GNUTYPE_SPARSE,
                b"Z",
            ]
        ),
        st.sampled_from(["/etc/passwd", "../outside", "00_ops_demo.tasks.add_1.pb", ""]),
    )
    lying = st.builds(
        Member,
        st.sampled_from(PB_NAMES),
        st.sampled_from(list(SAMPLE.values())),
        st.just(tarfile.REGTYPE),
        st.just(""),
        st.one_of(st.integers(0, 4096), st.just(64 * 1024 * 1024 + 1), st.just(8**11 - 1), st.just(2**40)),
    )
    return st.one_of(real, real, mutated, mutated, renamed, random_bytes, special, lying)


COMPRESSIONS = {
    "tar": lambda data: data,
    "gz": lambda data: gzip.compress(data, mtime=0),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


@dataclass(frozen=True)
class Archive:
    """An archive as bytes, with the recipe that made it (shown by hypothesis when a property fails)."""

    members: tuple[Member, ...]
    tar_format: Literal[0, 1, 2]
    compression: str
    end_blocks: int
    damage: tuple[str, int, int]

    def to_bytes(self) -> bytes:
        stream = b"".join(m.to_tar(self.tar_format) for m in self.members) + b"\0" * (BLOCK * self.end_blocks)
        data = COMPRESSIONS[self.compression](stream)
        kind, position, value = self.damage
        if kind == "truncate" and data:
            return data[: position % len(data)]
        if kind == "flip" and data:
            flipped = bytearray(data)
            flipped[position % len(data)] ^= value or 1
            return bytes(flipped)
        return data


def archives() -> st.SearchStrategy[Archive]:
    return st.builds(
        Archive,
        st.one_of(
            st.lists(members(), max_size=8).map(tuple),
            # the whole real package, so damage to the compressed stream can land past the first block
            st.just(tuple(Member(name, SAMPLE[name]) for name in SAMPLE_NAMES)),
        ),
        st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
        st.sampled_from(list(COMPRESSIONS)),
        st.sampled_from([2, 0, 1]),
        st.one_of(
            st.just(("none", 0, 0)),
            st.tuples(st.sampled_from(["truncate", "flip"]), st.integers(0, 10**6), st.integers(0, 255)),
        ),
    )
