"""Typed errors for Flyte Admin RPCs: one table from gRPC status code to exception class.

The class names follow flytekit (`flytekit.exceptions.user/system`) so that code written against
flytekit reads the same; the extra classes cover what flytekit folds into generic errors: a structural
conflict on re-registration (flyteadmin answers INVALID_ARGUMENT with a JSON diff), a failed precondition
that says which terminal phase an execution is already in, permission and quota errors.

Every error keeps the RPC name, the status code, the server's message and the decoded detail protos from
the `grpc-status-details-bin` trailer. Nothing here ever holds request metadata, so no credential can
leak into an exception text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any as AnyType
from typing import TypeVar

import grpc

# Imported so that the detail types flyteadmin packs are in the default descriptor pool.
from flyteidl.admin import event_pb2, project_pb2, workflow_pb2  # noqa: F401
from flyteidl.core import identifier_pb2
from google.protobuf import any_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

_MAX_MESSAGE_IN_STR = 2000
"""flyteadmin can send diffs of tens of KB; str() shows the head, `server_message` keeps all of it."""


class FlyteAdminError(Exception):
    """A Flyte Admin RPC failed. Base of every error the transport raises."""

    attempts: int = 1
    """How many times the call was sent before this error was final (see `after_attempts`)."""

    fixed_hint: str = ""
    """A class's own hint, for errors whose cause is known for certain (else one is read off the message)."""

    def __init__(
        self,
        rpc: str,
        code: grpc.StatusCode,
        server_message: str,
        details: Sequence[Message] = (),
    ) -> None:
        self.rpc = rpc
        self.code = code
        self.server_message = server_message
        self._details = list(details)
        super().__init__(self._describe())

    _undecoded: grpc.RpcError | None = None
    """The failed call whose trailer `details` decodes on its first read (set by `from_rpc_error`)."""

    @property
    def details(self) -> list[Message]:
        """The detail protos of the `grpc-status-details-bin` trailer (unknown types stay packed as Any).

        An error made from a failed call decodes its trailer here, on the first read, not when it is made:
        most errors are caught by their type alone (every ALREADY_EXISTS of a re-registration), and parsing
        the trailer cost such a call ~25 µs of client CPU, a quarter of all it cost beyond gRPC's own."""
        if self._undecoded is not None:
            self._details = _decode_details(self._undecoded)
            self._undecoded = None
        return self._details

    @details.setter
    def details(self, details: Sequence[Message]) -> None:
        self._details = list(details)
        self._undecoded = None

    def _describe(self) -> str:
        message = self.server_message
        if len(message) > _MAX_MESSAGE_IN_STR:
            message = message[:_MAX_MESSAGE_IN_STR] + f"... ({len(self.server_message)} characters in all)"
        text = f"{self.rpc} failed with {self.code.name}: {message or '(no message)'}"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        hint = self.fixed_hint or _hint(self.code, self.server_message)
        return f"{text} [{hint}]" if hint else text

    def after_attempts(self, attempts: int) -> FlyteAdminError:
        """Record that retries came before this error, so its text does not read like a single failure."""
        self.attempts = attempts
        self.args = (self._describe(),)
        return self

    def detail(self, message_type: type[M]) -> M | None:
        """The first decoded detail of the given protobuf type, or None."""
        return _find(self.details, message_type)

    def __reduce__(self) -> tuple[AnyType, ...]:
        # Keeps errors picklable (Prefect and multiprocessing move them between processes). Reading `details`
        # decodes the trailer first: the failed call it comes from does not pickle.
        details = self.details
        return (_rebuild, (type(self), self.rpc, self.code, self.server_message, details, self.__dict__))


def _rebuild(
    cls: type[FlyteAdminError],
    rpc: str,
    code: grpc.StatusCode,
    server_message: str,
    details: list[Message],
    state: dict[str, AnyType],
) -> FlyteAdminError:
    error = cls.__new__(cls)
    FlyteAdminError.__init__(error, rpc, code, server_message, details)
    error.__dict__.update(state)
    error.args = (error._describe(),)
    return error


class FlyteAuthenticationException(FlyteAdminError):
    """UNAUTHENTICATED: no token, an expired one, or a token the server does not accept."""


class FlytePermissionDeniedException(FlyteAdminError):
    """PERMISSION_DENIED: authenticated, but not allowed to do this."""


class FlyteEntityAlreadyExistsException(FlyteAdminError):
    """ALREADY_EXISTS: flyteadmin's answer when an identical entity (or a named execution) already exists."""


