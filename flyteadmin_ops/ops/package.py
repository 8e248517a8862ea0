"""Registrable packages: load what `pyflyte package` wrote, hydrate it as flytectl does, order it.

No client, no network, no Prefect: these are pure functions over flyteidl protobufs, so `--dry-run`, tests and
the register automation all see the same plan.

- `load_package(source)`: a .tgz/.tar.gz/.tar archive, a folder of .pb files, or protobufs in memory. The
  entity type comes from the file-name suffix (`_1.pb` task, `_2.pb` workflow, `_3.pb` launch plan,
  flytectl's rule), other `.pb` names are tried in that order. Archives are read in memory (nothing is
  extracted to disk), and a member that tries to climb out of the archive is refused even though it would
  never be written.
- `hydrate(package, project, domain, version, ...)`: fill empty or `{{ registration.* }}` project, domain and
  version in every identifier, own or referenced, and substitute `{{ .remote_package_path }}` and
  `{{ .dest_dir }}` in task args. flytectl lists the places to hydrate by hand; this walks the protobufs by
  descriptor (`ops.protowalk`), so no node kind is forgotten.
- `dependency_waves(package)`: registration order taken from the references themselves, not from file names,
  as sets that can be registered concurrently. Launch plans come last unless a workflow needs one first.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias, Union

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from google.protobuf.message import DecodeError, Message

from flyteadmin_ops.ops import protowalk
from flyteadmin_ops.ops.plain_archive import read_plain_archive
from flyteadmin_ops.ops.results import OperationInputError
from flyteadmin_ops.ops.waves import CycleError, levels

TASK = identifier_pb2.TASK
WORKFLOW = identifier_pb2.WORKFLOW
LAUNCH_PLAN = identifier_pb2.LAUNCH_PLAN

CreateRequest: TypeAlias = (
    task_pb2.TaskCreateRequest | workflow_pb2.WorkflowCreateRequest | launch_plan_pb2.LaunchPlanCreateRequest
)
IdentifierKey = tuple[int, str, str, str, str]
"""(resource type, project, domain, name, version) with unset fields as ""."""

# A pyflyte package is KBs to a few MBs; the caps only stop a hostile archive from exhausting memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PACKAGE_BYTES = 512 * 1024 * 1024

_KIND = {TASK: "task", WORKFLOW: "workflow", LAUNCH_PLAN: "launch plan"}
_SUFFIX = re.compile(r"_(?P<type>[1-3])\.pb$")
_REGISTRATION_PLACEHOLDER = re.compile(r"^\{\{\s*registration\.(?P<field>project|domain|version)\s*\}\}$")
_REMOTE_PACKAGE_PATH = re.compile(r"\{\{\s*\.remote_package_path\s*\}\}")
_DEST_DIR = re.compile(r"\{\{\s*\.dest_dir\s*\}\}")


def _printable(text: str) -> str:
    """`text` with control characters and unpaired surrogates escaped (`\\n`, `\\x00`, `\\udcff`).

    Member names, entity names and versions come from the package's own bytes: a newline in one would
    split the CLI's one-line error, an escape sequence would drive the terminal, and a lone surrogate (a
    tar name that is not UTF-8) cannot even be written to a UTF-8 stream."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


