"""The catalog covers every RPC under flytekit's names, classifies every write, and the stub is current."""

from __future__ import annotations

import importlib
import inspect
from collections import Counter
from typing import Any

import pytest
from flyteidl.admin import project_pb2, task_pb2

from flyteadmin_ops.client import RawSynchronousFlyteClient, SynchronousFlyteClient, stubgen
from flyteadmin_ops.client import rpcs as rpcs_module
from flyteadmin_ops.client.identifiers import named_entity_id
from flyteadmin_ops.client.rpcs import BY_RPC_NAME, CATALOG, rpc
from flyteadmin_ops.settings import AdminSettings
from tests.client_api.servers import METHODS, RecordingServer


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
        assert list(signature.parameters) == ["self", entry.request_parameter, "timeout", "metadata"]
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


def _assert_callable_as_flytekits(theirs: Any, ours: Any, where: str) -> None:
    """Every call that works on flytekit's method works on ours: the same parameters in the same order with
    the same defaults. Ours may give a default where flytekit has none, and add keyword-only extras."""
    their_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    assert [p.name for p in our_params[: len(their_params)]] == [p.name for p in their_params], (
        f"{where}: flytekit {inspect.signature(theirs)}, ours {inspect.signature(ours)}"
    )
    for their, our in zip(their_params, our_params, strict=False):
        if their.default is not inspect.Parameter.empty:
            assert our.default == their.default, f"{where}({their.name}): flytekit default {their.default!r}"
        assert our.kind in (their.kind, inspect.Parameter.POSITIONAL_OR_KEYWORD), f"{where}({their.name})"
    extras = our_params[len(their_params) :]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY or p.default is not p.empty for p in extras), where


@pytest.mark.parametrize(
    ("flytekit_path", "ours"),
    [
        ("flytekit.clients.friendly:SynchronousFlyteClient", SynchronousFlyteClient),
        ("flytekit.clients.raw:RawSynchronousFlyteClient", RawSynchronousFlyteClient),
    ],
)
def test_every_flytekit_client_member_exists_with_flytekits_signature(flytekit_path: str, ours: type) -> None:
    """Code written against flytekit's clients runs unchanged: every public method (inherited ones too,
    e.g. the friendly client's `list_projects`), classmethod and property, called positionally or by
    keyword, including `with_root_certificate`, `raw` and `url`."""
    module, _, name = flytekit_path.partition(":")
    flytekit_class = getattr(importlib.import_module(module), name)
    checked = 0
    for member, value in inspect.getmembers(flytekit_class):
        if member.startswith("_"):
            continue
        assert hasattr(ours, member), f"{ours.__name__} lacks flytekit's {member}"
        static = inspect.getattr_static(flytekit_class, member)
        if isinstance(static, property):
            assert isinstance(inspect.getattr_static(ours, member), property), member
        else:
            assert isinstance(inspect.getattr_static(ours, member), classmethod) == isinstance(
                static, classmethod
            ), member
            _assert_callable_as_flytekits(value, getattr(ours, member), f"{ours.__name__}.{member}")
        checked += 1
    assert checked > 40


def test_a_raw_request_may_be_passed_by_flytekits_keyword(server: RecordingServer, client: Any) -> None:
    request = project_pb2.ProjectListRequest(limit=3)
    client.raw.list_projects(project_list_request=request)
    client.raw.create_task(task_create_request=task_pb2.TaskCreateRequest())
    client.get_domains()
    assert server.last("ListProjects").limit == 3
    with pytest.raises(TypeError, match="unexpected keyword argument 'request'"):
        client.raw.list_projects(request=request)
    with pytest.raises(TypeError, match="multiple values for argument 'project_list_request'"):
        client.raw.list_projects(request, project_list_request=request)


def test_paginated_defaults_send_flytekits_limit_and_iterators_the_page_size(
    server: RecordingServer, settings: AdminSettings
) -> None:
    with SynchronousFlyteClient(settings.replace(page_size=7)) as client:
        client.list_tasks_paginated(named_entity_id("p", "d", "t"))
        assert server.last("ListTasks").limit == 100
        list(client.iter_tasks(named_entity_id("p", "d", "t")))
        assert server.last("ListTasks").limit == 7
