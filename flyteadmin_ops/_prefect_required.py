"""The Prefect layer's import guard: `pip install flyteadmin-ops` leaves Prefect out (the client, the CLI, the
emulator and the automations do not need it), so each module of the Prefect layer imports this one first.

Without Prefect, importing any of them then fails with an ImportError that names the extra to install,
instead of a bare "No module named 'prefect'" from deep inside the module. A failed import is not cached, so
the error repeats on every attempt, and installing the extra later is enough. The CLI's `--prefect` paths
import this module too and print the same message (exit 2) before starting anything.
"""

from __future__ import annotations

from importlib.util import find_spec

INSTALL_HINT = "pip install 'flyteadmin-ops[prefect]'"


class PrefectNotInstalledError(ImportError):
    """The Prefect layer was imported in an environment without Prefect."""


if find_spec("prefect") is None:
    raise PrefectNotInstalledError(
        f"the Prefect layer of flyteadmin-ops (blocks, tasks, jobs, flows) needs Prefect, an optional extra: "
        f"{INSTALL_HINT}",
        name="prefect",
    )
