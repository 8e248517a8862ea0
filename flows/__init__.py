"""The Prefect flows of flyteadmin_ops, installed as `flyteadmin_ops.flows` (pyproject package-dir).

- `register_all.register_all`: register a `pyflyte package` archive, one task run per dependency wave;
- `promote.promote_launch_plan`: activate a launch plan version, optionally copying it across domains;
- `relaunch_failed.relaunch_failed`: recover or relaunch failed executions, exactly once each;
- `sync_attributes.sync_attributes`: make matchable attributes match a declared file.
- `run_launch_plan.run_launch_plan`: run a launch plan with Python inputs, wait, return its outputs.

`prefect.yaml` at the repository root deploys them (module entrypoints `flyteadmin_ops.flows.<name>.<flow>`,
so a worker needs the installed package, not a checkout). Each flow takes
a `FlyteAdminConnection` block, or the name of a saved one, and publishes one summary table artifact.
Only the Prefect guard is imported here: `import flyteadmin_ops.flows` stays cheap, and without Prefect
every flow module fails with the extra's name (this package's init runs before any of them).
"""

import flyteadmin_ops._prefect_required  # noqa: F401
