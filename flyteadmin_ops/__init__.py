"""flyteadmin_ops: operate a Flyte control plane through the Flyte Admin gRPC API.

The public surface is re-exported here but resolved lazily (PEP 562): `import flyteadmin_ops` costs nothing,
and the emulator, which lives in this package but must never load the client, does not pay for it either.
Prefect is only ever imported by `flyteadmin_ops.blocks`, `flyteadmin_ops.tasks` and `flyteadmin_ops.flows`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_MODULE_OF = {
    "flyteadmin_ops.settings": ("AdminSettings", "SettingsError"),
    "flyteadmin_ops.client": ("RawSynchronousFlyteClient", "SynchronousFlyteClient", "Filters", "sort_by"),
    "flyteadmin_ops.errors": (
        "FlyteAdminError",
        "FlyteAuthenticationException",
        "FlyteEntityAlreadyExistsException",
        "FlyteEntityConflictException",
        "FlyteEntityNotExistException",
        "FlyteFailedPreconditionException",
        "FlyteInvalidInputException",
        "FlytePermissionDeniedException",
        "FlyteResourceExhaustedException",
        "FlyteSystemException",
        "FlyteSystemUnavailableException",
        "FlyteTimeout",
        "FlyteUnimplementedException",
    ),
}
_EXPORTS = {name: module for module, names in _MODULE_OF.items() for name in names}

__all__ = [  # noqa: RUF022 - grouped by module, as above
    "__version__",
    "AdminSettings",
    "SettingsError",
    "RawSynchronousFlyteClient",
    "SynchronousFlyteClient",
    "Filters",
    "sort_by",
    "FlyteAdminError",
    "FlyteAuthenticationException",
    "FlyteEntityAlreadyExistsException",
    "FlyteEntityConflictException",
    "FlyteEntityNotExistException",
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
        FlyteAuthenticationException,
        FlyteEntityAlreadyExistsException,
        FlyteEntityConflictException,
        FlyteEntityNotExistException,
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
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flyteadmin_ops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
