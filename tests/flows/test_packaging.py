"""The flows ship inside the package as `flyteadmin_ops.flows` (mapped from the top-level `flows/`), and
no package directory is left out of the explicit package list that mapping requires."""

from __future__ import annotations

from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_and_flows_are_mapped() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "flyteadmin_ops").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert config["package-dir"] == {"flyteadmin_ops.flows": "flows"}
    assert "flyteadmin_ops.flows" in listed
    assert {p.stem for p in (REPO / "flows").glob("*.py")} >= {
        "__init__",
        "register_all",
        "promote",
        "relaunch_failed",
        "sync_attributes",
    }
