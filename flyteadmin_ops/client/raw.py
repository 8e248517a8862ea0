"""`RawSynchronousFlyteClient`: one method per Flyte Admin RPC, protobuf request in, protobuf response out.

The methods are not written by hand. `_install_rpc_methods` creates one per catalog entry (named as flytekit
names it, with a real signature and docstring), so the 66 RPCs share one body: coerce the request, make sure a
launch carries an execution name, and hand it to the transport, which applies deadline, auth, retry policy
and error mapping. Type checkers see the methods through the generated stub `_raw_api.pyi`
(regenerate with `python -m flyteadmin_ops.client.stubgen`; a test fails when it is stale).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import Message

from flyteadmin_ops.client import execution_names
from flyteadmin_ops.client.coerce import to_idl
from flyteadmin_ops.client.rpcs import CATALOG, EXECUTION_LAUNCHES, Rpc
from flyteadmin_ops.settings import AdminSettings
from flyteadmin_ops.transport import Transport

if TYPE_CHECKING:
    from flyteadmin_ops.client._raw_api import RawApi
else:
    RawApi = object

Metadata = Sequence[tuple[str, str]]
C = TypeVar("C", bound="RawSynchronousFlyteClient")

# flytekit PlatformConfig field -> AdminSettings field, so `RawSynchronousFlyteClient(cfg)` works for code
# that already builds one (e.g. `PlatformConfig.auto()`), credentials included.
_PLATFORM_CONFIG_FIELDS = {
    "endpoint": "endpoint",
    "insecure": "insecure",
    "insecure_skip_verify": "insecure_skip_verify",
    "ca_cert_file_path": "ca_cert_file",
    "auth_mode": "auth_mode",
    "client_id": "client_id",
    "client_credentials_secret": "client_secret",
    "scopes": "scopes",
    "audience": "audience",
    "command": "command",
}
_FLYTEKIT_DEFAULT_AUTH_MODE = "standard"
"""PlatformConfig's default (a browser flow). Left out, so that credentials in the config select client
credentials (see AdminSettings' auth-mode inference) instead of a mode no headless client can run."""


def _settings_from(config: Any, overrides: Mapping[str, Any]) -> AdminSettings:
    """AdminSettings from nothing (environment and files), an AdminSettings, or a flytekit PlatformConfig."""
    if config is None:
        return AdminSettings(**overrides)
    if isinstance(config, AdminSettings):
        return config.replace(**overrides) if overrides else config
    if hasattr(config, "endpoint"):
        values = {}
        for theirs, ours in _PLATFORM_CONFIG_FIELDS.items():
            value = getattr(config, theirs, None)
            value = getattr(value, "value", value)  # flytekit's AuthType enum
            if (
                value is None
                or value == []
                or (theirs == "auth_mode" and value == _FLYTEKIT_DEFAULT_AUTH_MODE)
            ):
                continue
            values[ours] = value
        return AdminSettings(**{**values, **overrides})
    raise TypeError(
        f"settings: expected AdminSettings or an object with .endpoint (flytekit PlatformConfig), "
        f"got {type(config).__name__}"
    )


class RawSynchronousFlyteClient(RawApi):
    """Every RPC of AdminService, DataProxyService, AuthMetadataService, IdentityService and SignalService.

    Each method takes the request protobuf (or a flytekit model of it; no argument sends an empty request)
    and keyword-only `timeout` (seconds, overriding the settings' per-call deadline) and `metadata`.
    CreateExecution, RelaunchExecution and RecoverExecution requests without a name get a generated one,
    so the transport may resend them without launching twice.

    Safe to share across threads: the client holds no mutable state besides the transport's channel.
    """

    def __init__(
        self,
        settings: AdminSettings | Any | None = None,
        *,
        transport: Transport | None = None,
        **overrides: Any,
    ) -> None:
        if transport is not None:
            if settings is not None or overrides:
                raise TypeError("pass either transport= or settings/overrides, not both")
            self._settings: AdminSettings = transport.settings
            self._transport = transport
            self._owns_transport = False
        else:
            self._settings = _settings_from(settings, overrides)
            self._transport = Transport(self._settings)
            self._owns_transport = True

    @classmethod
    def with_root_certificate(cls: type[C], cfg: AdminSettings | Any, root_cert_file: str) -> C:
        """A client of the class it is called on that trusts the CA in `root_cert_file`."""
        return cls(cfg, ca_cert_file=root_cert_file)

    @property
    def url(self) -> str:
        return self._settings.endpoint

    @property
    def settings(self) -> AdminSettings:
        return self._settings

    @property
    def transport(self) -> Transport:
        return self._transport

    def close(self) -> None:
        """Close the channel, unless the transport was handed in (then its creator closes it)."""
        if self._owns_transport:
            self._transport.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.url!r})"


def _raw_method(rpc: Rpc) -> Callable[..., Message]:
    spec = rpc.spec
    launches = spec.method in EXECUTION_LAUNCHES

    def call(
        self: RawSynchronousFlyteClient,
        request: Message | None = None,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        **by_name: Message,
    ) -> Message:
        if by_name:  # the request passed by keyword, under flytekit's parameter name
            request = _request_by_name(rpc, request, by_name)
        message = (
            spec.request_type() if request is None else to_idl(request, spec.request_type, rpc.python_name)
        )
        if launches:
            message = execution_names.ensure_named(message, rpc.label)
        return self._transport.call(spec, message, timeout=timeout, metadata=metadata)

    call.__name__ = rpc.python_name
    call.__qualname__ = f"{RawSynchronousFlyteClient.__name__}.{rpc.python_name}"
    call.__doc__ = rpc.describe()
    keyword = inspect.Parameter.KEYWORD_ONLY
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter(
                rpc.request_parameter,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None,
                annotation=spec.request_type | None,
            ),
            inspect.Parameter("timeout", keyword, default=None, annotation=float | None),
            inspect.Parameter("metadata", keyword, default=(), annotation=Metadata),
        ],
        return_annotation=spec.response_type,
    )
    return call


def _request_by_name(rpc: Rpc, positional: Message | None, by_name: Mapping[str, Message]) -> Message:
    """The request given as `<request_parameter>=...`; anything else is the TypeError Python would raise."""
    unexpected = sorted(set(by_name) - {rpc.request_parameter})
    if unexpected:
        raise TypeError(f"{rpc.python_name}() got an unexpected keyword argument {unexpected[0]!r}")
    if positional is not None:
        raise TypeError(f"{rpc.python_name}() got multiple values for argument {rpc.request_parameter!r}")
    return by_name[rpc.request_parameter]


def _install_rpc_methods(cls: type) -> None:
    for name, rpc in CATALOG.items():
        if name in cls.__dict__:
            raise RuntimeError(f"{cls.__name__}.{name} is defined by hand; RPC methods are generated")
        setattr(cls, name, _raw_method(rpc))


_install_rpc_methods(RawSynchronousFlyteClient)
