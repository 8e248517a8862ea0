"""register-all against the emulator with real `pyflyte package` archives."""

from __future__ import annotations

import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.admin.common_pb2 import NamedEntityIdentifier
from flyteidl.core import identifier_pb2

from flyteadmin_ops import demo
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, PackageError, dependency_waves, load_package
from flyteadmin_ops.ops.register import register_package
from flyteadmin_ops.ops.results import OperationInputError, Status
from tests.fixtures.sample import CHANGED_TASK
from tests.ops.admin_proxy import AdminProxy, Forward

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture
def emulator(flyte_admin: Emulator) -> Emulator:
    return flyte_admin


@pytest.fixture
def client(admin_client: SynchronousFlyteClient) -> SynchronousFlyteClient:
    return admin_client


def _names(client: SynchronousFlyteClient, resource_type: int, version: str | None = None) -> set[str]:
    """Entity names the server holds in PROJECT/DOMAIN (optionally only those with a version `version`)."""
    kind = {TASK: "task", identifier_pb2.WORKFLOW: "workflow", LAUNCH_PLAN: "launch_plan"}[resource_type]
    names = getattr(client, f"iter_{kind}_ids")(PROJECT, DOMAIN)
    versions = getattr(client, f"iter_{kind}s")
    return {
        named.name
        for named in names
        if version is None or any(entity.id.version == version for entity in versions(named))
    }


def _statuses(result: object, kind: str | None = None) -> set[Status]:
    return {o.status for o in result.outcomes if kind is None or o.kind == kind}  # type: ignore[attr-defined]


def test_fresh_registration_creates_everything_and_substitutes_the_upload(
    client: SynchronousFlyteClient, pyflyte_package: Path
) -> None:
    result = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")

    assert result.ok, result.to_json()
    upload = result.outcomes[0]
    assert (upload.kind, upload.status) == ("source archive", Status.UPLOADED)
    entities = result.outcomes[1:]
    assert {o.status for o in entities} == {Status.CREATED}
    assert len(entities) == len(load_package(pyflyte_package))
    assert set(demo.SAMPLE_LAUNCH_PLANS) <= _names(client, LAUNCH_PLAN, "v1")
    # The fast-register placeholder in the task args now points at the uploaded archive.
    task = client.get_task(
        identifier_pb2.Identifier(
            resource_type=TASK, project=PROJECT, domain=DOMAIN, name=demo.SAMPLE_TASKS[0], version="v1"
        )
    )
    args = list(task.closure.compiled_task.template.container.args)
    assert upload.detail in args
    assert not any("remote_package_path" in a for a in args)


def test_rerun_is_idempotent(client: SynchronousFlyteClient, pyflyte_package: Path) -> None:
    first = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")
    second = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")

    assert first.ok and second.ok
    assert [o.name for o in second.outcomes] == [o.name for o in first.outcomes]
    assert {o.status for o in second.outcomes[1:]} == {Status.EXISTS}


def test_changed_task_conflicts_with_the_diff_and_no_launch_plan_is_created(
    client: SynchronousFlyteClient,
    pyflyte_package: Path,
    pyflyte_variant_package: Path,
) -> None:
    # Only the original `square` is registered at v2; then the variant (square changed) at v2.
    original = load_package(pyflyte_package)
    square = original.find(TASK, CHANGED_TASK)
    assert register_package(client, load_package([square.request]), PROJECT, DOMAIN, "v2").ok

    result = register_package(client, pyflyte_variant_package, PROJECT, DOMAIN, "v2")

    assert not result.ok
    conflicts = result.with_status(Status.CONFLICT)
    assert [o.name for o in conflicts] == [f"{PROJECT}:{DOMAIN}:{CHANGED_TASK}:v2"]
    assert "cpu" in conflicts[0].detail or "750m" in conflicts[0].detail, conflicts[0].detail
    assert _statuses(result, "launch_plan") == {Status.SKIPPED}
    assert _names(client, LAUNCH_PLAN, "v2") == set()
    # The other tasks of the first wave were registered; what comes after the conflict was not.
    assert _statuses(result, "task") == {Status.CREATED, Status.CONFLICT}
    assert _statuses(result, "workflow") == {Status.SKIPPED}
    assert result.totals["skipped"] == len(result.with_status(Status.SKIPPED))


def test_conflict_after_full_registration_skips_launch_plans(
    client: SynchronousFlyteClient, pyflyte_package: Path, pyflyte_variant_package: Path
) -> None:
    register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1")
    result = register_package(client, pyflyte_variant_package, PROJECT, DOMAIN, "v1")

    # Changing one task's source changes the fast-register archive, and with it the archive URL in every
    # task's args: under the same version, every task now differs from what is registered.
    conflicts = {o.name.split(":")[2] for o in result.with_status(Status.CONFLICT)}
    assert conflicts == {e.name for e in load_package(pyflyte_variant_package).of_type(TASK)}
    assert _statuses(result, "launch_plan") == {Status.SKIPPED}
    assert _statuses(result, "workflow") == {Status.SKIPPED}


