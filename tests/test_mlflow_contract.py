"""MLflow itself against the fake workspace: ``databricks`` tracking and the ``databricks-uc`` registry.

The real MLflow client is the judge: logging, registering (files through the Files API, then finalize),
aliases, loading by alias and searching must work exactly as against a workspace, and the Unity Catalog
registry's rules must refuse what a workspace refuses (an unsigned model: by MLflow's client first, and by
the workspace for a client that skips that check).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied
from databricks.sdk.service.catalog import PermissionsChange, Privilege

FEATURES = ["tenure_months", "monthly_charges", "support_tickets"]


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def client(mlflow_workspace: str):
    import mlflow

    mlflow.set_tracking_uri("databricks")
    mlflow.set_registry_uri("databricks-uc")
    return mlflow.MlflowClient()


@pytest.fixture(scope="module")
def logged(client, tmp_path_factory) -> dict:
    """A small scikit-learn model logged with a signature in a run of its own experiment."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from fixtures.drivers.serving_models import PIP_REQUIREMENTS, customers

    frame, churned = customers(200, 5)
    model = LogisticRegression(max_iter=300).fit(frame, churned)
    experiment_id = client.create_experiment(
        f"/Shared/{name('contract')}", tags={"RemoveAfter": "209901010000"}
    )
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(frame, model.predict_proba(frame)),
            pip_requirements=PIP_REQUIREMENTS,
            serialization_format="cloudpickle",
        )
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "uri": info.model_uri, "frame": frame}


def test_runs_log_in_batches_and_search(client, tmp_path: Path) -> None:
    from mlflow.entities import Metric, Param, RunTag

    experiment = f"/Shared/{name('tracking')}"
    experiment_id = client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name="batch")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("auc", 0.81, 0, 0), Metric("auc", 0.85, 0, 1)],
        params=[Param("C", "0.5")],
        tags=[RunTag("team", "churn")],
    )
    (tmp_path / "notes.txt").write_text("hello")
    client.log_artifact(run.info.run_id, str(tmp_path / "notes.txt"), "docs")
    client.set_terminated(run.info.run_id)

    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {"auc": 0.85} and got.data.params == {"C": "0.5"}
    assert got.data.tags["team"] == "churn" and got.info.status == "FINISHED"
    assert (
        got.info.artifact_uri
        == f"dbfs:/databricks/mlflow-tracking/{experiment_id}/{run.info.run_id}/artifacts"
    )
    assert [m.value for m in client.get_metric_history(run.info.run_id, "auc")] == [0.81, 0.85]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "docs")] == ["docs/notes.txt"]
    local = client.download_artifacts(run.info.run_id, "docs/notes.txt", str(tmp_path / "down"))
    assert Path(local).read_text() == "hello"

    assert [r.info.run_id for r in client.search_runs([experiment_id], "metrics.auc > 0.8")] == [
        run.info.run_id
    ]
    assert client.search_runs([experiment_id], "params.C = '1.0'") == []
    assert client.get_experiment_by_name(experiment).experiment_id == experiment_id
    found = client.search_experiments(filter_string=f"name = '{experiment}'")
    assert [e.experiment_id for e in found] == [experiment_id]
    tags = found[0].tags
    assert tags["mlflow.experimentType"] == "MLFLOW_EXPERIMENT" and tags["mlflow.ownerEmail"]


def test_the_older_artifact_listing_mlflow_falls_back_to_sees_the_same_files(client, tmp_path: Path) -> None:
    """MLflow lists through ``GET /api/2.0/mlflow/artifacts/list`` when the Files API fails it
    (``DatabricksTrackingArtifactRepository``): the same files, relative to the run's artifact root."""
    from mlflow.store.artifact.databricks_artifact_repo import DatabricksArtifactRepository

    run = client.create_run(client.create_experiment(f"/Shared/{name('listing')}"))
    (tmp_path / "profile.json").write_text("{}")
    client.log_artifact(run.info.run_id, str(tmp_path / "profile.json"), "monitoring")
    repository = DatabricksArtifactRepository(run.info.artifact_uri)

    assert [(f.path, f.is_dir) for f in repository.list_artifacts()] == [("monitoring", True)]
    [listed] = repository.list_artifacts("monitoring")
    assert (listed.path, listed.is_dir, listed.file_size) == ("monitoring/profile.json", False, 2)
    assert repository.list_artifacts("monitoring/profile.json") == []  # a file lists itself: MLflow says []
    assert repository.list_artifacts("nothing/here") == []


def test_experiments_live_in_existing_workspace_folders(client) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="Parent directory /Shared/no_such_folder does not exist"):
        client.create_experiment(f"/Shared/no_such_folder/{name('e')}")
    with pytest.raises(MlflowException, match="absolute paths"):
        client.create_experiment(name("relative"))
    assert client.get_experiment_by_name("Default") is None  # a workspace has no local "Default"


