"""Launches always carry a client-chosen name: a resend after a lost answer never launches twice."""

from __future__ import annotations

import string
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import literals_pb2

from flyteadmin_ops.client import (
    RawSynchronousFlyteClient,
    SynchronousFlyteClient,
    execution_id,
    launch_plan_id,
    task_id,
)
from flyteadmin_ops.client.execution_names import generate
from flyteadmin_ops.errors import FlyteEntityAlreadyExistsException, FlyteInvalidInputException
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import RecordingServer

LAUNCH_PLAN = launch_plan_id("p", "d", "lp", "v1")
OTHER_LAUNCH_PLAN = launch_plan_id("p", "d", "other", "v1")
SPEC = execution_pb2.ExecutionSpec(launch_plan=LAUNCH_PLAN)
MODES = execution_pb2.ExecutionMetadata.ExecutionMode


class CommitThenFail:
    """A flyteadmin that stores each launch and, the first time, loses its answer (UNAVAILABLE after commit).

    Duplicate names get ALREADY_EXISTS, as flyteadmin's primary key gives; GetExecution serves the store.
    """

    def __init__(self, server: RecordingServer, fail_first: bool = True) -> None:
        self.executions: dict[str, execution_pb2.Execution] = {}
        self._fail_next = fail_first
        self._lock = threading.Lock()
        for method in ("CreateExecution", "RelaunchExecution", "RecoverExecution"):
            server.on(method, self.launch)
        server.on("GetExecution", self.get)

    def launch(self, request: Any, context: grpc.ServicerContext) -> execution_pb2.ExecutionCreateResponse:
        if isinstance(request, execution_pb2.ExecutionCreateRequest):
            ident = execution_id(request.project, request.domain, request.name)
            spec = execution_pb2.ExecutionSpec()
            spec.CopyFrom(request.spec)
        else:
            ident = execution_id(request.id.project, request.id.domain, request.name)
            mode = (
                MODES.RELAUNCH
                if isinstance(request, execution_pb2.ExecutionRelaunchRequest)
                else MODES.RECOVERED
            )
            spec = execution_pb2.ExecutionSpec(
                launch_plan=LAUNCH_PLAN,
                metadata=execution_pb2.ExecutionMetadata(mode=mode, reference_execution=request.id),
            )
        with self._lock:
            if not ident.name:
                ident.name = "aservergenerated" + str(len(self.executions))
            if ident.name in self.executions:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, "value with matching already exists")
            self.executions[ident.name] = execution_pb2.Execution(id=ident, spec=spec)
            fail, self._fail_next = self._fail_next, False
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset after commit")
        return execution_pb2.ExecutionCreateResponse(id=ident)

    def get(self, request: Any, context: grpc.ServicerContext) -> execution_pb2.Execution:
        with self._lock:
            found = self.executions.get(request.id.name)
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "missing entity")
        return found


