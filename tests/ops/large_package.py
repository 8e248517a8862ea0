"""A large registrable package made from the real sample package, without running pyflyte.

`pyflyte package` of a thousand tasks takes about a minute; tests of register's engine need hundreds of
entities in seconds. So the sample package (flyteadmin_ops/demo/sample-package.tgz, 19 entities in four
waves) is copied `copies` times, each copy's names prefixed (`ops_demo.c007.tasks.add`) in every
identifier, own and referenced, so the copies are independent and the waves keep their shape.
"""

from __future__ import annotations

from pathlib import Path

from flyteidl.admin import launch_plan_pb2

from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH
from flyteadmin_ops.ops import protowalk
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, Entity, Package, load_package

SAMPLE_PREFIX = "ops_demo."
_SUFFIX = {TASK: "_1.pb", LAUNCH_PLAN: "_3.pb"}


def replicated_package(copies: int) -> Package:
    """The sample package `copies` times over under distinct names (19 entities per copy)."""
    sample = load_package(SAMPLE_PACKAGE_PATH)
    entities: list[Entity] = []
    for copy in range(copies):
        prefix = f"{SAMPLE_PREFIX}c{copy:03d}."
        for entity in sample:
            request = type(entity.request)()
            request.CopyFrom(entity.request)
            for ident, _ in protowalk.identifiers(request):
                if ident.name.startswith(SAMPLE_PREFIX):
                    ident.name = prefix + ident.name[len(SAMPLE_PREFIX) :]
            entities.append(Entity.from_request(request, f"c{copy:03d}_{entity.source}"))
    return Package(tuple(entities), sample.fast_archive, f"<sample x {copies}>")


def write_package_dir(package: Package, dest: Path) -> Path:
    """`package` as a folder of .pb files (+ its fast*.tar.gz), as `flyteadmin-ops register` reads it."""
    dest.mkdir(parents=True, exist_ok=True)
    for number, entity in enumerate(package):
        suffix = _SUFFIX.get(entity.resource_type, "_2.pb")
        if entity.resource_type == LAUNCH_PLAN:
            data = launch_plan_pb2.LaunchPlan(
                id=entity.request.id, spec=entity.request.spec
            ).SerializeToString()
        else:
            data = entity.request.spec.SerializeToString()
        (dest / f"{number:05d}_{entity.name}{suffix}").write_bytes(data)
    if package.fast_archive is not None:
        (dest / package.fast_archive.name).write_bytes(package.fast_archive.data)
    return dest
