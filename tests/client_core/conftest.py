"""Fixtures for the client-core tests; the servers behind them live in servers.py."""

from tests.client_core.servers import admin, pki, token_endpoint

__all__ = ["admin", "pki", "token_endpoint"]
