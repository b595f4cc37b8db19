"""Contract tests of the fake Model Serving: the real databricks-sdk drives it, real models answer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import BadRequest, NotFound, ResourceAlreadyExists
from databricks.sdk.service.serving import (
    DataframeSplitInput,
    EndpointCoreConfigInput,
    EndpointStateConfigUpdate,
    EndpointStateReady,
    Route,
    ServedEntityInput,
    TrafficConfig,
)

from fixtures.drivers.factories import Factory, Makers
from fixtures.drivers.serving_models import ServedModels, register_served_models, sample_records
from fixtures.stack.mlflow_store import fresh_store
from fixtures.stack.mock import CACHE, Stack


@pytest.fixture(scope="module")
def models(fake) -> Iterator[ServedModels]:
    store = fresh_store(CACHE / "mlflow", "contract")
    stack = Stack(
        mode="mock",
        app_url="",
        workspace_host=fake.host,
        control=fake.control,
        mlflow_store=store,
        mlflow_tracking_uri=store.tracking_uri,
        mlflow_registry_uri=store.registry_uri,
        mlflow_artifact_location=store.artifact_location,
        model_schema="main.contract",
    )
    fake.control._call(
        "POST",
        "/serving/mlflow",
        json={"tracking_uri": store.tracking_uri, "registry_uri": store.registry_uri},
    )
    factory = Factory("contract")
    yield register_served_models(stack, Makers(factory, stack))
    factory.cleanup()


def served_name(models: ServedModels, version: str) -> str:
    """The served entity's default name: the model's short name and the version."""
    return f"{models.churn.rsplit('.', 1)[-1]}-{version}"


@pytest.fixture
def w(fake) -> WorkspaceClient:
    user = fake.control.create_user("serving.contract@example.com", "Serving Contract", [])
    return WorkspaceClient(
        config=Config(host=fake.host, token=user["token"], auth_type="pat", retry_timeout_seconds=5)
    )


def config(models: ServedModels, *versions: str, split: list[int] | None = None) -> EndpointCoreConfigInput:
    entities = [
        ServedEntityInput(entity_name=models.churn, entity_version=v, workload_size="Small") for v in versions
    ]
    traffic = None
    if split:
        traffic = TrafficConfig(
            routes=[
                Route(served_model_name=served_name(models, v), traffic_percentage=p)
                for v, p in zip(versions, split, strict=True)
            ]
        )
    return EndpointCoreConfigInput(name="", served_entities=entities, traffic_config=traffic)


def test_create_wait_query_and_update(w: WorkspaceClient, models: ServedModels, fake) -> None:
    v1, v2 = models.churn_versions[1], models.churn_versions[2]
    fake.control._call("POST", "/serving/update-polls", json={"polls": 1})  # the waiter must poll
    try:
        endpoint = w.serving_endpoints.create_and_wait("contract-churn", config=config(models, v1))
    finally:
        fake.control._call("POST", "/serving/update-polls", json={"polls": 0})
    assert endpoint.state.ready == EndpointStateReady.READY
    assert endpoint.state.config_update == EndpointStateConfigUpdate.NOT_UPDATING
    assert endpoint.config.served_entities[0].entity_version == v1
    assert endpoint.config.traffic_config.routes[0].traffic_percentage == 100

    with pytest.raises(ResourceAlreadyExists):
        w.serving_endpoints.create("contract-churn", config=config(models, v1))

    records = sample_records(5, seed=11)
    answer = w.serving_endpoints.query("contract-churn", dataframe_records=records)
    assert answer.served_model_name == served_name(models, v1)
    assert answer.predictions == models.predict(models.churn, v1, records)
    frame = {"columns": list(records[0]), "data": [list(r.values()) for r in records]}
    split = w.serving_endpoints.query("contract-churn", dataframe_split=DataframeSplitInput.from_dict(frame))
    assert split.predictions == answer.predictions
    instances = w.serving_endpoints.query("contract-churn", instances=records)
    assert instances.predictions == answer.predictions

    updated = w.serving_endpoints.update_config_and_wait(
        "contract-churn", served_entities=config(models, v2).served_entities
    )
    assert updated.config.served_entities[0].entity_version == v2
    assert updated.config.config_version == 2
    answer = w.serving_endpoints.query("contract-churn", dataframe_records=records)
    assert answer.served_model_name == served_name(models, v2)
    assert answer.predictions == models.predict(models.churn, v2, records)

    listed = {e.name: e for e in w.serving_endpoints.list()}
    assert listed["contract-churn"].config.served_entities[0].entity_version == v2

    schema = json.loads(w.serving_endpoints.get_open_api("contract-churn").contents.read())
    body = next(iter(schema["paths"].values()))["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    records_schema = next(s for s in body["oneOf"] if "dataframe_records" in s["properties"])
    assert set(records_schema["properties"]["dataframe_records"]["items"]["properties"]) == {
        "tenure_months",
        "monthly_charges",
        "support_tickets",
    }

    w.serving_endpoints.delete("contract-churn")
    with pytest.raises(NotFound):
        w.serving_endpoints.get("contract-churn")


def test_input_not_matching_the_signature_is_refused_like_mlflow(
    w: WorkspaceClient, models: ServedModels
) -> None:
    w.serving_endpoints.create_and_wait("contract-strict", config=config(models, models.churn_versions[1]))
    with pytest.raises(BadRequest) as refused:
        w.serving_endpoints.query("contract-strict", dataframe_records=[{"tenure_months": 3.0}])
    # MLflow's scoring server (run as-is by the fake) says INVALID_PARAMETER_VALUE for schema enforcement
    # and BAD_REQUEST for unparseable input; both are a 400 the SDK raises as BadRequest.
    assert refused.value.error_code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")
    assert "monthly_charges" in str(refused.value)
    w.serving_endpoints.delete("contract-strict")


def test_traffic_split_is_seeded(w: WorkspaceClient, models: ServedModels) -> None:
    v1, v2 = models.churn_versions[1], models.churn_versions[2]
    w.serving_endpoints.create_and_wait("contract-ab", config=config(models, v1, v2, split=[80, 20]))
    record = sample_records(1, seed=5)

    def served() -> list[str]:
        return [
            w.serving_endpoints.query("contract-ab", dataframe_records=record).served_model_name
            for _ in range(50)
        ]

    first = served()
    assert set(first) == {served_name(models, v1), served_name(models, v2)}
    again = config(models, v1, v2, split=[80, 20])
    w.serving_endpoints.update_config_and_wait(
        "contract-ab", served_entities=again.served_entities, traffic_config=again.traffic_config
    )
    assert served() == first  # a new config restarts the endpoint's seeded routing
    w.serving_endpoints.delete("contract-ab")