def test_continue_on_error_goes_on_past_the_conflict(
    client: SynchronousFlyteClient,
    pyflyte_package: Path,
    pyflyte_variant_package: Path,
) -> None:
    square = load_package(pyflyte_package).find(TASK, CHANGED_TASK)
    register_package(client, load_package([square.request]), PROJECT, DOMAIN, "v2")

    result = register_package(client, pyflyte_variant_package, PROJECT, DOMAIN, "v2", continue_on_error=True)

    assert not result.ok
    assert len(result.with_status(Status.CONFLICT)) == 1
    assert not result.with_status(Status.SKIPPED)
    assert set(demo.SAMPLE_LAUNCH_PLANS) <= _names(client, LAUNCH_PLAN, "v2")


def test_dry_run_plans_offline_and_writes_nothing(
    emulator: Emulator, client: SynchronousFlyteClient, pyflyte_package: Path
) -> None:
    with (
        AdminProxy(emulator.endpoint) as proxy,
        SynchronousFlyteClient(endpoint=proxy.endpoint, insecure=True) as c,
    ):
        result = register_package(c, pyflyte_package, PROJECT, DOMAIN, "v1", dry_run=True)
        assert proxy.methods() == []  # offline: not even a read

    assert result.dry_run and result.ok
    assert _statuses(result) == {Status.PLANNED}
    waves = dependency_waves(load_package(pyflyte_package))
    assert len(result.outcomes) == 1 + sum(len(w) for w in waves)
    assert result.outcomes[-1].detail == f"wave {len(waves)}"
    for resource_type in (TASK, identifier_pb2.WORKFLOW, LAUNCH_PLAN):
        assert _names(client, resource_type) == set()


def test_dry_run_needs_no_client(pyflyte_package: Path) -> None:
    result = register_package(None, pyflyte_package, PROJECT, DOMAIN, "v1", dry_run=True)
    assert result.ok and len(result.outcomes) > 1