class PackageError(OperationInputError):
    """A package cannot be used as given. `source` names the file (or archive member) at fault.

    The message is one printable line whatever the package holds (see `_printable`)."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(_printable(f"{source}: {problem}"))

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable with its two arguments (Prefect moves exceptions between threads and processes)
        return (type(self), (self.source, self.problem))

    def within(self, container: str) -> PackageError:
        """The same error, its file named inside `container` (the archive or folder it came from)."""
        return type(self)(f"{container}{self.source}", self.problem)


class MissingReferenceError(PackageError):
    """An entity refers to one that is neither in the package nor declared external."""


class DependencyCycleError(PackageError):
    """Entities refer to each other in a cycle, so no registration order exists."""


@dataclass(frozen=True)
class FastArchive:
    """The `fast<digest>.tar.gz` source archive: uploaded before registration, its URL goes into task args."""

    name: str
    data: bytes = field(repr=False)

    @cached_property
    def md5(self) -> bytes:
        """MD5 of the file as stored (what flytekit sends as `content_md5` to CreateUploadLocation)."""
        return hashlib.md5(self.data).digest()


@dataclass(frozen=True)
class Entity:
    """One registrable entity: the create request to send, where it came from, what it refers to.

    The protobufs are shared, not copied: treat them as read-only (`hydrate` returns new ones).
    """

    resource_type: int
    request: CreateRequest
    source: str
    references: tuple[identifier_pb2.Identifier, ...]

    @classmethod
    def from_request(cls, request: CreateRequest, source: str) -> Entity:
        return cls(
            resource_type=request.id.resource_type,
            request=request,
            source=source,
            references=_distinct(protowalk.references(request.spec)),
        )

    @property
    def id(self) -> identifier_pb2.Identifier:
        return self.request.id

    @property
    def name(self) -> str:
        return str(self.request.id.name)

    @cached_property
    def key(self) -> IdentifierKey:
        # Cached: registering a large package asks for it tens of thousands of times (sets, dicts, hashes);
        # the request is read-only (class docstring), so the key cannot change.
        return identifier_key(self.request.id)

    def __hash__(self) -> int:
        return hash((self.key, self.source))

    def __str__(self) -> str:
        version = self.request.id.version
        return f"{_KIND[self.resource_type]} {self.name}" + (f" version {version}" if version else "")


@dataclass(frozen=True)
class Package:
    """The entities of a package, in the order they were read, plus the source archive if there is one.

    `external` lists identifiers the package may refer to without containing them (already registered);
    empty fields in them match anything, so `Identifier(resource_type=TASK, name="x")` covers every version.
    """

    entities: tuple[Entity, ...]
    fast_archive: FastArchive | None = None
    source: str = "<memory>"
    external: tuple[identifier_pb2.Identifier, ...] = ()

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities)

    def __len__(self) -> int:
        return len(self.entities)

    def of_type(self, resource_type: int) -> list[Entity]:
        return [e for e in self.entities if e.resource_type == resource_type]

    def find(self, resource_type: int, name: str) -> Entity:
        """The entity of that type and name; KeyError if the package holds none (or several versions)."""
        found = [e for e in self.entities if e.resource_type == resource_type and e.name == name]
        if len(found) != 1:
            raise KeyError(f"{_KIND.get(resource_type, resource_type)} {name}: {len(found)} in {self.source}")
        return found[0]


_MAYBE_UNSET = frozenset({"", "{"})
"""First characters of a field `_unset` may call unset: none (empty), or a placeholder's brace."""


def _unset(value: str, field_name: str) -> bool:
    if not value:
        return True
    if value[0] != "{":  # the common case, decided without the regex (every identifier field comes here)
        return False
    match = _REGISTRATION_PLACEHOLDER.match(value)
    return not value or (match is not None and match["field"] == field_name)


def _distinct(
    references: Iterable[identifier_pb2.Identifier],
) -> tuple[identifier_pb2.Identifier, ...]:
    """`references` without repeats (by `identifier_key`), first occurrence kept, in order."""
    return tuple({identifier_key(r): r for r in references}.values())


def identifier_key(ident: identifier_pb2.Identifier) -> IdentifierKey:
    """A hashable key for an identifier; empty fields and `{{ registration.* }}` placeholders become ""."""
    project, domain, version = ident.project, ident.domain, ident.version
    if project[:1] not in _MAYBE_UNSET and domain[:1] not in _MAYBE_UNSET and version[:1] not in _MAYBE_UNSET:
        # the common case (a hydrated identifier), decided without `_unset`: asked ~10 times per entity
        return (int(ident.resource_type), project, domain, ident.name, version)
    return (
        int(ident.resource_type),
        "" if _unset(ident.project, "project") else ident.project,
        "" if _unset(ident.domain, "domain") else ident.domain,
        ident.name,
        "" if _unset(ident.version, "version") else ident.version,
    )