class FlyteEntityNotExistException(FlyteAdminError):
    """NOT_FOUND."""


class FlyteInvalidInputException(FlyteAdminError):
    """INVALID_ARGUMENT."""


class FlyteEntityConflictException(FlyteInvalidInputException):
    """An entity with the same identifier but a different structure already exists.

    flyteadmin reports this as INVALID_ARGUMENT "<name> <kind> with different structure already exists.
    (Please register a new version ...):\n<diff>"; workflows also carry a CreateWorkflowFailureReason
    detail with the identifier. `entity_id` is that identifier (or the request's id, which the transport
    records for tasks and launch plans); `diff` is the server's diff text.
    """

    request_id: identifier_pb2.Identifier | None = None

    @property
    def entity_id(self) -> identifier_pb2.Identifier | None:
        reason = self.detail(workflow_pb2.CreateWorkflowFailureReason)
        if reason is not None and reason.HasField("exists_different_structure"):
            return reason.exists_different_structure.id
        return self.request_id

    @property
    def diff(self) -> str:
        # flyteadmin's text is "<headline>:\n<diff>"; the whole message if it has no such split.
        _headline, sep, rest = self.server_message.partition("\n")
        return rest.strip() if sep else self.server_message


class FlyteFailedPreconditionException(FlyteAdminError):
    """FAILED_PRECONDITION: e.g. terminating an execution that already finished."""

    @property
    def current_phase(self) -> str | None:
        """The phase from an EventFailureReason.already_in_terminal_state detail, else None."""
        reason = self.detail(event_pb2.EventFailureReason)
        if reason is not None and reason.HasField("already_in_terminal_state"):
            return reason.already_in_terminal_state.current_phase
        return None


class FlyteResourceExhaustedException(FlyteAdminError):
    """RESOURCE_EXHAUSTED: rate limits, quotas, or a message larger than a configured maximum."""


class FlyteUnimplementedException(FlyteAdminError):
    """UNIMPLEMENTED: the server (or a proxy in front of it) does not serve this RPC."""


class FlyteSystemUnavailableException(FlyteAdminError):
    """UNAVAILABLE: the server could not be reached, or a TLS handshake failed."""


class FlyteTlsMismatchException(FlyteSystemUnavailableException):
    """A plaintext client (insecure=True) reached a server that speaks TLS: the server closes the socket
    on the first bytes, which alone reads like an outage; the transport tells them apart by trying a TLS
    handshake. A settings error, which no retry can fix."""

    fixed_hint = (
        "the server speaks TLS but the client is plaintext: drop insecure=True (--insecure), and set "
        "ca_cert_file (--ca-cert) if a private CA signed its certificate"
    )


class FlyteAdminUnreachable(FlyteSystemUnavailableException):
    """Flyte Admin went away: every call for longer than the retry budget failed to reach it (connection
    refused, socket closed, no answer in time) and none got an answer in between.

    Raised at once, without sending, by every call of the same client while its circuit breaker is open,
    and by retry loops woken from their sleep, so a run stops within seconds of Admin dying instead of
    every remaining call spending its own retry budget. One probe call goes through every
    `breaker_probe_interval_seconds`; the first answer closes the breaker again. No retry of a call can
    help, so the retry policy never repeats it; `endpoint`, `unreachable_seconds` and `last_error` (the
    text of the last transport failure) say what was seen.
    """

    fixed_hint = "check that Flyte Admin is running and reachable; calls resume once a probe gets an answer"

    def __init__(self, rpc: str, endpoint: str, unreachable_seconds: float, last_error: str) -> None:
        self.endpoint = endpoint
        self.unreachable_seconds = unreachable_seconds
        self.last_error = last_error
        super().__init__(
            rpc,
            grpc.StatusCode.UNAVAILABLE,
            f"the server went away: Flyte Admin at {endpoint} has been unreachable for "
            f"{unreachable_seconds:.1f}s (the last transport error was {last_error}); not sent",
        )


class FlyteTokenEndpointError(FlyteAuthenticationException):
    """The token request failed as configured: https to a plaintext HTTP port, a certificate the client
    does not trust, scopes the client may not ask for. A settings error; `hint` names the setting to change
    (`token_endpoint`, `ca_cert_file`, `scopes`), never gRPC's `insecure`, which does not govern it."""

    def __init__(
        self,
        rpc: str,
        code: grpc.StatusCode,
        server_message: str,
        details: Sequence[Message] = (),
        *,
        hint: str = "",
    ) -> None:
        self.fixed_hint = hint
        super().__init__(rpc, code, server_message, details)


