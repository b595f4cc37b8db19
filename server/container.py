"""The app's services and clients, wired once per app instance from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from server.clients import WorkspaceClients
from server.config import Settings
from server.db import Database, LakebaseCredentials
from server.metrics import AppMetrics, instrument_database
from server.services.browsing import BrowsingPreferences
from server.services.catalog import CatalogService
from server.services.identity import IdentityService
from server.services.inference_log import InferenceLog
from server.services.monitoring import MonitoringService
from server.services.serving import ServingService


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
    settings: Settings
    workspace: WorkspaceClients
    identity: IdentityService
    database: Database | None
    catalog: CatalogService
    browsing: BrowsingPreferences
    metrics: AppMetrics = field(default_factory=AppMetrics)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        metrics = AppMetrics()
        workspace = WorkspaceClients(settings, metrics)
        database = build_database(settings, workspace)
        if database is not None:
            instrument_database(database, metrics)
        return cls(
            settings=settings,
            workspace=workspace,
            identity=IdentityService(workspace, settings.identity_cache_ttl_seconds),
            database=database,
            catalog=CatalogService(settings.databricks_warehouse_id),
            browsing=BrowsingPreferences(database),
            metrics=metrics,
        )

    @cached_property
    def inference_log(self) -> InferenceLog:
        return InferenceLog(self.database)

    @cached_property
    def serving(self) -> ServingService:
        return ServingService(self.settings, self.inference_log)

    @cached_property
    def monitoring(self) -> MonitoringService:
        return MonitoringService(self.settings, self.database)

    def close(self) -> None:
        """Release what the app holds: model-call threads (if serving was used) and the database pool."""
        if "serving" in self.__dict__:  # cached_property: only close what was built
            self.serving.close()
        if self.database is not None:
            self.database.close()
