"""Importing the client layers must stay cheap: no Prefect (≈1.5 s and a heap of dependencies)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_client_core_does_not_import_prefect() -> None:
    code = (
        "import sys\n"
        "import flyteadmin_ops, flyteadmin_ops.settings, flyteadmin_ops.errors, flyteadmin_ops.transport\n"
        "from flyteadmin_ops.transport import Transport, RpcSpec\n"
        "from flyteadmin_ops.settings import AdminSettings\n"
        "AdminSettings.isolated()\n"
        "leaked = sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.'))\n"
        "assert not leaked, leaked\n"
        "assert 'flytekit' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
