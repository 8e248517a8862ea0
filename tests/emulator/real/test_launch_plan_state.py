"""UpdateLaunchPlan with identifiers nobody recorded, by flyteadmin v1.16.8's `launch_plan_manager.go`.

Deactivating validates the identifier first (`disableLaunchPlan`: all four parts, a LAUNCH_PLAN id; the RPC
layer fills in an UNSPECIFIED resource type); activating does not, and its lookup, a gorm struct query,
ignores empty parts, so an id without a version activates the first stored version.
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2

from tests.emulator.real.entities import register_scoring
from tests.emulator.real.support import Real

INVALID = grpc.StatusCode.INVALID_ARGUMENT
SCOPE = 'project: "<P>" domain: "development"'


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        pytest.param(f'{SCOPE} name: "scoring_default"', "missing version", id="no version"),
        pytest.param(f'{SCOPE} version: "v1"', "missing name", id="no name"),
        pytest.param(
            f'resource_type: TASK {SCOPE} name: "scoring_default" version: "v1"',
            'unexpected resource type task for identifier [resource_type:TASK  project:"<P>"  '
            'domain:"development"  name:"scoring_default"  version:"v1"], expected launch_plan instead',
            id="a task id",
        ),
    ],
)
def test_deactivating_validates_the_identifier(real: Real, identifier: str, message: str) -> None:
    register_scoring(real)
    request = real.parse(launch_plan_pb2.LaunchPlanUpdateRequest, f"id {{ {identifier} }} state: INACTIVE")
    failure = real.refused("UpdateLaunchPlan", request)
    assert (failure.code, failure.message) == (INVALID, message)


def test_deactivating_without_an_id_is_missing_id(real: Real) -> None:
    failure = real.refused("UpdateLaunchPlan", launch_plan_pb2.LaunchPlanUpdateRequest(state=0))
    assert (failure.code, failure.message) == (INVALID, "missing id")


def test_activating_without_a_version_takes_the_first_stored_version(real: Real) -> None:
    register_scoring(real)
    request = real.parse(
        launch_plan_pb2.LaunchPlanUpdateRequest, f'id {{ {SCOPE} name: "scoring_default" }} state: ACTIVE'
    )
    real.call("UpdateLaunchPlan", request)
    active = real.parse(launch_plan_pb2.ActiveLaunchPlanRequest, f'id {{ {SCOPE} name: "scoring_default" }}')
    assert real.call("GetActiveLaunchPlan", active).id.version == "v1"
