"""The connection block and the task helpers, without a Prefect server: secrets stay masked, the block's
client reaches a real Admin, retries are decided by error type, artifact keys follow Prefect's rule."""

from __future__ import annotations

from importlib.metadata import entry_points

import grpc
import pytest
from prefect.states import Completed, Failed

from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.errors import (
    FlyteEntityConflictException,
    FlyteInvalidInputException,
    FlyteResourceExhaustedException,
    FlyteSystemUnavailableException,
    FlyteTimeout,
)
from flyteadmin_ops.ops.results import OperationInputError, Outcome, Result, Status
from flyteadmin_ops.tasks import AutomationFailed, artifact_key, is_retryable


def test_block_masks_secrets_everywhere_but_the_settings() -> None:
    block = FlyteAdminConnection(
        endpoint="admin.example.com:443",
        auth_mode="client_credentials",
        client_id="ops",
        client_secret="hunter2",
        token="tok-123",
    )
    for text in (repr(block), str(block.model_dump()), block.model_dump_json()):
        assert "hunter2" not in text and "tok-123" not in text
    settings = block.get_settings()
    assert settings.client_secret is not None and settings.client_secret.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert (settings.endpoint, settings.client_id, settings.source_of("endpoint")) == (
        "admin.example.com:443",
        "ops",
        "argument",
    )


def test_block_settings_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTEADMIN_ENDPOINT", "elsewhere:1")
    monkeypatch.setenv("FLYTEADMIN_MAX_CONCURRENCY", "99")
    settings = FlyteAdminConnection(endpoint="here:2", max_concurrency=3).get_settings()
    assert (settings.endpoint, settings.max_concurrency) == ("here:2", 3)


def test_block_client_talks_to_admin() -> None:
    with Emulator(port=0) as emulator:
        block = FlyteAdminConnection(endpoint=emulator.endpoint, insecure=True)
        with block.get_client() as client:
            assert client.get_project("flytesnacks").id == "flytesnacks"


def test_block_type_is_registered_through_the_collections_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="prefect.collections") if e.name == "flyteadmin_ops"]
    module = entry.load()
    assert module.FlyteAdminConnection.get_block_type_slug() == "flyte-admin-connection"


def _error(cls: type, code: grpc.StatusCode, message: str) -> BaseException:
    return cls("AdminService/CreateTask", code, message)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (_error(FlyteSystemUnavailableException, grpc.StatusCode.UNAVAILABLE, "connection refused"), True),
        (_error(FlyteTimeout, grpc.StatusCode.DEADLINE_EXCEEDED, "deadline"), True),
        (_error(FlyteResourceExhaustedException, grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limited"), True),
        (
            _error(
                FlyteSystemUnavailableException,
                grpc.StatusCode.UNAVAILABLE,
                "SSL handshake: certificate verify",
            ),
            False,
        ),
        (_error(FlyteInvalidInputException, grpc.StatusCode.INVALID_ARGUMENT, "missing project"), False),
        (
            _error(FlyteEntityConflictException, grpc.StatusCode.INVALID_ARGUMENT, "different structure"),
            False,
        ),
        (OperationInputError("unknown project"), False),
        (RuntimeError("bug"), False),
    ],
)
def test_retry_condition_follows_the_error_type(error: BaseException, retry: bool) -> None:
    assert is_retryable(None, None, Failed(data=error)) is retry


def test_a_completed_state_is_never_retried() -> None:
    assert is_retryable(None, None, Completed(data=1)) is False


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("relaunch-failed", "flytesnacks", "development"), "relaunch-failed-flytesnacks-development"),
        (("register-all", "My_Project", "prod.eu"), "register-all-my-project-prod-eu"),
        (("promote", "ops_demo.nightly", "--"), "promote-ops-demo-nightly"),
        (("__",), "flyteadmin-ops"),
    ],
)
def test_artifact_keys_are_lowercase_letters_digits_and_dashes(parts: tuple[str, ...], key: str) -> None:
    assert artifact_key(*parts) == key


def test_automation_failed_lists_the_problems() -> None:
    result = Result("sync-attributes")
    result.add(Outcome("task-resource", "p/d", Status.UPDATED, "ok"))
    result.add(Outcome("task-resource", "p/e", Status.FAILED, "update: boom\nmore lines"))
    error = AutomationFailed(result)
    assert str(error) == "sync-attributes: 1 problem(s)\ntask-resource p/e: failed: update: boom"
    assert error.result is result
