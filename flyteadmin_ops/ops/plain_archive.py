"""A fast reader for the archives `pyflyte package` writes, or None to let tarfile decide.

Reading a package of 1,600 entities through tarfile cost ~0.1 s of a registration re-run that should cost
almost nothing; pyflyte's archives are plain (gzip or none, ustar/pax headers, regular files), so they are
read here block by block. Anything unusual — odd header fields, links, sparse or global records, names that
need escaping, trailing data, sizes over the cap, truncation — returns None, and `ops.package` reads the
archive with tarfile and its checks, so every error a user can see still comes from one place.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache
from pathlib import Path

PLAIN_ARCHIVE_MAX_BYTES = 64 * 1024 * 1024
"""Larger archives (compressed or not) always go through tarfile, which streams them."""
_USTAR_MAGIC = b"ustar\x0000"
_PAX_KEYS = frozenset({"path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"})
_TAR_NUMBER = re.compile(rb"[ \t\n\r\x0b\x0c]*([0-7]*)[ \t\n\r\x0b\x0c]*(?:\x00.*)?", re.DOTALL)
"""A numeric header field as tarfile's `nti` reads it: octal digits up to the first NUL, blanks around."""
_DRIVE = re.compile(r"^[A-Za-z]:")
_BLOCK = 512


def read_plain_archive(
    path: Path, *, max_file_bytes: int, max_package_bytes: int
) -> list[tuple[str, bytes]] | None:
    """What `_read_archive` returns, read without tarfile, for the archives pyflyte writes (gzip or no
    compression, POSIX headers, regular files and folders, pax records naming a path, size or times);
    None for anything else, which then goes through tarfile and its checks and errors.

    Why: tarfile parses each header in Python, and a pyflyte package has two per file (a pax record with
    the float mtime, then the file); for 1,600 entities that was 0.1 s of CPU, half of loading the
    package, on every run, re-runs included. This reads only archives tarfile reads the same way and
    that `_archive_members` accepts: every doubt (an odd number field, a checksum only a signed sum
    matches, a name that is not plain ASCII, a link, a size over the caps, a truncated end, extra data
    after the gzip stream) returns None, so what is returned and every error stay tarfile's."""
    try:
        if path.stat().st_size > PLAIN_ARCHIVE_MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if data[:2] == b"\x1f\x8b":
        if _tarfile_header(data[:_BLOCK]):  # tarfile tries a plain tar first: let it decide
            return None
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(data, PLAIN_ARCHIVE_MAX_BYTES)
        except zlib.error:
            return None
        if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
            return None
    return _plain_members(data, max_file_bytes, max_package_bytes)


