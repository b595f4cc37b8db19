"""The ML side: preparing data, training, registering and promoting the churn model.

Whens run the pipeline (``server.pipeline``) exactly as its command line does; Thens read back from
MLflow (runs, params, metrics, artifacts, versions, aliases, tags). Every scenario gets its own
experiment and registered model (``<catalog>.<schema>.churn_<worker>_<id>``), so scenarios never share
versions or aliases, in any order or worker.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import allure
import pandas as pd
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.stack import ROOT, Stack, worker_id

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
    experiment: str
    model_name: str
    rows: int = 0
    seed: int = 0
    customers: pd.DataFrame | None = None
    runs: list = field(default_factory=list)  # TrainingResult, in training order
    versions: dict[str, str] = field(default_factory=dict)  # version -> run id
    last_version: str | None = None

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
            regularization=regularization, features=features or tuple(training.data.FEATURES)
        )
        result = training.train(self.settings, self.experiment, self.customers, params)
        self.runs.append(result)
        allure.attach(
            json.dumps(training.describe(result), indent=2), "training run", allure.attachment_type.JSON
        )
        return result

    def register_trained(self, features_phrase: str, code_dir: Path | None = None) -> str:
        """A version of the model trained on the given features (the cached reference model when it is)."""
        from fixtures import reference_model
        from server.pipeline import registry

        uses_reference = (
            FEATURE_SETS[features_phrase] is None
            and (self.rows, self.seed) == (reference_model.ROWS, reference_model.SEED)
            and code_dir is None
        )
        if uses_reference:
            run_id, version = reference_model.register_reference(self.stack, self.experiment, self.model_name)
        else:
            result = self.train(FEATURE_SETS[features_phrase])
            run_id = result.run_id
            version = registry.register(
                self.settings, self.model_name, result.model_uri, code_dir or registry.REPO
            )
        self.versions[version] = run_id
        self.last_version = version
        return version

    def promote(self, version: str):
        from server.pipeline import registry

        promotion = registry.promote(self.settings, self.model_name, version)
        allure.attach(
            json.dumps(registry.describe(promotion), indent=2), "promotion", allure.attachment_type.JSON
        )
        return promotion

    def version(self, number: str):
        return self.client.get_model_version(self.model_name, number)

    def remove(self) -> None:
        from mlflow.exceptions import MlflowException

        client = self.client
        for remove in (
            lambda: client.delete_registered_model(self.model_name),
            lambda: client.delete_experiment(client.get_experiment_by_name(self.experiment).experiment_id),
        ):
            with contextlib.suppress(MlflowException, AttributeError):  # never created, or already gone
                remove()


@pytest.fixture
def lifecycle(stack: Stack) -> Iterator[Lifecycle]:
    """This scenario's experiment and registered model; removed after it (live workspaces outlive runs)."""
    scenario = uuid.uuid4().hex[:8]
    worker = worker_id()
    state = Lifecycle(
        stack=stack,
        # Directly under /Shared: a workspace refuses experiments in folders that do not exist.
        experiment=f"/Shared/acceptance-churn-{worker}-{scenario}",
        model_name=f"{stack.model_schema}.churn_{worker}_{scenario}",
    )
    yield state
    if state.runs or state.versions:
        state.remove()


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
    assert lifecycle.promote(version).champion == version


# Whens -----------------------------------------------------------------------------------------------------
@when(parsers.parse("the churn model is trained with regularization {regularization:g}"))
def trained_with(lifecycle: Lifecycle, regularization: float) -> None:
    """One training run of the churn model with that regularization strength (LogisticRegression C)."""
    lifecycle.train(regularization=regularization)


@when(parsers.parse("the churn model is trained and registered {times:d} times"))
def trained_and_registered(lifecycle: Lifecycle, times: int) -> None:
    """Runs the pipeline's command line that many times: train (fresh data, same seed) and register."""
    from server.pipeline.__main__ import run
    from server.pipeline.training import TrainingResult

    for _ in range(times):
        args = ["train", "--experiment", lifecycle.experiment, "--rows", str(lifecycle.rows)]
        args += ["--seed", str(lifecycle.seed), "--register-as", lifecycle.model_name]
        out = run(args, lifecycle.settings)
        allure.attach(
            json.dumps(out, indent=2), "python -m server.pipeline " + " ".join(args), "application/json"
        )
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

    from server.pipeline import data, training

    assert lifecycle.client is not None  # also points MLflow at the stack's stores
    test = lifecycle.customers[lifecycle.customers[data.SPLIT] == "test"].head(count)
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

    from server.pipeline import data, training

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
    assert set(profile["features"]) == set(data.FEATURES), profile["features"].keys()
    for name, feature in profile["features"].items():
        shares = feature["frequencies"]
        total = sum(shares.values()) if isinstance(shares, dict) else sum(shares)
        assert abs(total - 1.0) < 1e-6, f"{name}: shares sum to {total}"
    assert abs(sum(profile["prediction"]["probability"]["frequencies"]) - 1.0) < 1e-6, profile["prediction"]


@then("the logged model has a signature, an input example and pinned requirements")
def logged_model(lifecycle: Lifecycle, tmp_path: Path) -> None:
    """The logged custom model: its signature, an input example and pinned pip requirements."""
    import mlflow

    from server.pipeline import data

    uri = lifecycle.runs[-1].model_uri
    info = mlflow.models.get_model_info(uri)
    inputs = {spec.name for spec in info.signature.inputs}
    outputs = {spec.name for spec in info.signature.outputs}
    assert inputs == set(data.FEATURES), inputs
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
    from server.pipeline import data, training

    inputs, answers = scored
    train_rows = lifecycle.customers[lifecycle.customers[data.SPLIT] == "train"]
    basic = training.build_pipeline(training.TrainingParams()).fit(
        training.model_inputs(train_rows), train_rows[data.LABEL]
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
    from server.pipeline import data

    customers = preparation.customers[0]
    test = customers[customers[data.SPLIT] == "test"]
    train = customers[customers[data.SPLIT] == "train"]
    assert abs(len(test) - len(customers) * percent / 100) <= 2, (len(test), len(customers))
    assert abs(test[data.LABEL].mean() - train[data.LABEL].mean()) < 0.01


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
