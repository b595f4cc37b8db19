"""The ML side: preparing data, training, registering and promoting the churn model.

Whens run the pipeline (``server.pipeline``) exactly as its command line does; Thens read back from
MLflow (runs, params, metrics, artifacts, versions, aliases, tags). Every scenario gets its own
experiment and registered model from the factories (``<catalog>.<schema>.acc_<run>_<scope>_churn``), so
scenarios never share versions or aliases, in any order or worker.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import allure
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.factories import Makers
from fixtures.stack.mock import ROOT, Stack

if TYPE_CHECKING:  # pandas is imported in the steps that use it: 0.3 s that collecting the steps need not pay
    import pandas as pd

ALL_FEATURES = "all features"
FEATURE_SETS = {
    ALL_FEATURES: None,
    "only on the customers' region": ("region",),
}
METRIC_NAMES = {"ROC AUC": "roc_auc", "accuracy": "accuracy"}
FEATURES_PHRASE = "|".join(map(str, FEATURE_SETS))
# The pipeline's tags say first_champion / promoted / kept_champion; features say it in words.
DECISIONS = {"first champion": "first_champion", "promoted": "promoted", "kept champion": "kept_champion"}


@dataclass
class Lifecycle:
    stack: Stack
    makers: Makers  # this scenario's experiment and registered model, made on first use
    rows: int = 0
    seed: int = 0
    customers: pd.DataFrame | None = None
    runs: list = field(default_factory=list)  # TrainingResult, in training order
    versions: dict[str, str] = field(default_factory=dict)  # version -> run id
    last_version: str | None = None

    @functools.cached_property
    def experiment(self) -> str:
        return self.makers.experiment("churn").name

    @functools.cached_property
    def model_name(self) -> str:
        return self.makers.registered_model("churn").name

    @property
    def settings(self):
        return self.stack.pipeline_settings()

    @property
    def client(self):
        from server.pipeline import tracking

        return tracking.client(self.settings)

    def train(self, features: tuple[str, ...] | None = None, regularization: float = 1.0):
        from server.pipeline import training

        params = training.TrainingParams(
            regularization=regularization, features=features or tuple(training.columns.FEATURES)
        )
        result = training.train(self.settings, self.experiment, self.customers, params)
        self.runs.append(result)
        allure.attach(
            json.dumps(training.describe(result), indent=2), "training run", allure.attachment_type.JSON
        )
        return result

    def register_trained(self, features_phrase: str, code_dir: Path | None = None) -> str:
        """A version of the model trained on the given features (the cached reference model when it is)."""
        from fixtures.drivers import reference_model

        uses_reference = FEATURE_SETS[features_phrase] is None and (self.rows, self.seed) == (
            reference_model.ROWS,
            reference_model.SEED,
        )
        if uses_reference:
            run_id, version = reference_model.register_reference(
                self.stack, self.experiment, self.model_name, code_dir
            )
        else:
            result = self.train(FEATURE_SETS[features_phrase])
            run_id = result.run_id
            args = ["register", "--model-name", self.model_name, "--model-uri", result.model_uri]
            version = self.cli(*args, *(["--code-dir", str(code_dir)] if code_dir else []))["version"]
        self.versions[version] = run_id
        self.last_version = version
        return version

    def cli(self, *args: str) -> dict:
        """The pipeline's command line (``python -m server.pipeline ...``), run in this process."""
        from server.pipeline.__main__ import run

        out = run(list(args), self.settings)
        allure.attach(json.dumps(out, indent=2, default=str), "python -m server.pipeline " + " ".join(args),
                      allure.attachment_type.JSON)  # fmt: skip
        return out

    def promote(self, version: str) -> dict:
        return self.cli("promote", "--model-name", self.model_name, "--version", version)

    def version(self, number: str):
        return self.client.get_model_version(self.model_name, number)


@pytest.fixture
def lifecycle(stack: Stack, makers: Makers) -> Lifecycle:
    """This scenario's experiment and registered model (factories: prefixed, marked, removed after it)."""
    return Lifecycle(stack, makers)


# Givens ----------------------------------------------------------------------------------------------------
@given(parsers.parse("churn data prepared from {rows:d} synthetic customers with seed {seed:d}"))
def churn_data(lifecycle: Lifecycle, rows: int, seed: int) -> None:
    """Raw synthetic customers generated with the seed, cleaned, typed, split and validated (in memory)."""
    from server.pipeline import data

    lifecycle.rows, lifecycle.seed = rows, seed
    lifecycle.customers, report = data.prepare(rows, seed)
    allure.attach(repr(report), "cleaning report", allure.attachment_type.TEXT)


@given(parsers.re(rf"the churn model trained on (?P<features>{FEATURES_PHRASE}) is registered$"))
def registered(lifecycle: Lifecycle, features: str) -> None:
    """A registered version of the churn model trained on those features (all: the cached reference model)."""
    lifecycle.register_trained(features)


