"""The catalog covers every RPC under flytekit's names, classifies every write, and the stub is current."""

from __future__ import annotations

import inspect
from collections import Counter

import pytest
from flyteidl.admin import task_pb2

from flyteadmin_ops.client import RawSynchronousFlyteClient, SynchronousFlyteClient, stubgen
from flyteadmin_ops.client import rpcs as rpcs_module
from flyteadmin_ops.client.rpcs import BY_RPC_NAME, CATALOG, rpc
from tests.client_api.servers import METHODS


def test_catalog_has_every_rpc_of_the_five_services() -> None:
    assert {m.name for m in METHODS} == set(BY_RPC_NAME)
    per_service = Counter(entry.spec.short_service for entry in CATALOG.values())
    assert per_service == {
        "AdminService": 56,
        "DataProxyService": 4,
        "AuthMetadataService": 2,
        "IdentityService": 1,
        "SignalService": 3,
    }
    for method in METHODS:
        spec = BY_RPC_NAME[method.name].spec
        assert spec.path == f"/{method.containing_service.full_name}/{method.name}"
        assert spec.request_type.DESCRIPTOR.full_name == method.input_type.full_name
        assert spec.response_type.DESCRIPTOR.full_name == method.output_type.full_name


def test_message_classes_are_the_generated_ones() -> None:
    assert rpc("CreateTask").spec.request_type is task_pb2.TaskCreateRequest
    assert rpc("get_task").spec.response_type is task_pb2.Task


def test_every_write_is_classified_on_purpose() -> None:
    writes = {name for name, entry in BY_RPC_NAME.items() if not entry.spec.read_only}
    assert writes == set(rpcs_module._WRITES)
    assert all(entry.spec.retry_safe for entry in CATALOG.values())
    assert not rpc("CreateExecution").spec.read_only
    assert not rpc("GetOrCreateSignal").spec.read_only
    assert rpc("CreateUploadLocation").spec.read_only  # signs a URL, changes nothing
    assert rpc("ListExecutions").spec.read_only


def test_unknown_rpc_names_are_refused_and_unclassified_writes_not_retried() -> None:
    with pytest.raises(KeyError, match="NoSuchRpc"):
        rpc("NoSuchRpc")
    assert not rpcs_module.is_retry_safe("PurgeEverything")


def test_python_names_match_flytekit_raw_client() -> None:
    from flytekit.clients.raw import RawSynchronousFlyteClient as FlytekitRaw

    flytekit_names = {name for name in vars(FlytekitRaw) if not name.startswith("_")}
    flytekit_names -= {"with_root_certificate", "url"}
    missing = flytekit_names - set(CATALOG)
    assert not missing, f"flytekit raw methods we do not have: {missing}"
    assert rpcs_module.snake_case("GetOAuth2Metadata") == "get_oauth2_metadata"


def test_raw_methods_are_generated_with_signature_and_docstring() -> None:
    for name, entry in CATALOG.items():
        method = getattr(RawSynchronousFlyteClient, name)
        assert method.__name__ == name
        assert entry.name in method.__doc__
        signature = inspect.signature(method)
        assert list(signature.parameters) == ["self", "request", "timeout", "metadata"]
        assert signature.return_annotation is entry.spec.response_type


def test_friendly_client_reaches_every_raw_method_through_raw() -> None:
    for name in CATALOG:
        assert callable(getattr(SynchronousFlyteClient, name))
        assert getattr(RawSynchronousFlyteClient, name).__qualname__.startswith("RawSynchronousFlyteClient.")


def test_iterators_take_the_paginated_arguments_without_limit_and_token() -> None:
    signature = inspect.signature(SynchronousFlyteClient.iter_executions)
    assert list(signature.parameters) == ["self", "project", "domain", "filters", "sort_by", "page_size"]


def test_type_stub_is_current() -> None:
    assert stubgen.STUB_PATH.read_text() == stubgen.render(), (
        "flyteadmin_ops/client/_raw_api.pyi is stale: run `python -m flyteadmin_ops.client.stubgen`"
    )


def test_friendly_methods_keep_flytekits_names_and_parameters() -> None:
    """Every public operation of flytekit's friendly client exists here, with the same parameters in the
    same order (ours may add keyword-only extras after them)."""
    from flytekit.clients.friendly import SynchronousFlyteClient as FlytekitFriendly

    for name, member in vars(FlytekitFriendly).items():
        if name.startswith("_") or not callable(member):
            continue
        theirs = list(inspect.signature(getattr(member, "__wrapped__", member)).parameters)
        ours = list(inspect.signature(getattr(SynchronousFlyteClient, name)).parameters)
        assert ours[: len(theirs)] == theirs, f"{name}: flytekit {theirs}, ours {ours}"
    assert isinstance(vars(SynchronousFlyteClient)["raw"], property)
