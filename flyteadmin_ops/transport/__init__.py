"""How calls reach Flyte Admin: channel, auth, deadlines, retries and error mapping.

`Transport.call(spec, request)` is the single entry point the clients use; `RpcSpec` describes one RPC;
`CircuitBreaker` makes every call of a transport fail at once with FlyteAdminUnreachable once Admin is gone.
"""

from flyteadmin_ops.transport.auth import (
    ClientCredentialsTokenProvider,
    CommandTokenProvider,
    StaticTokenProvider,
    TokenProvider,
)
from flyteadmin_ops.transport.breaker import CircuitBreaker
from flyteadmin_ops.transport.channel import create_channel
from flyteadmin_ops.transport.retry import RetryPolicy
from flyteadmin_ops.transport.rpc import RpcSpec
from flyteadmin_ops.transport.transport import Transport

__all__ = [
    "CircuitBreaker",
    "ClientCredentialsTokenProvider",
    "CommandTokenProvider",
    "RetryPolicy",
    "RpcSpec",
    "StaticTokenProvider",
    "TokenProvider",
    "Transport",
    "create_channel",
]
