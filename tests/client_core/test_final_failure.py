"""A first failure that the retry loop would end at once with the same error (ALREADY_EXISTS, NOT_FOUND, ...)
is raised by the transport's fast path directly (`ends_unchanged`). Proven equivalent here: for every such
failure, the retry loop given it as attempt 1 sends nothing, logs nothing, leaves the breaker as it was and
raises that very error, untouched; the failures the loop may turn into another error still go through it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import grpc
import pytest
from flyteidl.admin import execution_pb2, project_pb2

from flyteadmin_ops import errors
from flyteadmin_ops.transport import Transport
from flyteadmin_ops.transport.aio import AsyncTransport
from flyteadmin_ops.transport.breaker import CircuitBreaker
from flyteadmin_ops.transport.retry import FirstFailure
from flyteadmin_ops.transport.rpc import RpcSpec
from flyteadmin_ops.transport.transport import ends_unchanged
from tests.client_core.servers import (
    CREATE_EXECUTION,
    LIST_PROJECTS,
    UNNAMED_CREATE_EXECUTION,
    ScriptedAdmin,
    fast_settings,
)

FINAL = [
    (LIST_PROJECTS, grpc.StatusCode.ALREADY_EXISTS),
    (LIST_PROJECTS, grpc.StatusCode.NOT_FOUND),
    (LIST_PROJECTS, grpc.StatusCode.INVALID_ARGUMENT),
    (LIST_PROJECTS, grpc.StatusCode.PERMISSION_DENIED),
    (LIST_PROJECTS, grpc.StatusCode.FAILED_PRECONDITION),
    (LIST_PROJECTS, grpc.StatusCode.INTERNAL),
    (LIST_PROJECTS, grpc.StatusCode.UNKNOWN),
    (LIST_PROJECTS, grpc.StatusCode.UNAUTHENTICATED),
    (CREATE_EXECUTION, grpc.StatusCode.ALREADY_EXISTS),
    (UNNAMED_CREATE_EXECUTION, grpc.StatusCode.RESOURCE_EXHAUSTED),  # not safe to resend: never retried
]


def _label(value: object) -> str:
    return str(getattr(value, "method", None) or getattr(value, "name", value))


REQUESTS = {
    "ListProjects": project_pb2.ProjectListRequest(),
    "CreateExecution": execution_pb2.ExecutionCreateRequest(project="p", domain="development", name="run-1"),
}


def breaker_state(breaker: CircuitBreaker) -> dict[str, object]:
    """Everything a call may change in a breaker (its lock and wake-up event aside)."""
    return {
        name: value
        for name, value in vars(breaker).items()
        if not isinstance(value, (type(threading.Lock()), threading.Event))
    }


def replayed_by_the_retry_loop(
    transport: Transport | AsyncTransport, spec: RpcSpec, error: errors.FlyteAdminError
) -> errors.FlyteAdminError:
    """What `RetryPolicy.run` ends the call with when `error` is its attempt 1 (it must send nothing)."""

    def attempt(_timeout: float) -> object:
        raise AssertionError("the retry loop sent another attempt")

    first = FirstFailure(time.monotonic(), transport.settings.deadline_seconds, error)
    with pytest.raises(errors.FlyteAdminError) as ended:
        transport.retry_policy.run(
            f"{spec.short_service}/{spec.method}",
            spec,
            attempt,
            transport.settings.deadline_seconds,
            breaker=transport.breaker,
            first=first,
        )
    return ended.value


@pytest.mark.parametrize(("spec", "code"), FINAL, ids=_label)
def test_a_final_first_failure_is_raised_as_the_retry_loop_would_end_the_call(
    admin: ScriptedAdmin, spec: RpcSpec, code: grpc.StatusCode, caplog: pytest.LogCaptureFixture
) -> None:
    admin.on(spec.method, code)
    with Transport(fast_settings(admin.port)) as transport:
        with caplog.at_level(logging.DEBUG), pytest.raises(errors.FlyteAdminError) as raised:
            transport.call(spec, REQUESTS[spec.method])
        error = raised.value
        assert ends_unchanged(transport.retry_policy, spec, error)
        assert len(admin.calls(spec.method)) == 1
        assert isinstance(error.__cause__, grpc.RpcError) and error.__cause__.code() is code
        assert error.attempts == 1 and error.server_message == f"scripted {code.name}"
        text, cause, breaker_before = str(error), error.__cause__, breaker_state(transport.breaker)
        direct_records = [r.getMessage() for r in caplog.records]

        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            ended = replayed_by_the_retry_loop(transport, spec, error)
        assert ended is error  # the very error, untouched: same text, cause, attempts
        assert str(ended) == text and ended.__cause__ is cause and ended.attempts == 1
        assert breaker_state(transport.breaker) == breaker_before
        assert [r.getMessage() for r in caplog.records] == []  # the loop would have logged nothing more
        assert direct_records == []
        assert len(admin.calls(spec.method)) == 1


@pytest.mark.parametrize(("spec", "code"), FINAL, ids=_label)
def test_the_asyncio_transport_raises_the_same_final_failure(
    admin: ScriptedAdmin, spec: RpcSpec, code: grpc.StatusCode
) -> None:
    admin.on(spec.method, code)

    async def call() -> errors.FlyteAdminError:
        async with AsyncTransport(fast_settings(admin.port)) as transport:
            try:
                await transport.call(spec, REQUESTS[spec.method])
            except errors.FlyteAdminError as error:
                assert ends_unchanged(transport.retry_policy, spec, error)
                assert transport.breaker.clean and not transport.breaker.is_open
                return error
        raise AssertionError("no error")

    error = asyncio.run(call())
    with Transport(fast_settings(admin.port)) as sync:
        admin.on(spec.method, code)
        with pytest.raises(errors.FlyteAdminError) as sync_raised:
            sync.call(spec, REQUESTS[spec.method])
    assert type(error) is type(sync_raised.value)
    assert str(error) == str(sync_raised.value)
    assert isinstance(error.__cause__, grpc.RpcError) and error.__cause__.code() is code
    assert error.attempts == 1
    assert len(admin.calls(spec.method)) == 2


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (LIST_PROJECTS, grpc.StatusCode.UNAVAILABLE),  # resent
        (LIST_PROJECTS, grpc.StatusCode.DEADLINE_EXCEEDED),  # resent (a read), or the overall deadline's
        (LIST_PROJECTS, grpc.StatusCode.RESOURCE_EXHAUSTED),  # resent
        (UNNAMED_CREATE_EXECUTION, grpc.StatusCode.UNAVAILABLE),  # may end as the open breaker's error
        (CREATE_EXECUTION, grpc.StatusCode.DEADLINE_EXCEEDED),  # may end as the overall deadline's timeout
    ],
    ids=_label,
)
def test_failures_the_retry_loop_may_change_still_go_through_it(spec: RpcSpec, code: grpc.StatusCode) -> None:
    with Transport(fast_settings(1)) as transport:
        error = errors.FlyteAdminError(f"{spec.short_service}/{spec.method}", code, "no answer")
        assert not ends_unchanged(transport.retry_policy, spec, error)


def test_a_not_found_read_costs_one_call_and_keeps_the_breaker_clean(admin: ScriptedAdmin) -> None:
    admin.on("ListProjects", grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE, project_pb2.Projects())
    with Transport(fast_settings(admin.port)) as transport:
        with pytest.raises(errors.FlyteEntityNotExistException):
            transport.call(LIST_PROJECTS, REQUESTS["ListProjects"])
        assert transport.breaker.clean and not transport.breaker.is_open
        # the next call still retries as before: UNAVAILABLE, then the answer
        assert transport.call(LIST_PROJECTS, REQUESTS["ListProjects"]) == project_pb2.Projects()
    assert len(admin.calls("ListProjects")) == 3
