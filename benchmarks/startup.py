"""Placeholder: filled in by the work on issue 9."""

from __future__ import annotations

from benchmarks.common import Row


def run(quick: bool) -> list[Row]:
    return []
