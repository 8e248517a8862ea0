"""Dependencies point downward: settings -> transport -> client -> ops -> tasks -> flows; CLI at the edge;
the emulator beside, never importing the client layers (so client and server cannot agree on a mistake)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flyteadmin_ops"

# layer -> the flyteadmin_ops layers it must never import
FORBIDDEN = {
    "settings": {"transport", "client", "ops", "tasks", "blocks", "flows", "cli", "commands", "emulator"},
    "errors": {"settings", "transport", "client", "ops", "tasks", "blocks", "flows", "cli", "commands", "emulator"},
    "transport": {"client", "ops", "tasks", "blocks", "flows", "cli", "commands", "emulator"},
    "client": {"ops", "tasks", "blocks", "flows", "cli", "commands", "emulator"},
    "ops": {"tasks", "blocks", "flows", "cli", "commands", "emulator"},
    "emulator": {"settings", "errors", "transport", "client", "ops", "tasks", "blocks", "flows", "commands"},
}
PREFECT_FREE = {"settings", "errors", "transport", "client", "ops", "emulator"}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            # relative import: resolve against the module's own package
            base = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
            names.add(".".join((*base, node.module or "")).rstrip("."))
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) in FORBIDDEN)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    layer = _layer(path)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "flyteadmin_ops" and len(parts) > 1:
            assert parts[1] not in FORBIDDEN[layer], f"{path.name} ({layer}) imports {name}"
        if layer in PREFECT_FREE:
            assert parts[0] != "prefect", f"{path.name} ({layer}) imports prefect"


def test_layer_table_covers_modules() -> None:
    assert len(MODULES) > 5


def test_package_import_is_prefect_free() -> None:
    code = (
        "import sys, flyteadmin_ops, flyteadmin_ops.client, flyteadmin_ops.ops, flyteadmin_ops.emulator;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('prefect', 'flytekit')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
