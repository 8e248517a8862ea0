"""Connection settings for Flyte Admin, read from the places Flyte users already keep them.

Sources, highest first:
  1. constructor arguments;
  2. `FLYTEADMIN_<FIELD>` environment variables;
  3. flytekit's environment variables (`FLYTE_PLATFORM_URL`, `FLYTE_CREDENTIALS_CLIENT_ID`, ...);
  4. a TOML or YAML file named by `FLYTEADMIN_CONFIG` (keys are the field names; see config/);
  5. flytectl's config (`FLYTECTL_CONFIG`, else `~/.flyte/config.yaml`, the `admin:` section);
  6. the defaults below.

So a user with a working flytectl config needs nothing else. Each value remembers where it came from,
so a bad one fails at construction with the field *and* its source named, e.g.
"endpoint 'foo' from FLYTEADMIN_ENDPOINT: has no port". Secrets are SecretStr and never appear in a
repr, a log record or an error message.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

logger = logging.getLogger(__name__)

AuthMode = Literal["none", "static", "client_credentials", "external_command", "pkce", "device_flow"]
TokenCacheKind = Literal["auto", "keyring", "file", "none"]

MiB = 1024 * 1024

_AUTH_MODE_SPELLINGS: dict[str, AuthMode] = {
    "none": "none",
    "static": "static",
    "bearer": "static",
    "token": "static",
    "client_credentials": "client_credentials",
    "clientcredentials": "client_credentials",
    "clientsecret": "client_credentials",
    "basic": "client_credentials",
    "external_command": "external_command",
    "externalcommand": "external_command",
    "external_process": "external_command",
    "pkce": "pkce",
    "standard": "pkce",
    "device_flow": "device_flow",
    "deviceflow": "device_flow",
}
"""Our names plus flytekit's and flytectl's spellings (compared case-insensitively)."""

INTERACTIVE_AUTH_MODES = frozenset({"pkce", "device_flow"})
"""Modes that need a person (a browser, or a code typed on another device) the first time; flytectl and
flytekit use Pkce as their *default*. Against a server without auth they never trigger (no token is sent
until the server asks for one), so a default flytectl sandbox config keeps working."""

_INFERRED_AUTH_MODES: tuple[tuple[AuthMode, tuple[str, ...]], ...] = (
    ("static", ("token",)),
    ("external_command", ("command",)),
    ("client_credentials", ("client_id", "client_secret")),
)

_SECRET_FIELDS = frozenset({"token", "client_secret"})
_VALUES_NEVER_SHOWN = _SECRET_FIELDS | {"default_metadata"}
"""Fields whose rejected input is left out of error messages (default_metadata often carries API keys)."""

_SECRET_INDIRECTIONS = ("client_secret_location", "client_secret_env_var")
"""Keys any source may use instead of the secret itself: a file holding it, or a variable naming it."""


class SettingsError(ValueError):
    """A setting is missing, malformed or inconsistent; the message names the field and its source."""


# Where each field's value came from, filled by the sources while one AdminSettings is being built.
_PROVENANCE: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "flyteadmin_settings_provenance", default=None
)
_ISOLATED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "flyteadmin_settings_isolated", default=False
)


class AdminSettings(BaseSettings):
    """How to reach and authenticate to one Flyte Admin."""

    # allow_inf_nan=False: an infinite deadline or backoff (`perRetryTimeout: 999...9h`, `.inf`) is a typo
    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    # --- connection ---------------------------------------------------------------------------------
    endpoint: str = Field("localhost:30080", description="host:port; a leading dns:/// is stripped")
    insecure: bool = Field(False, description="plaintext gRPC (no TLS)")
    ca_cert_file: Path | None = Field(None, description="PEM file with the CA(s) that sign the server cert")
    client_cert_file: Path | None = Field(None, description="PEM client certificate for mTLS")
    client_key_file: Path | None = Field(None, description="PEM private key for client_cert_file")
    insecure_skip_verify: bool = Field(
        False,
        description="trust whatever certificate the server presents (testing only; logs a warning); "
        "its host name is still checked, so set tls_server_name if the certificate names another host",
    )
    tls_server_name: str | None = Field(
        None, description="host name to verify the server certificate against, when it differs from endpoint"
    )

    # --- authentication -----------------------------------------------------------------------------
    # The default factories below are lambdas, not `list`/`dict`: pydantic reads a factory's signature, and
    # a builtin's is parsed from its text signature with tokenize, whose regexes then compile (~4 ms).
    auth_mode: AuthMode = "none"
    token: SecretStr | None = Field(None, description="static bearer token (auth_mode=static)")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: [])
    audience: str | None = None
    command: list[str] = Field(default_factory=lambda: [], description="prints a token on stdout")
    token_endpoint: str | None = Field(
        None, description="OAuth2 token URL; discovered from the server if unset"
    )
    auth_header_key: str | None = Field(
        None, description="metadata key for the token; from GetPublicClientConfig if unset"
    )
    redirect_uri: str | None = Field(
        None,
        description="pkce: the loopback URL the browser returns to; the server's if unset (port 0 or a busy "
        "port: a free one)",
    )
    token_cache: TokenCacheKind = Field(
        "auto", description="pkce/device_flow tokens: the OS keyring if usable (auto), a 0600 file, or none"
    )
    token_cache_dir: Path = Field(
        Path("~/.flyte/flyteadmin-ops"), description="where the file token cache lives"
    )
    login_timeout_seconds: float = Field(
        300.0, gt=0, description="how long pkce/device_flow wait for the person to log in"
    )
    open_url: Callable[[str], object] | None = Field(
        None,
        exclude=True,
        description="pkce: opens the login URL (default webbrowser.open, which honours $BROWSER); "
        "a hook for tests and embedding, not settable from files",
    )

    # --- deadlines and retries ----------------------------------------------------------------------
    deadline_seconds: float = Field(30.0, gt=0, description="per attempt")
    retry_attempts: int = Field(5, ge=1, description="attempts in all, the first one included")
    retry_initial_backoff: float = Field(0.2, ge=0)
    retry_max_backoff: float = Field(10.0, ge=0)
    retry_multiplier: float = Field(2.0, ge=1)
    retry_jitter: float = Field(0.2, ge=0, le=1, description="fraction of each delay drawn at random")
    retry_deadline_seconds: float = Field(120.0, gt=0, description="overall, across attempts")
    breaker_probe_interval_seconds: float = Field(
        5.0,
        gt=0,
        description="once Admin is found unreachable (every call fails fast with FlyteAdminUnreachable), "
        "how often one call is let through to see whether it is back",
    )
    run_retry_budget_seconds: float = Field(
        180.0,
        gt=0,
        description="Prefect task runs: every attempt of one task run together, counted from its first; "
        "no task retry starts that could pass it, and later attempts' retry deadline is cut to what is left",
    )

    # --- channel ------------------------------------------------------------------------------------
    max_send_message_bytes: int = Field(20 * MiB, gt=0)
    max_receive_message_bytes: int = Field(20 * MiB, gt=0)
    keepalive_time_ms: int = Field(
        360_000,
        gt=0,
        description="above grpc-go's default 5 min enforcement, so servers never answer too_many_pings",
    )
    keepalive_timeout_ms: int = Field(20_000, gt=0)
    max_metadata_bytes: int = Field(
        64 * 1024,
        gt=0,
        description="response header/trailer limit; flyteadmin error messages reach 32 KB, gRPC allows 16 KB",
    )
    default_metadata: dict[str, str] = Field(default_factory=lambda: {}, description="sent with every call")

    # --- client behaviour ---------------------------------------------------------------------------
    cache_size: int = Field(256, ge=0)
    cache_ttl_seconds: float = Field(60.0, ge=0)
    page_size: int = Field(
        100, gt=0, description="items per call of the iter_* walkers (*_paginated keep flytekit's limit=100)"
    )
    max_concurrency: int = Field(8, gt=0)
    max_concurrency_ceiling: int = Field(
        64,
        gt=0,
        description="register: calls in flight start at max_concurrency and grow while throughput grows, "
        "up to this (an explicit max_concurrency argument or --max-concurrency pins the number instead)",
    )

    _provenance: dict[str, str] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        fields = type(self).model_fields  # argument names match their field in any case (`Endpoint=`)
        provenance = {name.lower() if name.lower() in fields else name: "argument" for name in values}
        token = _PROVENANCE.set(provenance)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe_validation_error(exc, provenance)) from None
        finally:
            _PROVENANCE.reset(token)
        self._provenance = provenance
        logger.debug(
            "admin settings resolved: %s",
            ", ".join(f"{name} from {src}" for name, src in sorted(provenance.items())) or "all defaults",
        )

    @classmethod
    def isolated(cls, **values: Any) -> AdminSettings:
        """Settings from the arguments and the defaults only: no environment, no config files.

        For tests and embedded use, where a developer's own ~/.flyte/config.yaml must not leak in.
        """
        token = _ISOLATED.set(True)
        try:
            return cls(**values)
        finally:
            _ISOLATED.reset(token)

    def replace(self, **changes: Any) -> AdminSettings:
        """A copy with `changes` applied and validated like any input (model_copy would skip validation).

        Only these settings and the changes go in (no environment, no files); unchanged fields keep the
        source they came from, so errors and `source_of` stay truthful.
        """
        values = {name: getattr(self, name) for name in type(self).model_fields}
        copy = type(self).isolated(**{**values, **changes})
        copy._provenance = {**self._provenance, **{name: "argument" for name in changes}}
        return copy

    def source_of(self, field: str) -> str:
        """Where a field's value came from: "argument", a variable name, a file and key, or "default"."""
        return self._provenance.get(field, "default")

    @property
    def host(self) -> str:
        return _split_endpoint(self.endpoint)[0]

    @property
    def port(self) -> int:
        return _split_endpoint(self.endpoint)[1]

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # default_metadata may carry API keys: show its keys only. SecretStr fields mask themselves.
        for name, value in super().__repr_args__():
            yield name, ({k: "**********" for k in value} if name == "default_metadata" else value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _Source(settings_cls, _prefixed_env),
            _Source(settings_cls, _flytekit_env),
            _Source(settings_cls, _flyteadmin_config_file),
            _Source(settings_cls, _flytectl_config),
        )

    # --- per-field normalisation and checks (messages are completed with field and source) ----------

    @model_validator(mode="before")
    @classmethod
    def _infer_auth_mode(cls, data: Any) -> Any:
        """No auth_mode anywhere, but credentials given: use them rather than silently send nothing."""
        if not isinstance(data, dict) or data.get("auth_mode"):
            return data
        for mode, needs in _INFERRED_AUTH_MODES:
            if all(data.get(name) for name in needs):
                provenance = _PROVENANCE.get()
                if provenance is not None:
                    provenance["auth_mode"] = (
                        f"inferred from {needs[0]} ({provenance.get(needs[0], 'default')})"
                    )
                return {**data, "auth_mode": mode}
        return data

    @field_validator("endpoint", mode="before")
    @classmethod
    def _check_endpoint(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip().removeprefix("dns:///")
        _split_endpoint(value)
        return value

    @field_validator("auth_mode", mode="before")
    @classmethod
    def _normalise_auth_mode(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        key = value.strip().lower().replace("-", "_")
        if key not in _AUTH_MODE_SPELLINGS:
            raise ValueError(f"is not a known auth mode (use one of {', '.join(get_args(AuthMode))})")
        return _AUTH_MODE_SPELLINGS[key]

    @field_validator("scopes", "command", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("default_metadata", mode="before")
    @classmethod
    def _parse_metadata(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                return json.loads(text)
            pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("must be JSON or key=value pairs separated by commas")
            value = {k.strip(): v.strip() for k, v in pairs}
        if isinstance(value, Mapping):
            # gRPC rejects upper-case metadata keys at call time; normalise here, once.
            return {
                str(k).lower(): v.get_secret_value() if isinstance(v, SecretStr) else str(v)
                for k, v in value.items()
            }
        return value

    @field_serializer("default_metadata")
    def _mask_metadata(self, value: dict[str, str], info: SerializationInfo) -> dict[str, Any]:
        # Like SecretStr fields: dumps show which headers are sent, never their values (they may be API
        # keys). A python-mode dump keeps them as SecretStr, so AdminSettings(**dump) still round-trips.
        if info.mode_is_json():
            return {key: "**********" for key in value}
        return {key: SecretStr(text) for key, text in value.items()}

    @field_validator("token_cache_dir", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        try:
            return value.expanduser()
        except RuntimeError as exc:  # `~someone` with no such user: pydantic reports only ValueErrors
            raise ValueError(str(exc)) from None

    @field_validator("ca_cert_file", "client_cert_file", "client_key_file", mode="after")
    @classmethod
    def _check_file_exists(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            value = value.expanduser()
            found = value.is_file()
        except (OSError, RuntimeError) as exc:  # a name too long, `~someone` with no such user
            raise ValueError(f"cannot be used as a path: {_path_problem(exc)}") from None
        if not found:
            raise ValueError("does not exist or is not a file")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> AdminSettings:
        source = _source_lookup()
        if (self.client_cert_file is None) != (self.client_key_file is None):
            given = "client_cert_file" if self.client_cert_file else "client_key_file"
            raise ValueError(
                f"client_cert_file and client_key_file go together for mTLS; only {given} is set "
                f"(from {source(given)})"
            )
        needs = {
            "client_credentials": ("client_id", "client_secret"),
            "static": ("token",),
            "external_command": ("command",),
        }.get(self.auth_mode, ())
        missing = [name for name in needs if not getattr(self, name)]
        if missing:
            raise ValueError(
                f"auth_mode {self.auth_mode!r} (from {source('auth_mode')}) needs "
                + " and ".join(missing)
                + ", which "
                + ("is" if len(missing) == 1 else "are")
                + " not set"
            )
        if self.retry_max_backoff < self.retry_initial_backoff:
            raise ValueError(
                f"retry_max_backoff ({self.retry_max_backoff}, from {source('retry_max_backoff')}) is "
                f"below retry_initial_backoff ({self.retry_initial_backoff}, "
                f"from {source('retry_initial_backoff')})"
            )
        return self


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    if "://" in endpoint:
        raise ValueError("must be host:port without a scheme (a leading dns:/// is allowed)")
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or host.endswith(":") or (host.count(":") and not host.startswith("[")):
        raise ValueError("has no port (expected host:port, e.g. flyte.example.com:443)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"has an invalid port {port!r}")
    return host.strip("[]"), int(port)


def _source_lookup() -> Callable[[str], str]:
    provenance = _PROVENANCE.get() or {}
    return lambda field: provenance.get(field, "default")


def _describe_validation_error(exc: ValidationError, provenance: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:
            lines.append(message)
            continue
        field = str(error["loc"][0])
        if field in _VALUES_NEVER_SHOWN:
            shown = ""
        else:
            value = error.get("input")
            shown = f" {str(value)!r}" if isinstance(value, (str, int, float, Path)) else ""
        lines.append(f"{field}{shown} from {provenance.get(field, 'default')}: {message}")
    return "; ".join(lines)


# --------------------------------------------------------------------------------------------------
# Sources. Each reader yields (field, value, label) triples; `_Source` resolves secret indirections,
# skips fields a higher source already set, and records the label of each value it supplies.

Entry = tuple[str, Any, str]
Reader = Callable[[], list[Entry]]


class _Source(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], reader: Reader) -> None:
        super().__init__(settings_cls)
        self._reader = reader

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError("values are produced all at once by __call__")

    def __call__(self) -> dict[str, Any]:
        if _ISOLATED.get():
            return {}
        provenance = _PROVENANCE.get()
        if provenance is None:  # constructed outside AdminSettings.__init__ (e.g. model_validate)
            provenance = {}
        entries = self._reader()
        names_auth_mode = any(field == "auth_mode" for field, _, _ in entries)
        values: dict[str, Any] = {}
        labels: dict[str, str] = {}
        for field, value, label in entries:
            if field in provenance:
                continue
            if field in _SECRET_INDIRECTIONS:
                if "client_secret" in provenance:
                    continue
                value, field = _resolve_secret(field, value, label), "client_secret"
                if not names_auth_mode and "auth_mode" not in provenance:
                    # As in flytekit: naming a secret file or variable selects client credentials.
                    values["auth_mode"], labels["auth_mode"] = "client_credentials", label
            values[field] = value
            labels[field] = label
        provenance.update(labels)
        return values


def _resolve_secret(kind: str, reference: Any, label: str) -> str:
    if kind == "client_secret_location":
        path = Path(str(reference))
        try:
            path = path.expanduser()
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except (
            OSError,
            ValueError,
            RuntimeError,
        ) as exc:  # ValueError: a NUL in the path, or a file that is not text
            reason = exc.strerror if isinstance(exc, OSError) else _path_problem(exc)
            raise SettingsError(
                f"client secret file {str(path)!r} from {label} cannot be read: {reason}"
            ) from None
    name = str(reference)
    if name not in os.environ:
        raise SettingsError(f"client secret variable {name!r} named by {label} is not set")
    return os.environ[name]


_SETTABLE = frozenset(AdminSettings.model_fields) | frozenset(_SECRET_INDIRECTIONS)


def _prefixed_env() -> list[Entry]:
    return [
        (name, os.environ[f"FLYTEADMIN_{name.upper()}"], f"FLYTEADMIN_{name.upper()}")
        for name in sorted(_SETTABLE)
        if f"FLYTEADMIN_{name.upper()}" in os.environ
    ]


_FLYTEKIT_ENV = {
    "FLYTE_PLATFORM_URL": "endpoint",
    "FLYTE_PLATFORM_INSECURE": "insecure",
    "FLYTE_PLATFORM_INSECURE_SKIP_VERIFY": "insecure_skip_verify",
    "FLYTE_PLATFORM_CA_CERT_FILE_PATH": "ca_cert_file",
    "FLYTE_CREDENTIALS_CLIENT_ID": "client_id",
    "FLYTE_CREDENTIALS_CLIENT_SECRET": "client_secret",
    "FLYTE_CREDENTIALS_CLIENT_SECRET_LOCATION": "client_secret_location",
    "FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR": "client_secret_env_var",
    "FLYTE_CREDENTIALS_SCOPES": "scopes",
    "FLYTE_CREDENTIALS_AUTH_MODE": "auth_mode",
    "FLYTE_CREDENTIALS_AUDIENCE": "audience",
    "FLYTE_CREDENTIALS_COMMAND": "command",
}
"""flytekit's `FLYTE_{SECTION}_{OPTION}` names (flytekit/configuration/__init__.py)."""


def _flytekit_env() -> list[Entry]:
    # Indirections come last so that, as in flytekit, they override a direct FLYTE_CREDENTIALS_CLIENT_SECRET.
    entries = [
        _with_default_port(field, os.environ[var], var, "flytekit")
        for var, field in _FLYTEKIT_ENV.items()
        if var in os.environ
    ]
    return sorted(entries, key=lambda entry: entry[0] in _SECRET_INDIRECTIONS)


_GRPC_DEFAULT_PORT = 443


def _with_default_port(field: str, value: Any, label: str, tool: str) -> Entry:
    """flytekit and flytectl connect to port 443 when their endpoint names none (gRPC's default), so a
    config that works for them works here; our own sources still require an explicit port."""
    if field == "endpoint" and isinstance(value, str):
        text = value.strip().removeprefix("dns:///")
        bare_ipv6 = text.startswith("[") and text.endswith("]")
        if text and "://" not in text and (":" not in text or bare_ipv6):
            return (
                field,
                f"{text}:{_GRPC_DEFAULT_PORT}",
                f"{label}, port {_GRPC_DEFAULT_PORT} added as {tool} does",
            )
    return field, value, label


_PATH_KEYS = frozenset({"ca_cert_file", "client_cert_file", "client_key_file", "client_secret_location"})
"""Config-file keys holding a path, which the file may give relative to itself."""


def _flyteadmin_config_file() -> list[Entry]:
    location = os.environ.get("FLYTEADMIN_CONFIG")
    if not location:
        return []
    path = Path(location).expanduser()
    data = _load_mapping(path, "FLYTEADMIN_CONFIG")
    unknown = sorted(set(data) - _SETTABLE)
    if unknown:
        raise SettingsError(
            f"{path} (named by FLYTEADMIN_CONFIG) has unknown key(s) {', '.join(unknown)}; "
            f"known keys are the AdminSettings field names"
        )
    entries = []
    for key, value in data.items():
        if key in _PATH_KEYS and isinstance(value, str):
            try:
                value = str((path.parent / Path(value).expanduser()).resolve())  # relative to the file
            except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop, `~nobody`
                raise SettingsError(f"{key} {value!r} from {path}: {_path_problem(exc)}") from None
        entries.append((key, value, f"{path} ({key})"))
    return sorted(entries, key=lambda entry: entry[0] in _SECRET_INDIRECTIONS)


_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration(value: Any) -> Any:
    """flytectl writes durations the Go way ("15s", "1m30s"); a bare number means seconds."""
    if isinstance(value, (int, float)):
        return value
    text = str(value).replace(" ", "")
    if not _GO_DURATION.fullmatch(text):
        raise ValueError(f"{value!r} is not a duration like 15s or 1m30s")
    return sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_DURATION_PART.findall(text))


def _as_is(value: Any) -> Any:
    return value


_FLYTECTL_ADMIN_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "endpoint": ("endpoint", str),
    "insecure": ("insecure", _as_is),
    "insecureSkipVerify": ("insecure_skip_verify", _as_is),
    "caCertFilePath": ("ca_cert_file", str),
    "authType": ("auth_mode", str),
    "clientId": ("client_id", str),
    "clientSecretLocation": ("client_secret_location", str),
    "clientSecretEnvVar": ("client_secret_env_var", str),
    "scopes": ("scopes", _as_is),
    "audience": ("audience", str),
    "command": ("command", _as_is),
    "tokenUrl": ("token_endpoint", str),
    "authorizationHeader": ("auth_header_key", str),
    "perRetryTimeout": ("deadline_seconds", _go_duration),
    "maxBackoffDelay": ("retry_max_backoff", _go_duration),
    "maxRetries": ("retry_attempts", lambda v: int(v) + 1),  # flytectl counts retries, we count attempts
    "maxMessageSizeBytes": ("max_receive_message_bytes", int),
}
"""flytectl's `admin:` keys (flyteidl/clients/go/admin/config.go) that mean something here."""


def _flytectl_config() -> list[Entry]:
    named = os.environ.get("FLYTECTL_CONFIG")
    if named:
        path = Path(named).expanduser()
        data = _load_mapping(path, "FLYTECTL_CONFIG")
    else:
        path = Path.home() / ".flyte" / "config.yaml"
        if not path.is_file():
            return []
        data = _load_mapping(path, "the flytectl default location")
    admin = data.get("admin") or {}
    if not isinstance(admin, Mapping):
        raise SettingsError(f"{path}: 'admin' must be a mapping")
    entries = []
    for key, (field, convert) in _FLYTECTL_ADMIN_KEYS.items():
        value = admin.get(key)
        if value is None or value == "" or value == []:
            continue
        label = f"{path} (admin.{key})"
        try:
            entries.append(_with_default_port(field, convert(value), label, "flytectl"))
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{field} from {label}: {exc}") from None
    entries += _flytectl_client_secret_defaults(admin, path)
    entries += _flytectl_login_timeout(admin, path)
    return sorted(entries, key=lambda entry: entry[0] in _SECRET_INDIRECTIONS)


FLYTECTL_DEFAULT_CLIENT_ID = "flytepropeller"
FLYTECTL_DEFAULT_SECRET_LOCATION = Path("/etc/secrets/client_secret")
"""flytectl's defaults for `authType: ClientSecret` (flyteidl/clients/go/admin/config.go): in-cluster
configs often name only the auth type and rely on the secret mounted there."""


def _flytectl_client_secret_defaults(admin: Mapping[str, Any], path: Path) -> list[Entry]:
    auth_type = str(admin.get("authType") or "").strip().lower().replace("-", "_")
    if _AUTH_MODE_SPELLINGS.get(auth_type) != "client_credentials":
        return []
    defaults: list[Entry] = []
    if not admin.get("clientId"):
        defaults.append(
            ("client_id", FLYTECTL_DEFAULT_CLIENT_ID, f"{path} (flytectl's default admin.clientId)")
        )
    named_secret = admin.get("clientSecretLocation") or admin.get("clientSecretEnvVar")
    if not named_secret and FLYTECTL_DEFAULT_SECRET_LOCATION.is_file():
        label = f"{path} (flytectl's default admin.clientSecretLocation)"
        defaults.append(("client_secret_location", str(FLYTECTL_DEFAULT_SECRET_LOCATION), label))
    return defaults


_FLYTECTL_LOGIN_SECTIONS = {"pkce": "pkceConfig", "device_flow": "deviceFlowConfig"}


def _flytectl_login_timeout(admin: Mapping[str, Any], path: Path) -> list[Entry]:
    """flytectl's `pkceConfig.timeout` / `deviceFlowConfig.timeout`, for the mode its authType selects."""
    auth_type = str(admin.get("authType") or "").strip().lower().replace("-", "_")
    section_name = _FLYTECTL_LOGIN_SECTIONS.get(_AUTH_MODE_SPELLINGS.get(auth_type, ""), "")
    section = admin.get(section_name) if section_name else None
    if not isinstance(section, Mapping) or section.get("timeout") in (None, ""):
        return []
    label = f"{path} (admin.{section_name}.timeout)"
    try:
        return [("login_timeout_seconds", _go_duration(section["timeout"]), label)]
    except ValueError as exc:
        raise SettingsError(f"login_timeout_seconds from {label}: {exc}") from None


def _load_mapping(path: Path, named_by: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"config file '{path}' (from {named_by}) cannot be read: {exc.strerror}"
        ) from None
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"config file '{path}' (from {named_by}) is not UTF-8 text (byte {exc.start})"
        ) from None
    try:
        if path.suffix == ".toml":
            import sys

            if sys.version_info >= (3, 11):  # a version check, which type checkers follow for each Python
                import tomllib
            else:
                import tomli as tomllib

            data: Any = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as exc:  # tomllib/yaml raise their own types; name the file either way
        raise SettingsError(
            f"config file '{path}' (from {named_by}) is not valid: {_parse_problem(exc)}"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"config file '{path}' (from {named_by}) must hold a mapping at the top level")
    if not all(isinstance(key, str) for key in data):
        keys = ", ".join(sorted(repr(key) for key in data if not isinstance(key, str)))
        raise SettingsError(f"config file '{path}' (from {named_by}) has keys that are not names: {keys}")
    where = _lone_surrogate(data)
    if where:  # YAML's "\udcbf" escape: no endpoint, path or header can carry it
        raise SettingsError(f"config file '{path}' (from {named_by}): {where} is not Unicode text")
    return data


def _lone_surrogate(value: Any, where: str = "") -> str:
    """The key path of the first string in `value` holding a lone surrogate, "" when there is none."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "a value"
        return ""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _lone_surrogate(key, where) or _lone_surrogate(item, f"{where}.{key}".lstrip("."))
        if found:
            return found
    return ""


def _path_problem(exc: Exception) -> str:
    """Why a path from a settings source cannot be used, in one line."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "not a usable path (it holds a NUL character)" if "null" in str(exc) else str(exc)


def _parse_problem(exc: Exception) -> str:
    """One line for a parser error: PyYAML's own text spans several lines and quotes the file back, which
    in an error line is noise (and could echo a secret written next to the mistake)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if problem and mark is not None:
        return f"{problem} (at line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())