@given(parsers.re(rf"the churn model trained (?:on )?(?P<features>{FEATURES_PHRASE}) is the champion"))
def champion_given(lifecycle: Lifecycle, features: str) -> None:
    """The churn model trained on those features is registered and promoted; it must end up champion."""
    version = lifecycle.register_trained(features)
    assert lifecycle.promote(version)["champion"] == version


# Whens -----------------------------------------------------------------------------------------------------
@when(parsers.parse("the churn model is trained with regularization {regularization:g}"))
def trained_with(lifecycle: Lifecycle, regularization: float) -> None:
    """One training run of the churn model with that regularization strength (LogisticRegression C)."""
    lifecycle.train(regularization=regularization)


@when(parsers.parse("the churn model is trained and registered {times:d} times"))
def trained_and_registered(lifecycle: Lifecycle, times: int) -> None:
    """Runs the pipeline's command line that many times: train (fresh data, same seed) and register."""
    from server.pipeline.training import TrainingResult

    for _ in range(times):
        args = ["train", "--experiment", lifecycle.experiment, "--rows", str(lifecycle.rows)]
        args += ["--seed", str(lifecycle.seed), "--register-as", lifecycle.model_name]
        out = lifecycle.cli(*args)
        lifecycle.runs.append(
            TrainingResult(out["run_id"], out["experiment_id"], out["model_uri"], out["metrics"])
        )
        lifecycle.versions[out["version"]] = out["run_id"]


@when(
    parsers.re(
        rf"the churn model trained (?:on )?(?P<features>{FEATURES_PHRASE}) is registered from a copy of the "
        r"code outside git"
    )
)
def registered_outside_git(lifecycle: Lifecycle, features: str, tmp_path: Path) -> None:
    """Registers a version from a copy of the code in a folder that is not a git checkout."""
    code = shutil.copytree(ROOT / "server", tmp_path / "server")
    lifecycle.register_trained(features, code_dir=Path(code))


@when(
    parsers.re(rf"the churn model trained (?:on )?(?P<features>{FEATURES_PHRASE}) is registered and promoted")
)
def registered_and_promoted(lifecycle: Lifecycle, features: str) -> None:
    """Registers a new version of the churn model trained on those features, then runs promotion."""
    lifecycle.promote(lifecycle.register_trained(features))


@when(
    parsers.parse("version {version} of the churn model scores {count:d} test customers"),
    target_fixture="scored",
)
def scores(lifecycle: Lifecycle, version: str, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loads that registered version from the registry and scores that many customers of the test split."""
    import mlflow

    from server.pipeline import columns, training

    assert lifecycle.client is not None  # also points MLflow at the stack's stores
    test = lifecycle.customers[lifecycle.customers[columns.SPLIT] == "test"].head(count)
    inputs = training.model_inputs(test)
    model = mlflow.pyfunc.load_model(
        f"models:/{lifecycle.model_name}/{version}", model_config={"model_version": version}
    )
    answers = model.predict(inputs)
    allure.attach(answers.to_csv(index=False), "answers", allure.attachment_type.CSV)
    return inputs, answers


# Thens: runs -------------------------------------------------------------------------------------------
def _last_run(lifecycle: Lifecycle):
    assert lifecycle.runs, "no training run in this scenario"
    return lifecycle.client.get_run(lifecycle.runs[-1].run_id)


@then(
    parsers.parse("the training run records the regularization {regularization:g} and all {count:d} features")
)
def run_params(lifecycle: Lifecycle, regularization: float, count: int) -> None:
    """The last training run's params: the regularization and the list of features it used."""
    params = _last_run(lifecycle).data.params
    assert float(params["regularization"]) == regularization, params
    features = params["features"].split(",")
    assert len(features) == count and len(set(features)) == count, params


@then(
    parsers.re(
        r"the training run records an? (?P<first>ROC AUC|accuracy) above (?P<low1>[\d.]+) "
        r"and an? (?P<second>ROC AUC|accuracy) above (?P<low2>[\d.]+)"
    )
)
def run_metrics(lifecycle: Lifecycle, first: str, low1: str, second: str, low2: str) -> None:
    """The last training run's metrics (ROC AUC, accuracy on the test split) are above the given floors."""
    metrics = _last_run(lifecycle).data.metrics
    for name, low in ((first, low1), (second, low2)):
        value = metrics[METRIC_NAMES[name]]
        assert float(low) < value <= 1.0, f"{name} = {value}, expected above {low}"


@then("the training run holds a confusion matrix plot and the training data profile of every feature")
def run_artifacts(lifecycle: Lifecycle, tmp_path: Path) -> None:
    """The last run holds a PNG confusion matrix and a training-data profile of every feature."""
    import mlflow

    from server.pipeline import columns, training

    run_id = lifecycle.runs[-1].run_id
    paths = {a.path for a in lifecycle.client.list_artifacts(run_id, "plots")}
    paths |= {a.path for a in lifecycle.client.list_artifacts(run_id, "monitoring")}
    assert {training.CONFUSION_MATRIX_PATH, training.PROFILE_PATH} <= paths, paths
    png = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=training.CONFUSION_MATRIX_PATH, dst_path=str(tmp_path)
        )
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the confusion matrix is not a PNG"
    allure.attach(png.read_bytes(), "confusion matrix", allure.attachment_type.PNG)
    profile = mlflow.artifacts.load_dict(f"runs:/{run_id}/{training.PROFILE_PATH}")
    assert set(profile["features"]) == set(columns.FEATURES), profile["features"].keys()
    for name, feature in profile["features"].items():
        shares = feature["frequencies"]
        total = sum(shares.values()) if isinstance(shares, dict) else sum(shares)
        assert abs(total - 1.0) < 1e-6, f"{name}: shares sum to {total}"
    assert abs(sum(profile["prediction"]["probability"]["frequencies"]) - 1.0) < 1e-6, profile["prediction"]


