"""Shared pieces of the recorded-case tests: each test replays one entry of what a real flyteadmin v1.16.8
answered (`shared/reference/real-flyteadmin/differences.json`) against the emulator, through raw stubs.

An entry's request is written in the test as protobuf text (the form the reference records it in), with `<P>`
standing for the test's own fresh project; the expectation is the real server's answer, copied from the entry.
`case(n, label, ...)` makes the pytest id `n<N>-<label>`, so a failing id names the entry it reproduces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from flyteidl.admin import project_pb2
from google.protobuf import text_format
from google.protobuf.message import Message

from flyteadmin_ops.emulator import Emulator
from tests.emulator.exec.helpers import Refusal, refusal

DOMAINS = ("development", "staging", "production")


def case(n: int, label: str, *values: Any, marks: Any = ()) -> Any:
    """A pytest param whose id is the entry's number and label (`n13-different image, same id`)."""
    return pytest.param(*values, id=f"n{n}-{label}", marks=marks)


def text(message_type: type[Message], body: str, project: str) -> Any:
    """`body` (protobuf text, `<P>` = `project`) parsed as `message_type`."""
    return text_format.Parse(body.replace("<P>", project), message_type())


def one_line(message: Message) -> str:
    """A message as one line of protobuf text, the form the reference records bodies in."""
    return text_format.MessageToString(message, as_one_line=True)


def masked(value: str, project: str) -> str:
    """A server text with the project written as the reference writes it (`<P>`)."""
    return re.sub(re.escape(project), "<P>", value)


@dataclass
class Real:
    """Raw stubs for every service on one plaintext channel to an emulator, and the test's project."""

    emulator: Emulator
    channel: grpc.Channel
    project: str
    admin: Any
    data: Any
    signals: Any
    auth: Any
    identity: Any

    def _method(self, rpc: str) -> Any:
        for stub in (self.admin, self.data, self.signals, self.auth, self.identity):
            if hasattr(stub, rpc):
                return getattr(stub, rpc)
        raise AttributeError(rpc)

    def call(self, rpc: str, request: Message) -> Any:
        return self._method(rpc)(request)

    def refused(self, rpc: str, request: Message) -> Refusal:
        """Make the call and return how it failed (code, message with `<P>` masked, decoded details)."""
        failure = refusal(self._method(rpc), request)
        failure.message = masked(failure.message, self.project)
        return failure

    def parse(self, message_type: type[Message], body: str) -> Any:
        return text(message_type, body, self.project)

    def register_project(self, project_id: str, **fields: Any) -> None:
        self.admin.RegisterProject(
            project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=project_id, **fields))
        )