def test_corrupt_archive_is_a_typed_error_naming_the_file(
    client: SynchronousFlyteClient, pyflyte_package: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(pyflyte_package.read_bytes()[:300])

    with pytest.raises(PackageError, match=r"broken\.tgz"):
        register_package(client, broken, PROJECT, DOMAIN, "v1")
    assert _names(client, TASK) == set()


def test_corrupt_member_fails_before_anything_is_written(
    client: SynchronousFlyteClient, pyflyte_package_dir: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "pkg.tgz"
    with tarfile.open(archive, "w:gz") as out:
        for path in sorted(pyflyte_package_dir.iterdir()):
            out.add(path, arcname=path.name)
        bad = tmp_path / "99_garbage_2.pb"
        bad.write_bytes(b"\xff\x00 not a workflow")
        out.add(bad, arcname=bad.name)

    with pytest.raises(PackageError, match=r"99_garbage_2\.pb"):
        register_package(client, archive, PROJECT, DOMAIN, "v1")
    assert _names(client, TASK) == set()


def test_schedule_that_cannot_start_is_rejected_before_any_write(
    emulator: Emulator, pyflyte_package: Path
) -> None:
    package = load_package(pyflyte_package)
    requests = [e.request for e in package]
    nightly = package.find(LAUNCH_PLAN, demo.SCHEDULED_LAUNCH_PLAN).request
    broken = type(nightly)()
    broken.CopyFrom(nightly)
    broken.spec.default_inputs.parameters["label"].required = True  # no default any more
    requests[requests.index(nightly)] = broken

    with (
        AdminProxy(emulator.endpoint) as proxy,
        SynchronousFlyteClient(endpoint=proxy.endpoint, insecure=True) as c,
    ):
        with pytest.raises(PackageError, match=r"ops_demo\.nightly has a schedule, but input\(s\) label"):
            register_package(c, load_package(requests), PROJECT, DOMAIN, "v1")
        assert proxy.writes() == []
    with pytest.raises(PackageError, match="label"):
        register_package(None, load_package(requests), PROJECT, DOMAIN, "v1", dry_run=True)


@pytest.mark.parametrize(
    ("project", "domain", "named"),
    [("nosuchproject", DOMAIN, "nosuchproject"), (PROJECT, "nodomain", "nodomain")],
)
def test_unknown_target_is_an_input_error_before_any_write(
    emulator: Emulator, pyflyte_package: Path, project: str, domain: str, named: str
) -> None:
    """The upload URL is signed beside the domain check (flyteadmin's signing neither checks the target
    nor writes anything); the PUT, the first write, waits for the check and is never made."""
    archive = load_package(pyflyte_package).fast_archive
    assert archive is not None
    with (
        AdminProxy(emulator.endpoint) as proxy,
        SynchronousFlyteClient(endpoint=proxy.endpoint, insecure=True) as c,
    ):

        def after_signing(request: bytes, context: grpc.ServicerContext, forward: Forward) -> bytes:
            # The domains are answered once the upload is signed: it is then ready to PUT when the check fails
            proxy.wait_for_call("CreateDownloadLocation", timeout=10)
            return forward(request)

        proxy.on("GetDomains", after_signing)
        with pytest.raises(OperationInputError, match=named):
            register_package(c, pyflyte_package, project, domain, "v1")
        assert [
            m for m in proxy.writes() if m not in ("CreateUploadLocation", "CreateDownloadLocation")
        ] == []
        location = c.get_upload_signed_url(project, domain, content_md5=archive.md5, filename=archive.name)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(c.get_download_signed_url(location.native_url).signed_url, timeout=10)
        assert missing.value.code == 404


def test_waves_run_concurrently_up_to_the_limit_and_in_dependency_order(
    emulator: Emulator, pyflyte_package: Path
) -> None:
    limit = 3
    package = load_package(pyflyte_package)
    wave_of = {(e.resource_type, e.name): i for i, wave in enumerate(dependency_waves(package)) for e in wave}

    with AdminProxy(emulator.endpoint) as proxy:
        # Hold each CreateTask until `limit` are in flight (or a deadline passes): if the client sent them
        # one by one, the peak would stay 1; if it ignored the limit, the peak would exceed it.
        def gather(request: bytes, context: object, forward: object) -> bytes:
            proxy.wait_for_in_flight("CreateTask", limit, timeout=2.0)
            return forward(request)  # type: ignore[operator,no-any-return]

        proxy.on("CreateTask", gather)
        with SynchronousFlyteClient(endpoint=proxy.endpoint, insecure=True) as c:
            result = register_package(c, pyflyte_package, PROJECT, DOMAIN, "v1", max_concurrency=limit)
        calls = [
            call
            for call in proxy.calls
            if call.method.startswith("Create")
            and call.method not in ("CreateUploadLocation", "CreateDownloadLocation")
        ]

    assert result.ok
    assert proxy.peak_in_flight["CreateTask"] == limit
    assert max(proxy.peak_in_flight[m] for m in ("CreateWorkflow", "CreateLaunchPlan")) <= limit
    request_types = {
        "CreateTask": task_pb2.TaskCreateRequest,
        "CreateLaunchPlan": launch_plan_pb2.LaunchPlanCreateRequest,
    }
    waves: dict[int, list[tuple[float, float]]] = {}
    for call in calls:
        request_type = request_types.get(call.method, workflow_pb2.WorkflowCreateRequest)
        ident = request_type.FromString(call.request).id
        waves.setdefault(wave_of[(ident.resource_type, ident.name)], []).append((call.started, call.ended))
    for wave in sorted(waves)[1:]:
        assert max(end for _, end in waves[wave - 1]) <= min(start for start, _ in waves[wave])


def test_activate_schedules_activates_and_is_idempotent(
    client: SynchronousFlyteClient, pyflyte_package: Path
) -> None:
    first = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1", activate_schedules=True)
    second = register_package(client, pyflyte_package, PROJECT, DOMAIN, "v1", activate_schedules=True)

    scheduled = f"{PROJECT}:{DOMAIN}:{demo.SCHEDULED_LAUNCH_PLAN}:v1"
    assert [(o.name, o.status) for o in first.with_status(Status.ACTIVATED)] == [
        (scheduled, Status.ACTIVATED)
    ]
    assert [(o.name, o.status) for o in second.with_status(Status.UNCHANGED)] == [
        (scheduled, Status.UNCHANGED)
    ]
    active = client.get_active_launch_plan(
        NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name=demo.SCHEDULED_LAUNCH_PLAN)
    )
    assert active.id.version == "v1"
    # Launch plans without a schedule stay inactive.
    other = client.get_launch_plan(
        identifier_pb2.Identifier(
            resource_type=LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name=demo.REFERENCED_LAUNCH_PLAN,
            version="v1",
        )
    )
    assert other.closure.state == launch_plan_pb2.INACTIVE


def test_upload_refused_registers_nothing(emulator: Emulator, pyflyte_package: Path) -> None:
    """flyteadmin answers ALREADY_EXISTS only when a *different* file holds the location: a failure, after
    which no task may be registered (its args would point at the wrong archive)."""
    with (
        AdminProxy(emulator.endpoint) as proxy,
        SynchronousFlyteClient(endpoint=proxy.endpoint, insecure=True) as c,
    ):
        proxy.on(
            "CreateUploadLocation",
            lambda request, context, forward: context.abort(  # type: ignore[no-any-return]
                grpc.StatusCode.ALREADY_EXISTS, "file already exists at location [x], specify a matching hash"
            ),
        )
        result = register_package(c, pyflyte_package, PROJECT, DOMAIN, "v1")
        assert [m for m in proxy.writes() if m != "CreateUploadLocation"] == []

    upload, *entities = result.outcomes
    assert upload.status == Status.FAILED and "different file" in upload.detail
    assert {o.status for o in entities} == {Status.SKIPPED} and len(entities) == 19
    assert not result.ok
