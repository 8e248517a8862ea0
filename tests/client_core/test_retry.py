"""The retry policy, observed from the server side: how many calls arrive and how far apart."""

from __future__ import annotations

import logging
import pickle
import threading
import time

import grpc
import pytest
from flyteidl.admin import execution_pb2, project_pb2, version_pb2

from flyteadmin_ops import errors
from flyteadmin_ops.transport import RetryPolicy, Transport
from flyteadmin_ops.transport.auth import CachedTokenProvider
from tests.client_core.servers import (
    CREATE_EXECUTION,
    GET_VERSION,
    LIST_PROJECTS,
    UNNAMED_CREATE_EXECUTION,
    ScriptedAdmin,
    fast_settings,
)

VERSION = version_pb2.GetVersionResponse(control_plane_version=version_pb2.Version(Build="b1"))


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_retryable_codes_are_retried_with_growing_delays_up_to_the_limit(
    admin: ScriptedAdmin, code: grpc.StatusCode
) -> None:
    admin.on("GetVersion", code)
    with Transport(fast_settings(admin.port)) as transport, pytest.raises(errors.FlyteAdminError) as raised:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())

    assert raised.value.code is code
    assert len(admin.calls("GetVersion")) == 5  # retry_attempts
    # The text says the failure survived retries, so it does not read like a one-off.
    assert raised.value.attempts == 5
    assert str(raised.value).startswith(
        f"AdminService/GetVersion failed with {code.name}: scripted {code.name} (after 5 attempts)"
    )
    assert str(pickle.loads(pickle.dumps(raised.value))) == str(raised.value)
    gaps = admin.gaps("GetVersion")
    # Backoff 10, 20, 40, 80 ms (no jitter): each gap is at least its delay, so they grow (lower bounds
    # only: a busy machine can stretch a gap, never shorten it).
    for gap, delay in zip(gaps, [0.01, 0.02, 0.04, 0.08], strict=True):
        assert gap >= delay


def test_delays_are_capped_at_the_maximum_backoff(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE)
    settings = fast_settings(admin.port, retry_attempts=6, retry_max_backoff=0.02)
    with Transport(settings) as transport, pytest.raises(errors.FlyteSystemUnavailableException):
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    assert len(admin.calls("GetVersion")) == 6
    assert RetryPolicy.from_settings(settings).delay(5) == pytest.approx(0.02)


def test_jitter_draws_each_delay_below_its_nominal_value() -> None:
    policy = RetryPolicy(initial=1.0, maximum=100.0, multiplier=2.0, jitter=0.5)
    delays = [policy.delay(3) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert max(delays) - min(delays) > 0.5  # actually random, not a constant


def test_a_transient_failure_then_success_returns_the_response(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, VERSION)
    with Transport(fast_settings(admin.port)) as transport:
        assert transport.call(GET_VERSION, version_pb2.GetVersionRequest()) == VERSION
    assert len(admin.calls("GetVersion")) == 3


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, errors.FlyteInvalidInputException),
        (grpc.StatusCode.NOT_FOUND, errors.FlyteEntityNotExistException),
        (grpc.StatusCode.ALREADY_EXISTS, errors.FlyteEntityAlreadyExistsException),
        (grpc.StatusCode.PERMISSION_DENIED, errors.FlytePermissionDeniedException),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.FlyteFailedPreconditionException),
        (grpc.StatusCode.INTERNAL, errors.FlyteSystemException),
    ],
)
def test_permanent_errors_are_never_retried(
    admin: ScriptedAdmin, code: grpc.StatusCode, error_class: type[errors.FlyteAdminError]
) -> None:
    admin.on("ListProjects", code)
    with Transport(fast_settings(admin.port)) as transport, pytest.raises(error_class) as raised:
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert len(admin.calls("ListProjects")) == 1
    assert raised.value.rpc == "AdminService/ListProjects"
    assert raised.value.server_message == f"scripted {code.name}"
    assert raised.value.attempts == 1 and "attempts" not in str(raised.value)


def test_a_call_that_is_not_safe_to_repeat_is_not_retried_on_unavailable(admin: ScriptedAdmin) -> None:
    admin.on("CreateExecution", grpc.StatusCode.UNAVAILABLE)
    with (
        Transport(fast_settings(admin.port)) as transport,
        pytest.raises(errors.FlyteSystemUnavailableException),
    ):
        transport.call(UNNAMED_CREATE_EXECUTION, execution_pb2.ExecutionCreateRequest())
    assert len(admin.calls("CreateExecution")) == 1


