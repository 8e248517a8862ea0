"""SignalService: get-or-create is idempotent, listing pages and filters, set checks existence and type."""

from __future__ import annotations

import grpc
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, types_pb2

from flyteadmin_ops.emulator import Emulator
from tests.emulator.exec.helpers import BOOL, Stubs, exec_id, lit, refusal

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def signal_id(name: str) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=name, execution_id=exec_id("gated"))


def test_get_or_create_list_and_set(served: tuple[Emulator, Stubs]) -> None:
    signals = served[1].signals
    approve = signal_pb2.SignalGetOrCreateRequest(
        id=signal_id("approve"), type=types_pb2.LiteralType(simple=BOOL)
    )
    first = signals.GetOrCreateSignal(approve)
    assert first.type.simple == BOOL and not first.HasField("value")
    for name in ("b-signal", "c-signal"):
        signals.GetOrCreateSignal(
            signal_pb2.SignalGetOrCreateRequest(id=signal_id(name), type=types_pb2.LiteralType(simple=BOOL))
        )
    assert signals.GetOrCreateSignal(approve) == first  # idempotent

    listing = signal_pb2.SignalListRequest(workflow_execution_id=exec_id("gated"), limit=2)
    page = signals.ListSignals(listing)
    assert (len(page.signals), page.token) == (2, "2")
    listing.filters = "eq(signal_id,approve)"
    assert [s.id.signal_id for s in signals.ListSignals(listing).signals] == ["approve"]

    signals.SetSignal(signal_pb2.SignalSetRequest(id=signal_id("approve"), value=lit(True)))
    assert signals.GetOrCreateSignal(approve).value == lit(True)
    wrong = refusal(signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id("approve"), value=lit("yes")))
    assert (wrong.code, "is not castable to existing signal type" in wrong.message) == (INVALID, True)
    absent = refusal(signals.SetSignal, signal_pb2.SignalSetRequest(id=signal_id("nope"), value=lit(True)))
    assert (absent.code, absent.message.startswith("failed to validate that signal [")) == (INVALID, True)


def test_request_validation(served: tuple[Emulator, Stubs]) -> None:
    signals = served[1].signals
    no_type = signal_pb2.SignalGetOrCreateRequest(id=signal_id("approve"))
    assert refusal(signals.GetOrCreateSignal, no_type).message == "missing type"
    no_name = signal_pb2.SignalGetOrCreateRequest(
        id=identifier_pb2.SignalIdentifier(execution_id=exec_id("gated"))
    )
    assert refusal(signals.GetOrCreateSignal, no_name).message == "missing signal_id"
    no_limit = signal_pb2.SignalListRequest(workflow_execution_id=exec_id("gated"))
    assert refusal(signals.ListSignals, no_limit).message == "invalid value for limit"
    assert (
        refusal(signals.ListSignals, signal_pb2.SignalListRequest(limit=1)).message == "missing execution_id"
    )
    no_value = signal_pb2.SignalSetRequest(id=signal_id("approve"))
    assert refusal(signals.SetSignal, no_value).message == "missing value"