def test_retried_create_execution_creates_one_execution_and_returns_its_id(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    admin = CommitThenFail(server)
    ident = client.create_execution("p", "d", None, SPEC, None)
    attempts = server.requests("CreateExecution")
    assert len(attempts) == 2, "the transport resent after UNAVAILABLE"
    assert attempts[0].name == attempts[1].name == ident.name
    assert list(admin.executions) == [ident.name], "the server holds exactly one execution"
    assert (ident.project, ident.domain) == ("p", "d")


def test_retried_launch_reports_not_created(server: RecordingServer, client: SynchronousFlyteClient) -> None:
    CommitThenFail(server)
    launched = client.launch(
        execution_pb2.ExecutionCreateRequest(project="p", domain="d", name="nightly-1", spec=SPEC)
    )
    assert launched.id.name == "nightly-1" and launched.created is False
    CommitThenFail(server, fail_first=False)
    fresh = client.launch(
        execution_pb2.ExecutionCreateRequest(project="p", domain="d", name="nightly-2", spec=SPEC)
    )
    assert fresh.created is True


def _create_request(name: str) -> execution_pb2.ExecutionCreateRequest:
    return execution_pb2.ExecutionCreateRequest(project="p", domain="d", name=name, spec=SPEC)


@pytest.mark.parametrize("kind", ["relaunch", "recover"])
def test_retried_relaunch_and_recover_create_one_execution(
    kind: str, server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    admin = CommitThenFail(server)
    original = execution_id("p", "d", "failed-run")
    ident = getattr(client, f"{kind}_execution")(original)
    rpc = "RelaunchExecution" if kind == "relaunch" else "RecoverExecution"
    names = {request.name for request in server.requests(rpc)}
    assert len(server.requests(rpc)) == 2 and names == {ident.name}
    assert list(admin.executions) == [ident.name]


def test_already_exists_for_a_different_execution_is_raised(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    admin = CommitThenFail(server, fail_first=False)
    client.create_execution(
        "p", "d", "taken", execution_pb2.ExecutionSpec(launch_plan=OTHER_LAUNCH_PLAN), None
    )
    with pytest.raises(FlyteEntityAlreadyExistsException):
        client.create_execution("p", "d", "taken", SPEC, None)
    assert admin.executions["taken"].spec.launch_plan == OTHER_LAUNCH_PLAN


def test_a_task_launch_matches_its_generated_launch_plan(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    """flyteadmin may store a direct task launch under the `.flytegen.<task>` launch plan."""
    stored = execution_pb2.Execution(
        id=execution_id("p", "d", "task-run"),
        spec=execution_pb2.ExecutionSpec(launch_plan=launch_plan_id("p", "d", ".flytegen.t", "v1")),
    )
    server.on("CreateExecution", lambda r, ctx: ctx.abort(grpc.StatusCode.ALREADY_EXISTS, "exists"))
    server.on("GetExecution", lambda r, ctx: stored)
    task_spec = execution_pb2.ExecutionSpec(launch_plan=task_id("p", "d", "t", "v1"))
    assert client.create_execution("p", "d", "task-run", task_spec, None) == stored.id
    other_version = execution_pb2.ExecutionSpec(launch_plan=task_id("p", "d", "t", "v2"))
    with pytest.raises(FlyteEntityAlreadyExistsException):
        client.create_execution("p", "d", "task-run", other_version, None)


def test_already_exists_without_such_execution_is_raised(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    """flyteadmin also answers ALREADY_EXISTS when a launch plan's concurrency limit is reached."""
    server.on(
        "CreateExecution", lambda r, ctx: ctx.abort(grpc.StatusCode.ALREADY_EXISTS, "concurrency limit")
    )
    server.on("GetExecution", lambda r, ctx: ctx.abort(grpc.StatusCode.NOT_FOUND, "missing"))
    with pytest.raises(FlyteEntityAlreadyExistsException, match="concurrency limit"):
        client.create_execution("p", "d", None, SPEC, None)


def test_raw_client_names_unnamed_launches_without_touching_the_callers_request(
    server: RecordingServer, settings: AdminSettings
) -> None:
    request = execution_pb2.ExecutionCreateRequest(project="p", domain="d", spec=SPEC)
    with RawSynchronousFlyteClient(settings) as raw:
        raw.create_execution(request)
        raw.create_execution(request)
    first, second = (sent.name for sent in server.requests("CreateExecution"))
    assert first and second and first != second
    assert request.name == ""


def test_a_shared_client_launches_from_many_threads(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    admin = CommitThenFail(server, fail_first=False)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: client.create_execution("p", "d", None, SPEC, None), range(24)))
    assert len({ident.name for ident in ids}) == 24
    assert set(admin.executions) == {ident.name for ident in ids}


@pytest.mark.parametrize(
    "name", ["1abc", "has_underscore", "has space", "x" * 64, "-lead", "trailing-newline\n", "é" * 32]
)
def test_invalid_names_are_rejected_before_sending(
    name: str, server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    with pytest.raises(FlyteInvalidInputException, match="execution name") as caught:
        client.create_execution("p", "d", name, SPEC, None)
    assert repr(name) in str(caught.value)
    assert caught.value.rpc == "AdminService/CreateExecution"
    assert server.calls == []


@pytest.mark.parametrize("name", ["a", "Nightly-Run-2", "x" * 63])
def test_valid_names_are_sent_as_given(
    name: str, server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    client.create_execution("p", "d", name, SPEC, None)
    assert server.last("CreateExecution").name == name


def test_generated_names_follow_flyteadmins_rule() -> None:
    names = {generate() for _ in range(200)}
    assert len(names) == 200
    for name in names:
        assert len(name) == 20 and name[0] == "f" and name.isalnum() and name == name.lower()
    assert set("".join(name[1:] for name in names)) == set(string.ascii_lowercase + string.digits)


class _Model:
    """Stands for a flytekit model: anything with `to_flyte_idl()`."""

    def __init__(self, message: Any) -> None:
        self.message = message

    def to_flyte_idl(self) -> Any:
        return self.message


def test_create_execution_takes_models_and_names_a_wrong_argument(
    server: RecordingServer, client: SynchronousFlyteClient
) -> None:
    inputs = literals_pb2.LiteralMap(
        literals={
            "x": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
        }
    )
    client.create_execution("p", "d", "from-models", _Model(SPEC), _Model(inputs))
    sent = server.last("CreateExecution")
    assert sent.spec == SPEC and sent.inputs == inputs
    with pytest.raises(TypeError, match=r"execution_spec: expected flyteidl\.admin\.ExecutionSpec"):
        client.create_execution("p", "d", "bad-spec", "not a spec", None)
    with pytest.raises(TypeError, match=r"inputs: _Model.to_flyte_idl\(\) gave ExecutionSpec"):
        client.create_execution("p", "d", "bad-inputs", SPEC, _Model(SPEC))
    assert [request.name for request in server.requests("CreateExecution")] == ["from-models"]
