"""register-all of the sample package: our dependency waves, each registered concurrently, against flytectl's
way (every file in name order, one RPC at a time), on an emulator that adds 20 ms per call like a remote
Admin. Both upload the source archive the same way and create every entity (fresh version per run)."""

from __future__ import annotations

from benchmarks.common import Comparison, client_for, emulator, median_seconds
from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH
from flyteadmin_ops.ops.package import hydrate, load_package
from flyteadmin_ops.ops.register import create_entity, register_package, upload_fast_archive

PROJECT, DOMAIN = "flytesnacks", "development"
LATENCY_MS = 20


def run(quick: bool) -> list[Comparison]:
    repeats = 1 if quick else 3
    package = load_package(SAMPLE_PACKAGE_PATH)
    with emulator(latency_ms=LATENCY_MS) as emu, client_for(emu, max_concurrency=8) as client:

        def ours(i: int) -> None:
            result = register_package(client, package, PROJECT, DOMAIN, f"waves-{i}")
            assert result.ok and result.totals.get("created") == len(package), result.totals

        def flytectl_like(i: int) -> None:
            assert package.fast_archive is not None
            upload = upload_fast_archive(client, PROJECT, DOMAIN, package.fast_archive)
            hydrated = hydrate(package, PROJECT, DOMAIN, f"seq-{i}", source_url=upload.native_url)
            for entity in sorted(
                hydrated, key=lambda e: e.source
            ):  # pyflyte's file names are in topological order
                outcome = create_entity(client, entity)
                assert outcome.status.value == "created", outcome

        baseline = median_seconds(flytectl_like, repeats)
        waves = median_seconds(ours, repeats)
    note = f"{len(package)} entities, +{LATENCY_MS} ms per RPC"
    return [
        Comparison(
            "register-all: waves vs sequential", "s", waves, baseline, higher_is_better=False, note=note
        )
    ]