def test_a_named_create_is_resent_unchanged_after_unavailable(admin: ScriptedAdmin) -> None:
    admin.on("CreateExecution", grpc.StatusCode.UNAVAILABLE, execution_pb2.ExecutionCreateResponse())
    request = execution_pb2.ExecutionCreateRequest(project="p", domain="development", name="run-1")
    with Transport(fast_settings(admin.port)) as transport:
        transport.call(CREATE_EXECUTION, request)
    assert [call.request for call in admin.calls("CreateExecution")] == [request, request]


def test_deadline_exceeded_is_retried_for_reads_only(admin: ScriptedAdmin) -> None:
    admin.on("ListProjects", admin.hang)
    admin.on("CreateExecution", admin.hang)
    admin.on("GetVersion", VERSION)
    settings = fast_settings(admin.port, deadline_seconds=0.25, retry_attempts=3)
    # Two transports: the read's spent budget opens its transport's circuit breaker (no answer came). Each
    # connects first, so that the 250 ms deadlines bound the calls and not a busy machine's connection set-up.
    with Transport(settings) as transport, pytest.raises(errors.FlyteTimeout) as read_timeout:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest(), timeout=10)
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    with Transport(settings) as transport, pytest.raises(errors.FlyteTimeout):
        transport.call(GET_VERSION, version_pb2.GetVersionRequest(), timeout=10)
        transport.call(CREATE_EXECUTION, execution_pb2.ExecutionCreateRequest(name="x"))
    assert "(after 3 attempts) [no answer in time: raise deadline_seconds" in str(read_timeout.value)
    assert len(admin.calls("ListProjects")) == 3
    assert len(admin.calls("CreateExecution")) == 1


def test_the_overall_deadline_bounds_all_attempts(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE)
    settings = fast_settings(
        admin.port,
        retry_attempts=1000,
        retry_initial_backoff=0.5,
        retry_max_backoff=0.5,
        retry_deadline_seconds=1.2,
    )
    started = time.monotonic()
    with Transport(settings) as transport, pytest.raises(errors.FlyteAdminError) as raised:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    # Attempts at about 0, 0.5 and 1.0 s; a third sleep would end past 1.2 s, so it never starts (the
    # 0.45 s of slack is for a busy machine, and still less than that sleep).
    assert time.monotonic() - started < 1.2 + 0.45
    assert 2 <= len(admin.calls("GetVersion")) <= 3
    # Either the last attempt failed on its own, or the deadline cut it short; then the cause is named.
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE or (
        isinstance(raised.value, errors.FlyteTimeout)
        and "overall deadline of 1.2s passed; the last error was UNAVAILABLE" in str(raised.value)
    )


def test_the_overall_deadline_also_caps_the_deadline_of_each_attempt(admin: ScriptedAdmin) -> None:
    admin.on("GetVersion", admin.hang)
    settings = fast_settings(admin.port, deadline_seconds=30, retry_deadline_seconds=0.2)
    started = time.monotonic()
    with Transport(settings) as transport, pytest.raises(errors.FlyteTimeout) as raised:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    assert time.monotonic() - started < 2.0  # not the 30 s per-attempt deadline
    assert "overall deadline of 0.2s passed" in str(raised.value)


def test_an_explicit_timeout_overrides_the_per_call_deadline(admin: ScriptedAdmin) -> None:
    admin.on("CreateExecution", admin.hang)
    started = time.monotonic()
    with (
        Transport(fast_settings(admin.port, deadline_seconds=30)) as transport,
        pytest.raises(errors.FlyteTimeout),
    ):
        transport.call(CREATE_EXECUTION, execution_pb2.ExecutionCreateRequest(name="x"), timeout=0.05)
    assert time.monotonic() - started < 2.0