class FlyteTimeout(FlyteAdminError):
    """DEADLINE_EXCEEDED: the per-call or the overall deadline passed."""


class FlyteSystemException(FlyteAdminError):
    """INTERNAL, UNKNOWN and every other code: a failure on the server side."""


class FlyteExecutionFailed(Exception):
    """An execution ended FAILED, ABORTED or TIMED_OUT: Flyte's outcome, not a failed RPC.

    Carries what Flyte said (`error_code`, `error_message`, both "" when Flyte gave none, as for an abort
    without a cause) so a Prefect run fails with Flyte's own message, and `execution_id` as
    "project/domain/name". Plain string fields, so Prefect can pickle it into a failed state.
    """

    def __init__(self, execution_id: str, phase: str, error_code: str = "", error_message: str = "") -> None:
        self.execution_id = execution_id
        self.phase = phase
        self.error_code = error_code
        self.error_message = error_message
        reason = ": ".join(part for part in (error_code, error_message) if part) or "no error reported"
        super().__init__(f"execution {execution_id} ended {phase}: {reason}")

    def __reduce__(self) -> tuple[AnyType, ...]:
        return (type(self), (self.execution_id, self.phase, self.error_code, self.error_message))


class FlyteExecutionWaitTimeout(TimeoutError):
    """Waiting for an execution took longer than the caller allowed (our limit, not Flyte's TIMED_OUT).

    `terminated` says whether the execution was terminated when the wait gave up.
    """

    def __init__(self, execution_id: str, waited_seconds: float, terminated: bool) -> None:
        self.execution_id = execution_id
        self.waited_seconds = waited_seconds
        self.terminated = terminated
        outcome = "terminated it" if terminated else "it is still running"
        super().__init__(f"execution {execution_id} did not finish within {waited_seconds:g} s; {outcome}")

    def __reduce__(self) -> tuple[AnyType, ...]:
        return (type(self), (self.execution_id, self.waited_seconds, self.terminated))


ERROR_CLASSES: dict[grpc.StatusCode, type[FlyteAdminError]] = {
    grpc.StatusCode.UNAUTHENTICATED: FlyteAuthenticationException,
    grpc.StatusCode.PERMISSION_DENIED: FlytePermissionDeniedException,
    grpc.StatusCode.ALREADY_EXISTS: FlyteEntityAlreadyExistsException,
    grpc.StatusCode.NOT_FOUND: FlyteEntityNotExistException,
    grpc.StatusCode.INVALID_ARGUMENT: FlyteInvalidInputException,
    grpc.StatusCode.FAILED_PRECONDITION: FlyteFailedPreconditionException,
    grpc.StatusCode.RESOURCE_EXHAUSTED: FlyteResourceExhaustedException,
    grpc.StatusCode.UNIMPLEMENTED: FlyteUnimplementedException,
    grpc.StatusCode.UNAVAILABLE: FlyteSystemUnavailableException,
    grpc.StatusCode.DEADLINE_EXCEEDED: FlyteTimeout,
}
"""The single mapping from status code to class; codes not listed become FlyteSystemException."""

_CONFLICT = re.compile(r"with different structure already exists", re.IGNORECASE)


def from_rpc_error(rpc: str, error: grpc.RpcError, *, request: Message | None = None) -> FlyteAdminError:
    """Map a failed call to its typed error.

    `rpc` names the call as "Service/Method". `request`, when given, supplies the entity id for a
    conflict whose detail does not carry one (flyteadmin sends no detail for tasks and launch plans).
    """
    code_fn = getattr(error, "code", None)
    code = code_fn() if callable(code_fn) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details_fn = getattr(error, "details", None)
    server_message = (details_fn() if callable(details_fn) else None) or str(error) or ""
    mapped = ERROR_CLASSES.get(code, FlyteSystemException)(rpc, code, server_message)
    mapped._undecoded = error  # the trailer is decoded when `details` is first read
    if code is grpc.StatusCode.INVALID_ARGUMENT and _is_conflict(server_message, mapped.details):
        conflict = FlyteEntityConflictException(rpc, code, server_message, mapped.details)
        conflict.request_id = _request_id(request)
        return conflict
    return mapped


def _is_conflict(server_message: str, details: Sequence[Message]) -> bool:
    reason = _find(details, workflow_pb2.CreateWorkflowFailureReason)
    if reason is not None and reason.HasField("exists_different_structure"):
        return True
    return bool(_CONFLICT.search(server_message))


