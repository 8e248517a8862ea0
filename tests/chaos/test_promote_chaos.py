"""promote while Admin answers 30 % of RPCs UNAVAILABLE (half of them after applying the call).

A client with 2 attempts per RPC promotes launch plan versions in turn, so the faults reach every step:
the reads before the write, the write itself (applied or not), the read-back, and the rollback. After every
run, read by a client that rides out the faults: never more than one active version; a verified promotion
leaves the target alone active; a rollback leaves the previous version (or none) active as before; a run
that failed before writing changed nothing. At the end a client with the default retries promotes once
more and is verified.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from flyteidl.admin.common_pb2 import NamedEntityIdentifier, ResourceListRequest

from flyteadmin_ops import demo
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.errors import FlyteAdminError
from flyteadmin_ops.ops.package import load_package
from flyteadmin_ops.ops.promote import promote_launch_plan
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.results import Status
from tests.chaos.support import FAULT_RATE, connect, faulty_emulator, observer

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

PROJECT, DOMAIN = "flytesnacks", "staging"
NIGHTLY = demo.SCHEDULED_LAUNCH_PLAN
VERSIONS = ("v1", "v2", "v3")
ROUNDS = 40
SEED = 7


def listed_active(client: SynchronousFlyteClient) -> list[str]:
    """The versions of NIGHTLY the server lists as ACTIVE (raw, uncached)."""
    request = ResourceListRequest(
        id=NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name=NIGHTLY),
        limit=100,
        filters="eq(state,1)",
    )
    return sorted(plan.id.version for plan in client.raw.list_launch_plans_paginated(request).launch_plans)


def test_promote_under_faults_keeps_one_active_version_and_rolls_back_to_the_previous(
    pyflyte_package: Path,
) -> None:
    def register_versions(client: SynchronousFlyteClient) -> None:
        package = load_package(pyflyte_package)
        for version in VERSIONS:
            assert register_package(client, package, PROJECT, DOMAIN, version).ok

    tally: Counter[str] = Counter()
    faults = ("--fault-rate", str(FAULT_RATE))
    with (
        faulty_emulator(register_versions, *faults, seed=SEED) as emulator,
        connect(emulator.endpoint, attempts=2) as fragile,
        observer(emulator.endpoint) as eyes,
    ):
        for round_number in range(ROUNDS):
            target = VERSIONS[round_number % len(VERSIONS)]
            before = listed_active(eyes)
            try:
                result = promote_launch_plan(fragile, NIGHTLY, target, PROJECT, DOMAIN)
            except FlyteAdminError:
                tally["failed before writing"] += 1
                assert listed_active(eyes) == before
                continue
            after = listed_active(eyes)
            statuses = [o.status for o in result.outcomes]
            assert len(after) <= 1, (result.to_json(), after)
            if result.ok:
                tally[statuses[0].value] += 1
                assert after == [target], result.to_json()
            elif statuses == [Status.FAILED, Status.ROLLED_BACK]:
                tally["rolled back"] += 1
                assert after == before, result.to_json()
            else:
                tally["rollback not verified"] += 1
                assert statuses == [Status.FAILED, Status.FAILED], result.to_json()

        with connect(emulator.endpoint) as steady:
            final = promote_launch_plan(steady, NIGHTLY, "v2", PROJECT, DOMAIN)
        assert final.ok, final.to_json()
        assert listed_active(eyes) == ["v2"]

    print(f"promote chaos (fault rate {FAULT_RATE}, seed {SEED}, {ROUNDS} runs): {dict(tally)}")
    assert sum(tally.values()) == ROUNDS
    assert tally["activated"] and tally["rolled back"]  # the faults reached the write and the read-back
