"""prefect.yaml: every deployment's entrypoint is a module of the installed package and loads as the intended
flow, its parameters validate against the flow's signature, the schedules are the ones promised, nothing needs
a checkout on the worker, and what every run needs is checked at deploy time by the build steps."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flyteadmin_ops.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = yaml.safe_load((REPO / "prefect.yaml").read_text())
DEPLOYMENTS = {d["name"]: d for d in PREFECT_YAML["deployments"]}
SHIPPED_ATTRIBUTES = REPO / "config" / "attributes.yaml"

# What an operator adds when running an on-demand deployment.
RUN_PARAMETERS: dict[str, dict[str, Any]] = {
    "register-all": {"package": "dist/pkg.tgz", "project": "p", "domain": "d", "version": "v1"},
    "promote-launch-plan": {"name": "lp", "version": "v1", "project": "p", "domain": "d"},
    "run-launch-plan": {"project": "p", "domain": "d", "name": "lp", "inputs": {"n": 3}},
}
# What the build steps put into the sync-attributes deployment (see test_sync_attributes_embeds_the_file).
DEPLOY_TIME_PARAMETERS: dict[str, dict[str, Any]] = {
    "sync-attributes": {"path": "config/attributes.yaml", "file_text": SHIPPED_ATTRIBUTES.read_text()},
}
EXPECTED = {
    "relaunch-failed": ("relaunch-failed", ["0 * * * *"]),
    "sync-attributes": ("sync-attributes", ["*/15 * * * *"]),
    "register-all": ("register-all", []),
    "promote-launch-plan": ("promote-launch-plan", []),
    "run-launch-plan": ("run-launch-plan", []),
}


def _build_steps(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The build steps `prefect deploy` runs for a deployment: its own, else the file's."""
    return deployment["build"] if "build" in deployment else PREFECT_YAML["build"]


def _step(steps: list[dict[str, Any]], function: str) -> dict[str, Any]:
    (inputs,) = [step[function] for step in steps if function in step]
    return inputs


def test_the_deployments_exist() -> None:
    assert set(DEPLOYMENTS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entrypoint_parameters_and_schedule(name: str) -> None:
    from prefect.flows import load_flow_from_entrypoint

    deployment = DEPLOYMENTS[name]
    entrypoint = deployment["entrypoint"]
    # Prefect treats an entrypoint without ':' as a module path and imports it after the (absent) pull steps.
    assert ":" not in entrypoint and entrypoint.startswith("flyteadmin_ops.flows."), entrypoint
    flow = load_flow_from_entrypoint(entrypoint)
    flow_name, crons = EXPECTED[name]
    assert flow.name == flow_name
    parameters = {**deployment["parameters"], **RUN_PARAMETERS.get(name, {})}
    parameters.update(DEPLOY_TIME_PARAMETERS.get(name, {}))
    validated = flow.validate_parameters(parameters)
    assert validated["connection"] == "flyteadmin"  # a saved block's name
    assert [s["cron"] for s in deployment["schedules"]] == crons
    assert deployment["work_pool"]["name"] == "flyteadmin-ops"


def test_workers_need_no_checkout_and_no_variable() -> None:
    # No pull step (a set_working_directory would point at a directory only the deploying machine has) and
    # no environment placeholder (an unset one deploys fine and breaks every run).
    assert PREFECT_YAML["pull"] == []
    assert all("pull" not in deployment for deployment in DEPLOYMENTS.values())
    assert "{{ $" not in (REPO / "prefect.yaml").read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_deploy_checks_the_connection_block_its_runs_load(name: str) -> None:
    deployment = DEPLOYMENTS[name]
    step = _step(_build_steps(deployment), "flyteadmin_ops.deployment_steps.check_connection_block")
    assert step["name"] == deployment["parameters"]["connection"]


def test_sync_attributes_embeds_the_file_it_read_at_deploy_time() -> None:
    from flyteadmin_ops.deployment_steps import read_attribute_file

    deployment = DEPLOYMENTS["sync-attributes"]
    step = _step(deployment["build"], "flyteadmin_ops.deployment_steps.read_attribute_file")
    assert step["id"] == "attribute-file"
    assert deployment["parameters"]["file_text"] == "{{ attribute-file.text }}"
    assert deployment["parameters"]["path"] == "{{ attribute-file.path }}"

    output = read_attribute_file(str(REPO / step["path"]))

    assert output["text"] == SHIPPED_ATTRIBUTES.read_text()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the attributes file"),
        ("- project: flytesnacks\n  type: no-such-type\n", "no-such-type"),
        ("# nothing declared\n", "declares no attributes"),
    ],
)
def test_a_missing_or_bad_attribute_file_fails_the_deploy(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    from flyteadmin_ops.deployment_steps import DeploymentCheckError, read_attribute_file

    path = tmp_path / "attributes.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DeploymentCheckError, match=expected):
        read_attribute_file(str(path))


def test_a_wrong_parameter_would_be_caught() -> None:
    from prefect.exceptions import ParameterTypeError
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(DEPLOYMENTS["relaunch-failed"]["entrypoint"])
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters({"project": "p", "domain": "d", "phases": ["ABORTED"]})


@pytest.mark.parametrize("batch_size", [0, -1])
def test_a_batch_size_below_one_is_refused(batch_size: int) -> None:
    # A slice of size 0 would launch nothing and report success.
    from prefect.exceptions import ParameterTypeError
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(DEPLOYMENTS["relaunch-failed"]["entrypoint"])
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters({"project": "p", "domain": "d", "batch_size": batch_size})


# ---- against the session's Prefect server ----------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(port=0) as emu:
        yield emu


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """Run in an empty directory, as a worker does (it runs each flow run in a temporary directory)."""
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_the_connection_check_fails_the_deploy_until_the_block_is_saved(emulator: Emulator) -> None:
    from flyteadmin_ops.blocks import FlyteAdminConnection
    from flyteadmin_ops.deployment_steps import DeploymentCheckError, check_connection_block

    with pytest.raises(DeploymentCheckError, match="no FlyteAdminConnection block named 'deploy-check'"):
        check_connection_block("deploy-check")

    FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True).save("deploy-check", overwrite=True)

    assert check_connection_block("deploy-check") == {"name": "deploy-check", "endpoint": emulator.endpoint}


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_sync_attributes_runs_from_the_embedded_text_where_the_file_does_not_exist(
    emulator: Emulator, elsewhere: Path
) -> None:
    from flyteadmin_ops.flows.sync_attributes import sync_attributes

    from flyteadmin_ops.blocks import FlyteAdminConnection
    from flyteadmin_ops.deployment_steps import read_attribute_file

    FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True).save("deploy-sync", overwrite=True)
    embedded = read_attribute_file(str(SHIPPED_ATTRIBUTES))
    assert not (elsewhere / "config" / "attributes.yaml").exists()

    state = sync_attributes(
        "config/attributes.yaml", "deploy-sync", file_text=embedded["text"], return_state=True
    )

    assert state.is_completed(), state
    assert state.result().totals == {"created": 9}