@then("the logged model has a signature, an input example and pinned requirements")
def logged_model(lifecycle: Lifecycle, tmp_path: Path) -> None:
    """The logged custom model: its signature, an input example and pinned pip requirements."""
    import mlflow

    from server.pipeline import columns

    uri = lifecycle.runs[-1].model_uri
    info = mlflow.models.get_model_info(uri)
    inputs = {spec.name for spec in info.signature.inputs}
    outputs = {spec.name for spec in info.signature.outputs}
    assert inputs == set(columns.FEATURES), inputs
    assert outputs == {"label", "probability", "model_version"}, outputs
    assert info.saved_input_example_info is not None, "no input example"
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path)))
    requirements = (local / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements), requirements
    assert all("==" in r for r in requirements), f"unpinned requirements: {requirements}"


@then(
    parsers.parse(
        'every answer has a label, a churn probability between 0 and 1 and the model version "{version}"'
    )
)
def answers_shape(scored: tuple[pd.DataFrame, pd.DataFrame], version: str) -> None:
    """Every scored customer got a 0/1 label, a probability in [0, 1] agreeing with it, and that version."""
    inputs, answers = scored
    assert len(answers) == len(inputs) > 0
    assert set(answers["label"]) <= {0, 1}, answers["label"].unique()
    assert answers["probability"].between(0, 1).all(), answers["probability"]
    assert (answers["model_version"] == version).all(), answers["model_version"].unique()
    assert ((answers["probability"] >= 0.5) == (answers["label"] == 1)).all()