# ---------------------------------------------------------------------------------------------- loading

Source: TypeAlias = Union[str, "PathLike[str]", Iterable[Any]]


def load_package(source: Source, *, external: Iterable[identifier_pb2.Identifier] = ()) -> Package:
    """Read a package and check it is complete: every reference resolves inside it or to `external`.

    `source`: a .tgz/.tar.gz/.tar path, a folder of .pb files (+ fast*.tar.gz), or an iterable of
    protobufs: admin TaskSpec / WorkflowSpec / LaunchPlan, the three Create requests, objects with
    `to_flyte_idl()` (flytekit models), or a `FastArchive`.
    """
    if not isinstance(source, (str, PathLike)):
        items = [_from_message(obj, f"<message {i}>") for i, obj in enumerate(source)]
        return _checked(_assemble(items, "<memory>", tuple(external)))
    path = Path(source)
    if path.is_dir():
        files, container = _read_folder(path), f"{path}/"
    elif path.is_file():
        files, container = _read_archive(path), f"{path}!"
    else:
        raise PackageError(str(path), "no such file or folder")
    try:
        return _checked(
            _assemble([_classify(name, data) for name, data in files], str(path), tuple(external))
        )
    except PackageError as exc:
        # Entities keep their short file names (as pyflyte wrote them); errors say where that file lives.
        raise exc if exc.source == str(path) else exc.within(container) from None


def _checked(package: Package) -> Package:
    _dependency_graph(package)  # fails early on references that resolve nowhere
    return package


