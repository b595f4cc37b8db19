"""The app's services and clients, wired once per app instance from Settings."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from server.clients import WorkspaceClients
from server.config import Settings
from server.db import Database, LakebaseCredentials
from server.metrics import AppMetrics, instrument_database
from server.services.browsing import BrowsingPreferences
from server.services.catalog import CatalogService
from server.services.health import HealthService
from server.services.identity import IdentityService
from server.services.inference_log import InferenceLog
from server.services.monitoring import MonitoringService
from server.services.preferences import PreferenceService
from server.services.serving import ServingService
from server.services.warehouse import SqlWarehouse


def build_database(settings: Settings, workspace: WorkspaceClients | None = None) -> Database | None:
    if not settings.lakebase_configured:
        return None
    if settings.pgpassword is not None:
        secret = settings.pgpassword.get_secret_value()
        return Database(settings, lambda: secret)
    if not settings.lakebase_instance_name:
        raise ValueError("Set LAKEBASE_INSTANCE_NAME (for generate_database_credential) or PGPASSWORD.")
    workspace = workspace or WorkspaceClients(settings)
    credentials = LakebaseCredentials(lambda: workspace.service_principal, settings.lakebase_instance_name)
    return Database(settings, credentials.password, credentials.renew)


@dataclass
class Container:
    """Every client and service of one app instance, each built once, here, and injected from here."""

    settings: Settings
    workspace: WorkspaceClients
    metrics: AppMetrics
    database: Database | None
    identity: IdentityService
    catalog: CatalogService
    preferences: PreferenceService | None  # None: Lakebase is not configured
    browsing: BrowsingPreferences
    downloads: httpx.Client  # result links (presigned: no workspace credentials)
    inference_log: InferenceLog
    serving: ServingService
    monitoring: MonitoringService
    health: HealthService

    @classmethod
    def build(cls, settings: Settings) -> Container:
        metrics = AppMetrics()
        workspace = WorkspaceClients(settings, metrics)
        database = build_database(settings, workspace)
        if database is not None:
            instrument_database(database, metrics)
        preferences = PreferenceService(database) if database is not None else None
        inference_log = InferenceLog(database)
        downloads = httpx.Client(timeout=settings.databricks_http_timeout_seconds)
        warehouse = SqlWarehouse(
            settings.databricks_warehouse_id, settings.warehouse_patience_seconds,
            settings.warehouse_retry_after_seconds, downloads,
        )  # fmt: skip
        return cls(
            settings=settings,
            workspace=workspace,
            metrics=metrics,
            database=database,
            identity=IdentityService(workspace, settings.identity_cache_ttl_seconds),
            catalog=CatalogService(warehouse),
            downloads=downloads,
            preferences=preferences,
            browsing=BrowsingPreferences(preferences),
            inference_log=inference_log,
            serving=ServingService(settings, inference_log),
            monitoring=MonitoringService(settings, database),
            health=HealthService(workspace, database),
        )

    def close(self) -> None:
        """Release what the app holds: model-call threads, the database pool, the download client."""
        self.serving.close()
        if self.database is not None:
            self.database.close()
        self.downloads.close()