@then("the answers agree with the basic model the custom model wraps")
def answers_agree(lifecycle: Lifecycle, scored: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The custom model's probabilities equal the basic scikit-learn pipeline's on the same split."""
    from server.pipeline import columns, training

    inputs, answers = scored
    train_rows = lifecycle.customers[lifecycle.customers[columns.SPLIT] == "train"]
    basic = training.build_pipeline(training.TrainingParams()).fit(
        training.model_inputs(train_rows), train_rows[columns.LABEL]
    )
    expected = basic.predict_proba(inputs)[:, 1]
    assert (abs(answers["probability"].to_numpy() - expected) < 1e-9).all()


# Thens: registry -------------------------------------------------------------------------------------------
@then(parsers.parse("the registry lists versions {first:d} and {second:d} of the churn model"))
def lists_versions(lifecycle: Lifecycle, first: int, second: int) -> None:
    """The registry lists exactly those two versions of this scenario's churn model."""
    found = lifecycle.client.search_model_versions(f"name = '{lifecycle.model_name}'")
    assert sorted(int(v.version) for v in found) == [first, second], [v.version for v in found]
    assert sorted(lifecycle.versions, key=int) == [str(first), str(second)]


@then("each version points at the training run that produced it")
def versions_point_at_runs(lifecycle: Lifecycle) -> None:
    """Every version's run is the training run that produced it; no two versions share a run."""
    for number, run_id in lifecycle.versions.items():
        assert lifecycle.version(number).run_id == run_id, number
    assert len(set(lifecycle.versions.values())) == len(lifecycle.versions), "two versions share a run"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


@then("each version is tagged with the git commit and branch of this code")
def versions_tagged_with_git(lifecycle: Lifecycle) -> None:
    """Every version's git_sha and git_branch tags equal this checkout's HEAD commit and branch."""
    sha, branch = _git("rev-parse", "HEAD"), _git("rev-parse", "--abbrev-ref", "HEAD")
    for number in lifecycle.versions:
        tags = lifecycle.version(number).tags
        assert tags.get("git_sha") == sha, tags
        assert tags.get("git_branch") == (branch if branch != "HEAD" else "detached"), tags


@then(parsers.parse('version {version} is tagged with git commit "{sha}" and git branch "{branch}"'))
def version_tagged(lifecycle: Lifecycle, version: str, sha: str, branch: str) -> None:
    """That version's git_sha and git_branch tags have exactly those values."""
    tags = lifecycle.version(version).tags
    assert (tags.get("git_sha"), tags.get("git_branch")) == (sha, branch), tags


@then(parsers.re(r"version (?P<version>\d+) is the (?P<alias>champion|challenger)$"))
def has_alias(lifecycle: Lifecycle, version: str, alias: str) -> None:
    """The alias (champion or challenger) points at that version."""
    holder = lifecycle.client.get_model_version_by_alias(lifecycle.model_name, alias)
    assert str(holder.version) == version, f"{alias} is version {holder.version}, expected {version}"


@then(
    parsers.re(
        r'version (?P<version>\d+) records the decision "(?P<decision>[^"]+)" on (?P<metric>ROC AUC|accuracy)'
        r"(?:, (?P<beats>beating|not beating) version (?P<other>\d+))?$"
    )
)
def records_decision(
    lifecycle: Lifecycle, version: str, decision: str, metric: str, beats: str | None, other: str | None
) -> None:
    """That version's tags record the promotion decision, the metric and both compared values."""
    key = METRIC_NAMES[metric]
    tags = lifecycle.version(version).tags
    assert tags.get("promotion_decision") == DECISIONS[decision], tags
    assert tags.get("promotion_metric") == key, tags
    own = lifecycle.client.get_run(lifecycle.version(version).run_id).data.metrics[key]
    assert float(tags[f"challenger_{key}"]) == own, tags
    if other is None:
        assert tags[f"champion_{key}"] == "none", tags
        return
    theirs = lifecycle.client.get_run(lifecycle.version(other).run_id).data.metrics[key]
    assert float(tags[f"champion_{key}"]) == theirs, tags
    assert tags.get("compared_with_version") == other, tags
    assert (own > theirs) == (beats == "beating"), f"version {version}: {own}, version {other}: {theirs}"


# Data preparation ------------------------------------------------------------------------------------------
@dataclass
class Preparation:
    raw: pd.DataFrame | None = None
    customers: list[pd.DataFrame] = field(default_factory=list)
    report: object | None = None
    error: Exception | None = None
    seed: int = 0


@pytest.fixture
def preparation() -> Preparation:
    return Preparation()


@when(parsers.parse("churn data is prepared twice from {rows:d} synthetic customers with seed {seed:d}"))
def prepared_twice(preparation: Preparation, rows: int, seed: int) -> None:
    """Runs the whole preparation (generate, clean, split, validate) twice with the same seed."""
    from server.pipeline import data

    preparation.customers = [data.prepare(rows, seed)[0] for _ in range(2)]


@then("both preparations hold exactly the same customers")
def same_customers(preparation: Preparation) -> None:
    """The two preparations are equal cell for cell (and so have the same content hash)."""
    import pandas as pd

    from server.pipeline import data

    first, second = preparation.customers
    pd.testing.assert_frame_equal(first, second)
    assert data.fingerprint(first) == data.fingerprint(second)


@then(parsers.parse("churn data prepared with seed {seed:d} holds different customers"))
def different_seed(preparation: Preparation, seed: int) -> None:
    """Another seed gives other customers: the seed, not a constant, decides the data."""
    from server.pipeline import data

    first = preparation.customers[0]
    other, _ = data.prepare(len(first) + 20, seed)
    assert data.fingerprint(other) != data.fingerprint(first)


@given(parsers.parse("a raw customer export of {rows:d} synthetic customers with seed {seed:d}"))
def raw_export(preparation: Preparation, rows: int, seed: int) -> None:
    """The raw CRM export: numbers as text, mixed spellings, duplicated rows and impossible ages."""
    from server.pipeline import data

    preparation.raw, preparation.seed = data.generate_raw(rows, seed), seed
    allure.attach(preparation.raw.head(20).to_csv(index=False), "raw export (first rows)", "text/csv", ".csv")


@when(
    parsers.parse("the export is cleaned and split with {percent:d}% of the customers held out for testing")
)
def cleaned_and_split(preparation: Preparation, percent: int) -> None:
    """Cleans and types the export, then splits it (stratified by churn) with that test share."""
    from server.pipeline import data

    cleaned, preparation.report = data.clean(preparation.raw)
    preparation.customers = [data.split(cleaned, percent / 100, preparation.seed)]
    allure.attach(repr(preparation.report), "cleaning report", allure.attachment_type.TEXT)


@then(
    parsers.parse(
        "{duplicates:d} duplicated rows and {invalid:d} customers with impossible ages are dropped, "
        "leaving {rows:d} customers"
    )
)
def dropped(preparation: Preparation, duplicates: int, invalid: int, rows: int) -> None:
    """The cleaning report's counts, and the cleaned data really has that many customers."""
    report = preparation.report
    assert (report.duplicates_dropped, report.invalid_dropped, report.rows) == (duplicates, invalid, rows)
    assert len(preparation.customers[0]) == rows


@then(parsers.parse("no customer appears twice and every age is between {low:d} and {high:d}"))
def tidy(preparation: Preparation, low: int, high: int) -> None:
    """Customer ids are unique and ages are integers in range."""
    import pandas as pd

    customers = preparation.customers[0]
    assert customers["customer_id"].is_unique
    assert pd.api.types.is_integer_dtype(customers["age"]), customers["age"].dtype
    assert customers["age"].between(low, high).all(), customers["age"].describe()


@then(parsers.parse('every {column} is one of "{values}"'))
def categories(preparation: Preparation, column: str, values: str) -> None:
    """Every value of that column is one of the canonical spellings listed."""
    allowed = {v.strip() for v in values.split(",")}
    found = set(preparation.customers[0][column])
    assert found <= allowed, found - allowed
    assert len(found) == len(allowed), f"expected all of {allowed}, found {found}"


@then("customers in their first month have total charges of 0")
def new_customers(preparation: Preparation) -> None:
    """Customers with no tenure were never billed: the export's blank becomes 0.0, not a null."""
    customers = preparation.customers[0]
    new = customers[customers["tenure_months"] == 0]
    assert len(new) > 0, "no customer in the first month: the scenario proves nothing"
    assert (new["total_charges"] == 0.0).all(), new["total_charges"]
    assert customers["total_charges"].notna().all()


@then(
    parsers.parse("{percent:d}% of the customers are held out for testing, with the churn rate of the others")
)
def held_out(preparation: Preparation, percent: int) -> None:
    """The test share is as asked (within a customer) and churn rates of both splits agree within 1 point."""
    from server.pipeline import columns

    customers = preparation.customers[0]
    test = customers[customers[columns.SPLIT] == "test"]
    train = customers[customers[columns.SPLIT] == "train"]
    assert abs(len(test) - len(customers) * percent / 100) <= 2, (len(test), len(customers))
    assert abs(test[columns.LABEL].mean() - train[columns.LABEL].mean()) < 0.01


@when(
    parsers.parse(
        "the data is validated after {no_age:d} customers lose their age and {negative:d} get monthly "
        "charges of {charge:g}"
    )
)
def validated_bad(
    lifecycle: Lifecycle, preparation: Preparation, no_age: int, negative: int, charge: float
) -> None:
    """Damages a copy of the prepared data as described, then runs the pipeline's validation on it."""
    from server.pipeline import data

    damaged = lifecycle.customers.copy()
    damaged["age"] = damaged["age"].astype("float64")
    damaged.loc[damaged.index[:no_age], "age"] = None
    damaged.loc[damaged.index[no_age : no_age + negative], "monthly_charges"] = charge
    try:
        data.validate(damaged)
    except data.DataValidationError as error:
        preparation.error = error
        allure.attach(str(error), "validation error", allure.attachment_type.TEXT)


@then(parsers.parse('validation fails naming "{problem}"'))
@then(parsers.parse('validation names "{problem}"'))
def validation_names(preparation: Preparation, problem: str) -> None:
    """Validation refused the data, and its message names this problem exactly."""
    assert preparation.error is not None, "validation accepted the damaged data"
    assert problem in preparation.error.problems, preparation.error.problems
    assert problem in str(preparation.error)


# Data preparation into Unity Catalog (needs the SQL warehouse) ----------------------------------------------
TABLE = r'"(?P<table>[^"]+)"'


@given(parsers.re(r'the catalog "(?P<catalog>[^"]+)" with the schema "(?P<schema>[^"]+)" for model data'))
def model_data_schema(catalog_admin, make_catalog, make_schema, catalog: str, schema: str) -> None:
    """A catalog (removed after the scenario) and schema where the pipeline may create its tables."""
    made = make_catalog(catalog_admin.real(catalog), comment="Churn model data")
    make_schema(made.name, schema, comment="Customer churn")


PREPARED_INTO_TABLE = (
    r"churn data from (?P<rows>\d+) synthetic customers with seed (?P<seed>\d+) is prepared into the table "
    + TABLE
)


@given(parsers.re(PREPARED_INTO_TABLE))
@when(parsers.re(PREPARED_INTO_TABLE))
def prepared_into_table(lifecycle: Lifecycle, catalog_admin, rows: str, seed: str, table: str) -> None:
    """The pipeline's prepare step: generate, clean, split, validate, then write the table (SQL warehouse)."""
    from server.pipeline import data, tables

    lifecycle.customers, _ = data.prepare(int(rows), int(seed))
    tables.write_customers(
        catalog_admin.client, catalog_admin.warehouse_id, catalog_admin.real(table), lifecycle.customers
    )


@then(parsers.re(r"the table " + TABLE + " holds exactly the prepared customers"))
def table_holds_customers(lifecycle: Lifecycle, catalog_admin, table: str) -> None:
    """Read back through the warehouse: the same rows, values and types as prepared."""
    import pandas as pd

    from server.pipeline import columns, tables

    back = tables.read_customers(catalog_admin.client, catalog_admin.warehouse_id, catalog_admin.real(table))
    expected = lifecycle.customers.sort_values("customer_id").reset_index(drop=True)
    strings = {c: object for c, (sql_type, _) in columns.SCHEMA.items() if sql_type == "STRING"}
    pd.testing.assert_frame_equal(back.astype(strings), expected.astype(strings))


@then(parsers.re(r"reading the table " + TABLE + " takes more than one result chunk"))
def read_in_chunks(catalog_admin, table: str) -> None:
    """The warehouse answers SELECT * on the table in several result chunks (what makes the table large)."""
    from server.pipeline import tables

    statement = f"SELECT * FROM {tables.quote_name(catalog_admin.real(table))}"
    manifest = tables.execute(catalog_admin.client, catalog_admin.warehouse_id, statement).manifest
    assert manifest is not None and (manifest.total_chunk_count or 0) > 1, manifest


@then(parsers.re(r"the table " + TABLE + " has change data feed enabled"))
def change_data_feed(catalog_admin, table: str) -> None:
    """Unity Catalog shows the table property delta.enableChangeDataFeed = true."""
    from server.pipeline import tables

    info = catalog_admin.client.tables.get(catalog_admin.real(table))
    assert (info.properties or {}).get(tables.CHANGE_DATA_FEED) == "true", info.properties


@then(parsers.re(r"the table " + TABLE + " passes validation of its schema, row count and nulls"))
def table_valid(lifecycle: Lifecycle, catalog_admin, table: str) -> None:
    """The pipeline's table validation (Unity Catalog schema, warehouse counts) passes with every row."""
    from server.pipeline import tables

    rows = tables.validate_table(catalog_admin.client, catalog_admin.warehouse_id, catalog_admin.real(table))
    assert rows == len(lifecycle.customers)


# The pipeline's command line (``python -m server.pipeline ...``), run in this process -----------------------
@dataclass
class Command:
    args: list[str]
    status: int
    printed: dict | None
    errors: str


@pytest.fixture
def command_line(lifecycle: Lifecycle, stack: Stack, monkeypatch: pytest.MonkeyPatch):
    """Runs the pipeline's command line as a job would: configuration from the environment only."""

    def run(*args: str) -> Command:
        from server.pipeline.__main__ import main

        settings = lifecycle.settings
        admin = stack.admin_client().config
        environment = {
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "MLFLOW_REGISTRY_URI": settings.mlflow_registry_uri,
            "MLFLOW_ARTIFACT_LOCATION": settings.mlflow_artifact_location,
            # The workspace as Databricks unified auth finds it (live: already in the environment).
            "DATABRICKS_HOST": admin.host,
            "DATABRICKS_TOKEN": admin.token,
        }
        printed, errors = io.StringIO(), io.StringIO()
        with monkeypatch.context() as patch, redirect_stdout(printed), redirect_stderr(errors):
            for name, value in environment.items():
                if value:
                    patch.setenv(name, value)
            try:
                status = main(list(args))
            except SystemExit as exit_:  # argparse, or a usage error with its message
                status = exit_.code if isinstance(exit_.code, int) else 1
                if isinstance(exit_.code, str):
                    errors.write(exit_.code)
        command = Command(list(args), status, json.loads(printed.getvalue()) if status == 0 else None,
                          errors.getvalue())  # fmt: skip
        allure.attach(
            f"$ python -m server.pipeline {' '.join(args)}\n(exit status {status})\n{printed.getvalue()}"
            f"{errors.getvalue()}",
            "command line",
            allure.attachment_type.TEXT,
        )
        return command

    return run


def _train_args(lifecycle: Lifecycle, rows: int | None = None) -> list[str]:
    rows = rows or lifecycle.rows or 400
    return [
        "train",
        "--experiment",
        lifecycle.experiment,
        "--rows",
        str(rows),
        "--seed",
        str(lifecycle.seed or 7),
    ]


def _trained(lifecycle: Lifecycle, command: Command) -> Command:
    """Keeps the training run (and version) a successful command made, for the Thens and the clean-up."""
    from server.pipeline.training import TrainingResult

    if command.status == 0:
        out = command.printed
        lifecycle.runs.append(
            TrainingResult(out["run_id"], out["experiment_id"], out["model_uri"], out["metrics"])
        )
        if "version" in out:
            lifecycle.versions[out["version"]] = out["run_id"]
            lifecycle.last_version = out["version"]
    return command


@when(
    parsers.parse(
        "the engineer prepares churn data from {rows:d} synthetic customers with seed {seed:d} "
        "on the command line"
    ),
    target_fixture="command",
)
def cli_prepare(lifecycle: Lifecycle, command_line, rows: int, seed: int) -> Command:
    """``prepare``: generate, clean, split and validate, printing the cleaning report and a content hash."""
    lifecycle.rows, lifecycle.seed = rows, seed
    return command_line("prepare", "--rows", str(rows), "--seed", str(seed))


@when(
    parsers.re(
        r"the engineer prepares churn data from (?P<rows>\d+) synthetic customers with seed (?P<seed>\d+) "
        r"into the table " + TABLE + " on the command line"
    ),
    target_fixture="command",
)
def cli_prepare_table(
    lifecycle: Lifecycle, catalog_admin, command_line, rows: str, seed: str, table: str
) -> Command:
    """``prepare --table``: the prepared customers (re)create the table, which is then validated."""
    from server.pipeline import data

    lifecycle.rows, lifecycle.seed = int(rows), int(seed)
    lifecycle.customers, _ = data.prepare(int(rows), int(seed))  # what the table must hold
    return command_line("prepare", "--rows", rows, "--seed", seed, "--table", catalog_admin.real(table),
                        "--warehouse-id", catalog_admin.warehouse_id)  # fmt: skip


@when(
    parsers.re(
        r"the engineer trains the churn model from the table " + TABLE + " on the command line"
        r"(?P<without> without naming a SQL warehouse)?$"
    ),
    target_fixture="command",
)
def cli_train_from_table(
    lifecycle: Lifecycle, catalog_admin, command_line, table: str, without: str | None
) -> Command:
    """``train --table``: trains on the rows of that table, read through the SQL warehouse (or names none)."""
    args = ["train", "--experiment", lifecycle.experiment, "--table", catalog_admin.real(table)]
    return _trained(
        lifecycle, command_line(*args, *([] if without else ["--warehouse-id", catalog_admin.warehouse_id]))
    )


@when(parsers.re(r"the engineer trains the churn model on the command line with (?P<options>.+)$"),
      target_fixture="command")  # fmt: skip
def cli_train_with(lifecycle: Lifecycle, command_line, options: str) -> Command:
    """``train`` with options in words: `the features "a, b"` or `a regularization of 0.5`."""
    import re

    features = re.fullmatch(r'the features "(?P<features>[^"]*)"', options)
    regularization = re.fullmatch(r"a regularization of (?P<value>[-\d.]+)", options)
    assert features or regularization, f"unknown training options: {options}"
    extra = (
        ["--features", features["features"]] if features else ["--regularization", regularization["value"]]
    )
    return _trained(lifecycle, command_line(*_train_args(lifecycle, 400), *extra))


@when(
    "the engineer trains, registers and promotes the churn model on the command line",
    target_fixture="command",
)
def cli_train_register_promote(lifecycle: Lifecycle, command_line) -> Command:
    """``train --register-as <model> --promote``: one command from data to a promoted version."""
    args = [*_train_args(lifecycle), "--register-as", lifecycle.model_name, "--promote"]
    return _trained(lifecycle, command_line(*args))


@when(
    parsers.re(r'version (?P<version>\d+) is promoted(?: again)?(?: on the metric "(?P<metric>[^"]+)")?$'),
    target_fixture="command",
)
def cli_promote(lifecycle: Lifecycle, command_line, version: str, metric: str | None) -> Command:
    """``promote``: runs promotion of that version (on ROC AUC unless a metric is named)."""
    args = ["promote", "--model-name", lifecycle.model_name, "--version", version]
    return command_line(*args, *(["--metric", metric] if metric else []))


@then(
    parsers.parse(
        "the command reports {raw:d} raw rows, {duplicates:d} duplicates and {invalid:d} impossible rows "
        "dropped, leaving {rows:d} customers"
    )
)
def cli_cleaning_report(lifecycle: Lifecycle, command: Command, raw: int, duplicates: int, invalid: int,
                        rows: int) -> None:  # fmt: skip
    """The printed cleaning report, and a content hash equal to the same preparation's in this process."""
    from server.pipeline import data

    assert command.status == 0, command.errors
    out = command.printed
    assert (out["raw_rows"], out["duplicates_dropped"], out["invalid_dropped"], out["rows"]) == (
        raw, duplicates, invalid, rows,
    ), out  # fmt: skip
    assert out["fingerprint"] == data.fingerprint(data.prepare(lifecycle.rows, lifecycle.seed)[0]), out


@then(
    parsers.re(
        r"the command reports (?P<rows>\d+) customers written to the table " + TABLE + " and validated there"
    )
)
def cli_table_written(lifecycle: Lifecycle, catalog_admin, command: Command, rows: str, table: str) -> None:
    """The printed table and its validated row count; the printed content hash is the prepared data's."""
    from server.pipeline import data

    assert command.status == 0, command.errors
    out = command.printed
    assert (out["table"], out["rows"], out["table_rows"]) == (
        catalog_admin.real(table),
        int(rows),
        int(rows),
    ), out
    assert out["fingerprint"] == data.fingerprint(lifecycle.customers), out


@then(parsers.parse("the training run learned from all {rows:d} customers of the table"))
def trained_on_table(lifecycle: Lifecycle, command: Command, rows: int) -> None:
    """The run's train and test rows add up to the table's, and its data hash is the prepared customers'."""
    from server.pipeline import data

    assert command.status == 0, command.errors
    run = _last_run(lifecycle)
    assert run.data.metrics["train_rows"] + run.data.metrics["test_rows"] == rows, run.data.metrics
    assert run.data.params["data_fingerprint"] == data.fingerprint(lifecycle.customers), run.data.params


@then(parsers.parse('the command fails with "{message}"'))
def cli_fails(command: Command, message: str) -> None:
    """The command exits with status 1 and says why on its error output; it prints no result."""
    assert command.status == 1, f"exit status {command.status}: {command.printed or command.errors}"
    assert message in command.errors, command.errors
    assert command.printed is None


@then("the command leaves no training run behind")
def cli_no_run(lifecycle: Lifecycle) -> None:
    """The experiment holds no run: the command refused before training."""
    experiment = lifecycle.client.get_experiment_by_name(lifecycle.experiment)
    runs = lifecycle.client.search_runs([experiment.experiment_id]) if experiment else []
    assert not runs, [r.info.run_id for r in runs]


# Validation, rule by rule ----------------------------------------------------------------------------------
DAMAGES = (
    r'the column "[^"]+" is dropped|a column "[^"]+" is added|only \d+ customers are kept'
    r'|\d+ customers are duplicated|every customer has churned|\d+ contracts read "[^"]+"'
)


def _damaged(customers: pd.DataFrame, damage: str) -> pd.DataFrame:
    """A copy of the customers with that one damage done to it."""
    import re

    import pandas as pd

    from server.pipeline import columns

    if found := re.fullmatch(r'the column "(\w+)" is dropped', damage):
        return customers.drop(columns=[found[1]])
    if found := re.fullmatch(r'a column "(\w+)" is added', damage):
        return customers.assign(**{found[1]: "someone@example.com"})
    if found := re.fullmatch(r"only (\d+) customers are kept", damage):
        return customers.head(int(found[1]))
    if found := re.fullmatch(r"(\d+) customers are duplicated", damage):
        return pd.concat([customers, customers.head(int(found[1]))], ignore_index=True)
    if damage == "every customer has churned":
        return customers.assign(**{columns.LABEL: 1})
    found = re.fullmatch(r'(\d+) contracts read "([^"]+)"', damage)
    assert found, f"unknown damage: {damage}"
    damaged = customers.copy()
    damaged.loc[damaged.index[: int(found[1])], "contract"] = found[2]
    return damaged


@when(parsers.re(rf"the data is validated after (?P<damage>{DAMAGES})$"))
def validated_after(lifecycle: Lifecycle, preparation: Preparation, damage: str) -> None:
    """Does that one damage to a copy of the prepared data, then runs the pipeline's validation on it."""
    from server.pipeline import data

    try:
        data.validate(_damaged(lifecycle.customers, damage))
    except data.DataValidationError as error:
        preparation.error = error
        allure.attach(str(error), "validation error", allure.attachment_type.TEXT)


@given(
    parsers.re(
        r"the table "
        + TABLE
        + r" was made by hand from (?P<rows>\d+) prepared customers, with ages as text, "
        r"emails instead of the train/test split and (?P<empty>\d+) regions left empty"
    )
)
def hand_made_table(catalog_admin, make_table, table: str, rows: str, empty: str) -> None:
    """A table created with plain SQL (no change data feed), not by the pipeline, with those flaws."""
    from server.pipeline import columns, data

    customers = (
        data.prepare(int(rows) + 2 * columns.MIN_ROWS, 7)[0].head(int(rows)).drop(columns=[columns.SPLIT])
    )
    customers["email"] = [f"{c.lower()}@example.com" for c in customers["customer_id"]]
    customers["age"] = customers["age"].astype(str)
    customers["region"] = customers["region"].astype(object)
    customers.loc[customers.index[: int(empty)], "region"] = None
    types = {c: columns.SCHEMA[c][0] for c in customers.columns if c in columns.SCHEMA} | {"age": "STRING"}

    def literal(value: object, column: str) -> str:
        if value is None:
            return "NULL"
        return f"'{value}'" if types.get(column, "STRING") == "STRING" else str(value)

    catalog, schema, short = catalog_admin.real(table).split(".")
    name = ".".join(f"`{part}`" for part in (catalog, schema, short))
    columns = ", ".join(f"`{c}` {types.get(c, 'STRING')}" for c in customers.columns)
    make_table(catalog, schema, short, columns=columns)
    values = ",\n".join(
        "(" + ", ".join(literal(v, c) for v, c in zip(row, customers.columns, strict=True)) + ")"
        for row in customers.itertuples(index=False, name=None)
    )
    catalog_admin.sql(f"INSERT INTO {name} VALUES\n{values}")


@when(parsers.re(r"the table " + TABLE + " is validated"))
def table_validated(catalog_admin, preparation: Preparation, table: str) -> None:
    """The pipeline's table validation: schema and properties from Unity Catalog, counts from a warehouse."""
    from server.pipeline import data, tables

    try:
        tables.validate_table(catalog_admin.client, catalog_admin.warehouse_id, catalog_admin.real(table))
    except data.DataValidationError as error:
        preparation.error = error
        allure.attach(str(error), "validation error", allure.attachment_type.TEXT)
