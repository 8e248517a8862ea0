"""Every recorded difference has a test, or a stated reason why it is not reproduced.

The reference (`shared/reference/real-flyteadmin/differences.json`, beside the repository) is read when it is
there; each of its entries must be named by some `case(n, ...)` in this folder's test modules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REFERENCE = HERE.parents[2].parent / "shared" / "reference" / "real-flyteadmin" / "differences.json"

# Entries deliberately not reproduced, with the reason (also in the closing note of the issue).
NOT_REPRODUCED: dict[int, str] = {}


def _covered() -> set[int]:
    numbers: set[int] = set()
    for module in HERE.glob("test_*.py"):
        numbers.update(int(n) for n in re.findall(r"\bcase\(\s*(\d+)\s*,", module.read_text()))
    return numbers


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference is not beside this checkout")
def test_every_recorded_difference_has_a_test() -> None:
    entries = {entry["n"]: entry["label"] for entry in json.loads(REFERENCE.read_text())}
    covered = _covered()
    missing = {n: label for n, label in entries.items() if n not in covered and n not in NOT_REPRODUCED}
    assert not missing, f"recorded differences without a test: {missing}"
    assert not covered & set(NOT_REPRODUCED), "an entry is both tested and listed as not reproduced"
