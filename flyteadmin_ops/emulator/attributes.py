"""Matchable attributes (placeholder: the full module follows)."""

from __future__ import annotations

import sqlite3

from flyteadmin_ops.emulator.state import EmulatorState


def task_resource_limits(
    conn: sqlite3.Connection, state: EmulatorState, project: str, domain: str
) -> dict[str, str]:
    return dict(state.config.task_resource_limits)
