"""Dependencies point downward: errors/settings -> transport -> client -> ops -> tasks -> flows, with the CLI,
the demo and the pytest plugin at the edge, and the emulator beside everything, importing none of the client
layers (so client and server cannot silently agree on a mistake)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flyteadmin_ops"

BOTTOM = {"errors", "settings"}
TRANSPORT = BOTTOM | {"transport"}
CLIENT = TRANSPORT | {"client"}
OPS = CLIENT | {"ops"}
PREFECT_GUARD = {"_prefect_required"}  # imported first by every Prefect-layer module; imports nothing
PREFECT_LAYER = OPS | PREFECT_GUARD | {"blocks", "tasks", "client_tasks", "run_names", "jobs"}
EDGE = PREFECT_LAYER | {"flows", "commands", "demo", "emulator", "testing", "cli"}

# top-level part of flyteadmin_ops -> the parts it may import
ALLOWED: dict[str, set[str]] = {
    "__init__": CLIENT,  # only under TYPE_CHECKING; resolved lazily at run time (tested below)
    "errors": set(),
    "settings": {"errors"},
    "transport": TRANSPORT,
    "client": CLIENT,
    "ops": OPS,
    "blocks": PREFECT_LAYER,
    "tasks": PREFECT_LAYER,
    "client_tasks": PREFECT_LAYER,
    "run_names": PREFECT_GUARD,
    "_prefect_required": set(),
    "jobs": PREFECT_LAYER,
    "deployment_steps": PREFECT_LAYER,  # prefect.yaml's deploy-time checks; nothing imports it
    "flows": PREFECT_LAYER | {"flows"},
    "emulator": {"emulator"},
    "testing": {"testing", "emulator", "client", "settings"},
    "demo": EDGE,
    "commands": EDGE,
    "cli": EDGE,
}
PREFECT_FREE = {
    "__init__",
    "_prefect_required",
    "errors",
    "settings",
    "transport",
    "client",
    "ops",
    "emulator",
    "testing",
    "commands",
}


def _part(path: Path) -> str:
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "flows":
        return "flows"
    return rel.parts[1].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: use absolute imports so layering stays visible")
    return names


MODULES = sorted([*PACKAGE.rglob("*.py"), *(ROOT / "flows").rglob("*.py")])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_allowed_layers(path: Path) -> None:
    part = _part(path)
    assert part in ALLOWED, f"{path}: add '{part}' to the layer table"
    for name in _imports(path):
        top, _, rest = name.partition(".")
        if top == "flyteadmin_ops" and rest:
            target = rest.split(".")[0]
            assert target in ALLOWED[part] | {part}, f"{path.relative_to(ROOT)} ({part}) imports {name}"
        if part in PREFECT_FREE:
            assert top != "prefect", f"{path.relative_to(ROOT)} ({part}) imports prefect"


def test_every_layer_has_modules() -> None:
    assert {_part(p) for p in MODULES} == set(ALLOWED)


def test_package_import_is_prefect_and_flytekit_free() -> None:
    code = (
        "import sys, flyteadmin_ops, flyteadmin_ops.client, flyteadmin_ops.ops.register, "
        "flyteadmin_ops.ops.relaunch, flyteadmin_ops.ops.attributes, flyteadmin_ops.emulator, "
        "flyteadmin_ops.cli;"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'flytekit'});"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_resolve_lazily() -> None:
    code = (
        "import sys, flyteadmin_ops;"
        "assert 'flyteadmin_ops.client' not in sys.modules;"
        "missing = [n for n in flyteadmin_ops.__all__ if getattr(flyteadmin_ops, n, None) is None];"
        "assert not missing, missing;"
        "assert flyteadmin_ops.SynchronousFlyteClient.__module__.startswith('flyteadmin_ops.client')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_errors_resolve_without_loading_the_client() -> None:
    code = (
        "import sys, flyteadmin_ops;"
        "flyteadmin_ops.FlyteAdminError, flyteadmin_ops.AdminSettings;"
        "assert 'flyteadmin_ops.client' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
