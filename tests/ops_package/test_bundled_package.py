"""The bundled demo package is what scripts/make_sample_package.py makes of the current sample sources.

pyflyte's output is not byte-reproducible (protobuf map order, tar mtimes), so the comparison is by content:
the same entities with equal protobufs, and the same fast-register source archive.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flyteadmin_ops import demo
from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, WORKFLOW, Package, load_package

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "python scripts/make_sample_package.py"


def _content(package: Package) -> dict[tuple[object, ...], object]:
    return {e.key: e.request for e in package}


def test_bundled_package_matches_the_sources(pyflyte_package: Path) -> None:
    bundled = load_package(demo.SAMPLE_PACKAGE_PATH)
    fresh = load_package(pyflyte_package)
    assert sorted(_content(bundled)) == sorted(_content(fresh)), f"entities differ: run `{REGENERATE}`"
    for key, request in _content(fresh).items():
        assert _content(bundled)[key] == request, f"{key[3]} differs: run `{REGENERATE}`"
    assert bundled.fast_archive == fresh.fast_archive, f"sources differ: run `{REGENERATE}`"
    assert demo.SAMPLE_PACKAGE_PATH.stat().st_size < 64 * 1024


def test_demo_names_are_in_the_bundled_package() -> None:
    bundled = load_package(demo.SAMPLE_PACKAGE_PATH)
    for name in demo.SAMPLE_TASKS:
        bundled.find(TASK, name)
    for name in demo.SAMPLE_WORKFLOWS:
        bundled.find(WORKFLOW, name)
    for name in demo.SAMPLE_LAUNCH_PLANS:
        bundled.find(LAUNCH_PLAN, name)
    nightly = bundled.find(LAUNCH_PLAN, demo.SCHEDULED_LAUNCH_PLAN).request.spec
    assert nightly.entity_metadata.schedule.cron_schedule.schedule == "0 2 * * *"
    assert nightly.entity_metadata.schedule.kickoff_time_input_arg == "kickoff_time"
    failing = bundled.find(WORKFLOW, demo.FAILING_WORKFLOW).request.spec.template
    assert "fail" in failing.interface.inputs.variables


def test_bundled_package_loads_without_flytekit() -> None:
    code = (
        "import sys; sys.modules['flytekit'] = None\n"
        "from flyteadmin_ops import demo\n"
        "from flyteadmin_ops.ops.package import load_package, dependency_waves, hydrate\n"
        "p = hydrate(load_package(demo.SAMPLE_PACKAGE_PATH), 'p', 'd', 'v1')\n"
        "print(len(p), len(dependency_waves(p)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["19", "5"]


def test_package_data_ships_the_tgz() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data.get("flyteadmin_ops.demo", []) + package_data.get("*", [])
    assert "*.tgz" in patterns
    assert (ROOT / "flyteadmin_ops" / "demo" / "__init__.py").is_file()  # a package, so find_packages sees it
