"""`RawSynchronousFlyteClient`: one method per Flyte Admin RPC, protobuf request in, protobuf response out.

The methods are not written by hand. `install_rpc_methods` creates one per catalog entry (named as flytekit
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
    """AdminSettings from nothing (environment and files), an endpoint ("host:port", the other settings
    from the sources and `overrides`), an AdminSettings, or a flytekit PlatformConfig."""
    if config is None:
        return AdminSettings(**overrides)
    if isinstance(config, str):
        if "endpoint" in overrides:
            raise TypeError(f"the endpoint is given twice: {config!r} and endpoint={overrides['endpoint']!r}")
        return AdminSettings(endpoint=config, **overrides)
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
        "settings: expected an endpoint, AdminSettings or an object with .endpoint (flytekit "
        f"PlatformConfig), got {type(config).__name__}"
    )


TransportT = TypeVar("TransportT")


def resolve_transport(
    settings: AdminSettings | Any | None,
    transport: TransportT | None,
    overrides: Mapping[str, Any],
    make: Callable[[AdminSettings], TransportT],
) -> tuple[AdminSettings, TransportT, bool]:
    """A raw client's (sync or asyncio) settings, transport, and whether the client owns (closes) it."""
    if transport is not None:
        if settings is not None or overrides:
            raise TypeError("pass either transport= or settings/overrides, not both")
        return transport.settings, transport, False  # type: ignore[attr-defined]
    resolved = _settings_from(settings, overrides)
    return resolved, make(resolved), True


class ClientSettings:
    """What the sync and the asyncio raw clients show of their settings (flytekit's `url` among them)."""

    _settings: AdminSettings

    @property
    def url(self) -> str:
        return self._settings.endpoint

    @property
    def settings(self) -> AdminSettings:
        return self._settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.url!r})"


class RawSynchronousFlyteClient(ClientSettings, RawApi):
    """Every RPC of AdminService, DataProxyService, AuthMetadataService, IdentityService and SignalService.

    Each method takes the request protobuf (or a flytekit model of it; no argument sends an empty request)
    and keyword-only `timeout` (seconds, overriding the settings' per-call deadline) and `metadata`.
    CreateExecution, RelaunchExecution and RecoverExecution requests without a name get a generated one,
    so the transport may resend them without launching twice.

    Safe to share across threads: the client holds no mutable state besides the transport's channel.
    """

    def __init__(
        self,
        settings: AdminSettings | str | Any | None = None,
        *,
        transport: Transport | None = None,
        **overrides: Any,
    ) -> None:
        self._settings, self._transport, self._owns_transport = resolve_transport(
            settings, transport, overrides, Transport
        )

    @classmethod
    def with_root_certificate(cls: type[C], cfg: AdminSettings | Any, root_cert_file: str) -> C:
        """A client of the class it is called on that trusts the CA in `root_cert_file`."""
        return cls(cfg, ca_cert_file=root_cert_file)

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


def _raw_method(rpc: Rpc) -> Callable[..., Message]:
    def call(
        self: RawSynchronousFlyteClient,
        request: Message | None = None,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        **by_name: Message,
    ) -> Message:
        message = request_for(rpc, request, by_name)
        return self._transport.call(rpc.spec, message, timeout=timeout, metadata=metadata)

    return describe_rpc_method(call, rpc, RawSynchronousFlyteClient.__name__)


def request_for(rpc: Rpc, request: Message | None, by_name: Mapping[str, Message]) -> Message:
    """What a generated raw method (sync or asyncio) sends: the request, passed positionally or under
    flytekit's parameter name, as the RPC's protobuf (empty when none is given), and named if it launches."""
    if by_name:  # the request passed by keyword, under flytekit's parameter name
        request = _request_by_name(rpc, request, by_name)
    spec = rpc.spec
    message = spec.request_type() if request is None else to_idl(request, spec.request_type, rpc.python_name)
    if spec.method in EXECUTION_LAUNCHES:
        message = execution_names.ensure_named(message, rpc.label)
    return message


F = TypeVar("F", bound=Callable[..., Any])


def describe_rpc_method(method: F, rpc: Rpc, owner: str) -> F:
    """Name, docstring and signature (flytekit's parameter name, the request and response types) for a
    generated raw method of class `owner`."""
    spec = rpc.spec
    method.__name__ = rpc.python_name
    method.__qualname__ = f"{owner}.{rpc.python_name}"
    method.__doc__ = rpc.describe()
    keyword = inspect.Parameter.KEYWORD_ONLY
    method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
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
    return method


def _request_by_name(rpc: Rpc, positional: Message | None, by_name: Mapping[str, Message]) -> Message:
    """The request given as `<request_parameter>=...`; anything else is the TypeError Python would raise."""
    unexpected = sorted(set(by_name) - {rpc.request_parameter})
    if unexpected:
        raise TypeError(f"{rpc.python_name}() got an unexpected keyword argument {unexpected[0]!r}")
    if positional is not None:
        raise TypeError(f"{rpc.python_name}() got multiple values for argument {rpc.request_parameter!r}")
    return by_name[rpc.request_parameter]


def install_rpc_methods(cls: type, make: Callable[[Rpc], Callable[..., Any]]) -> None:
    """One generated method per catalog entry on `cls` (the sync and the asyncio raw client)."""
    for name, rpc in CATALOG.items():
        if name in cls.__dict__:
            raise RuntimeError(f"{cls.__name__}.{name} is defined by hand; RPC methods are generated")
        setattr(cls, name, make(rpc))


install_rpc_methods(RawSynchronousFlyteClient, _raw_method)
