"""AdminSettings: every source, their precedence, and errors that name the field and where it came from."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from flyteadmin_ops.settings import AdminSettings, SettingsError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No FLYTE* variable from the developer's shell, and a HOME without a flytectl config."""
    for name in list(os.environ):
        if name.startswith(("FLYTE", "_FLYTE")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def flytectl_home_config(home: Path, body: str) -> Path:
    return write(home / ".flyte" / "config.yaml", body)


def test_defaults_match_flytekit_where_flytekit_is_sound() -> None:
    settings = AdminSettings()
    assert settings.endpoint == "localhost:30080"
    assert settings.insecure is False
    assert settings.auth_mode == "none"
    assert settings.deadline_seconds == 30
    assert settings.retry_attempts == 5
    assert settings.max_receive_message_bytes == 20 * 1024 * 1024
    assert (
        settings.cache_size,
        settings.cache_ttl_seconds,
        settings.page_size,
        settings.max_concurrency,
    ) == (
        256,
        60,
        100,
        8,
    )
    assert settings.source_of("endpoint") == "default"


def test_a_flytectl_config_alone_is_enough(clean_environment: Path, tmp_path: Path) -> None:
    secret_file = write(tmp_path / "secrets" / "client_secret", "the-client-secret\n")
    ca = write(tmp_path / "ca.pem", "not parsed at construction")
    config = flytectl_home_config(
        clean_environment,
        f"""
        admin:
          endpoint: dns:///flyte.example.com:443
          insecure: false
          authType: ClientSecret
          clientId: flytepropeller
          clientSecretLocation: {secret_file}
          caCertFilePath: {ca}
          scopes: [all, offline]
          audience: https://flyte.example.com
          perRetryTimeout: 1m30s
          maxRetries: 4
          maxBackoffDelay: 8s
          authorizationHeader: flyte-authorization
        logger:
          level: 5
        """,
    )
    settings = AdminSettings()
    assert settings.endpoint == "flyte.example.com:443"
    assert settings.auth_mode == "client_credentials"
    assert settings.client_id == "flytepropeller"
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "the-client-secret"  # trailing newline stripped
    assert settings.ca_cert_file == ca
    assert settings.scopes == ["all", "offline"]
    assert settings.audience == "https://flyte.example.com"
    assert settings.deadline_seconds == 90
    assert settings.retry_attempts == 5  # flytectl counts retries; we count attempts
    assert settings.retry_max_backoff == 8
    assert settings.auth_header_key == "flyte-authorization"
    assert settings.source_of("endpoint") == f"{config} (admin.endpoint)"
    assert settings.source_of("client_secret") == f"{config} (admin.clientSecretLocation)"


def test_flytectl_config_env_var_names_the_file(clean_environment: Path, tmp_path: Path, monkeypatch) -> None:
    flytectl_home_config(clean_environment, "admin:\n  endpoint: home.example:443\n")
    named = write(tmp_path / "sandbox.yaml", "admin:\n  endpoint: dns:///localhost:30080\n  insecure: true\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(named))
    settings = AdminSettings()
    assert (settings.endpoint, settings.insecure) == ("localhost:30080", True)
    assert settings.source_of("insecure") == f"{named} (admin.insecure)"


def test_a_missing_flytectl_config_named_by_the_env_var_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FLYTECTL_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(SettingsError, match=r"missing\.yaml' \(from FLYTECTL_CONFIG\) cannot be read"):
        AdminSettings()


@pytest.mark.parametrize(
    ("auth_type", "mode"),
    [("Pkce", "pkce"), ("standard", "pkce"), ("DeviceFlow", "device_flow"), ("device-flow", "device_flow")],
)
def test_flytectl_and_flytekit_interactive_auth_types_select_the_interactive_modes(
    clean_environment: Path, auth_type: str, mode: str
) -> None:
    flytectl_home_config(clean_environment, f"admin:\n  endpoint: localhost:30080\n  authType: {auth_type}\n")
    assert AdminSettings().auth_mode == mode


def test_flytectl_login_timeouts_follow_the_auth_type(clean_environment: Path) -> None:
    flytectl_home_config(
        clean_environment,
        "admin:\n  endpoint: localhost:30080\n  authType: DeviceFlow\n"
        "  pkceConfig:\n    timeout: 2m0s\n  deviceFlowConfig:\n    timeout: 10m0s\n",
    )
    settings = AdminSettings()
    assert settings.login_timeout_seconds == 600.0
    assert settings.source_of("login_timeout_seconds").endswith("(admin.deviceFlowConfig.timeout)")


@pytest.mark.parametrize(("value", "mode"), [("Pkce", "pkce"), ("DeviceFlow", "device_flow")])
def test_flytekit_auth_mode_variable_selects_the_interactive_modes(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch, value: str, mode: str
) -> None:
    monkeypatch.setenv("FLYTE_CREDENTIALS_AUTH_MODE", value)
    assert AdminSettings().auth_mode == mode


@pytest.mark.parametrize("suffix", ["toml", "yaml"])
def test_flyteadmin_config_file_in_toml_and_yaml(tmp_path: Path, monkeypatch, suffix: str) -> None:
    write(tmp_path / "conf" / "certs" / "ca.pem", "pem")
    write(tmp_path / "conf" / "secrets" / "client_secret", "from-the-file\n")
    body = {
        "toml": """
            endpoint = "admin.example:8089"
            ca_cert_file = "certs/ca.pem"
            client_id = "ci-bot"
            client_secret_location = "secrets/client_secret"
            retry_attempts = 7
            scopes = ["all"]
            [default_metadata]
            x-team = "ml"
            """,
        "yaml": """
            endpoint: admin.example:8089
            ca_cert_file: certs/ca.pem
            client_id: ci-bot
            client_secret_location: secrets/client_secret
            retry_attempts: 7
            scopes: [all]
            default_metadata:
              x-team: ml
            """,
    }[suffix]
    config = write(tmp_path / "conf" / f"admin.{suffix}", body)
    monkeypatch.setenv("FLYTEADMIN_CONFIG", str(config))
    settings = AdminSettings()
    assert settings.endpoint == "admin.example:8089"
    assert settings.ca_cert_file == tmp_path / "conf" / "certs" / "ca.pem"  # relative to the file
    assert settings.client_secret is not None  # so is the secret file, whatever the working directory
    assert settings.client_secret.get_secret_value() == "from-the-file"
    assert settings.auth_mode == "client_credentials"
    assert settings.retry_attempts == 7
    assert settings.scopes == ["all"]
    assert settings.default_metadata == {"x-team": "ml"}
    assert settings.source_of("retry_attempts") == f"{config} (retry_attempts)"


def test_an_unknown_key_in_the_config_file_is_named(tmp_path: Path, monkeypatch) -> None:
    config = write(tmp_path / "admin.toml", 'endpont = "typo:1"\n')
    monkeypatch.setenv("FLYTEADMIN_CONFIG", str(config))
    with pytest.raises(SettingsError, match=r"has unknown key\(s\) endpont"):
        AdminSettings()


def test_broken_yaml_in_the_flytectl_config_is_one_line_naming_file_and_position(
    clean_environment: Path,
) -> None:
    """PyYAML's own message spans five lines and quotes the file; the error names file, line and column."""
    config = write(clean_environment / ".flyte" / "config.yaml", "admin:\n  endpoint: [\n")
    with pytest.raises(SettingsError) as raised:
        AdminSettings()
    assert "\n" not in str(raised.value)
    assert f"'{config}' (from the flytectl default location) is not valid" in str(raised.value)
    assert "(at line 3, column 1)" in str(raised.value)


def test_a_config_file_that_is_not_text_is_a_settings_error(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "admin.yaml"
    config.write_bytes(b"endpoint: x:1\n\xff\xfe")
    monkeypatch.setenv("FLYTEADMIN_CONFIG", str(config))
    with pytest.raises(SettingsError, match=r"admin\.yaml' \(from FLYTEADMIN_CONFIG\) is not UTF-8 text"):
        AdminSettings()


def test_the_example_config_files_load(monkeypatch) -> None:
    for example in sorted((REPO / "config").glob("admin.example.*")):
        monkeypatch.setenv("FLYTEADMIN_CONFIG", str(example))
        settings = AdminSettings()
        assert settings.source_of("endpoint") == f"{example} (endpoint)"


def test_flytekit_environment_names(tmp_path: Path, monkeypatch) -> None:
    ca = write(tmp_path / "ca.pem", "pem")
    monkeypatch.setenv("FLYTE_PLATFORM_URL", "dns:///flyte.example.com:443")
    monkeypatch.setenv("FLYTE_PLATFORM_INSECURE", "False")
    monkeypatch.setenv("FLYTE_PLATFORM_CA_CERT_FILE_PATH", str(ca))
    monkeypatch.setenv("FLYTE_CREDENTIALS_AUTH_MODE", "basic")
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_ID", "ci-bot")
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", "direct-secret")
    monkeypatch.setenv("FLYTE_CREDENTIALS_SCOPES", "all,offline")
    monkeypatch.setenv("FLYTE_CREDENTIALS_AUDIENCE", "aud")
    settings = AdminSettings()
    assert settings.endpoint == "flyte.example.com:443"
    assert settings.auth_mode == "client_credentials"
    assert settings.client_secret is not None and settings.client_secret.get_secret_value() == "direct-secret"
    assert settings.scopes == ["all", "offline"]
    assert settings.ca_cert_file == ca
    assert settings.source_of("client_id") == "FLYTE_CREDENTIALS_CLIENT_ID"


def test_flytekit_secret_env_var_overrides_the_direct_secret_and_selects_client_credentials(
    monkeypatch,
) -> None:
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_ID", "ci-bot")
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", "direct")
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR", "MY_SECRET")
    monkeypatch.setenv("MY_SECRET", "from-the-variable")
    settings = AdminSettings()
    assert settings.auth_mode == "client_credentials"
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "from-the-variable"
    assert settings.source_of("client_secret") == "FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR"


def test_a_secret_variable_that_is_not_set_is_named(monkeypatch) -> None:
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR", "NOT_THERE")
    with pytest.raises(
        SettingsError,
        match="client secret variable 'NOT_THERE' named by FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR",
    ):
        AdminSettings()


def test_prefixed_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("FLYTEADMIN_ENDPOINT", "a.example:1")
    monkeypatch.setenv("FLYTEADMIN_INSECURE", "true")
    monkeypatch.setenv("FLYTEADMIN_SCOPES", '["x", "y"]')
    monkeypatch.setenv("FLYTEADMIN_DEFAULT_METADATA", "X-Team=ml,x-env=prod")
    monkeypatch.setenv("FLYTEADMIN_AUTH_MODE", "ExternalCommand")
    monkeypatch.setenv("FLYTEADMIN_COMMAND", "print-token,--audience,flyte")
    settings = AdminSettings()
    assert settings.insecure is True
    assert settings.scopes == ["x", "y"]
    assert settings.default_metadata == {"x-team": "ml", "x-env": "prod"}  # gRPC wants lower-case keys
    assert settings.auth_mode == "external_command"
    assert settings.command == ["print-token", "--audience", "flyte"]


LEVELS = ["argument", "FLYTEADMIN_ENDPOINT", "FLYTE_PLATFORM_URL", "FLYTEADMIN_CONFIG", "flytectl", "default"]


@pytest.mark.parametrize("highest", range(len(LEVELS)))
def test_precedence_from_constructor_down_to_defaults(
    highest: int, clean_environment: Path, tmp_path: Path, monkeypatch
) -> None:
    """The endpoint is set at every level from `highest` down; the highest one present must win."""
    present = LEVELS[highest:]
    if "FLYTEADMIN_ENDPOINT" in present:
        monkeypatch.setenv("FLYTEADMIN_ENDPOINT", "prefixed-env:1")
    if "FLYTE_PLATFORM_URL" in present:
        monkeypatch.setenv("FLYTE_PLATFORM_URL", "flytekit-env:1")
    if "FLYTEADMIN_CONFIG" in present:
        monkeypatch.setenv(
            "FLYTEADMIN_CONFIG", str(write(tmp_path / "a.toml", 'endpoint = "config-file:1"\n'))
        )
    if "flytectl" in present:
        flytectl_home_config(clean_environment, "admin:\n  endpoint: dns:///flytectl:1\n")
    kwargs = {"endpoint": "argument:1"} if "argument" in present else {}
    expected = {
        "argument": "argument:1",
        "FLYTEADMIN_ENDPOINT": "prefixed-env:1",
        "FLYTE_PLATFORM_URL": "flytekit-env:1",
        "FLYTEADMIN_CONFIG": "config-file:1",
        "flytectl": "flytectl:1",
        "default": "localhost:30080",
    }[LEVELS[highest]]
    assert AdminSettings(**kwargs).endpoint == expected


def test_sources_merge_field_by_field(clean_environment: Path, monkeypatch) -> None:
    flytectl_home_config(clean_environment, "admin:\n  endpoint: flytectl:1\n  insecure: true\n")
    monkeypatch.setenv("FLYTE_PLATFORM_URL", "flytekit:2")
    settings = AdminSettings(page_size=10)
    assert (settings.endpoint, settings.insecure, settings.page_size) == ("flytekit:2", True, 10)
    assert settings.source_of("insecure").endswith("(admin.insecure)")
    assert settings.source_of("page_size") == "argument"


def test_isolated_settings_ignore_environment_and_files(clean_environment: Path, monkeypatch) -> None:
    flytectl_home_config(clean_environment, "admin:\n  authType: ClientSecret\n")
    monkeypatch.setenv("FLYTE_PLATFORM_URL", "flytekit:2")
    settings = AdminSettings.isolated(endpoint="127.0.0.1:1", insecure=True)
    assert (settings.endpoint, settings.auth_mode) == ("127.0.0.1:1", "none")


@pytest.mark.parametrize(
    ("spelling", "mode"),
    [
        ("ClientSecret", "client_credentials"),
        ("basic", "client_credentials"),
        ("client_credentials", "client_credentials"),
        ("ExternalCommand", "external_command"),
        ("external_process", "external_command"),
        ("static", "static"),
        ("none", "none"),
    ],
)
def test_auth_mode_spellings_of_flytekit_and_flytectl(spelling: str, mode: str) -> None:
    values = {"client_id": "id", "client_secret": "s", "command": ["x"], "token": "t"}
    assert AdminSettings.isolated(auth_mode=spelling, **values).auth_mode == mode


@pytest.mark.parametrize(
    ("set_it", "message"),
    [
        (
            {"FLYTEADMIN_ENDPOINT": "foo"},
            "endpoint 'foo' from FLYTEADMIN_ENDPOINT: has no port "
            "(expected host:port, e.g. flyte.example.com:443)",
        ),
        (
            {"FLYTEADMIN_ENDPOINT": "https://flyte.example.com:443"},
            "endpoint 'https://flyte.example.com:443' from FLYTEADMIN_ENDPOINT: must be host:port without a "
            "scheme (a leading dns:/// is allowed)",
        ),
        (
            {"FLYTEADMIN_ENDPOINT": "flyte.example.com:http"},
            "endpoint 'flyte.example.com:http' from FLYTEADMIN_ENDPOINT: has an invalid port 'http'",
        ),
        (
            {"FLYTE_CREDENTIALS_AUTH_MODE": "Kerberos"},
            "auth_mode 'Kerberos' from FLYTE_CREDENTIALS_AUTH_MODE: is not a known auth mode "
            "(use one of none, static, client_credentials, external_command, pkce, device_flow)",
        ),
        (
            {"FLYTE_CREDENTIALS_AUTH_MODE": "ClientSecret", "FLYTE_CREDENTIALS_CLIENT_ID": "bot"},
            "auth_mode 'client_credentials' (from FLYTE_CREDENTIALS_AUTH_MODE) needs client_secret, "
            "which is not set",
        ),
        (
            {"FLYTEADMIN_DEADLINE_SECONDS": "soon"},
            "deadline_seconds 'soon' from FLYTEADMIN_DEADLINE_SECONDS: "
            "Input should be a valid number, unable to parse string as a number",
        ),
        (
            {"FLYTEADMIN_RETRY_ATTEMPTS": "0"},
            "retry_attempts '0' from FLYTEADMIN_RETRY_ATTEMPTS: Input should be greater than or equal to 1",
        ),
    ],
)
def test_errors_name_the_field_and_its_source(monkeypatch, set_it: dict[str, str], message: str) -> None:
    for name, value in set_it.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        AdminSettings()
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_an_error_in_a_flytectl_file_names_file_and_key(clean_environment: Path) -> None:
    config = flytectl_home_config(clean_environment, "admin:\n  endpoint: flyte.example.com:grpc\n")
    with pytest.raises(SettingsError) as raised:
        AdminSettings()
    assert str(raised.value) == (
        f"endpoint 'flyte.example.com:grpc' from {config} (admin.endpoint): has an invalid port 'grpc'"
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("dns:///flyte.example.com", "flyte.example.com:443"),
        ("[::1]", "[::1]:443"),
        ("h.example:8089", "h.example:8089"),
    ],
)
def test_an_endpoint_without_port_from_flytectl_or_flytekit_means_443_as_there(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch, written: str, expected: str
) -> None:
    """flytectl's own docs write `endpoint: dns:///<host>`; gRPC then connects to 443. Such a config works for
    flytectl and flytekit, so it works here; our own sources still demand a port (checked above)."""
    config = flytectl_home_config(clean_environment, f"admin:\n  endpoint: '{written}'\n")
    settings = AdminSettings()
    assert settings.endpoint == expected
    if written != expected:
        assert settings.source_of("endpoint") == f"{config} (admin.endpoint), port 443 added as flytectl does"
    monkeypatch.setenv("FLYTE_PLATFORM_URL", written)
    assert AdminSettings().endpoint == expected


def test_flytectl_client_secret_defaults_apply_to_an_in_cluster_config(
    clean_environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`authType: ClientSecret` alone works for flytectl in a pod: client id flytepropeller, secret mounted at
    /etc/secrets/client_secret. (The location is moved under tmp_path: the test must not need /etc.)"""
    from flyteadmin_ops import settings as settings_module

    mounted = write(tmp_path / "etc-secrets" / "client_secret", "mounted-secret\n")
    monkeypatch.setattr(settings_module, "FLYTECTL_DEFAULT_SECRET_LOCATION", mounted)
    config = flytectl_home_config(
        clean_environment, "admin:\n  endpoint: flyte:443\n  authType: ClientSecret\n"
    )
    settings = AdminSettings()
    assert settings.auth_mode == "client_credentials"
    assert settings.client_id == "flytepropeller"
    assert (
        settings.client_secret is not None and settings.client_secret.get_secret_value() == "mounted-secret"
    )
    assert settings.source_of("client_secret") == f"{config} (flytectl's default admin.clientSecretLocation)"

    mounted.unlink()  # nothing mounted: the error says what is missing and where auth_mode came from
    with pytest.raises(SettingsError, match=r"needs client_secret, which is not set"):
        AdminSettings()
    assert AdminSettings(client_secret="given").client_id == "flytepropeller"


def test_a_missing_client_secret_file_is_named(clean_environment: Path, tmp_path: Path) -> None:
    config = flytectl_home_config(
        clean_environment,
        f"admin:\n  authType: ClientSecret\n  clientId: x\n  clientSecretLocation: {tmp_path}/absent\n",
    )
    with pytest.raises(SettingsError) as raised:
        AdminSettings()
    assert str(raised.value) == (
        f"client secret file '{tmp_path}/absent' from {config} (admin.clientSecretLocation) cannot be read: "
        "No such file or directory"
    )


def test_a_higher_source_shadows_a_broken_lower_one(clean_environment: Path, tmp_path: Path) -> None:
    """An argument for the secret means the flytectl secret file is never read."""
    flytectl_home_config(
        clean_environment,
        f"admin:\n  authType: ClientSecret\n  clientId: x\n  clientSecretLocation: {tmp_path}/absent\n",
    )
    settings = AdminSettings(client_secret="given")
    assert settings.client_secret is not None and settings.client_secret.get_secret_value() == "given"


def test_settings_are_immutable_and_reject_unknown_arguments() -> None:
    settings = AdminSettings()
    with pytest.raises(ValidationError):
        settings.endpoint = "other:1"  # type: ignore[misc]
    with pytest.raises(SettingsError, match="endpiont"):
        AdminSettings(endpiont="x:1")


def test_argument_names_match_their_field_in_any_case(monkeypatch) -> None:
    """As when AdminSettings was a pydantic-settings class: `Endpoint=` is the endpoint, the first spelling
    given counts, and it shadows the lower sources like any argument."""
    monkeypatch.setenv("FLYTEADMIN_ENDPOINT", "env:1")
    settings = AdminSettings(Endpoint="first:1", ENDPOINT="second:2")
    assert (settings.endpoint, settings.source_of("endpoint")) == ("first:1", "argument")


def test_flytectl_values_are_parsed_not_truth_tested(clean_environment: Path) -> None:
    flytectl_home_config(clean_environment, 'admin:\n  endpoint: x:1\n  insecure: "false"\n')
    assert AdminSettings().insecure is False


def test_a_bad_flytectl_duration_names_file_and_key(clean_environment: Path) -> None:
    config = flytectl_home_config(clean_environment, "admin:\n  perRetryTimeout: soon\n")
    with pytest.raises(SettingsError) as raised:
        AdminSettings()
    assert str(raised.value) == (
        f"deadline_seconds from {config} (admin.perRetryTimeout): 'soon' is not a duration like 15s or 1m30s"
    )


def test_every_key_the_examples_mention_is_a_real_setting() -> None:
    """Commented-out keys in config/admin.example.* must stay valid when a user uncomments them."""
    settable = set(AdminSettings.model_fields) | {"client_secret_location", "client_secret_env_var"}
    for example in sorted((REPO / "config").glob("admin.example.*")):
        keys = set(re.findall(r"^#? ?([a-z_]+) ?[=:] ", example.read_text(), flags=re.MULTILINE))
        assert keys, example
        assert keys - {"x_team"} <= settable, (example, keys - settable)
