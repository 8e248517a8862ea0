"""Regenerate the bundled demo package, flyteadmin_ops/demo/sample-package.tgz, with `pyflyte package`.

Needs flytekit (the test extra). Run from anywhere: `python scripts/make_sample_package.py`. The test
tests/ops_package/test_bundled_package.py fails when the bundled file no longer matches what this produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH  # noqa: E402
from tests.fixtures.sample import build_package  # noqa: E402


def main() -> int:
    build_package(SAMPLE_PACKAGE_PATH)
    print(f"wrote {SAMPLE_PACKAGE_PATH} ({SAMPLE_PACKAGE_PATH.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
