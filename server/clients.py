"""Every client of the outside world is built here, once, and injected.

- the app's service principal: a WorkspaceClient with OAuth M2M (DATABRICKS_CLIENT_ID/SECRET);
- on behalf of a user: a WorkspaceClient from the forwarded user token with ``auth_type="pat"``, cached
  per token for a short TTL (building one costs a host-metadata round trip);
- Lakebase: a psycopg pool (see ``server.db``), its password from ``generate_database_credential``.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cached_property

from cachetools import TTLCache
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config

from server.config import Settings
from server.metrics import AppMetrics, instrument_workspace_client


def token_key(token: str) -> str:
    """Tokens are never kept as dictionary keys in memory dumps or logs; their digest is."""
    return hashlib.sha256(token.encode()).hexdigest()


class WorkspaceClients:
    def __init__(self, settings: Settings, metrics: AppMetrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics
        self._lock = threading.Lock()
        self._user_clients: TTLCache[str, WorkspaceClient] = TTLCache(
            maxsize=4096, ttl=settings.identity_cache_ttl_seconds
        )

    def _client(self, **credentials: object) -> WorkspaceClient:
        config = Config(
            host=self._settings.databricks_host,
            http_timeout_seconds=self._settings.databricks_http_timeout_seconds,
            retry_timeout_seconds=self._settings.databricks_retry_timeout_seconds,
            **credentials,
        )
        client = WorkspaceClient(config=config)
        if self._metrics is not None:
            instrument_workspace_client(client, self._metrics)
        return client

    @cached_property
    def service_principal(self) -> WorkspaceClient:
        secret = self._settings.databricks_client_secret
        return self._client(
            client_id=self._settings.databricks_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            auth_type="oauth-m2m",
        )

    def for_user(self, token: str) -> WorkspaceClient:
        key = token_key(token)
        with self._lock:
            client = self._user_clients.get(key)
        if client is None:
            client = self._client(token=token, auth_type="pat")
            with self._lock:
                self._user_clients[key] = client
        return client

    def forget_user(self, token: str) -> None:
        with self._lock:
            self._user_clients.pop(token_key(token), None)
