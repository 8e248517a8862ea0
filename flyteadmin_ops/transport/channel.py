"""Build the gRPC channel described by AdminSettings: plaintext, TLS (system roots or a CA file) or mTLS.

Options are set explicitly because the defaults bite Flyte users: gRPC's 4 MiB receive limit is too small
for large workflow closures and execution lists, its 16 KiB metadata limit drops flyteadmin's longer
error messages, and an aggressive keepalive (flytekit pings every 30 s)
makes grpc-go servers, whose default policy allows one ping per 5 minutes, close the connection with
GOAWAY too_many_pings.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc

from flyteadmin_ops import __version__
from flyteadmin_ops.errors import FlyteAdminError, FlyteTlsMismatchException, looks_like_closed_socket
from flyteadmin_ops.settings import AdminSettings, SettingsError

logger = logging.getLogger(__name__)

USER_AGENT = f"flyteadmin-ops/{__version__}"


def channel_options(settings: AdminSettings) -> list[tuple[str, int | str]]:
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", settings.max_send_message_bytes),
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        # flyteadmin sends error messages (e.g. a registration diff) of up to 32000 bytes in trailers;
        # gRPC's default 16 KiB limit would replace them with "Stream removed".
        ("grpc.max_metadata_size", settings.max_metadata_bytes),
        ("grpc.absolute_max_metadata_size", settings.max_metadata_bytes),
        ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
        # Ping only while calls are in flight: idle pings are what servers count as abuse.
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.primary_user_agent", USER_AGENT),
        # After losing the server, gRPC waits up to 120 s between reconnects and fails calls at once in the
        # meantime: a restarted Admin would go unnoticed for minutes. Capped at the breaker's probe
        # interval, each probe finds a channel that has tried again.
        ("grpc.initial_reconnect_backoff_ms", min(1000, _reconnect_cap_ms(settings))),
        ("grpc.max_reconnect_backoff_ms", _reconnect_cap_ms(settings)),
    ]
    if settings.tls_server_name and not settings.insecure:
        options.append(("grpc.ssl_target_name_override", settings.tls_server_name))
    return options


def _reconnect_cap_ms(settings: AdminSettings) -> int:
    return max(100, int(settings.breaker_probe_interval_seconds * 1000))


C = TypeVar("C")


@dataclass(frozen=True)
class ChannelRecipe:
    """Everything a channel for some settings needs, read once: the sync and the asyncio transport open
    their channels from the same recipe, so they cannot drift apart in credentials or options."""

    target: str
    options: list[tuple[str, int | str]]
    credentials: grpc.ChannelCredentials | None
    """None for a plaintext channel."""

    def open(self, insecure: Callable[..., C], secure: Callable[..., C]) -> C:
        """A channel from `grpc.insecure_channel`/`grpc.secure_channel` or their `grpc.aio` namesakes."""
        if self.credentials is None:
            return insecure(self.target, options=self.options)
        return secure(self.target, self.credentials, options=self.options)


def channel_recipe(settings: AdminSettings) -> ChannelRecipe:
    """Read certificates (and warn about ignored ones) now, so a bad file fails before any call."""
    if settings.insecure:
        if settings.ca_cert_file or settings.client_cert_file:
            logger.warning("insecure=True: ignoring ca_cert_file/client_cert_file, the channel is plaintext")
        return ChannelRecipe(settings.endpoint, channel_options(settings), None)
    return ChannelRecipe(settings.endpoint, channel_options(settings), channel_credentials(settings))


def create_channel(settings: AdminSettings) -> grpc.Channel:
    """A new channel for `settings.endpoint`; the caller owns it and must close it."""
    return channel_recipe(settings).open(grpc.insecure_channel, grpc.secure_channel)


def channel_credentials(settings: AdminSettings) -> grpc.ChannelCredentials:
    root = _read(settings, "ca_cert_file")
    if settings.insecure_skip_verify and root is None:
        root = _fetch_server_certificate(settings)
    cert = _read(settings, "client_cert_file")
    key = _read(settings, "client_key_file")
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert)


def _read(settings: AdminSettings, field: str) -> bytes | None:
    path: Path | None = getattr(settings, field)
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:  # checked at construction, but the file may have gone since
        raise SettingsError(
            f"{field} '{path}' from {settings.source_of(field)} cannot be read: {exc.strerror}"
        ) from None


def _fetch_server_certificate(settings: AdminSettings) -> bytes:
    """Trust whatever the server presents, as flytekit's insecure_skip_verify does. Testing only."""
    host, port = settings.host, settings.port
    logger.warning(
        "insecure_skip_verify=True: trusting the certificate %s:%d presents without verification", host, port
    )
    try:
        pem = ssl.get_server_certificate((host, port), timeout=settings.deadline_seconds)
    except OSError as exc:
        raise SettingsError(
            f"insecure_skip_verify: cannot fetch the certificate of {settings.endpoint}: {exc}"
        ) from None
    return pem.encode()


def server_speaks_tls(settings: AdminSettings) -> bool:
    """Whether the endpoint completes a TLS handshake (nothing verified: only the protocol matters). Asked
    once a plaintext channel's connection was closed on it, to tell a TLS server from one going down."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection(
                (settings.host, settings.port), timeout=settings.deadline_seconds
            ) as raw,
            context.wrap_socket(raw, server_hostname=settings.host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def explain_failure(settings: AdminSettings, error: FlyteAdminError) -> FlyteAdminError:
    """`error`, or a FlyteTlsMismatchException when a plaintext channel's socket was closed by a server
    that speaks TLS (found by a handshake): bad settings with a hint, which the retry policy never repeats."""
    if settings.insecure and looks_like_closed_socket(error) and server_speaks_tls(settings):
        return FlyteTlsMismatchException(error.rpc, error.code, error.server_message, error.details)
    return error
