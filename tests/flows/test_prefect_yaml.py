"""prefect.yaml: every deployment's entrypoint loads as the intended flow, its parameters validate against
the flow's signature, and the schedules are the ones promised (hourly, every 15 minutes, on demand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENTS = {d["name"]: d for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]}

# What an operator adds when running an on-demand deployment.
RUN_PARAMETERS: dict[str, dict[str, Any]] = {
    "register-all": {"package": "dist/pkg.tgz", "project": "p", "domain": "d", "version": "v1"},
    "promote-launch-plan": {"name": "lp", "version": "v1", "project": "p", "domain": "d"},
}
EXPECTED = {
    "relaunch-failed": ("relaunch-failed", ["0 * * * *"]),
    "sync-attributes": ("sync-attributes", ["*/15 * * * *"]),
    "register-all": ("register-all", []),
    "promote-launch-plan": ("promote-launch-plan", []),
}


def test_the_four_deployments_exist() -> None:
    assert set(DEPLOYMENTS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entrypoint_parameters_and_schedule(name: str) -> None:
    from prefect.flows import load_flow_from_entrypoint

    deployment = DEPLOYMENTS[name]
    path, function = deployment["entrypoint"].split(":")
    assert path.startswith("flows/") and (REPO / path).is_file()
    flow = load_flow_from_entrypoint(f"{REPO / path}:{function}")
    flow_name, crons = EXPECTED[name]
    assert flow.name == flow_name
    parameters = {**deployment["parameters"], **RUN_PARAMETERS.get(name, {})}
    validated = flow.validate_parameters(parameters)
    assert validated["connection"] == "flyteadmin"  # a saved block's name
    assert [s["cron"] for s in deployment["schedules"]] == crons
    assert deployment["work_pool"]["name"] == "flyteadmin-ops"


def test_sync_attributes_deployment_reads_the_shipped_file() -> None:
    from flyteadmin_ops.ops.attribute_file import load_attribute_file

    path = DEPLOYMENTS["sync-attributes"]["parameters"]["path"]
    assert load_attribute_file(REPO / path)


def test_a_wrong_parameter_would_be_caught() -> None:
    from prefect.exceptions import ParameterTypeError
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(f"{REPO / 'flows/relaunch_failed.py'}:relaunch_failed")
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters({"project": "p", "domain": "d", "phases": ["ABORTED"]})


@pytest.mark.parametrize("batch_size", [0, -1])
def test_a_batch_size_below_one_is_refused(batch_size: int) -> None:
    # A slice of size 0 would launch nothing and report success.
    from prefect.exceptions import ParameterTypeError
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(f"{REPO / 'flows/relaunch_failed.py'}:relaunch_failed")
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters({"project": "p", "domain": "d", "batch_size": batch_size})
