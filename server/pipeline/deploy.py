"""Deployment (US8.5): point a serving endpoint at the model's champion version.

The champion is read from the registry (the ``champion`` alias); the endpoint is created if it does not exist,
else its config is replaced, and the call returns once the endpoint has finished updating
(``create_and_wait`` / ``update_config_and_wait``: the same calls against any workspace).

``python -m server.pipeline.deploy --model main.ml.churn --endpoint churn`` (workspace from the environment,
as ``databricks-sdk`` unified auth; MLflow stores from MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict, dataclass

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.serving import ServedEntityInput

from server.config import Settings
from server.pipeline import tracking
from server.pipeline.registry import CHAMPION


@dataclass(frozen=True)
class Deployment:
    endpoint: str
    model_name: str
    version: str
    served_entity: str
    created: bool
    ready: str | None


def champion_version(settings: Settings, model_name: str, alias: str = CHAMPION) -> str:
    client = tracking.client(settings)
    return str(client.get_model_version_by_alias(model_name, alias).version)


def deploy(
    settings: Settings,
    ws: WorkspaceClient,
    endpoint: str,
    model_name: str,
    *,
    alias: str = CHAMPION,
    workload_size: str = "Small",
    timeout: dt.timedelta = dt.timedelta(minutes=20),
    tags: dict[str, str] | None = None,
) -> Deployment:
    """Serve ``model_name@alias`` on ``endpoint`` (all traffic), waiting until the endpoint is updated.

    ``tags`` go on an endpoint this call creates (an existing endpoint keeps its own).
    """
    version = champion_version(settings, model_name, alias)
    served_name = f"{model_name.rsplit('.', 1)[-1]}-{version}"
    entities = [
        ServedEntityInput(
            name=served_name,
            entity_name=model_name,
            entity_version=version,
            workload_size=workload_size,
            scale_to_zero_enabled=True,
        )
    ]
    try:
        ws.serving_endpoints.get(endpoint)
        exists = True
    except NotFound:
        exists = False
    if exists:
        result = ws.serving_endpoints.update_config_and_wait(
            endpoint, served_entities=entities, timeout=timeout
        )
    else:
        from databricks.sdk.service.serving import EndpointCoreConfigInput, EndpointTag

        result = ws.serving_endpoints.create_and_wait(
            endpoint,
            config=EndpointCoreConfigInput(name=endpoint, served_entities=entities),
            tags=[EndpointTag(key=key, value=value) for key, value in (tags or {}).items()] or None,
            timeout=timeout,
        )
    return Deployment(
        endpoint=endpoint,
        model_name=model_name,
        version=version,
        served_entity=served_name,
        created=not exists,
        ready=result.state.ready.value if result.state and result.state.ready else None,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server.pipeline.deploy", description=__doc__)
    parser.add_argument("--model", required=True, help="registered model, catalog.schema.model")
    parser.add_argument("--endpoint", required=True, help="serving endpoint name")
    parser.add_argument("--alias", default=CHAMPION)
    args = parser.parse_args(argv)
    settings = Settings()
    deployment = deploy(settings, WorkspaceClient(), args.endpoint, args.model, alias=args.alias)
    print(json.dumps(asdict(deployment)))


if __name__ == "__main__":
    main()
