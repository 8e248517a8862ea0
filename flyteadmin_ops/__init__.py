"""flyteadmin_ops: operate a Flyte control plane through the Flyte Admin gRPC API.

Importing the package is cheap and never imports Prefect; the Prefect tasks live in
`flyteadmin_ops.tasks` and the flows in `flyteadmin_ops.flows`.
"""

__version__ = "0.1.0"
