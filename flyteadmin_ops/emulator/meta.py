"""GetVersion, IdentityService and AuthMetadataService: what clients ask before doing real work.

GetPublicClientConfig tells clients to send the token in the `authorization` header (flytekit reads the key
from here), and GetOAuth2Metadata points them at the emulator's own HTTP token endpoint. Both services, and
IdentityService, exist only when the emulator runs with auth options; without, `server.py` answers them as
grpc-go answers an unregistered service.
"""

from __future__ import annotations

import datetime
import functools

from flyteidl.admin import version_pb2
from flyteidl.service import auth_pb2, identity_pb2

from flyteadmin_ops.emulator.http import oauth_metadata
from flyteadmin_ops.emulator.registry import ADMIN, AUTH_METADATA, IDENTITY, CallInfo, rpc
from flyteadmin_ops.emulator.state import EmulatorState


@rpc(ADMIN, "GetVersion")
def get_version(
    state: EmulatorState, request: version_pb2.GetVersionRequest, call: CallInfo
) -> version_pb2.GetVersionResponse:
    version = version_pb2.Version(
        Version=state.config.version, Build=state.config.build, BuildTime=go_build_time(state.started_at)
    )
    return version_pb2.GetVersionResponse(control_plane_version=version)


@functools.lru_cache(maxsize=8)
def go_build_time(started_at: datetime.datetime) -> str:
    """flytestdlib's unset build time: the process start as Go prints it (Version and Build are "unknown").
    Formatted once per start: GetVersion is the RPC health checks and benchmarks call most."""
    return started_at.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")


@rpc(AUTH_METADATA, "GetOAuth2Metadata")
def get_oauth2_metadata(
    state: EmulatorState, request: auth_pb2.OAuth2MetadataRequest, call: CallInfo
) -> auth_pb2.OAuth2MetadataResponse:
    return auth_pb2.OAuth2MetadataResponse(**oauth_metadata(state))


@rpc(AUTH_METADATA, "GetPublicClientConfig")
def get_public_client_config(
    state: EmulatorState, request: auth_pb2.PublicClientAuthConfigRequest, call: CallInfo
) -> auth_pb2.PublicClientAuthConfigResponse:
    return auth_pb2.PublicClientAuthConfigResponse(
        client_id=state.config.oauth_public_client_id or state.config.oauth_client_id or "flytectl",
        redirect_uri="http://localhost:53593/callback",
        scopes=list(state.config.oauth_scopes),
        authorization_metadata_key="authorization",
        service_http_endpoint=state.http_base_url,
        audience="",
    )


@rpc(IDENTITY, "UserInfo")
def user_info(
    state: EmulatorState, request: identity_pb2.UserInfoRequest, call: CallInfo
) -> identity_pb2.UserInfoResponse:
    return identity_pb2.UserInfoResponse(
        subject=call.principal, name=call.principal, preferred_username=call.principal
    )
