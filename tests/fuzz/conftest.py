"""Fuzz tests: property-based runs over every input parser, each module marked `fuzz`.

Importing `support` registers the hypothesis profiles `fuzz-ci` (default: bounded, derandomized, so CI
runs are reproducible) and `fuzz-deep` (opt-in, `OPS_FUZZ_PROFILE=fuzz-deep`); every test here applies the
chosen one through `support.fuzz_settings`, so hypothesis tests elsewhere keep their own settings."""

from __future__ import annotations

from tests.fuzz import support

__all__ = ["support"]