def test_the_sweeper_finds_and_deletes_experiments_through_the_sdk(client, admin) -> None:
    w, _ = admin
    experiment = f"/Shared/{name('acc_sweep')}"
    experiment_id = client.create_experiment(experiment, tags={"RemoveAfter": "202001010000"})
    found = {e.name: e for e in w.experiments.search_experiments(filter=f"name LIKE '%{experiment[8:]}%'")}
    assert {t.key: t.value for t in found[experiment].tags}["RemoveAfter"] == "202001010000"
    w.experiments.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert not list(w.experiments.search_experiments(filter=f"name = '{experiment}'"))


def test_register_alias_load_by_alias_and_search(client, logged, mlflow_workspace: str, admin) -> None:
    import mlflow

    w, _ = admin
    model_name = f"{mlflow_workspace}.{name('churn')}"
    first = mlflow.register_model(logged["uri"], model_name, tags={"git_sha": "abc"})
    second = mlflow.register_model(f"runs:/{logged['run_id']}/model", model_name)
    assert (first.version, second.version) == ("1", "2") and first.status == "READY"
    assert client.get_model_version(model_name, "1").tags == {"git_sha": "abc"}
    assert client.get_model_version(model_name, "2").run_id == logged["run_id"]

    client.set_registered_model_alias(model_name, "champion", "2")
    client.set_registered_model_alias(model_name, "challenger", "1")
    assert client.get_model_version_by_alias(model_name, "champion").version == "2"
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    frame = logged["frame"].head(3)
    assert model.predict(frame).tolist() == mlflow.pyfunc.load_model(logged["uri"]).predict(frame).tolist()

    versions = client.search_model_versions(f"name = '{model_name}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert model_name in {m.name for m in client.search_registered_models()}
    catalog, schema, _ = model_name.split(".")
    assert model_name in {
        m.full_name for m in w.registered_models.list(catalog_name=catalog, schema_name=schema)
    }
    info = w.registered_models.get(model_name, include_aliases=True)
    assert {(a.alias_name, a.version_num) for a in info.aliases} == {("champion", 2), ("challenger", 1)}

    client.delete_registered_model_alias(model_name, "challenger")
    assert client.get_registered_model(model_name).aliases == {"champion": "2"}
    w.registered_models.delete(model_name)
    with pytest.raises(NotFound):
        w.registered_models.get(model_name)


def test_the_registry_refuses_stages_two_level_names_and_missing_schemas(
    client, logged, mlflow_workspace
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="specify all three levels"):
        mlflow.register_model(logged["uri"], name("churn"))
    catalog = mlflow_workspace.split(".")[0]
    with pytest.raises(MlflowException, match="does not exist"):
        mlflow.register_model(logged["uri"], f"{catalog}.no_such_schema.{name('churn')}")
    model_name = f"{mlflow_workspace}.{name('staged')}"
    mlflow.register_model(logged["uri"], model_name)
    with pytest.raises(MlflowException, match="unsupported for models in the Unity Catalog"):
        client.transition_model_version_stage(model_name, "1", "Production")
    with pytest.raises(MlflowException, match="alias"):
        client.set_registered_model_alias(model_name, "latest", "1")  # a reserved alias name


def test_an_unsigned_model_is_refused_by_the_client_and_by_the_workspace(
    client, logged, mlflow_workspace, admin, fake, tmp_path: Path
) -> None:
    import mlflow
    import yaml
    from mlflow.exceptions import MlflowException

    w, _ = admin
    local = Path(mlflow.artifacts.download_artifacts(logged["uri"], dst_path=str(tmp_path)))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    mlmodel.pop("signature")
    (local / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    model_name = f"{mlflow_workspace}.{name('unsigned')}"
    with pytest.raises(
        MlflowException, match="must be logged with a model signature containing both input and"
    ):
        mlflow.register_model(str(local), model_name)  # MLflow's client refuses before uploading anything
    assert client.search_model_versions(f"name = '{model_name}'") == []

    # A client that skips the check: create the version, upload the files, finalize. The workspace refuses.
    api = "/api/2.0/mlflow/unity-catalog"
    version = w.api_client.do(
        "POST", f"{api}/model-versions/create", body={"name": model_name, "source": "x"}
    )
    number = version["model_version"]["version"]
    assert version["model_version"]["status"] == "PENDING_REGISTRATION"
    for file in local.iterdir():
        if file.is_file():
            w.files.upload(f"/Models/{model_name.replace('.', '/')}/{number}/{file.name}", file.open("rb"))
    with pytest.raises(BadRequest, match="did not contain any signature metadata"):
        w.api_client.do(
            "POST", f"{api}/model-versions/finalize", body={"name": model_name, "version": number}
        )
    refused = client.get_model_version(model_name, number)
    assert refused.status == "FAILED_REGISTRATION" and "signature" in refused.status_message


def test_files_of_a_ready_version_are_final(client, logged, mlflow_workspace, admin) -> None:
    import io

    import mlflow

    w, _ = admin
    model_name = f"{mlflow_workspace}.{name('final')}"
    mlflow.register_model(logged["uri"], model_name)
    with pytest.raises(PermissionDenied, match="READY"):
        w.files.upload(f"/Models/{model_name.replace('.', '/')}/1/MLmodel", io.BytesIO(b"x"), overwrite=True)


def test_create_model_needs_create_model_and_reading_needs_execute(
    client, logged, mlflow_workspace, admin, fake
) -> None:
    import mlflow

    w, _ = admin
    catalog = mlflow_workspace.split(".")[0]
    model_name = f"{mlflow_workspace}.{name('guarded')}"
    mlflow.register_model(logged["uri"], model_name)
    user = fake.control.create_user(f"ml.{uuid.uuid4().hex[:6]}@example.com", "ML User", [])
    reader = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    w.grants.update(
        "catalog",
        catalog,
        changes=[PermissionsChange(add=[Privilege.USE_CATALOG], principal=user["user_name"])],
    )
    w.grants.update(
        "schema",
        mlflow_workspace,
        changes=[PermissionsChange(add=[Privilege.USE_SCHEMA], principal=user["user_name"])],
    )

    api = "/api/2.0/mlflow/unity-catalog"
    with pytest.raises(PermissionDenied, match="CREATE MODEL"):
        reader.api_client.do(
            "POST", f"{api}/registered-models/create", body={"name": f"{mlflow_workspace}.mine"}
        )
    with pytest.raises(PermissionDenied, match="EXECUTE"):
        reader.api_client.do("GET", f"{api}/model-versions/get", query={"name": model_name, "version": "1"})
    assert model_name not in {m.full_name for m in reader.registered_models.list()}
    with pytest.raises(PermissionDenied):
        reader.files.download(f"/Models/{model_name.replace('.', '/')}/1/MLmodel")

    w.grants.update(
        "function",
        model_name,
        changes=[PermissionsChange(add=[Privilege.EXECUTE], principal=user["user_name"])],
    )
    got = reader.api_client.do("GET", f"{api}/model-versions/get", query={"name": model_name, "version": "1"})
    assert got["model_version"]["status"] == "READY"
    assert model_name in {m.full_name for m in reader.registered_models.list()}
    assert reader.files.download(f"/Models/{model_name.replace('.', '/')}/1/MLmodel").contents.read()
    with pytest.raises(PermissionDenied):  # EXECUTE reads; only the owner changes the model
        reader.api_client.do("POST", f"{api}/registered-models/alias",
                             body={"name": model_name, "alias": "champion", "version": "1"})  # fmt: skip
    grants = w.grants.get("function", model_name).privilege_assignments
    assert [(g.principal, g.privileges) for g in grants] == [(user["user_name"], [Privilege.EXECUTE])]


def test_the_sweeper_removes_expired_experiments_and_registered_models(
    client, mlflow_workspace, admin
) -> None:
    """What a killed run leaves (prefixed, RemoveAfter passed) is found and removed through the SDK."""
    from tools import sweeper

    w, _ = admin
    prefix = f"acc_{uuid.uuid4().hex[:6]}_"
    expired, fresh = {"RemoveAfter": "202001010000"}, {"RemoveAfter": "209901010000"}
    old_experiment = client.create_experiment(f"/Shared/{prefix}old", tags=expired)
    client.create_experiment(f"/Shared/{prefix}new", tags=fresh)
    client.create_registered_model(f"{mlflow_workspace}.{prefix}old", tags=expired)
    client.create_registered_model(f"{mlflow_workspace}.{prefix}new", tags=fresh)
    kinds = [sweeper.Experiments(), sweeper.RegisteredModels()]

    swept = sweeper.sweep(w, prefix, delete=True, any_age=False, kinds=kinds)
    assert not swept.problems and not swept.not_served
    old = [f"/Shared/{prefix}old", f"{mlflow_workspace}.{prefix}old"]
    assert sorted(f.name for f in swept.found) == sorted(old)
    assert client.get_experiment(old_experiment).lifecycle_stage == "deleted"
    assert {m.full_name for m in w.registered_models.list()} & {f"{mlflow_workspace}.{prefix}old"} == set()
    swept = sweeper.sweep(w, prefix, delete=True, any_age=True, kinds=kinds)
    new = [f"/Shared/{prefix}new", f"{mlflow_workspace}.{prefix}new"]
    assert sorted(f.name for f in swept.found) == sorted(new)
    assert sweeper.sweep(w, prefix, delete=False, any_age=True, kinds=kinds).found == []
