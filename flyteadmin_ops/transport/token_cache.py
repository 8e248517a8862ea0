"""Where people's tokens (pkce, device_flow) are kept between processes, so one login serves many commands.

One entry per endpoint holds the tokens of each client id used there: `logout` of an endpoint forgets them
all without asking the server which client id it advertises. Two stores:
- the OS keyring (service `flyteadmin-ops`, user = the endpoint), when the `keyring` package imports and
  has a real backend (not its "fail" or null ones; headless Linux often has none);
- else a JSON file per endpoint under `token_cache_dir`, created 0600 in a 0700 directory, replaced
  atomically so a reader never sees half a file.
Processes that share a store take turns to refresh (`TokenCache.exclusive`, an advisory lock file per endpoint
in `token_cache_dir`): identity providers rotate refresh tokens, so two processes spending the same one at
once would leave all but one of them to log in again.
Nothing here logs or formats a token; `CachedTokens` masks them in its repr.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from flyteadmin_ops.settings import AdminSettings, SettingsError

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "flyteadmin-ops"


@dataclass(frozen=True)
class CachedTokens:
    access_token: str
    expires_at: float | None
    """Wall-clock time (time.time) after which the access token is invalid; None if unknown."""
    refresh_token: str | None = None
    issued_at: float | None = None

    def __repr__(self) -> str:
        return f"CachedTokens(access_token=**********, expires_at={self.expires_at}, refresh_token=***)"


class TokenStore(Protocol):
    """Reads and writes the per-endpoint blob: {client_id: tokens as a dict}."""

    description: str

    def read(self, endpoint: str) -> dict[str, Any]: ...

    def write(self, endpoint: str, blob: dict[str, Any]) -> None: ...

    def delete(self, endpoint: str) -> bool: ...

    def lock_path(self, endpoint: str) -> Path | None:
        """The file other processes lock to refresh this endpoint's tokens, or None if nothing is shared."""


