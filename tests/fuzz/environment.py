"""A clean process environment for one example: settings sources come only from what the example writes.

Hypothesis runs many examples in one test, so pytest's function-scoped `monkeypatch` cannot reset the
environment between them; this context manager does, and restores everything afterwards."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def settings_environment(**variables: str) -> Iterator[str]:
    """No FLYTE*/FLYTEADMIN*/FLYTECTL* variable and an empty HOME (no ~/.flyte/config.yaml), plus
    `variables`; yields the temporary HOME."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as home:
        try:
            for name in list(os.environ):
                if name.startswith(("FLYTE", "GITHUB_")):
                    del os.environ[name]
            os.environ["HOME"] = home
            os.environ.update(variables)
            yield home
        finally:
            os.environ.clear()
            os.environ.update(saved)
