"""The factories and the sweeper against the fake workspace, judged by the real databricks-sdk and MLflow.

What a killed run leaves is made by the same factories scenarios use; the sweeper must find each kind the
workspace serves wherever it sits (our catalog, someone else's catalog or schema), delete it, and leave
everything else alone. A kind the workspace does not serve is named, and fails ``--fail-if-found``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service.serving import ServedEntityInput

from fixtures.drivers import factories
from fixtures.drivers.factories import REMOVE_AFTER, Factory, Makers
from fixtures.drivers.serving_models import ServedModels, register_served_models
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.stack.mlflow_store import fresh_store
from fixtures.stack.mock import CACHE, Stack
from fixtures.workspace.sql import WAREHOUSE_ID
from tools import sweeper


@dataclass
class Workspace:
    stack: Stack
    admin: WorkspaceClient
    models: ServedModels
    sql: WorkspaceAdmin


@pytest.fixture(scope="module")
def workspace(fake, admin) -> Iterator[Workspace]:
    client, _ = admin
    store = fresh_store(CACHE / "mlflow", "sweeper")
    stack = Stack(
        mode="mock",
        app_url="",
        workspace_host=fake.host,
        control=fake.control,
        mlflow_store=store,
        mlflow_tracking_uri=store.tracking_uri,
        mlflow_registry_uri=store.registry_uri,
        mlflow_artifact_location=store.artifact_location,
        model_schema="main.sweeper",
    )
    stack._admin = client
    fake.control._call(
        "POST",
        "/serving/mlflow",
        json={"tracking_uri": store.tracking_uri, "registry_uri": store.registry_uri},
    )
    shared = Factory("models")
    models = register_served_models(stack, Makers(shared, stack))
    yield Workspace(stack, client, models, WorkspaceAdmin(client, "", WAREHOUSE_ID, None, ""))  # type: ignore[arg-type]
    shared.cleanup()


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> str:
    """A run of its own, so its prefix matches only what this test makes."""
    monkeypatch.setenv(factories.RUN_ID_ENV, factories.new_run_id())
    return factories.run_prefix()


def endpoint_entities(models: ServedModels) -> list[ServedEntityInput]:
    return [
        ServedEntityInput(
            entity_name=models.churn, entity_version=models.churn_versions[1], workload_size="Small"
        )
    ]


def test_factories_name_and_mark_every_kind_then_remove_it(workspace: Workspace, run: str) -> None:
    w = workspace.admin
    makers = Makers(Factory("marks"), workspace.stack, workspace.sql.sql)
    catalog = makers.catalog(comment="Ours")
    schema = makers.schema(catalog.name, "inside")
    table = makers.table(catalog.name, "inside", "orders", columns="id BIGINT, total DOUBLE")
    endpoint = makers.serving_endpoint("churn", served_entities=endpoint_entities(workspace.models))
    experiment = makers.experiment()
    model = makers.registered_model("churn")
    champion = makers.once("champion", lambda m: m.registered_model("champion"))
    assert makers.once("champion", lambda m: m.registered_model("other")) is champion  # made once

    assert catalog.name.startswith(run) and endpoint.name == f"{run}marks_churn"
    assert (schema.full_name, table.full_name) == (f"{catalog.name}.inside", f"{catalog.name}.inside.orders")
    assert experiment.name.startswith(f"/Shared/{run}") and model.name == f"main.sweeper.{run}marks_churn"
    marks = {
        "catalog": w.catalogs.get(catalog.name).properties,
        "schema": w.schemas.get(schema.full_name).properties,
        "table": w.tables.get(table.full_name).properties,
        "serving endpoint": {t.key: t.value for t in w.serving_endpoints.get(endpoint.name).tags or []},
        "experiment": experiment.tags,
        "registered model": model.tags,
    }
    for kind, tags in marks.items():
        expires = factories.parse_remove_after((tags or {}).get(REMOVE_AFTER, ""))
        assert expires is not None, f"{kind} carries no RemoveAfter: {tags}"

    assert makers.factory.cleanup() == []
    with pytest.raises(NotFound):
        w.catalogs.get(catalog.name)
    with pytest.raises(NotFound):
        w.serving_endpoints.get(endpoint.name)


def test_sweeper_finds_leftovers_wherever_they_are_deletes_them_and_leaves_the_rest(
    workspace: Workspace, run: str
) -> None:
    w = workspace.admin
    theirs = f"team_{uuid.uuid4().hex[:8]}"  # someone else's catalog, schema and table
    w.catalogs.create(theirs)
    w.schemas.create("data", theirs)
    workspace.sql.sql(f"CREATE TABLE `{theirs}`.`data`.`keep` (id BIGINT)")
    killed = Makers(Factory("killed"), workspace.stack, workspace.sql.sql)  # never cleaned up: the run died
    ours = killed.catalog()
    killed.schema(ours.name, "inside")
    killed.table(ours.name, "inside", "goes_with_the_catalog")
    stray_schema = killed.schema(theirs)
    stray_table = killed.table(theirs, "data")
    endpoint = killed.serving_endpoint(served_entities=endpoint_entities(workspace.models))
    expired = w.schemas.create(f"{run}old", theirs, properties={REMOVE_AFTER: "202001010000"})

    dry = sweeper.sweep(w, run, delete=False, any_age=False)
    assert [(f.kind, f.name) for f in dry.found] == [("schema", expired.full_name)], dry.found

    swept = sweeper.sweep(w, run, delete=True, any_age=True)
    assert swept.problems == []
    assert sorted((f.kind, f.name) for f in swept.found) == sorted(
        [
            ("serving endpoint", endpoint.name),
            ("table", stray_table.full_name),
            ("schema", stray_schema.full_name),
            ("schema", expired.full_name),
            ("catalog", ours.name),
        ]
    )
    again = sweeper.sweep(w, run, delete=False, any_age=True)
    assert again.found == [] and again.problems == []
    # Besides what every catalog comes with (default, information_schema), only their own schema is left.
    assert sorted(s.name for s in w.schemas.list(theirs)) == ["data", "default", "information_schema"]
    assert w.tables.get(f"{theirs}.data.keep").name == "keep"
    # Kinds the fake does not serve yet (MLflow's REST API, volumes) are named, never silently passed over.
    assert set(swept.not_served) <= {"experiment", "registered model", "volume"}
    assert killed.factory.cleanup() == []  # what the sweeper removed counts as gone, not as a failure


class Stub(sweeper.Kind):
    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.error = name, error

    def find(self, w, prefix):
        raise self.error


def test_a_kind_the_workspace_does_not_serve_fails_a_fail_if_found_sweep(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    unserved = Stub("gadget", NotFound("Not Found"))  # a bare 404: no such API
    unknown = Stub("gizmo", NotFound("No API found", error_code="ENDPOINT_NOT_FOUND"))  # Databricks' answer
    gap = Stub("doohickey", DatabricksError("not served", error_code="NOT_IMPLEMENTED"))  # the fake's 501
    vanished = Stub("widget", NotFound("Catalog 'x' does not exist.", error_code="CATALOG_DOES_NOT_EXIST"))
    result = sweeper.sweep(None, "acc_", delete=True, any_age=True, kinds=[unserved, unknown, gap, vanished])
    assert result.not_served == ["gadget", "gizmo", "doohickey"]
    assert len(result.problems) == 1 and "listing widgets" in result.problems[0]

    monkeypatch.setattr(sweeper, "KINDS", [Stub("gadget", NotFound("Not Found"))])
    stub_workspace = SimpleNamespace(config=SimpleNamespace(host="https://stub"))
    monkeypatch.setattr(sweeper, "WorkspaceClient", lambda **_: stub_workspace)
    assert sweeper.main(["--any-age"]) == 0
    assert sweeper.main(["--any-age", "--fail-if-found"]) == 1
    assert "not served, so not checked: gadget" in capsys.readouterr().err
