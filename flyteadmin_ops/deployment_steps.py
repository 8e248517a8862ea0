"""Deploy-time steps of `prefect.yaml`: `prefect deploy` fails, with a message saying what to do, when
something every run of a deployment needs is missing, instead of deploying fine and failing every run.

They run as `build:` steps (Prefect imports a step by its dotted name and calls it with the step's keyword
arguments, on the machine that runs `prefect deploy`), and what they return can be templated into the
deployment (`{{ step-id.key }}`):

- `check_connection_block(name)`: the FlyteAdminConnection block the flows load by name is saved on the
  Prefect server the deployment goes to (a worker cannot save it for you).
- `read_attribute_file(path)`: the sync-attributes declaration exists and is valid; its text is returned so
  that prefect.yaml embeds it in the deployment's parameters. A worker runs flows in a temporary directory
  with the package installed and no checkout, so a relative path would not be found there; the deployment
  carries the declaration instead, and changing it means editing the file and deploying again.
"""

from __future__ import annotations

import flyteadmin_ops._prefect_required  # noqa: F401  (first: without Prefect, names the extra)

from pathlib import Path

from flyteadmin_ops.ops.attribute_file import AttributeFileError, parse_attributes

SAVE_BLOCK_HINT = (
    'save one first (see the header of prefect.yaml), e.g. python -c "from flyteadmin_ops.blocks import '
    "FlyteAdminConnection; FlyteAdminConnection(endpoint='HOST:PORT').save('{name}', overwrite=True)\""
)


class DeploymentCheckError(RuntimeError):
    """A deployment would fail every run; raised by a build step, so that `prefect deploy` stops."""


def check_connection_block(name: str) -> dict[str, str]:
    """Fail the deploy when no FlyteAdminConnection block called `name` is saved on the Prefect server.

    Returns the block's name and endpoint (no secrets: step outputs are printed and kept in events).
    """
    from prefect.settings import PREFECT_API_URL
    from pydantic import ValidationError

    from flyteadmin_ops.blocks import FlyteAdminConnection

    server = PREFECT_API_URL.value() or "the ephemeral Prefect server"
    try:
        block = FlyteAdminConnection.load(name)
    except ValidationError as exc:  # saved, but by a version with other fields: runs would fail the same way
        raise DeploymentCheckError(
            f"the FlyteAdminConnection block {name!r} on {server} does not load ({exc}); "
            + SAVE_BLOCK_HINT.format(name=name)
        ) from exc
    except ValueError as exc:  # Prefect's "Unable to find block document named ..."
        raise DeploymentCheckError(
            f"no FlyteAdminConnection block named {name!r} on {server}: every run would fail to connect; "
            + SAVE_BLOCK_HINT.format(name=name)
        ) from exc
    assert isinstance(block, FlyteAdminConnection)  # `load` is typed sync-or-async; here it ran sync
    return {"name": name, "endpoint": block.endpoint}


def read_attribute_file(path: str) -> dict[str, str]:
    """Read and validate the sync-attributes declaration at deploy time; return its `path` and `text`.

    A relative path is read from the directory `prefect deploy` runs in (where prefect.yaml is).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeploymentCheckError(
            f"sync-attributes: cannot read the attributes file {path!r} "
            f"(from {Path.cwd()}): {exc}; run prefect deploy where prefect.yaml and the file are, "
            "or change `path` in prefect.yaml"
        ) from exc
    try:
        entries = parse_attributes(text, path)
    except AttributeFileError as exc:
        raise DeploymentCheckError(f"sync-attributes: {exc}") from exc
    if not entries:
        raise DeploymentCheckError(
            f"sync-attributes: {path!r} declares no attributes; a schedule syncing nothing is a mistake"
        )
    return {"path": path, "text": text}


__all__ = ["DeploymentCheckError", "check_connection_block", "read_attribute_file"]