def _read_folder(folder: Path) -> list[tuple[str, bytes]]:
    files = []
    total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_PACKAGE_BYTES:
            raise PackageError(
                f"{folder}/{name}", f"too large ({size} bytes; a package file may have {MAX_FILE_BYTES})"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PackageError(f"{folder}/{name}", f"cannot be read ({exc.strerror})") from None
        files.append((name, data))
    return files


def _read_archive(path: Path) -> list[tuple[str, bytes]]:
    plain = read_plain_archive(path, max_file_bytes=MAX_FILE_BYTES, max_package_bytes=MAX_PACKAGE_BYTES)
    if plain is not None:
        return plain
    try:
        with tarfile.open(path, mode="r:*") as archive:
            return sorted(_archive_members(archive, path))
    except PackageError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        # an archive damaged after its first block fails only when that member is read, with the error of
        # its compression: zlib's, lzma's (never wrapped by tarfile) or bz2's OSError
        # tarfile's "could not be opened" lists every compression it tried, one per line: keep the headline
        reason = str(exc).splitlines()[0].rstrip(": ") if str(exc) else type(exc).__name__
        single_pb = path.suffix == ".pb"
        hint = "; a single .pb is not a package: give the folder that holds it" if single_pb else ""
        raise PackageError(str(path), f"not a readable .tgz/.tar.gz/.tar archive ({reason}){hint}") from None


def _archive_members(archive: tarfile.TarFile, path: Path) -> Iterator[tuple[str, bytes]]:
    total = 0
    for member in archive:
        where = f"{path}!{member.name}"
        parts = PurePosixPath(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", member.name):
            raise PackageError(where, "member path leaves the archive (absolute or '..'); refusing it")
        if member.isdir():
            continue
        if not member.isfile():
            raise PackageError(where, "not a regular file (link or device); a package holds only files")
        total += member.size
        if member.size > MAX_FILE_BYTES or total > MAX_PACKAGE_BYTES:
            raise PackageError(
                where, f"too large ({member.size} bytes; a package file may have {MAX_FILE_BYTES})"
            )
        handle = archive.extractfile(member)
        if handle is None:  # pragma: no cover - isfile() members always have data
            raise PackageError(where, "member has no data")
        yield member.name, handle.read()


_PB_TYPES: tuple[tuple[int, type[Message]], ...] = (
    (TASK, task_pb2.TaskSpec),
    (WORKFLOW, workflow_pb2.WorkflowSpec),
    (LAUNCH_PLAN, launch_plan_pb2.LaunchPlan),
)


def _base_name(name: str) -> str:
    """`PurePosixPath(name).name`, without building a path for the plain names archives hold."""
    if "//" in name or "/." in name or name.startswith(".") or name.endswith("/"):
        return PurePosixPath(name).name
    return name.rpartition("/")[2]


def _classify(name: str, data: bytes) -> Entity | FastArchive:
    base = _base_name(name)
    if base.startswith("fast") and base.endswith(".tar.gz"):
        if not data.startswith(b"\x1f\x8b"):
            raise PackageError(name, "named like a fast-register source archive but is not gzip data")
        return FastArchive(base, data)
    if not base.endswith(".pb"):
        raise PackageError(
            name, "unknown file: a package holds *_1.pb, *_2.pb, *_3.pb and fast*.tar.gz (as pyflyte writes)"
        )
    suffix = _SUFFIX.search(base)
    candidates = [_PB_TYPES[int(suffix["type"]) - 1]] if suffix else list(_PB_TYPES)
    problems = []
    for resource_type, message_type in candidates:
        try:
            message = message_type.FromString(data)
        except DecodeError as exc:
            problems.append(f"not a {message_type.DESCRIPTOR.name} ({exc})")
            continue
        problem = _check_parsed(resource_type, message)
        if problem is None:
            return Entity.from_request(_to_request(resource_type, message), name)
        problems.append(f"not a {message_type.DESCRIPTOR.name} ({problem})")
    raise PackageError(name, "; ".join(problems))


def _own_id(resource_type: int, message: Message) -> identifier_pb2.Identifier:
    return message.id if resource_type == LAUNCH_PLAN else message.template.id  # type: ignore[attr-defined]


def _check_parsed(resource_type: int, message: Message) -> str | None:
    """Protobuf parsing is lenient, so bytes of one type often parse as another: the id decides."""
    ident = _own_id(resource_type, message)
    if ident.resource_type != resource_type or not ident.name:
        return f"its id is not a named {_KIND[resource_type]} identifier"
    if resource_type == LAUNCH_PLAN and not message.spec.workflow_id.name:  # type: ignore[attr-defined]
        return "the launch plan names no workflow"
    return None


def _to_request(resource_type: int, message: Message) -> CreateRequest:
    ident = _own_id(resource_type, message)
    if resource_type == TASK:
        return task_pb2.TaskCreateRequest(id=ident, spec=message)
    if resource_type == WORKFLOW:
        return workflow_pb2.WorkflowCreateRequest(id=ident, spec=message)
    return launch_plan_pb2.LaunchPlanCreateRequest(id=ident, spec=message.spec)  # type: ignore[attr-defined]


_REQUEST_TYPES = {
    task_pb2.TaskCreateRequest.DESCRIPTOR.full_name: TASK,
    workflow_pb2.WorkflowCreateRequest.DESCRIPTOR.full_name: WORKFLOW,
    launch_plan_pb2.LaunchPlanCreateRequest.DESCRIPTOR.full_name: LAUNCH_PLAN,
}
_SPEC_TYPES = {message_type.DESCRIPTOR.full_name: rt for rt, message_type in _PB_TYPES}


def _from_message(obj: Any, label: str) -> Entity | FastArchive:
    if isinstance(obj, FastArchive):
        return obj
    if not isinstance(obj, Message) and callable(getattr(obj, "to_flyte_idl", None)):
        obj = obj.to_flyte_idl()
    if not isinstance(obj, Message):
        raise PackageError(label, f"not a protobuf message: {type(obj).__name__}")
    full_name = obj.DESCRIPTOR.full_name
    if full_name in _REQUEST_TYPES:
        resource_type = _REQUEST_TYPES[full_name]
        request = type(obj)()
        request.CopyFrom(obj)
        if request.id.resource_type != resource_type or not request.id.name:  # type: ignore[attr-defined]
            raise PackageError(label, f"{full_name} has no named {_KIND[resource_type]} id")
        return Entity.from_request(request, label)
    if full_name in _SPEC_TYPES:
        resource_type = _SPEC_TYPES[full_name]
        problem = _check_parsed(resource_type, obj)
        if problem:
            raise PackageError(label, f"{full_name}: {problem}")
        copy = type(obj)()
        copy.CopyFrom(obj)
        return Entity.from_request(_to_request(resource_type, copy), label)
    raise PackageError(label, f"unsupported message type {full_name}")


def _assemble(
    items: Iterable[Entity | FastArchive], label: str, external: tuple[identifier_pb2.Identifier, ...]
) -> Package:
    entities: list[Entity] = []
    seen: dict[IdentifierKey, Entity] = {}
    fast: FastArchive | None = None
    for item in items:
        if isinstance(item, FastArchive):
            if fast is not None:
                raise PackageError(item.name, f"a second source archive; {fast.name} was already found")
            fast = item
            continue
        if item.key in seen:
            raise PackageError(item.source, f"duplicate {item}: also in {seen[item.key].source}")
        seen[item.key] = item
        entities.append(item)
    if not entities:
        raise PackageError(label, "holds no task, workflow or launch plan")
    return Package(tuple(entities), fast, label, external)


# -------------------------------------------------------------------------------------------- hydration


def hydrate(
    package: Package,
    project: str,
    domain: str,
    version: str,
    *,
    source_url: str | None = None,
    dest_dir: str = ".",
) -> Package:
    """A copy of `package` ready to register in (project, domain) at `version`.

    Identifiers: empty or `{{ registration.project|domain|version }}` fields are filled, in the entity's own
    id and in every reference. The create request's id always gets `project` and `domain` (as flytectl does).
    Task args (containers and k8s pod specs, including pod templates in task-node overrides):
    `{{ .remote_package_path }}` becomes `source_url` (left alone when None, e.g. for a dry run before any
    upload) and `{{ .dest_dir }}` becomes `dest_dir`.
    """
    for field_name, value in (("project", project), ("domain", domain), ("version", version)):
        if _unset(value, field_name):
            raise OperationInputError(f"hydrate: {field_name} must be a real value, got {value!r}")

    def rewrite(arg: str) -> str:
        if "{{" not in arg:  # most args hold no placeholder: skip both substitutions
            return arg
        if source_url is not None:
            arg = _REMOTE_PACKAGE_PATH.sub(lambda _: source_url, arg)
        return _DEST_DIR.sub(lambda _: dest_dir, arg)

    entities = []
    for entity in package:
        request = type(entity.request)()
        request.CopyFrom(entity.request)
        # One walk finds the identifiers to fill (collecting the references `Entity.from_request` would
        # walk the hydrated spec again for) and the containers and pod specs whose args to rewrite; the
        # create request's own id is outside the spec.
        references = []
        for found, defining in protowalk.find(request.spec, _HYDRATED_TYPES):
            name = found.DESCRIPTOR.full_name
            if name == _IDENTIFIER:
                _fill(found, project, domain, version)
                if not defining:
                    references.append(found)
            elif name == _CONTAINER:
                _rewrite_container(found, rewrite)
            else:
                _rewrite_pod(found, rewrite)
        _fill(request.id, project, domain, version)
        request.id.project, request.id.domain = project, domain
        entities.append(Entity(request.id.resource_type, request, entity.source, _distinct(references)))
    return Package(tuple(entities), package.fast_archive, package.source, package.external)


_IDENTIFIER = identifier_pb2.Identifier.DESCRIPTOR.full_name
_CONTAINER = "flyteidl.core.Container"
_K8S_POD = "flyteidl.core.K8sPod"
_HYDRATED_TYPES = frozenset({_IDENTIFIER, _CONTAINER, _K8S_POD})


def _fill(ident: identifier_pb2.Identifier, project: str, domain: str, version: str) -> None:
    """Set the fields of `ident` that are unset (empty or a `{{ registration.* }}` placeholder). Written
    out field by field: hydration calls it for every identifier of the package (4,000 for 1,600 entities)."""
    if _unset(ident.project, "project"):
        ident.project = project
    if _unset(ident.domain, "domain"):
        ident.domain = domain
    if _unset(ident.version, "version"):
        ident.version = version


def _rewrite_container(container: Message, rewrite: Callable[[str], str]) -> None:
    args = container.args  # type: ignore[attr-defined]
    if "{{" not in "\x00".join(args):  # most containers hold no placeholder: leave the field as it is
        return
    rewritten = [rewrite(arg) for arg in args]
    if rewritten != list(args):
        args[:] = rewritten


def _rewrite_pod(pod: Message, rewrite: Callable[[str], str]) -> None:
    for key, value in pod.pod_spec.fields.items():  # type: ignore[attr-defined]
        protowalk.rewrite_struct_strings(value, rewrite, inside_args=key == "args")


# ------------------------------------------------------------------------------------------ ordering


def _dependency_graph(package: Package) -> dict[int, list[int]]:
    """entity index -> indexes of the package entities it needs registered first."""
    index = {entity.key: i for i, entity in enumerate(package.entities)}
    graph: dict[int, list[int]] = {}
    for i, entity in enumerate(package.entities):
        # Subworkflows travel inside the workflow spec that uses them: a reference to one is satisfied there.
        # Walked for only when a reference is not in the package (rare), not for every entity.
        embedded: set[IdentifierKey] | None = None
        needs: list[int] = []
        for ref in entity.references:
            key = identifier_key(ref)
            if key in index:
                if index[key] not in needs:
                    needs.append(index[key])
                continue
            if embedded is None:
                embedded = {
                    identifier_key(ident)
                    for ident, defining in protowalk.identifiers(entity.request.spec)
                    if defining
                }
            if key not in embedded and not _is_external(key, package.external):
                raise MissingReferenceError(
                    entity.source,
                    f"{entity} refers to {_KIND.get(ref.resource_type, 'entity')} {_describe(key)}, which is "
                    "neither in the package nor declared external",
                )
        graph[i] = needs
    return graph


def _describe(key: IdentifierKey) -> str:
    _, project, domain, name, version = key
    scope = "/".join(part for part in (project, domain) if part)
    return f"{name}" + (f" in {scope}" if scope else "") + (f" version {version}" if version else "")


def _is_external(key: IdentifierKey, external: tuple[identifier_pb2.Identifier, ...]) -> bool:
    """Unset fields of an external identifier (0 / "") match any value."""
    return any(
        all(not want or want == have for want, have in zip(identifier_key(ext), key, strict=True))
        for ext in external
    )


def dependency_waves(package: Package) -> list[list[Entity]]:
    """Registration waves: every entity after all it refers to; each wave can be registered concurrently.

    Tasks come first; a launch plan that a workflow calls comes right after its own workflow and before the
    caller; every other launch plan waits for the last wave, so a failed workflow stops before any schedule
    is created. Within a wave, package order is kept.
    """
    graph = _dependency_graph(package)
    try:
        level = levels(graph)
    except CycleError as exc:
        names = [str(package.entities[i]) for i in exc.cycle]
        raise DependencyCycleError(
            package.entities[exc.cycle[0]].source, "cycle: " + " -> ".join(names)
        ) from None
    needed = {dep for deps in graph.values() for dep in deps}
    last_launch_plans = [
        i for i, e in enumerate(package.entities) if e.resource_type == LAUNCH_PLAN and i not in needed
    ]
    final = 1 + max((level[i] for i in graph if i not in last_launch_plans), default=-1)
    for i in last_launch_plans:
        level[i] = final
    waves: list[list[Entity]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for i, entity in enumerate(package.entities):
        waves[level[i]].append(entity)
    return [wave for wave in waves if wave]
