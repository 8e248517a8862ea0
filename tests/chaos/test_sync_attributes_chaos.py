"""sync-attributes while Admin answers 30 % of RPCs UNAVAILABLE (half of them after applying the call).

A client with 2 attempts per RPC runs the automation until a run is ok: first the shipped declaration (9
rows created), then a changed one with `--prune` (updates, a plugin override whose task type changes, which
takes a delete first, and pruned rows); then, with the default 5 attempts, the shipped one again. Each run
either fails before writing (its reads failed) or reports one outcome per change, verified by reading back;
the server then matches the declaration, and the next run, watched through a proxy, sends no write at all.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.errors import FlyteAdminError
from flyteadmin_ops.ops.attribute_file import ATTRIBUTE_TYPES, load_attribute_file
from flyteadmin_ops.ops.attributes import sync_attributes
from flyteadmin_ops.ops.results import Status
from tests.chaos.support import FAULT_RATE, connect, faulty_emulator, observer
from tests.ops.admin_proxy import AdminProxy

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "attributes.yaml"
SEED = 11
MAX_RUNS = 12
"""Runs allowed to converge; each run repairs what the one before left."""

CHANGED = """\
- project: flytesnacks
  domain: development
  type: task-resource
  defaults: {cpu: "1", memory: 512Mi}
  limits: {cpu: "4", memory: 2Gi}
- project: flytesnacks
  domain: production
  type: execution-queue
  tags: [critical]
- project: flytesnacks
  domain: production
  type: plugin-override
  overrides:
    - task_type: ray
      plugin_id: [ray-on-k8s]
      missing_plugin_behavior: FAIL
"""


def stored(client: SynchronousFlyteClient) -> dict[tuple[str, str, str], object]:
    """Every row of every type in flytesnacks, keyed (type, domain, workflow): the server's truth."""
    rows: dict[tuple[str, str, str], object] = {}
    for attribute_type in ATTRIBUTE_TYPES.values():
        for config in client.list_matchable_attributes(attribute_type.resource).configurations:
            if config.project == "flytesnacks":
                if config.attributes.WhichOneof("target") == "plugin_overrides":  # stored in Go map order
                    overrides = config.attributes.plugin_overrides.overrides
                    ordered = sorted(overrides, key=lambda o: o.task_type)
                    del overrides[:]
                    overrides.extend(ordered)
                rows[(attribute_type.name, config.domain, config.workflow)] = config.attributes
    return rows


def declared(path: Path) -> dict[tuple[str, str, str], object]:
    return {(e.type.name, e.scope.domain, e.scope.workflow): e.attributes for e in load_attribute_file(path)}


def converge(client: SynchronousFlyteClient, path: Path, *, prune: bool, tally: Counter[str]) -> int:
    """Run sync-attributes until a run is ok; returns how many runs it took."""
    for run in range(1, MAX_RUNS + 1):
        try:
            result = sync_attributes(client, path, prune=prune)
        except FlyteAdminError:
            tally["runs failed before writing"] += 1
            continue
        tally.update(f"outcome {o.status.value}" for o in result.outcomes)
        if result.ok:
            return run
        tally["runs with failed changes"] += 1
    pytest.fail(f"{path.name} did not converge in {MAX_RUNS} runs: {dict(tally)}")


def test_sync_attributes_under_faults_converges_and_then_writes_nothing(tmp_path: Path) -> None:
    changed = tmp_path / "changed.yaml"
    changed.write_text(CHANGED)
    tally: Counter[str] = Counter()
    faults = ("--fault-rate", str(FAULT_RATE))
    with (
        faulty_emulator(lambda client: None, *faults, seed=SEED) as emulator,
        connect(emulator.endpoint, attempts=2) as fragile,
        observer(emulator.endpoint) as eyes,
    ):
        runs = {"shipped": converge(fragile, SHIPPED, prune=False, tally=tally)}
        assert stored(eyes) == declared(SHIPPED)

        runs["changed, pruned"] = converge(fragile, changed, prune=True, tally=tally)
        assert stored(eyes) == declared(changed)

        with connect(emulator.endpoint) as steady:  # the default 5 attempts per RPC
            runs["shipped again, pruned, default retries"] = converge(
                steady, SHIPPED, prune=True, tally=tally
            )
        assert stored(eyes) == declared(SHIPPED)

        with AdminProxy(emulator.endpoint) as proxy, connect(proxy.endpoint) as watched:
            again = sync_attributes(watched, SHIPPED, prune=True)
        assert again.ok and {o.status for o in again.outcomes} == {Status.UNCHANGED}
        assert proxy.writes() == []

    print(f"sync-attributes chaos (fault rate {FAULT_RATE}, seed {SEED}): runs {runs}; {dict(tally)}")