def _entry_name(endpoint: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", endpoint)[:80]
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
    return f"tokens-{readable}-{digest}"


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours (e.g. a shared parent): the file modes still hold
        os.chmod(directory, 0o700)


class FileStore:
    """A 0600 JSON file per endpoint in a 0700 directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = f"file {directory}"

    def path_for(self, endpoint: str) -> Path:
        return self.directory / f"{_entry_name(endpoint)}.json"

    def lock_path(self, endpoint: str) -> Path:
        return self.directory / f"{_entry_name(endpoint)}.lock"

    def read(self, endpoint: str) -> dict[str, Any]:
        try:
            data = json.loads(self.path_for(endpoint).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning(
                "ignoring the unreadable token cache %s (%s)", self.path_for(endpoint), type(exc).__name__
            )
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, endpoint: str, blob: dict[str, Any]) -> None:
        _private_directory(self.directory)
        # mkstemp creates the file 0600 (owner only) before a byte is written
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tokens-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(blob, stream)
            os.replace(temporary, self.path_for(endpoint))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def delete(self, endpoint: str) -> bool:
        try:
            self.path_for(endpoint).unlink()
        except FileNotFoundError:
            return False
        return True


class KeyringStore:
    """The OS keyring through the `keyring` package."""

    description = "the OS keyring"

    def __init__(self, backend: Any, lock_directory: Path) -> None:
        self._backend = backend
        self._lock_directory = lock_directory
        self.description = f"the OS keyring ({type(backend).__name__})"

    def lock_path(self, endpoint: str) -> Path:
        return self._lock_directory / f"{_entry_name(endpoint)}.lock"

    def read(self, endpoint: str) -> dict[str, Any]:
        try:
            text = self._backend.get_password(KEYRING_SERVICE, endpoint)
            data = json.loads(text) if text else {}
        except Exception as exc:  # a locked or broken keyring: log in again rather than fail
            logger.warning("cannot read the token cache in %s (%s)", self.description, type(exc).__name__)
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, endpoint: str, blob: dict[str, Any]) -> None:
        try:
            self._backend.set_password(KEYRING_SERVICE, endpoint, json.dumps(blob))
        except Exception as exc:  # the tokens still serve this process
            logger.warning("cannot write the token cache in %s (%s)", self.description, type(exc).__name__)

    def delete(self, endpoint: str) -> bool:
        if not self._backend.get_password(KEYRING_SERVICE, endpoint):
            return False
        self._backend.delete_password(KEYRING_SERVICE, endpoint)
        return True


class MemoryStore:
    """`token_cache = "none"`: tokens live as long as the process (a login per process)."""

    description = "memory only (token_cache none)"

    def __init__(self) -> None:
        self._blobs: dict[str, dict[str, Any]] = {}

    def read(self, endpoint: str) -> dict[str, Any]:
        return dict(self._blobs.get(endpoint, {}))

    def write(self, endpoint: str, blob: dict[str, Any]) -> None:
        self._blobs[endpoint] = dict(blob)

    def delete(self, endpoint: str) -> bool:
        return self._blobs.pop(endpoint, None) is not None

    def lock_path(self, endpoint: str) -> None:
        return None  # nothing outlives or leaves the process


def usable_keyring() -> Any | None:
    """The keyring backend if the package imports and its backend can store secrets, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except Exception:  # not installed, or a backend that breaks on import
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    null_backend = type(backend).__module__.endswith(("fail", "null"))
    if isinstance(backend, fail.Keyring) or null_backend or getattr(backend, "priority", 1) <= 0:
        return None
    return backend


def store_for(settings: AdminSettings) -> TokenStore:
    """The store `settings.token_cache` asks for; "auto" is the keyring when usable, else the file."""
    kind = settings.token_cache
    if kind == "none":
        return MemoryStore()
    if kind in ("auto", "keyring"):
        backend = usable_keyring()
        if backend is not None:
            return KeyringStore(backend, settings.token_cache_dir)
        if kind == "keyring":
            raise SettingsError(
                f"token_cache 'keyring' (from {settings.source_of('token_cache')}): no usable keyring "
                "backend (install `keyring` and a backend, or use token_cache 'file')"
            )
    return FileStore(settings.token_cache_dir)


class TokenCache:
    """The tokens of one (endpoint, client id) in a store."""

    def __init__(self, store: TokenStore, endpoint: str, client_id: str) -> None:
        self.store = store
        self.endpoint = endpoint
        self.client_id = client_id

    def load(self) -> CachedTokens | None:
        entry = self.store.read(self.endpoint).get(self.client_id)
        if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        refresh, expires, issued = entry.get("refresh_token"), entry.get("expires_at"), entry.get("issued_at")
        return CachedTokens(
            access_token=entry["access_token"],
            expires_at=float(expires) if isinstance(expires, (int, float)) else None,
            refresh_token=refresh if isinstance(refresh, str) else None,
            issued_at=float(issued) if isinstance(issued, (int, float)) else None,
        )

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this endpoint's lock against other processes (and other caches of it in this process).

        An advisory `flock` on a file of its own, opened afresh each time so that two caches in one process
        exclude each other too. Where `fcntl` does not exist (Windows) nothing is locked: a lost race there
        costs one login, as before.
        """
        path = self.store.lock_path(self.endpoint)
        fcntl = _fcntl()
        if path is None or fcntl is None:
            yield
            return
        _private_directory(path.parent)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # waits at most one refresh request of another process
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def save(self, tokens: CachedTokens) -> None:
        blob = self.store.read(self.endpoint)
        blob[self.client_id] = asdict(tokens)
        self.store.write(self.endpoint, blob)

    def forget_access_token(self, rejected: str) -> None:
        """The server refused `rejected`: keep the refresh token, drop the access token (if still that)."""
        current = self.load()
        if current is not None and current.access_token == rejected:
            self.save(CachedTokens("", 0.0, current.refresh_token, current.issued_at))

    def clear(self) -> None:
        blob = self.store.read(self.endpoint)
        if blob.pop(self.client_id, None) is not None:
            self.store.write(self.endpoint, blob) if blob else self.store.delete(self.endpoint)


def _fcntl() -> Any | None:
    try:
        return importlib.import_module("fcntl")
    except ImportError:
        return None


def logout(settings: AdminSettings) -> tuple[bool, str]:
    """Forget every cached token for `settings.endpoint`; (whether there were any, where they were)."""
    store = store_for(settings)
    return store.delete(settings.endpoint), store.description
