"""flyteadmin_ops: operate a Flyte control plane through the Flyte Admin gRPC API.

The public surface is re-exported here but resolved lazily (PEP 562): `import flyteadmin_ops` costs nothing,
and the emulator, which lives in this package but must never load the client, does not pay for it either.
Prefect is only ever imported by `flyteadmin_ops.blocks`, `flyteadmin_ops.tasks` and `flyteadmin_ops.flows`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Where the public names live, searched in order by __getattr__ (cheapest first).
_HOME_MODULES = ("flyteadmin_ops.errors", "flyteadmin_ops.settings", "flyteadmin_ops.client")

__all__ = [  # noqa: RUF022 - grouped by home module
    "__version__",
    "AdminSettings",
    "SettingsError",
    "RawSynchronousFlyteClient",
    "SynchronousFlyteClient",
    "Filters",
    "sort_by",
    "FlyteAdminError",
    "FlyteAdminUnreachable",
    "FlyteAuthenticationException",
    "FlyteEntityAlreadyExistsException",
    "FlyteEntityConflictException",
    "FlyteEntityNotExistException",
    "FlyteExecutionFailed",
    "FlyteExecutionWaitTimeout",
    "FlyteFailedPreconditionException",
    "FlyteInvalidInputException",
    "FlytePermissionDeniedException",
    "FlyteResourceExhaustedException",
    "FlyteSystemException",
    "FlyteSystemUnavailableException",
    "FlyteTimeout",
    "FlyteUnimplementedException",
]

if TYPE_CHECKING:
    from flyteadmin_ops.client import Filters, RawSynchronousFlyteClient, SynchronousFlyteClient, sort_by
    from flyteadmin_ops.errors import (
        FlyteAdminError,
        FlyteAdminUnreachable,
        FlyteAuthenticationException,
        FlyteEntityAlreadyExistsException,
        FlyteEntityConflictException,
        FlyteEntityNotExistException,
        FlyteExecutionFailed,
        FlyteExecutionWaitTimeout,
        FlyteFailedPreconditionException,
        FlyteInvalidInputException,
        FlytePermissionDeniedException,
        FlyteResourceExhaustedException,
        FlyteSystemException,
        FlyteSystemUnavailableException,
        FlyteTimeout,
        FlyteUnimplementedException,
    )
    from flyteadmin_ops.settings import AdminSettings, SettingsError


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module_name in _HOME_MODULES:
            module = importlib.import_module(module_name)
            if hasattr(module, name):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'flyteadmin_ops' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
