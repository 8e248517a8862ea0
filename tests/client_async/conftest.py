"""Fixtures for the asyncio client tests: the client-core servers (scripted Admin, CA, token endpoint)."""

from tests.client_core.servers import admin, pki, token_endpoint

__all__ = ["admin", "pki", "token_endpoint"]
