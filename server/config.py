"""Settings from the environment, under the names Databricks Apps sets (and libpq's PG* names)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", populate_by_name=True)

    # Workspace and the app's service principal (OAuth M2M), as injected by Databricks Apps.
    databricks_host: str | None = None
    databricks_client_id: str | None = None
    databricks_client_secret: SecretStr | None = None
    databricks_app_port: int = 8000
    # SDK budgets: a request and its retries must fit inside what a user will wait for.
    databricks_http_timeout_seconds: float = 30
    databricks_retry_timeout_seconds: int = 60

    # Lakebase (Postgres). The password is a short-lived credential from generate_database_credential
    # unless PGPASSWORD is set (any other Postgres).
    pghost: str | None = None
    pgport: int = 5432
    pgdatabase: str | None = None
    pguser: str | None = None
    pgsslmode: str = "require"
    pgpassword: SecretStr | None = None
    lakebase_instance_name: str | None = None
    db_pool_max_size: int = 16
    db_connect_timeout_seconds: float = 5
    db_migrate_on_start: bool = True

    # SQL warehouse for table rows (the Apps "sql-warehouse" resource, exposed as an env var).
    databricks_warehouse_id: str | None = None
    # How long a table read waits for the warehouse (stopped, starting, busy) before 503 WAREHOUSE_BUSY,
    # and the Retry-After that answer carries.
    warehouse_patience_seconds: float = Field(30, gt=0)
    warehouse_retry_after_seconds: int = Field(10, ge=1)
    # MLflow: tracking store and model registry (Unity Catalog in a workspace). The artifact location is
    # where new experiments keep their artifacts; unset, the tracking server decides (as Databricks does).
    mlflow_tracking_uri: str = "databricks"
    mlflow_registry_uri: str = "databricks-uc"
    mlflow_artifact_location: str | None = None

    # Model Serving: how long one call may take (then 503 MODEL_TIMEOUT), how much one call may carry.
    serving_timeout_seconds: float = 30
    serving_retry_after_seconds: int = 5
    serving_max_records: int = 1000
    serving_batch_max_records: int = 100_000
    serving_batch_chunk_size: int = 1000
    serving_batch_parallelism: int = 4
    serving_metadata_ttl_seconds: float = 30

    # Workspace group whose members may see monitoring data (they must also be able to see the endpoint).
    monitoring_group: str = "model-monitors"

    identity_cache_ttl_seconds: float = Field(30, description="How long a token's identity is trusted")
    app_version: str = "dev"

    @property
    def lakebase_configured(self) -> bool:
        return bool(self.pghost and self.pgdatabase and self.pguser)
