"""The registration hot paths' shortcuts answer exactly what the long way answers.

- An identical workflow re-create is answered from the per-emulator memo of fingerprints (no compile): the
  same ALREADY_EXISTS, message and detail as an emulator that has never seen the request (a restart on the
  same file, memo empty), and a changed request still goes the long way to its structure diff.
- `go_quote`'s fast path for plain ASCII, and the cache of `parse_quantity`, give what the slow paths give.
"""

from __future__ import annotations

import random
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import workflow_pb2

from flyteadmin_ops.emulator import Emulator
from flyteadmin_ops.emulator.common import go_quote, quote_runes
from flyteadmin_ops.emulator.quantity import QuantityError, parse_quantity
from tests.emulator.support import RT, Caller, Failure, ident, task_request, workflow_request


def _answer(caller: Caller, request: workflow_pb2.WorkflowCreateRequest) -> Failure:
    with pytest.raises(Failure) as failed:
        caller.call("CreateWorkflow", request)
    return failed.value


def test_an_identical_workflow_recreate_answers_the_same_with_and_without_the_memo(tmp_path: Path) -> None:
    db = str(tmp_path / "admin.db")
    request = workflow_request("wf", "v1", task=ident(RT.TASK, "t", "v1"))
    with Emulator(db=db) as emu:
        caller = Caller("raw", emu.endpoint)
        caller.call("CreateTask", task_request("t", "v1"))
        caller.call("CreateWorkflow", request)
        remembered = [_answer(caller, request) for _ in range(2)]  # answered from the memo
        caller.close()
    with Emulator(db=db) as restarted:  # a new emulator: empty memo, the long way (compile, digest)
        caller = Caller("raw", restarted.endpoint)
        compiled = _answer(caller, request)
        caller.close()
    for answer in remembered:
        assert (answer.code, answer.message, answer.details) == (
            compiled.code,
            compiled.message,
            compiled.details,
        )
    assert compiled.code == grpc.StatusCode.ALREADY_EXISTS
    assert compiled.details[0].HasField("exists_identical_structure")  # type: ignore[attr-defined]


def test_a_changed_workflow_after_an_identical_one_still_gets_its_diff() -> None:
    with Emulator() as emu:
        caller = Caller("raw", emu.endpoint)
        for version in ("v1", "v2"):
            caller.call("CreateTask", task_request("t", version))
        first = workflow_request("wf", "v1", task=ident(RT.TASK, "t", "v1"))
        caller.call("CreateWorkflow", first)
        assert _answer(caller, first).code == grpc.StatusCode.ALREADY_EXISTS
        changed = workflow_request("wf", "v1", task=ident(RT.TASK, "t", "v2"))
        different = _answer(caller, changed)
        assert different.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "wf workflow with different structure already exists" in different.message
        assert different.details[0].HasField("exists_different_structure")  # type: ignore[attr-defined]
        assert _answer(caller, first).code == grpc.StatusCode.ALREADY_EXISTS  # and back again
        caller.close()


def test_go_quote_fast_path_matches_the_rune_by_rune_escaping() -> None:
    samples = [bytes([byte]) for byte in range(256)] + [b"ab" + bytes([byte]) + b"cd" for byte in range(256)]
    draw = random.Random(5)
    for _ in range(5000):
        length = draw.randrange(16)
        samples.append(
            bytes(
                draw.randrange(256) if draw.random() < 0.1 else draw.randrange(32, 127) for _ in range(length)
            )
        )
    samples += [b"flytesnacks", "naïve".encode(), b'say "hi"\\']
    for raw in samples:
        assert go_quote(raw) == quote_runes(raw), raw


def test_parse_quantity_cache_returns_equal_values_and_still_refuses() -> None:
    parse_quantity.cache_clear()
    first = parse_quantity("1500m")
    assert parse_quantity("1500m") is first and parse_quantity.cache_info().hits == 1
    assert (first.value(), first.canonical()) == (2, "1500m")
    for _ in range(2):  # a refusal is not cached as a value
        with pytest.raises(QuantityError):
            parse_quantity("1.5.5")