def test_each_retry_is_logged_with_rpc_code_and_delay(
    admin: ScriptedAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    admin.on("GetVersion", grpc.StatusCode.UNAVAILABLE, VERSION)
    caplog.set_level(logging.DEBUG, logger="flyteadmin_ops")
    with Transport(fast_settings(admin.port)) as transport:
        transport.call(GET_VERSION, version_pb2.GetVersionRequest())
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert retries == ["retrying AdminService/GetVersion after UNAVAILABLE in 0.010s (attempt 2 of 5)"]


class CountingProvider(CachedTokenProvider):
    """A real provider whose tokens are `tok-1`, `tok-2`, ...; counts how often it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches = 0
        self.asked = 0

    def fetch(self) -> tuple[str, float | None]:
        self.fetches += 1
        return f"tok-{self.fetches}", None

    def token(self) -> str:
        self.asked += 1
        return super().token()


def list_projects_with_counting_provider(
    admin: ScriptedAdmin, *outcomes: grpc.StatusCode | project_pb2.Projects
) -> tuple[CountingProvider, BaseException | None]:
    """One ListProjects call, answered by `outcomes`, with tokens from a fresh CountingProvider; returns the
    provider and the error the call raised (None if it succeeded)."""
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("ListProjects", *outcomes)
    provider = CountingProvider()
    with Transport(fast_settings(admin.port), token_provider=provider) as transport:
        try:
            transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
        except errors.FlyteAdminError as error:
            return provider, error
    return provider, None


def sent_tokens(admin: ScriptedAdmin) -> list[str]:
    return [call.metadata["authorization"] for call in admin.calls("ListProjects")]


def test_unauthenticated_refreshes_once_and_resends_once(admin: ScriptedAdmin) -> None:
    provider, error = list_projects_with_counting_provider(
        admin, grpc.StatusCode.UNAUTHENTICATED, project_pb2.Projects()
    )
    assert error is None
    assert sent_tokens(admin) == ["Bearer tok-1", "Bearer tok-2"]
    assert provider.asked == 2 and provider.fetches == 2


def test_a_second_unauthenticated_surfaces_as_authentication_error(admin: ScriptedAdmin) -> None:
    provider, error = list_projects_with_counting_provider(admin, grpc.StatusCode.UNAUTHENTICATED)
    assert isinstance(error, errors.FlyteAuthenticationException)
    assert sent_tokens(admin) == ["Bearer tok-1", "Bearer tok-2"]
    assert provider.fetches == 2


def test_a_static_token_is_not_resent_after_unauthenticated(admin: ScriptedAdmin) -> None:
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("ListProjects", grpc.StatusCode.UNAUTHENTICATED)
    settings = fast_settings(admin.port, auth_mode="static", token="s3cr3t-static")
    with Transport(settings) as transport, pytest.raises(errors.FlyteAuthenticationException):
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    assert len(admin.calls("ListProjects")) == 1  # the same token again cannot help


def test_unknown_is_neither_refreshed_nor_resent(admin: ScriptedAdmin) -> None:
    """flytekit refreshes on UNKNOWN too, so any server bug could start a login; here it is just an error."""
    provider, error = list_projects_with_counting_provider(admin, grpc.StatusCode.UNKNOWN)
    assert isinstance(error, errors.FlyteSystemException)
    assert sent_tokens(admin) == ["Bearer tok-1"]
    assert provider.fetches == 1


def test_refresh_and_retries_together_do_not_multiply(admin: ScriptedAdmin) -> None:
    """Rejected, refreshed, then the resend meets an outage and is retried: the retry's rejection is final.
    One refresh per call however many attempts (flytekit: up to 8 calls, each attempt refreshing again)."""
    unauthenticated, unavailable = grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE
    provider, error = list_projects_with_counting_provider(
        admin, unauthenticated, unavailable, unavailable, unauthenticated
    )
    assert isinstance(error, errors.FlyteAuthenticationException)
    assert sent_tokens(admin) == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2", "Bearer tok-2"]
    assert provider.fetches == 2


class SlowRefreshProvider(CountingProvider):
    """The first token comes at once; a refresh takes `refresh_seconds` (a slow token endpoint)."""

    refresh_seconds = 0.5

    def fetch(self) -> tuple[str, float | None]:
        if self.fetches:
            threading.Event().wait(self.refresh_seconds)
        return super().fetch()


def test_the_refresh_and_resend_share_the_attempts_deadline(admin: ScriptedAdmin) -> None:
    """The resend after a refresh gets what is left of the attempt's deadline, not a fresh one, so a slow
    refresh cannot stretch a call past its deadline (and so past the overall deadline)."""
    admin.on("GetPublicClientConfig", grpc.StatusCode.UNIMPLEMENTED)
    admin.on("ListProjects", grpc.StatusCode.UNAUTHENTICATED, project_pb2.Projects())
    settings = fast_settings(admin.port, deadline_seconds=5.0)
    with Transport(settings, token_provider=SlowRefreshProvider()) as transport:
        transport.call(LIST_PROJECTS, project_pb2.ProjectListRequest())
    first, resend = admin.calls("ListProjects")
    assert first.time_remaining is not None and resend.time_remaining is not None
    assert first.time_remaining > 4.5
    assert resend.time_remaining < 5.0 - SlowRefreshProvider.refresh_seconds + 0.05
