"""SignalService as a real flyteadmin v1.16.8 answers it (entries 175-177 of the reference).

The rules behind the entries:
- GetOrCreateSignal is gorm's FirstOrCreate with the id and the type as conditions: the same type finds the
  stored signal, another type tries a second insert with the same key and hits `signals_pkey`;
- SetSignal on a missing signal quotes the repository's "signal does not exist";
- a value of the wrong type is printed as Go's compact proto text (`boolean:true`, floats in Go's shortest
  form), the stored type as its raw bytes.
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import signal_pb2

from tests.emulator.real.support import Real, case

INVALID = grpc.StatusCode.INVALID_ARGUMENT
SIGNAL = 'signal_id: "{}" execution_id {{ project: "<P>" domain: "development" name: "e-overrides" }}'


def _create(real: Real, signal: str, simple: str) -> signal_pb2.Signal:
    body = f"id {{ {SIGNAL.format(signal)} }} type {{ simple: {simple} }}"
    created: signal_pb2.Signal = real.call(
        "GetOrCreateSignal", real.parse(signal_pb2.SignalGetOrCreateRequest, body)
    )
    return created


def _not_castable(value: str) -> str:
    """The refusal for `value` (Go proto text) set on the INTEGER signal (LiteralType bytes `8 1`)."""
    return f"requested signal value [{value}] is not castable to existing signal type [[8 1]]"


def _set(real: Real, signal: str, value: str) -> signal_pb2.SignalSetRequest:
    body = f"id {{ {SIGNAL.format(signal)} }} value {{ {value} }}"
    request: signal_pb2.SignalSetRequest = real.parse(signal_pb2.SignalSetRequest, body)
    return request


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(
            175,
            "different type",
            f"id {{ {SIGNAL.format('approve')} }} type {{ simple: INTEGER }}",
            "value with matching already exists "
            '(duplicate key value violates unique constraint "signals_pkey")',
        ),
    ],
)
def test_get_or_create_with_another_type_hits_the_primary_key(real: Real, body: str, expected: str) -> None:
    _create(real, "approve", "BOOLEAN")
    failure = real.refused("GetOrCreateSignal", real.parse(signal_pb2.SignalGetOrCreateRequest, body))
    assert (failure.code, failure.message) == (grpc.StatusCode.ALREADY_EXISTS, expected)


def test_get_or_create_with_the_same_type_finds_the_signal_and_its_value(real: Real) -> None:
    first = _create(real, "approve", "BOOLEAN")
    real.call("SetSignal", _set(real, "approve", "scalar { primitive { boolean: true } }"))
    again = _create(real, "approve", "BOOLEAN")
    assert again.id == first.id and again.value.scalar.primitive.boolean


def test_an_empty_type_is_a_type_too(real: Real) -> None:
    """golang/protobuf marshals an empty LiteralType to a non-nil empty slice, which gorm does not drop from
    the conditions: it matches only a signal created with an empty type."""
    _create(real, "approve", "BOOLEAN")

    def untyped(name: str) -> signal_pb2.SignalGetOrCreateRequest:
        body = f"id {{ {SIGNAL.format(name)} }} type {{ }}"
        request: signal_pb2.SignalGetOrCreateRequest = real.parse(signal_pb2.SignalGetOrCreateRequest, body)
        return request

    assert real.refused("GetOrCreateSignal", untyped("approve")).code == grpc.StatusCode.ALREADY_EXISTS
    fresh = untyped("blank")
    assert real.call("GetOrCreateSignal", fresh) == real.call("GetOrCreateSignal", fresh)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case(
            176,
            "wrong type",
            "scalar { primitive { boolean: true } }",
            _not_castable("scalar:{primitive:{boolean:true}}"),
        ),
        pytest.param(
            "scalar { primitive { float_value: 1500000 } }",
            _not_castable("scalar:{primitive:{float_value:1.5e+06}}"),
            id="float in Go's shortest form",
        ),
        pytest.param(
            'scalar { primitive { string_value: "say \\"yes\\"\\n" } }',
            _not_castable('scalar:{primitive:{string_value:"say \\"yes\\"\\n"}}'),
            id="string with Go escapes",
        ),
        pytest.param(
            "collection { literals { scalar { primitive { integer: 1 } } } }",
            _not_castable("collection:{literals:{scalar:{primitive:{integer:1}}}}"),
            id="collection",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_printed_as_go_proto_text(real: Real, value: str, expected: str) -> None:
    _create(real, "count", "INTEGER")
    failure = real.refused("SetSignal", _set(real, "count", value))
    assert (failure.code, failure.message) == (INVALID, expected)


def test_a_value_without_a_type_is_refused_before_the_cast(real: Real) -> None:
    """propeller's `LiteralTypeForLiteral` infers no type for an empty scalar; `ValidateLiteralType` says
    so."""
    _create(real, "count", "INTEGER")
    failure = real.refused("SetSignal", _set(real, "count", "scalar { }"))
    assert (failure.code, failure.message) == (
        INVALID,
        "Failed to validate literal type for [] with err: got unknown literal type: [<nil>].\n"
        "Suggested solution: Please update all your Flyte deployment images to the latest version "
        "and try again",
    )


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        case(
            177,
            "missing signal",
            "nope",
            "failed to validate that signal [{{<P> development e-overrides} nope}] exists, "
            "err: [signal does not exist]",
        ),
    ],
)
def test_setting_a_missing_signal(real: Real, signal: str, expected: str) -> None:
    failure = real.refused("SetSignal", _set(real, signal, "scalar { primitive { boolean: true } }"))
    assert (failure.code, failure.message) == (INVALID, expected)
