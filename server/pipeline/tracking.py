"""Where MLflow keeps runs and models: Settings (MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI), never a mode.

``mlflow`` costs seconds to import, so it is imported here, on first use, never when the app starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.config import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


def client(settings: Settings) -> MlflowClient:
    """An MlflowClient on the configured stores; also points MLflow's fluent API (log_model...) at them."""
    import mlflow

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_registry_uri)
    return mlflow.MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_registry_uri)


def ensure_experiment(mlflow_client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """The experiment's id, creating it (artifacts where configured) if it does not exist yet."""
    from mlflow.exceptions import MlflowException

    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    try:
        return mlflow_client.create_experiment(name, artifact_location=artifact_location)
    except MlflowException as error:  # created concurrently by another run: use it
        existing = mlflow_client.get_experiment_by_name(name)
        if existing is None:
            raise error from None
        return existing.experiment_id
