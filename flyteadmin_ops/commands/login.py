"""Log in to Flyte Admin as a person (auth_mode pkce or device_flow), or forget the cached tokens.

`login` runs the browser (pkce) or device-code (device_flow) flow now, even if tokens are cached, caches the
new ones (the OS keyring when usable, else a file only you can read), and checks them with a call to the
server. Every later command, in any process, uses and refreshes them without asking again, until they can
no longer be refreshed. `logout` removes every cached token for the endpoint.

The mode comes from the settings (flytectl's `authType: Pkce` / `DeviceFlow` in ~/.flyte/config.yaml, or
FLYTEADMIN_AUTH_MODE), or from --auth-mode. Prompts go to stderr; no token is ever printed.

Examples:
  flyteadmin-ops login                        # with ~/.flyte/config.yaml saying authType: Pkce
  flyteadmin-ops login --auth-mode device_flow --endpoint flyte.example.com:443
  flyteadmin-ops logout

Exit codes: 0 logged in (or out), 2 bad settings or a refused login.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from flyteadmin_ops.commands.common import (
    EXIT_OK,
    add_connection_arguments,
    add_output_argument,
    report_failure,
    settings_from_args,
)
from flyteadmin_ops.ops.results import OperationInputError
from flyteadmin_ops.settings import INTERACTIVE_AUTH_MODES, AdminSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--auth-mode",
        choices=sorted(INTERACTIVE_AUTH_MODES),
        help="how to log in (default: auth_mode from the settings)",
    )
    add_output_argument(parser)
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        summary = login(settings)
    except Exception as exc:  # report_failure re-raises what it does not know
        return report_failure(exc, output=args.output)
    if args.output == "json":
        print(json.dumps({"ok": True, **summary}, indent=2))
    else:
        who = summary["subject"] or "an unnamed user"
        print(f"Logged in to {summary['endpoint']} as {who} ({summary['auth_mode']});")
        print(f"tokens cached in {summary['cache']}.")
    return EXIT_OK


def run_logout(args: argparse.Namespace) -> int:
    from flyteadmin_ops.transport.token_cache import logout

    try:
        settings = settings_from_args(args)
        removed, where = logout(settings)
    except Exception as exc:
        return report_failure(exc, output=args.output)
    if args.output == "json":
        print(json.dumps({"ok": True, "endpoint": settings.endpoint, "removed": removed, "cache": where}))
    elif removed:
        print(f"Logged out of {settings.endpoint}: removed its tokens from {where}.")
    else:
        print(f"No cached tokens for {settings.endpoint} in {where}.")
    return EXIT_OK


def _settings(args: argparse.Namespace) -> AdminSettings:
    settings = settings_from_args(args)
    if args.auth_mode:
        settings = settings.replace(auth_mode=args.auth_mode)
    if settings.auth_mode not in INTERACTIVE_AUTH_MODES:
        raise OperationInputError(
            f"login needs auth_mode pkce or device_flow; auth_mode is {settings.auth_mode!r} (from "
            f"{settings.source_of('auth_mode')}): pass --auth-mode, or set authType: Pkce in "
            "~/.flyte/config.yaml"
        )
    return settings


def login(settings: AdminSettings) -> dict[str, object]:
    """Log in now and check the token with IdentityService.UserInfo; what to report (no token in it)."""
    from flyteidl.service import identity_pb2

    from flyteadmin_ops.client import SynchronousFlyteClient
    from flyteadmin_ops.transport import Transport
    from flyteadmin_ops.transport.auth import UnservedTokenProvider, discover, provider_from_settings
    from flyteadmin_ops.transport.interactive_auth import InteractiveTokenProvider

    # Discovery goes without a token: a transport with auth off asks the server what to log in with.
    with Transport(settings.replace(auth_mode="none")) as anonymous:
        server = discover(settings, anonymous.call)
    provider = provider_from_settings(settings, server)
    if isinstance(provider, UnservedTokenProvider):
        raise OperationInputError(
            f"{settings.endpoint} has auth off (it serves no AuthMetadataService): there is nothing to "
            "log in to"
        )
    assert isinstance(provider, InteractiveTokenProvider)
    tokens = provider.force_login()
    with SynchronousFlyteClient(transport=Transport(settings, token_provider=provider)) as client:
        who = client.raw.user_info(identity_pb2.UserInfoRequest())
        client.transport.close()
    expires = (
        None
        if tokens.expires_at is None
        else datetime.fromtimestamp(tokens.expires_at, timezone.utc).isoformat(timespec="seconds")
    )
    return {
        "endpoint": settings.endpoint,
        "auth_mode": settings.auth_mode,
        "client_id": provider.target.client_id,
        "subject": who.subject or who.preferred_username or None,
        "cache": provider.cache.store.description,
        "expires_at": expires,
        "refreshable": tokens.refresh_token is not None,
    }
