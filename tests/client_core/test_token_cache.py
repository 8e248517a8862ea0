"""The token cache: the OS keyring when `keyring` has a real backend, else a private file; one entry per
endpoint holding each client id's tokens; logout forgets them all; a broken file is ignored, not fatal."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyteadmin_ops.settings import AdminSettings, SettingsError
from flyteadmin_ops.transport.token_cache import (
    CachedTokens,
    FileStore,
    KeyringStore,
    TokenCache,
    logout,
    store_for,
    usable_keyring,
)

pytest.importorskip("keyring", reason="keyring comes with the dev extra (flytekit)")
import keyring
import keyring.backend
from keyring.backends import fail


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A working keyring backend that keeps secrets in memory (as the OS keyring would, minus the OS)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.secrets[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def settings(tmp_path: Path, **values: object) -> AdminSettings:
    return AdminSettings.isolated(endpoint="flyte.example.com:443", token_cache_dir=tmp_path, **values)


def test_auto_uses_a_working_keyring_and_logout_empties_it(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    store = store_for(settings(tmp_path))
    assert isinstance(store, KeyringStore)
    cache = TokenCache(store, "flyte.example.com:443", "flytectl")
    cache.save(CachedTokens("access-1", 100.0, "refresh-1", 10.0))
    TokenCache(store, "flyte.example.com:443", "other-client").save(CachedTokens("access-2", None))
    assert cache.load() == CachedTokens("access-1", 100.0, "refresh-1", 10.0)
    assert not list(tmp_path.iterdir())  # nothing on disk
    assert logout(settings(tmp_path)) == (True, store.description)
    assert memory_keyring.secrets == {}
    assert cache.load() is None


def test_without_a_keyring_backend_auto_falls_back_to_a_private_file(
    no_keyring: None, tmp_path: Path
) -> None:
    assert usable_keyring() is None
    with pytest.raises(SettingsError, match=r"token_cache 'keyring'.*no usable keyring backend"):
        store_for(settings(tmp_path, token_cache="keyring"))
    store = store_for(settings(tmp_path / "tokens"))
    assert isinstance(store, FileStore)
    cache = TokenCache(store, "flyte.example.com:443", "flytectl")
    cache.save(CachedTokens("access-1", 100.0, "refresh-1", 10.0))
    path = store.path_for("flyte.example.com:443")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
    cache.forget_access_token("access-1")  # the server rejected it: keep the refresh token only
    assert cache.load() == CachedTokens("", 0.0, "refresh-1", 10.0)
    assert "access-1" not in repr(cache.load()) and "refresh-1" not in repr(cache.load())


def test_a_corrupt_token_file_is_ignored(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.write("flyte.example.com:443", {})
    store.path_for("flyte.example.com:443").write_text("{not json")
    assert TokenCache(store, "flyte.example.com:443", "flytectl").load() is None


def test_token_cache_none_keeps_tokens_in_memory_only(tmp_path: Path) -> None:
    store = store_for(settings(tmp_path, token_cache="none"))
    TokenCache(store, "flyte.example.com:443", "flytectl").save(CachedTokens("access", None))
    assert not list(tmp_path.iterdir())
