"""The Prefect Block that holds a Flyte Admin connection: `FlyteAdminConnection`.

This module is the `prefect.collections` entry point of the package (see pyproject), so a Prefect server
started where flyteadmin_ops is installed registers the block type on start; `prefect block register -m
flyteadmin_ops.blocks` does the same by hand.

The block is a credentials block in the prefect-aws / prefect-github style: connection fields plus secrets
as `SecretStr` (masked in the UI, in `repr`, in `model_dump()` and in logs), and `get_client()`. It builds
`AdminSettings` from its own fields only (`AdminSettings.isolated`), so a worker's environment variables or
~/.flyte/config.yaml cannot silently change which Admin a saved block talks to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.settings import AdminSettings


class FlyteAdminConnection(CredentialsBlock):
    """Where Flyte Admin is and how to authenticate to it.

    Example:
        ```python
        from prefect import flow
        from flyteadmin_ops.blocks import FlyteAdminConnection

        @flow
        def list_projects() -> list[str]:
            connection = FlyteAdminConnection.load("production")
            with connection.get_client() as client:
                return [p.id for p in client.list_projects().projects]
        ```
    """

    _block_type_name = "Flyte Admin Connection"
    _logo_url = "https://avatars.githubusercontent.com/u/68125285"  # type: ignore[assignment]
    _documentation_url = "https://github.com/flyteorg/flyte"  # type: ignore[assignment]
    _description = "Connection settings and credentials for a Flyte Admin gRPC endpoint."

    endpoint: str = Field(default="localhost:30080", description="Flyte Admin gRPC endpoint, host:port.")
    insecure: bool = Field(default=False, description="Plaintext gRPC (no TLS), e.g. for a local sandbox.")
    ca_cert_file: str | None = Field(
        default=None, description="Path (on the worker) to a PEM file with the CA that signs the server cert."
    )
    auth_mode: Literal["none", "static", "client_credentials", "external_command"] = Field(
        default="none", description="How to obtain a token."
    )
    token: SecretStr | None = Field(default=None, description="Static bearer token (auth_mode=static).")
    client_id: str | None = Field(
        default=None, description="OAuth2 client id (auth_mode=client_credentials)."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="OAuth2 client secret (auth_mode=client_credentials)."
    )
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes to request.")
    audience: str | None = Field(default=None, description="OAuth2 audience, if the provider needs one.")
    token_endpoint: str | None = Field(
        default=None, description="OAuth2 token URL; discovered from the server when empty."
    )
    deadline_seconds: float = Field(default=30.0, gt=0, description="Deadline of each RPC attempt.")
    max_concurrency: int = Field(default=8, gt=0, description="At most this many RPCs in flight at once.")

    def get_settings(self) -> AdminSettings:
        """AdminSettings from this block's fields alone (no environment, no config files)."""
        from flyteadmin_ops.settings import AdminSettings

        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in (
                "endpoint",
                "insecure",
                "ca_cert_file",
                "auth_mode",
                "token",
                "client_id",
                "client_secret",
                "scopes",
                "audience",
                "token_endpoint",
                "deadline_seconds",
                "max_concurrency",
            )
            if getattr(self, name) is not None
        }
        return AdminSettings.isolated(**values)

    def get_client(self, *args: Any, **kwargs: Any) -> SynchronousFlyteClient:
        """A new client; close it when done (it is a context manager). Keyword arguments override settings."""
        from flyteadmin_ops.client import SynchronousFlyteClient

        return SynchronousFlyteClient(self.get_settings(), *args, **kwargs)