def _plain_members(raw: bytes, max_file_bytes: int, max_package_bytes: int) -> list[tuple[str, bytes]] | None:
    members: list[tuple[str, bytes]] = []
    offset, total = 0, 0
    pax: dict[str, str] | None = None
    while True:
        block = raw[offset : offset + _BLOCK]
        if not block or block.count(0) == _BLOCK:  # the end, with or without the end-of-archive blocks
            if offset == 0 or pax is not None:
                return None
            return sorted(members)
        header = _tar_header(block)
        if header is None:
            return None
        name, size, kind = header
        offset += _BLOCK
        end = offset + -(-size // _BLOCK) * _BLOCK
        if end > len(raw):
            return None
        if kind == b"x":
            if pax is not None:
                return None
            pax = _pax_records(raw[offset : offset + size])
            if pax is None or raw[offset + size : end].count(0) != end - offset - size:
                return None  # tarfile reads records on into the padding
            offset = end
            continue
        if pax is not None:
            if "size" in pax:
                size = int(pax["size"])
                end = offset + -(-size // _BLOCK) * _BLOCK
                if end > len(raw):
                    return None
            name = pax.get("path", name)
            pax = None
        if kind == b"5":
            name = name.rstrip("/")
            if size or not _plain_member_name(name):
                return None
            continue  # a folder: nothing to read (tarfile does not skip data after one either)
        if not _plain_member_name(name) or name.endswith("/"):
            return None  # tarfile strips the slash of a pax path
        total += size
        if size > max_file_bytes or total > max_package_bytes:
            return None
        members.append((name, raw[offset : offset + size]))
        offset = end


def _tar_header(block: bytes) -> tuple[str, int, bytes] | None:
    """(name, size, type) of a POSIX header tarfile reads as it is here (type "0" for a regular file,
    "5" a folder, "x" a pax record), else None."""
    if len(block) != _BLOCK or block[257:265] != _USTAR_MAGIC:
        return None
    checksum = _TAR_NUMBER.fullmatch(block[148:156])
    if checksum is None or int(checksum[1] or b"0", 8) != 256 + sum(block) - sum(block[148:156]):
        return None
    size = _TAR_NUMBER.fullmatch(block[124:136])
    if size is None or not _other_numbers_ok(block[100:124] + block[136:148] + block[329:345]):
        return None
    kind = block[156:157]
    kind = b"0" if kind == b"\x00" else kind
    raw_name = block[:100].split(b"\x00", 1)[0]
    if kind not in (b"0", b"5", b"x") or block[345:346] != b"\x00" or not raw_name.isascii():
        return None  # other types; a ustar name prefix; names tarfile would decode
    if kind != b"5" and raw_name.endswith(b"/"):
        return None  # tarfile reads a regular file named like a folder as a folder
    return raw_name.decode("ascii"), int(size[1] or b"0", 8), kind


@lru_cache(maxsize=64)
def _other_numbers_ok(fields: bytes) -> bool:
    """Whether mode, uid, gid (8 bytes each), mtime (12), devmajor and devminor (8 each), unused here,
    read as numbers: tarfile refuses a header where one does not. Cached: they repeat member after member."""
    widths = (8, 8, 8, 12, 8, 8)
    starts = [sum(widths[:i]) for i in range(len(widths))]
    return all(_TAR_NUMBER.fullmatch(fields[a : a + w]) for a, w in zip(starts, widths, strict=True))


def _tarfile_header(block: bytes) -> bool:
    """Whether tarfile's own check takes `block` for a tar header: its checksum field, read as tarfile's
    `nti` reads numbers, is the unsigned or the signed sum of the other bytes."""
    if len(block) != _BLOCK:
        return False
    field = block[148:156]
    if field[0] in (0o200, 0o377):  # base-256
        value = int.from_bytes(field[1:], "big") - (256 ** (len(field) - 1) if field[0] == 0o377 else 0)
    else:
        try:
            value = int(field.split(b"\x00", 1)[0].decode("ascii").strip() or "0", 8)
        except ValueError:  # UnicodeDecodeError included
            return False
    others = block[:148] + block[156:]
    unsigned = 256 + sum(others)
    signed = unsigned - 256 * sum(byte >= 128 for byte in others)
    return value in (unsigned, signed)


def _pax_records(data: bytes) -> dict[str, str] | None:
    """The records of a pax header when each is well formed, ASCII, and one of `_PAX_KEYS`."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        length_text = data[position:space]
        if space < 0 or not length_text.isdigit() or not length_text.isascii():
            return None
        record = data[position : position + int(length_text)]
        if len(record) != int(length_text) or not record.endswith(b"\n") or not record.isascii():
            return None
        keyword, equals, value = record[space - position + 1 : -1].partition(b"=")
        text = value.decode("ascii")
        if not equals or keyword.decode("ascii") not in _PAX_KEYS or not text.isprintable():
            return None
        if keyword == b"size" and not (value.isdigit() and value.isascii()):
            return None
        records[keyword.decode("ascii")] = text
        position += len(record)
    return records


def _plain_member_name(name: str) -> bool:
    """A name `_archive_members` takes as it is: printable, inside the archive."""
    return (
        bool(name)
        and name.isprintable()
        and not name.startswith(("/", "\\"))
        and ".." not in name.split("/")  # the parts PurePosixPath finds, plus empty and "." ones
        and _DRIVE.match(name) is None
    )
