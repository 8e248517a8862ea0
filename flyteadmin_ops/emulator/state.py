"""The emulator's configuration and the state every handler receives.

CONTRACT (names other emulator modules rely on; keep them stable):
- `EmulatorConfig`, `EmulatorState` (this module): `state.db`, `state.config`, `state.now()`,
  `state.http_base_url`, `state.signing_key`, `state.extensions` (a dict for engines such as the executor).
- `flyteadmin_ops.emulator.common`: `missing(field)`, `invalid(field)`, `require(...)`, `go_text(msg)`,
  `not_found_entity(kind, id)`, `db_time(dt)`, `parse_db_time(s)`, `timestamp(dt)`.
- `flyteadmin_ops.emulator.filters`: `EntityTable`, `Join`, `Predicate`, `parse_filters`, `validate_limit`,
  `parse_token`, `sort_clause`, `page`.
- `flyteadmin_ops.emulator.projects`: `validate_project_and_domain(conn, state, project, domain)`,
  `PROJECTS` (EntityTable; table `projects`, key column `identifier`).
- `flyteadmin_ops.emulator.tasks`: `get_task_row(conn, identifier) -> (id, admin.Task)`, `TASKS`
(table `tasks`).
- `flyteadmin_ops.emulator.workflows`: `get_workflow(conn, identifier) -> (id, admin.Workflow)`, `WORKFLOWS`
  (table `workflows`).
- `flyteadmin_ops.emulator.launch_plans`: `get_launch_plan(conn, identifier) -> (id, admin.LaunchPlan)`,
  `LAUNCH_PLANS` (table `launch_plans`; `workflow_id` references `workflows.id`).
- `flyteadmin_ops.emulator.single_task`: `ensure_single_task_launch_plan(conn, state, task_identifier)
  -> (launch_plan_row_id, admin.LaunchPlan)`.
- `flyteadmin_ops.emulator.http`: `HttpFrontend.add_route(method, path_prefix, handler)` with
  `handler(HttpRequest) -> HttpResponse`; `Emulator.start()` calls `dataproxy.register_http_routes(frontend,
  state)` when that function exists, and `executor.start_executor(state)` / `executor.stop_executor(state)`
  when `--executor simulate` is set and those functions exist.
All entity tables have `id INTEGER PRIMARY KEY`, `created_at`/`updated_at` (text, see `common.db_time`),
`project`, `domain`, `name`, `version`, and UNIQUE(project, domain, name, version).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flyteadmin_ops.emulator.db import Database

DEFAULT_DOMAINS = ("development", "staging", "production")
DEFAULT_PROJECTS = ("flytesnacks",)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class EmulatorConfig:
    """What a flyteadmin deployment would read from its config file, plus the emulator's own knobs."""

    domains: tuple[str, ...] = DEFAULT_DOMAINS
    projects: tuple[str, ...] = DEFAULT_PROJECTS
    # Where blobs live in native URLs: `<storage_prefix>/<metadata_prefix>/...` (sandbox: s3://my-s3-bucket).
    storage_prefix: str = "s3://my-s3-bucket"
    metadata_prefix: str = "metadata"
    executor: str = "none"  # "none" | "simulate"
    latency_ms: int = 0
    fault_rate: float = 0.0
    # Share of OAuth2 token requests answered 429 (Retry-After: 1) or 503, alternating (http.TokenFaults).
    token_fault_rate: float = 0.0
    seed: int = 0
    # Secrets stay out of reprs (a config printed in a failing test or a log must not leak them).
    auth_token: str | None = field(default=None, repr=False)
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = field(default=None, repr=False)
    token_lifetime: timedelta = timedelta(hours=1)
    # Scopes the server advertises (GetPublicClientConfig, the metadata's scopes_supported); a real
    # flyteadmin's default flyteClient scopes are all + offline. `oauth_client_scopes` are the ones the
    # client-credentials client may request (None: any advertised one); others get `invalid_scope`.
    oauth_scopes: tuple[str, ...] = ("all",)
    oauth_client_scopes: tuple[str, ...] | None = None
    # Serve the HTTP side (token endpoint, discovery) with TLS too, with the gRPC certificate, as flyteadmin
    # does when one secure port carries both.
    http_tls: bool = False
    # A public client (no secret) for people: PKCE authorize, device authorization, refresh tokens.
    oauth_public_client_id: str | None = None
    refresh_token_lifetime: timedelta = timedelta(days=1)
    device_code_lifetime: timedelta = timedelta(minutes=10)
    device_poll_interval: int = 5  # seconds, as RFC 8628 suggests
    upload_max_expiry: timedelta = timedelta(hours=1)
    download_max_expiry: timedelta = timedelta(hours=1)
    upload_filename_length: int = 20
    # Where signed URLs point (flyteadmin `storage.signedUrl.stowConfigOverride.endpoint`); "" = own HTTP.
    signed_url_endpoint: str = ""
    # AWS S3 checks a PUT's Content-MD5 (400 BadDigest); some S3-compatible stores keep the bytes unchecked.
    object_store_verifies_md5: bool = True
    # flyteadmin `task_resources.limits` defaults (pkg/runtime/task_resource_provider.go).
    task_resource_limits: tuple[tuple[str, str], ...] = (("cpu", "2"), ("memory", "1Gi"), ("gpu", "1"))
    # None: every task type is allowed (flyteadmin's default whitelist is empty = allow all).
    task_type_whitelist: frozenset[str] | None = None
    max_workflow_nodes: int = 100
    max_parallelism: int = 25
    version: str = "unknown"
    build: str = "unknown"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth_token or self.oauth_client_id or self.oauth_public_client_id)


@dataclass
class EmulatorState:
    """Everything a handler may touch. One instance per running emulator."""

    db: Database
    config: EmulatorConfig = field(default_factory=EmulatorConfig)
    clock: Callable[[], datetime] = _utc_now
    http_base_url: str = ""  # set once the HTTP frontend listens, e.g. "http://127.0.0.1:PORT"
    signing_key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)
    started_at: datetime = field(default_factory=_utc_now)
    # Engines and caches other modules attach (e.g. the simulate executor); keyed by module name.
    extensions: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()