def _request_id(request: Message | None) -> identifier_pb2.Identifier | None:
    ident = getattr(request, "id", None)
    return ident if isinstance(ident, identifier_pb2.Identifier) else None


def _find(details: Sequence[Message], message_type: type[M]) -> M | None:
    return next((d for d in details if isinstance(d, message_type)), None)


def _decode_details(error: grpc.RpcError) -> list[Message]:
    """Unpack the google.rpc.Status trailer; unknown detail types stay as google.protobuf.Any."""
    if not callable(getattr(error, "trailing_metadata", None)):
        return []
    from grpc_status import rpc_status  # imported by the first failure, not by every start-up

    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError as exc:  # trailer disagrees with the call's code/message: ignore the trailer
        logger.debug("ignoring inconsistent grpc-status-details-bin trailer: %s", exc)
        return []
    if status is None:
        return []
    return [_unpack(detail) for detail in status.details]


def _unpack(detail: any_pb2.Any) -> Message:
    type_name = detail.TypeName()
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name)
    except KeyError:
        return detail
    message = message_factory.GetMessageClass(descriptor)()
    return message if detail.Unpack(message) else detail


_TLS_MARKERS = ("ssl", "certificate", "handshake", "peer name", "tsi_", "hostname verification")


def retry_cannot_help(error: FlyteAdminError) -> bool:
    """Failures whose code looks transient but that repeat identically on every attempt: a TLS handshake
    the client rejects, or a message larger than a configured size limit."""
    return is_tls_failure(error) or _is_oversized(error.code, error.server_message)


def is_tls_failure(error: FlyteAdminError) -> bool:
    """True when an UNAVAILABLE error comes from the TLS handshake (or a plaintext client meeting a TLS
    server), which no retry can fix."""
    return isinstance(error, FlyteTlsMismatchException) or _is_tls_message(error.code, error.server_message)


_CLOSED_SOCKET_MARKERS = ("socket closed", "connection reset", "stream removed", "broken pipe")


def looks_like_closed_socket(error: FlyteAdminError) -> bool:
    """UNAVAILABLE because the peer closed the connection: what a TLS server does to a plaintext client,
    and also what a server going down looks like; `transport` probes which it is."""
    if error.code is not grpc.StatusCode.UNAVAILABLE:
        return False
    lowered = error.server_message.lower()
    return any(m in lowered for m in _CLOSED_SOCKET_MARKERS)


def _is_oversized(code: grpc.StatusCode, server_message: str) -> bool:
    return code is grpc.StatusCode.RESOURCE_EXHAUSTED and "message larger than max" in server_message.lower()


def _is_tls_message(code: grpc.StatusCode, server_message: str) -> bool:
    if code is not grpc.StatusCode.UNAVAILABLE:
        return False
    lowered = server_message.lower()
    return any(marker in lowered for marker in _TLS_MARKERS)


def _hint(code: grpc.StatusCode, server_message: str) -> str:
    """A pointer to the likely cause, for the errors users most often misread."""
    if code is grpc.StatusCode.UNAVAILABLE:
        return _unavailable_hint(server_message)
    if _is_oversized(code, server_message):
        return "raise max_receive_message_bytes / max_send_message_bytes, or ask for smaller pages"
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return "check auth_mode and credentials: no token could be obtained, or the server refused it"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return (
            "no answer in time: raise deadline_seconds (each attempt) or retry_deadline_seconds (all "
            "attempts), or pass timeout= to this call"
        )
    return ""


def _unavailable_hint(server_message: str) -> str:
    """`_hint` for UNAVAILABLE, the one code whose hint depends on the message (read only for this code:
    every error builds its hint, and most have a message no hint is read off)."""
    lowered = server_message.lower()
    if "wrong_version_number" in lowered:
        return "the server answered without TLS: use insecure=True (--insecure) for a plaintext server"
    if _is_tls_message(grpc.StatusCode.UNAVAILABLE, server_message):
        return (
            "TLS verification failed: check that the endpoint's host name (or tls_server_name) matches the "
            "server certificate, that ca_cert_file holds the CA that signed it, and the client certificate "
            "if the server requires mTLS"
        )
    if "resolving" in lowered:
        return "the endpoint's host name does not resolve: check the endpoint"
    if "connect" in lowered:
        return (
            "could not connect: check the endpoint and that the server is up, that insecure matches it (True "
            "only for a plaintext server, False for TLS), and client_cert_file/client_key_file for mTLS"
        )
    return ""
