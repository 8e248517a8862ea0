"""Config files: flytectl's `config.yaml` (its `admin:` section) and ours (`FLYTEADMIN_CONFIG`, TOML or
YAML). Whatever they hold, `AdminSettings()` is built or raises SettingsError / pydantic's ValidationError
(both ValueErrors; the CLI exits 2), never another exception, and no error ever shows the secret the file
also holds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from flyteadmin_ops.settings import _FLYTECTL_ADMIN_KEYS, AdminSettings, SettingsError
from tests.fuzz.environment import settings_environment
from tests.fuzz.support import REPO, bounded, fuzz_settings

pytestmark = pytest.mark.fuzz

SECRET = "s3cr3t-never-shown-4f1c"
FIELDS = sorted(AdminSettings.model_fields)
EXAMPLE_YAML = (REPO / "config" / "admin.example.yaml").read_text(encoding="utf-8")
EXAMPLE_TOML = (REPO / "config" / "admin.example.toml").read_text(encoding="utf-8")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.text(max_size=16),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),  # YAML's "\\udcbf"
    st.sampled_from(
        [
            "15s",
            "1m30s",
            "1h",
            "0s",
            "9" * 400 + "h",
            "-5s",
            "1.5ms",
            "localhost:8089",
            "dns:///a:1",
            "Pkce",
            "ClientSecret",
            "DeviceFlow",
            "ExternalCommand",
            "/nonexistent/ca.pem",
            "~nobody-such/ca.pem",
            "x" * 300,
            "\0",
            "",
            "a:99999",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
flytectl_keys = st.sampled_from([*_FLYTECTL_ADMIN_KEYS, "pkceConfig", "deviceFlowConfig", "unknownKey"])
flytectl_admin = st.dictionaries(
    flytectl_keys,
    values | st.fixed_dictionaries({"timeout": values}),
    max_size=6,
)
our_keys = st.sampled_from([*FIELDS, "client_secret_location", "client_secret_env_var", "endpointt"])


def check(text: str, name: str, variable: str) -> AdminSettings | None:
    """Build settings with the file at `name` named by `variable`; None when refused as documented."""
    with settings_environment(FLYTEADMIN_PROBE_SECRET=SECRET) as home:
        path = Path(home) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            with bounded(), settings_environment_variable(variable, str(path)):
                return AdminSettings()
        except (SettingsError, ValidationError) as exc:
            assert SECRET not in str(exc) and SECRET not in repr(exc), "a secret appeared in an error"
            return None


class settings_environment_variable:
    """Set one variable for the body (inside `settings_environment`, which restores everything)."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def __enter__(self) -> None:
        import os

        os.environ[self.name] = self.value

    def __exit__(self, *exc: object) -> None:
        import os

        os.environ.pop(self.name, None)


def _with_secret(document: Any, key: str) -> Any:
    """Add a secret beside whatever else the file holds, so a leak in any error message is caught."""
    if isinstance(document, dict):
        return {**document, key: SECRET}
    return document


@given(admin=flytectl_admin, with_secret=st.booleans())
@fuzz_settings()
@example(admin={"clientSecretLocation": "\0"}, with_secret=False)
@example(admin={"perRetryTimeout": "9" * 400 + "h"}, with_secret=False)
def test_any_flytectl_admin_section_builds_or_is_refused(admin: dict[str, Any], with_secret: bool) -> None:
    document = {"admin": _with_secret(admin, "clientSecret") if with_secret else admin}
    settings = check(yaml.safe_dump(document, allow_unicode=True), "config.yaml", "FLYTECTL_CONFIG")
    if settings is not None:
        assert math.isfinite(settings.deadline_seconds) and math.isfinite(settings.retry_max_backoff)


@given(
    document=st.dictionaries(our_keys, values, max_size=5),
    secret_key=st.sampled_from(["client_secret", "token"]),
)
@fuzz_settings()
@example(document={1: 1}, secret_key="token")
@example(document={"ca_cert_file": "\0"}, secret_key="token")
def test_any_flyteadmin_config_builds_or_is_refused(document: dict[Any, Any], secret_key: str) -> None:
    check(
        yaml.safe_dump(_with_secret(document, secret_key), allow_unicode=True),
        "admin.yaml",
        "FLYTEADMIN_CONFIG",
    )


text_edits = st.lists(
    st.tuples(
        st.integers(0, 10**5),
        st.integers(0, 30),
        st.one_of(
            st.text(max_size=6),
            st.sampled_from(['"', "'", "[", "{", "=", ":", "\n", "inf", "nan", "\0", "\\u0000", "1e999"]),
        ),
    ),
    min_size=1,
    max_size=4,
)


@given(edits=text_edits, toml=st.booleans())
@fuzz_settings()
def test_mutated_example_files_build_or_are_refused(edits: list[tuple[int, int, str]], toml: bool) -> None:
    text = EXAMPLE_TOML if toml else EXAMPLE_YAML
    for at, removed, inserted in edits:
        at %= len(text) + 1
        text = text[:at] + inserted + text[at + removed :]
    check(text, "admin.toml" if toml else "admin.yaml", "FLYTEADMIN_CONFIG")


@given(data=st.binary(max_size=200), name=st.sampled_from(["config.yaml", "admin.toml"]))
@fuzz_settings(0.5)
def test_any_bytes_as_a_config_file_build_or_are_refused(data: bytes, name: str) -> None:
    variable = "FLYTECTL_CONFIG" if name == "config.yaml" else "FLYTEADMIN_CONFIG"
    with settings_environment() as home:
        path = Path(home) / name
        path.write_bytes(data)
        try:
            with bounded(), settings_environment_variable(variable, str(path)):
                AdminSettings()
        except (SettingsError, ValidationError):
            pass


def test_the_example_files_build() -> None:
    assert check(EXAMPLE_YAML, "admin.yaml", "FLYTEADMIN_CONFIG") is not None
    assert check(EXAMPLE_TOML, "admin.toml", "FLYTEADMIN_CONFIG") is not None
