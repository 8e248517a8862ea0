"""Requests per second of GetTask and CreateTask against the emulator on loopback, one caller: through our
client (typed errors, deadlines, retry policy, metadata) against bare generated gRPC stubs, i.e. what our
client costs per call (the ratios), and what the emulator serves (the bare stubs' rates, printed as the
absolute figure issue 3 asks for: RPC/s for GetTask and CreateTask on loopback)."""

from __future__ import annotations

import grpc
from flyteidl.admin import common_pb2, task_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from benchmarks.common import Comparison, Figure, client_for, emulator, rate
from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH
from flyteadmin_ops.ops.package import TASK, hydrate, load_package

PROJECT, DOMAIN = "flytesnacks", "development"


def run(quick: bool) -> list[Comparison | Figure]:
    calls = 200 if quick else 1500
    template = next(
        e
        for e in hydrate(load_package(SAMPLE_PACKAGE_PATH), PROJECT, DOMAIN, "v0")
        if e.resource_type == TASK
    )

    def create_request(label: str, i: int) -> task_pb2.TaskCreateRequest:
        request = task_pb2.TaskCreateRequest()
        request.CopyFrom(template.request)
        request.id.version = f"{label}{i}"
        request.spec.template.id.version = request.id.version
        return request

    results: list[Comparison | Figure] = []
    with (
        emulator() as emu,
        client_for(emu, cache_size=0) as client,
        grpc.insecure_channel(emu.endpoint) as channel,
    ):
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        client.raw.create_task(create_request("get", 0))
        get = common_pb2.ObjectGetRequest(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK,
                project=PROJECT,
                domain=DOMAIN,
                name=template.name,
                version="get0",
            )
        )
        ours = rate(lambda i: client.raw.get_task(get), calls)
        raw_get = rate(lambda i: stub.GetTask(get, timeout=30), calls)
        results.append(
            Comparison("GetTask RPS: our client vs raw stub", "req/s", ours, raw_get, higher_is_better=True)
        )
        ours = rate(lambda i: client.raw.create_task(create_request("ours", i)), calls)
        raw_create = rate(lambda i: stub.CreateTask(create_request("raw", i), timeout=30), calls)
        results.append(
            Comparison(
                "CreateTask RPS: our client vs raw stub", "req/s", ours, raw_create, higher_is_better=True
            )
        )
    results.append(
        Figure(
            "emulator: RPC/s for GetTask and CreateTask on loopback",
            {"GetTask": raw_get, "CreateTask": raw_create},
            "RPC/s",
            note=f"one caller, bare stubs, {calls} calls each, SQLite in memory, in-process server",
        )
    )
    return results
