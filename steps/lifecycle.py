"""The ML side: preparing data, training, registering and promoting the churn model.

Whens run the pipeline through its driver (``fixtures/drivers/pipeline.py``: its command line, in this
process); Thens read back from MLflow (runs, params, metrics, artifacts, versions, aliases, tags) and from
Unity Catalog. Every scenario gets its own experiment and registered model.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import allure
import pytest
from pytest_bdd import given, parsers, step, then, when

from fixtures.drivers.command import Command
from fixtures.drivers.factories import Makers
from fixtures.drivers.model_registry import Attempt
from fixtures.drivers.pipeline import Lifecycle, Preparation, staged_files
from fixtures.stack.mock import ROOT
from fixtures.stack.plugin import Cast
from steps.common import PERSON, POSSESSIVE

if TYPE_CHECKING:  # pandas is imported in the steps that use it: 0.3 s that collecting the steps need not pay
    import pandas as pd

FEATURE_SETS = {"all features": None, "only on the customers' region": ("region",)}
METRIC_NAMES = {"ROC AUC": "roc_auc", "accuracy": "accuracy"}
FEATURES_PHRASE = "|".join(map(re.escape, FEATURE_SETS))
# The pipeline's tags say first_champion / promoted / kept_champion; features say it in words.
DECISIONS = {"first champion": "first_champion", "promoted": "promoted", "kept champion": "kept_champion"}
TABLE = r'"(?P<table>[^"]+)"'


# Givens ----------------------------------------------------------------------------------------------------
@given(parsers.parse("churn data prepared from {rows:d} synthetic customers with seed {seed:d}"))
def churn_data(lifecycle: Lifecycle, rows: int, seed: int) -> None:
    """Raw synthetic customers generated with the seed, cleaned, typed, split and validated (in memory)."""
    from server.pipeline import data

    lifecycle.rows, lifecycle.seed = rows, seed
    lifecycle.customers, report = data.prepare(rows, seed)
    allure.attach(repr(report), "cleaning report", allure.attachment_type.TEXT)


@step(
    parsers.re(
        rf"the churn model trained (?:on )?(?P<features>{FEATURES_PHRASE}) is "
        r"(?P<how>registered|registered and promoted|registered from a copy of the code outside git|the"
        r" champion)$"
    )
)
def registered(lifecycle: Lifecycle, tmp_path: Path, features: str, how: str) -> None:
    """A new version of the churn model trained on those features (all: the cached reference model) is
    registered; then promoted, if said ('the champion': and it must end up champion); or registered from
    a copy of the code in a folder that is not a git checkout."""
    code = Path(shutil.copytree(ROOT / "server", tmp_path / "server")) if "outside git" in how else None
    version = lifecycle.register_trained(FEATURE_SETS[features], code_dir=code)
    if how != "registered" and not code:
        promotion = lifecycle.promote(version)
        assert promotion.status == 0, promotion.errors
        assert how != "the champion" or promotion.printed["champion"] == version, promotion.printed


@given(parsers.re(r'the catalog "(?P<catalog>[^"]+)" with the schema "(?P<schema>[^"]+)" for model data'))
def model_data_schema(catalog_admin, make_catalog, make_schema, catalog: str, schema: str) -> None:
    """A catalog (removed after the scenario) and schema where the pipeline may create its tables."""
    made = make_catalog(catalog_admin.real(catalog), comment="Churn model data")
    make_schema(made.name, schema, comment="Customer churn")


@given(parsers.re(r'the volume "(?P<volume>[^"]+)" where prepared files are staged'))
def staging_volume(lifecycle: Lifecycle, catalog_admin, make_volume, volume: str) -> None:
    """A managed volume (made with the SDK, removed after the scenario) for the pipeline's Parquet files."""
    catalog, schema, name = catalog_admin.real(volume).split(".")
    lifecycle.staging_volume = make_volume(catalog, schema, name, comment="Staged churn data").full_name


@then(
    parsers.re(r'the volume "(?P<volume>[^"]+)" holds the (?P<count>\d+) prepared customers as Parquet files')
)
def volume_holds_parquet(catalog_admin, volume: str, count: str) -> None:
    """Listed and read back through the Files API: the staged Parquet files hold exactly those customers."""
    staged = staged_files(catalog_admin.client, catalog_admin.real(volume))
    allure.attach("\n".join(f"{path}: {rows} rows" for path, rows in staged.items()), "staged files",
                  allure.attachment_type.TEXT)  # fmt: skip
    assert staged and all(path.endswith(".parquet") for path in staged), staged
    assert sum(staged.values()) == int(count), staged


PREPARED_INTO_TABLE = (
    r"churn data from (?P<rows>\d+) synthetic customers with seed (?P<seed>\d+) is prepared into the table "
    + TABLE
)


@step(parsers.re(PREPARED_INTO_TABLE))
def prepared_into_table(lifecycle: Lifecycle, catalog_admin, rows: str, seed: str, table: str) -> None:
    """The pipeline's prepare step: generate, clean, split, validate, then write the table (SQL warehouse)."""
    command = lifecycle.prepare_table(
        int(rows), int(seed), catalog_admin.real(table), catalog_admin.warehouse_id
    )
    assert command.status == 0, command.errors


@given(
    parsers.re(
        rf"the table {TABLE} was made by hand from (?P<rows>\d+) prepared customers, with ages as text, "
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


@given(parsers.parse("a raw customer export of {rows:d} synthetic customers with seed {seed:d}"))
def raw_export(preparation: Preparation, rows: int, seed: int) -> None:
    """The raw CRM export: numbers as text, mixed spellings, duplicated rows and impossible ages."""
    from server.pipeline import data

    preparation.raw, preparation.seed = data.generate_raw(rows, seed), seed
    allure.attach(preparation.raw.head(20).to_csv(index=False), "raw export (first rows)", "text/csv", ".csv")


# Whens -----------------------------------------------------------------------------------------------------
@when(
    parsers.re(
        r"the churn model is trained(?: with regularization (?P<regularization>[\d.]+))?(?: and"
        r" registered (?P<times>\d+) times)?$"
    )
)
def trained(lifecycle: Lifecycle, regularization: str | None, times: str | None) -> None:
    """One training run of the churn model (with that regularization strength, LogisticRegression C); or
    that many runs of train (fresh data, same seed) and register."""
    if times is None:
        lifecycle.train(regularization=float(regularization) if regularization else None)
        return
    for _ in range(int(times)):
        lifecycle.cli(*lifecycle.train_args(), "--register-as", lifecycle.model_name)


@when(
    parsers.parse("version {version} of the churn model scores {count:d} test customers"),
    target_fixture="scored",
)
def scores(lifecycle: Lifecycle, version: str, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loads that registered version from the registry and scores that many customers of the test split."""
    inputs, answers = lifecycle.score_test_customers(version, count)
    allure.attach(answers.to_csv(index=False), "answers", allure.attachment_type.CSV)
    return inputs, answers


@when(
    parsers.re(
        r"the engineer prepares churn data from (?P<rows>\d+) synthetic customers with seed (?P<seed>\d+)"
        rf"(?: into the table {TABLE})? on the command line"
    ),
    target_fixture="command",
)
def cli_prepare(
    lifecycle: Lifecycle, request: pytest.FixtureRequest, rows: str, seed: str, table: str | None
) -> Command:
    """``prepare``: generate, clean, split and validate, printing the cleaning report and a content hash;
    with a table, the prepared customers (re)create it, and it is then validated."""
    if table is None:
        lifecycle.rows, lifecycle.seed = int(rows), int(seed)
        return lifecycle.run("prepare", "--rows", rows, "--seed", seed)
    admin = request.getfixturevalue("catalog_admin")
    return lifecycle.prepare_table(int(rows), int(seed), admin.real(table), admin.warehouse_id)


TRAINING_OPTIONS = r'the features "(?P<features>[^"]*)"|a regularization of (?P<regularization>[-\d.]+)'


@when(
    parsers.re(
        r"the engineer trains(?P<promote>, registers and promotes)? the churn model(?: from the table"
        rf" {TABLE})? "
        rf"on the command line(?: with (?:{TRAINING_OPTIONS})|(?P<without> without naming a SQL warehouse))?$"
    ),
    target_fixture="command",
)
def cli_train(lifecycle: Lifecycle, request, promote, table, features, regularization, without) -> Command:
    """``train`` on synthetic data (or ``--table``: the rows of that table, read through the SQL warehouse,
    unless none is named), with options in words (`the features "a, b"`, `a regularization of 0.5`);
    'trains, registers and promotes': ``--register-as <model> --promote``, one command from data to a
    promoted version."""
    if table:
        admin = request.getfixturevalue("catalog_admin")
        args = ["train", "--experiment", lifecycle.experiment, "--table", admin.real(table)]
        args += [] if without else ["--warehouse-id", admin.warehouse_id]
    elif promote:
        args = [*lifecycle.train_args(), "--register-as", lifecycle.model_name, "--promote"]
    else:
        args = lifecycle.train_args(400)
    args += ["--features", features] if features is not None else []
    args += ["--regularization", regularization] if regularization is not None else []
    return lifecycle.run(*args)


@when(
    parsers.re(r'version (?P<version>\d+) is promoted(?: again)?(?: on the metric "(?P<metric>[^"]+)")?$'),
    target_fixture="command",
)
def cli_promote(lifecycle: Lifecycle, version: str, metric: str | None) -> Command:
    """``promote``: runs promotion of that version (on ROC AUC unless a metric is named)."""
    return lifecycle.promote(version, metric)


@when(parsers.parse("churn data is prepared twice from {rows:d} synthetic customers with seed {seed:d}"))
def prepared_twice(preparation: Preparation, rows: int, seed: int) -> None:
    """Runs the whole preparation (generate, clean, split, validate) twice with the same seed."""
    from server.pipeline import data

    preparation.customers = [data.prepare(rows, seed)[0] for _ in range(2)]


@when(
    parsers.parse("the export is cleaned and split with {percent:d}% of the customers held out for testing")
)
def cleaned_and_split(preparation: Preparation, percent: int) -> None:
    """Cleans and types the export, then splits it (stratified by churn) with that test share."""
    from server.pipeline import data

    cleaned, preparation.report = data.clean(preparation.raw)
    preparation.customers = [data.split(cleaned, percent / 100, preparation.seed)]
    allure.attach(repr(preparation.report), "cleaning report", allure.attachment_type.TEXT)


DAMAGES = (
    r'the column "[^"]+" is dropped|a column "[^"]+" is added|only \d+ customers are kept'
    r'|\d+ customers are duplicated|every customer has churned|\d+ contracts read "[^"]+"'
    r"|\d+ customers lose their age and \d+ get monthly charges of -?[\d.]+"
)


def damaged(customers: pd.DataFrame, damage: str) -> pd.DataFrame:
    """A copy of the customers with that damage done to it."""
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
    copy = customers.copy()
    if found := re.fullmatch(
        r"(\d+) customers lose their age and (\d+) get monthly charges of (-?[\d.]+)", damage
    ):
        no_age, negative = int(found[1]), int(found[2])
        copy["age"] = copy["age"].astype("float64")
        copy.loc[copy.index[:no_age], "age"] = None
        copy.loc[copy.index[no_age : no_age + negative], "monthly_charges"] = float(found[3])
        return copy
    found = re.fullmatch(r'(\d+) contracts read "([^"]+)"', damage)
    assert found, f"unknown damage: {damage}"
    copy.loc[copy.index[: int(found[1])], "contract"] = found[2]
    return copy


@when(parsers.re(rf"the (?:data is validated after (?P<damage>{DAMAGES})|table {TABLE} is validated)$"))
def validated(
    lifecycle: Lifecycle, preparation: Preparation, request, damage: str | None, table: str | None
) -> None:
    """Does that damage to a copy of the prepared data, then runs the pipeline's validation on it; or the
    pipeline's table validation: schema and properties from Unity Catalog, counts from a warehouse."""
    if damage:
        preparation.validate(damaged(lifecycle.customers, damage))
    else:
        preparation.validate_table(request.getfixturevalue("catalog_admin"), table)


# Thens: runs -------------------------------------------------------------------------------------------
@then(
    parsers.re(
        r"the training run records (?:the regularization (?P<regularization>[\d.]+) and all"
        r" (?P<count>\d+) features"
        r"|an? (?P<first>ROC AUC|accuracy) above (?P<low1>[\d.]+) and an? (?P<second>ROC AUC|accuracy)"
        r" above (?P<low2>[\d.]+))"
    )
)
def run_records(lifecycle: Lifecycle, regularization, count, first, low1, second, low2) -> None:
    """The last training run's params (the regularization, the list of features it used), or its metrics
    (ROC AUC, accuracy on the test split) above the given floors."""
    run = lifecycle.last_run()
    if regularization:
        params = run.data.params
        assert float(params["regularization"]) == float(regularization), params
        features = params["features"].split(",")
        assert len(features) == int(count) and len(set(features)) == int(count), params
        return
    for name, low in ((first, low1), (second, low2)):
        value = run.data.metrics[METRIC_NAMES[name]]
        assert float(low) < value <= 1.0, f"{name} = {value}, expected above {low}"


@then(
    parsers.re(
        r"the training run holds (?:a confusion matrix plot and the training data profile of every feature"
        r"|(?P<model>a logged model) with a signature, an input example and pinned requirements)"
    )
)
def run_artifacts(lifecycle: Lifecycle, tmp_path: Path, model: str | None) -> None:
    """The last run holds a PNG confusion matrix and a training-data profile of every feature; or its
    logged custom model has a signature, an input example and pinned pip requirements."""
    from server.pipeline import columns, training

    if model:
        logged_model(lifecycle, tmp_path)
        return
    run_id = lifecycle.runs[-1].run_id
    paths = lifecycle.artifact_paths(run_id, "plots", "monitoring")
    assert {training.CONFUSION_MATRIX_PATH, training.PROFILE_PATH} <= paths, paths
    png = lifecycle.download(tmp_path, run_id=run_id, path=training.CONFUSION_MATRIX_PATH).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "the confusion matrix is not a PNG"
    allure.attach(png, "confusion matrix", allure.attachment_type.PNG)
    profile = lifecycle.load_dict(run_id, training.PROFILE_PATH)
    assert set(profile["features"]) == set(columns.FEATURES), profile["features"].keys()
    for name, feature in profile["features"].items():
        shares = feature["frequencies"]
        total = sum(shares.values()) if isinstance(shares, dict) else sum(shares)
        assert abs(total - 1.0) < 1e-6, f"{name}: shares sum to {total}"
    assert abs(sum(profile["prediction"]["probability"]["frequencies"]) - 1.0) < 1e-6, profile["prediction"]


def logged_model(lifecycle: Lifecycle, tmp_path: Path) -> None:
    """The logged custom model: its signature, an input example and pinned pip requirements."""
    from server.pipeline import columns

    uri = lifecycle.runs[-1].model_uri
    info = lifecycle.model_info(uri)
    assert {spec.name for spec in info.signature.inputs} == set(columns.FEATURES), info.signature
    assert {spec.name for spec in info.signature.outputs} == {"label", "probability", "model_version"}, (
        info.signature
    )
    assert info.saved_input_example_info is not None, "no input example"
    requirements = (lifecycle.download(tmp_path, uri=uri) / "requirements.txt").read_text().split()
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


@then(parsers.parse("the training run learned from all {rows:d} customers of the table"))
def trained_on_table(lifecycle: Lifecycle, command: Command, rows: int) -> None:
    """The run's train and test rows add up to the table's, and its data hash is the prepared customers'."""
    from server.pipeline import data

    assert command.status == 0, command.errors
    run = lifecycle.last_run()
    assert run.data.metrics["train_rows"] + run.data.metrics["test_rows"] == rows, run.data.metrics
    assert run.data.params["data_fingerprint"] == data.fingerprint(lifecycle.customers), run.data.params


# Thens: registry -------------------------------------------------------------------------------------------
@then(
    parsers.parse(
        "the registry lists versions {first:d} and {second:d} of the churn model, "
        "each pointing at the training run that produced it"
    )
)
def lists_versions(lifecycle: Lifecycle, first: int, second: int) -> None:
    """The registry lists exactly those two versions of this scenario's churn model; every version's run is
    the training run that produced it, and no two versions share a run."""
    found = lifecycle.client.search_model_versions(f"name = '{lifecycle.model_name}'")
    assert sorted(int(v.version) for v in found) == [first, second], [v.version for v in found]
    assert sorted(lifecycle.versions, key=int) == [str(first), str(second)]
    for number, run_id in lifecycle.versions.items():
        assert lifecycle.version(number).run_id == run_id, number
    assert len(set(lifecycle.versions.values())) == len(lifecycle.versions), "two versions share a run"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


@then(
    parsers.re(
        r'(?:each version|version (?P<version>\d+)) is tagged with (?:git commit "(?P<sha>[^"]+)" and'
        r" git branch "
        r'"(?P<branch>[^"]+)"|the git commit and branch of this code)'
    )
)
def tagged_with_git(lifecycle: Lifecycle, version: str | None, sha: str | None, branch: str | None) -> None:
    """The version's (or every version's) git_sha and git_branch tags: those values, or this checkout's HEAD
    commit and branch ('detached' without one)."""
    if sha is None:
        head = _git("rev-parse", "--abbrev-ref", "HEAD")
        sha, branch = _git("rev-parse", "HEAD"), head if head != "HEAD" else "detached"
    for number in [version] if version else list(lifecycle.versions):
        tags = lifecycle.version(number).tags
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
def records_decision(lifecycle: Lifecycle, version: str, decision: str, metric: str, beats, other) -> None:
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


# Thens: the command line -------------------------------------------------------------------------------
@then(
    parsers.re(
        r"the command reports (?:(?P<raw>\d+) raw rows, (?P<duplicates>\d+) duplicates and (?P<invalid>\d+) "
        r"impossible rows dropped, leaving (?P<rows>\d+) customers"
        rf"|(?P<written>\d+) customers written to the table {TABLE} and validated there)"
    )
)
def cli_reports(
    lifecycle: Lifecycle, command: Command, request, raw, duplicates, invalid, rows, written, table
):
    """The printed cleaning report, or the table written and its validated row count; the printed content
    hash is the same preparation's in this process."""
    from server.pipeline import data

    assert command.status == 0, command.errors
    out = command.printed
    if written:
        admin = request.getfixturevalue("catalog_admin")
        assert (out["table"], out["rows"], out["table_rows"]) == (
            admin.real(table),
            int(written),
            int(written),
        ), out
        assert out["fingerprint"] == data.fingerprint(lifecycle.customers), out
        return
    counts = (out["raw_rows"], out["duplicates_dropped"], out["invalid_dropped"], out["rows"])
    assert counts == (int(raw), int(duplicates), int(invalid), int(rows)), out
    assert out["fingerprint"] == data.fingerprint(data.prepare(lifecycle.rows, lifecycle.seed)[0]), out


@then("the command leaves no training run behind")
def cli_no_run(lifecycle: Lifecycle) -> None:
    """The experiment holds no run: the command refused before training."""
    runs = lifecycle.experiment_runs()
    assert not runs, [r.info.run_id for r in runs]


# Thens: data preparation -------------------------------------------------------------------------------
@then(parsers.re(r"both (?P<what>preparations|runs) hold exactly the same customers"))
def same_customers(request: pytest.FixtureRequest, what: str) -> None:
    """The two preparations are equal cell for cell (and so have the same content hash); or both runs of
    synthetic traffic generated, record for record."""
    import pandas as pd

    from server.pipeline import data

    if what == "runs":
        first, second = request.getfixturevalue("generated")["runs"]
        assert first == second and len(first) > 0
        return
    first, second = request.getfixturevalue("preparation").customers
    pd.testing.assert_frame_equal(first, second)
    assert data.fingerprint(first) == data.fingerprint(second)


@then(parsers.parse("churn data prepared with seed {seed:d} holds different customers"))
def different_seed(preparation: Preparation, seed: int) -> None:
    """Another seed gives other customers: the seed, not a constant, decides the data."""
    from server.pipeline import data

    first = preparation.customers[0]
    other, _ = data.prepare(len(first) + 20, seed)
    assert data.fingerprint(other) != data.fingerprint(first)


@then(
    parsers.parse(
        "{duplicates:d} duplicated rows and {invalid:d} customers with impossible ages are dropped,"
        " leaving {rows:d} customers"
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


@then(parsers.re(r'validation (?:fails naming|names) "(?P<problem>[^"]+)"'))
def validation_names(preparation: Preparation, problem: str) -> None:
    """Validation refused the data, and its message names this problem exactly."""
    assert preparation.error is not None, "validation accepted the damaged data"
    assert problem in preparation.error.problems, preparation.error.problems
    assert problem in str(preparation.error)


# Thens: tables in Unity Catalog -------------------------------------------------------------------------
TABLE_FACTS = (
    "holds exactly the prepared customers|has change data feed enabled"
    "|passes validation of its schema, row count and nulls|takes more than one result chunk to read"
    "|comes back through more than one external link"
)


@then(parsers.re(rf"the table {TABLE} (?P<fact>{TABLE_FACTS})"))
def table_fact(lifecycle: Lifecycle, catalog_admin, table: str, fact: str) -> None:
    """Read back through the warehouse: the same rows, values and types as prepared; Unity Catalog shows
    delta.enableChangeDataFeed = true; the pipeline's table validation passes with every row; the
    warehouse answers SELECT * in several result chunks (what makes the table large); or the pipeline's
    read (EXTERNAL_LINKS + ARROW_STREAM) takes several Arrow chunks, each from its own link."""
    import pandas as pd

    from server.pipeline import columns, tables

    client, warehouse, name = catalog_admin.client, catalog_admin.warehouse_id, catalog_admin.real(table)
    if fact.startswith("holds"):
        back = tables.read_customers(client, warehouse, name)
        expected = lifecycle.customers.sort_values("customer_id").reset_index(drop=True)
        strings = {c: object for c, (sql_type, _) in columns.SCHEMA.items() if sql_type == "STRING"}
        pd.testing.assert_frame_equal(back.astype(strings), expected.astype(strings))
    elif fact.startswith("has change"):
        properties = client.tables.get(name).properties or {}
        assert properties.get(tables.CHANGE_DATA_FEED) == "true", properties
    elif fact.startswith("passes"):
        assert tables.validate_table(client, warehouse, name) == len(lifecycle.customers)
    elif fact.startswith("comes back"):
        rows, links = tables.read_arrow(client, warehouse, name)
        assert links > 1, f"{rows.num_rows} rows came through {links} link"
    else:
        manifest = tables.execute(client, warehouse, f"SELECT * FROM {tables.quote_name(name)}").manifest
        assert manifest is not None and (manifest.total_chunk_count or 0) > 1, manifest


# The Unity Catalog registry's rules (US8.7) -----------------------------------------------------------------
@when("the churn model saved without a signature is registered", target_fixture="attempt")
def register_unsigned(lifecycle: Lifecycle) -> Attempt:
    """Logs the reference churn model with its signature taken out, then tries to register it."""
    from fixtures.drivers import model_registry, reference_model

    run_id = reference_model.log_reference(lifecycle.stack, lifecycle.experiment, signature=False)
    return model_registry.register(lifecycle.stack, f"runs:/{run_id}/model", lifecycle.model_name)


@when(
    parsers.re(
        r"the churn model trained on all features is registered "
        r'(?:under the name "(?P<name>[^"]+)"|in a schema that does not exist)$'
    ),
    target_fixture="attempt",
)
def register_misnamed(lifecycle: Lifecycle, name: str | None) -> Attempt:
    """Tries to register the reference churn model under that name (or in a schema nobody created)."""
    from fixtures.drivers import model_registry, reference_model

    catalog, _, model = lifecycle.model_name.split(".")
    run_id = reference_model.log_reference(lifecycle.stack, lifecycle.experiment)
    target = name or f"{catalog}.{model}_missing_schema.{model}"
    return model_registry.register(lifecycle.stack, f"runs:/{run_id}/model", target)


@when(parsers.parse('version {version} is moved to the stage "{stage}"'), target_fixture="attempt")
def move_to_stage(lifecycle: Lifecycle, version: str, stage: str) -> Attempt:
    """Tries the deprecated stage transition (None/Staging/Production/Archived) on that version."""
    from fixtures.drivers import model_registry

    return model_registry.move_to_stage(lifecycle.stack, lifecycle.model_name, version, stage)


@given(parsers.re(rf"{PERSON} may use the schema of the churn model$"))
def may_use_model_schema(people: Cast, lifecycle: Lifecycle, makers: Makers, who: str) -> None:
    """Grants USE CATALOG and USE SCHEMA on the catalog and schema the churn model is in (nothing on it)."""
    from databricks.sdk.service.catalog import Privilege

    catalog, schema, _ = lifecycle.model_name.split(".")
    makers.grant("catalog", catalog, people[who].user_name, [Privilege.USE_CATALOG])
    makers.grant("schema", f"{catalog}.{schema}", people[who].user_name, [Privilege.USE_SCHEMA])


@given(parsers.re(rf"{PERSON} may execute the churn model$"))
def may_execute_model(people: Cast, lifecycle: Lifecycle, makers: Makers, who: str) -> None:
    """Grants EXECUTE on the churn model (a FUNCTION securable in Unity Catalog's grants)."""
    from databricks.sdk.service.catalog import Privilege

    makers.grant("function", lifecycle.model_name, people[who].user_name, [Privilege.EXECUTE])


@when(parsers.re(rf"{PERSON} loads the champion of the churn model$"), target_fixture="attempt")
def loads_champion(people: Cast, lifecycle: Lifecycle, who: str) -> Attempt:
    """Downloads and loads ``models:/<churn model>@champion`` with MLflow, as the person."""
    from fixtures.drivers import model_registry

    uri = f"models:/{lifecycle.model_name}@champion"
    return model_registry.load_as(lifecycle.stack, people[who], uri)


@when(parsers.re(rf"{PERSON} registers a model of {POSSESSIVE} own next to the churn model$"),
      target_fixture="attempt")  # fmt: skip
def registers_own_model(people: Cast, lifecycle: Lifecycle, makers: Makers, who: str) -> Attempt:
    """Creates a registered model in the churn model's schema with MLflow, as the person."""
    from fixtures.drivers import model_registry

    schema = lifecycle.model_name.rsplit(".", 1)[0]
    return model_registry.create_model_as(lifecycle.stack, people[who], schema, makers)


@then(parsers.parse('it is refused, saying "{words}"'))
def refused_saying(attempt: Attempt, words: str) -> None:
    """The attempt failed and its message says those words."""
    assert words in attempt.refusal, attempt.refusal


@then("the registry holds no version of the churn model")
def no_versions(lifecycle: Lifecycle) -> None:
    """Searching the registry finds no version of this scenario's churn model."""
    from fixtures.drivers import model_registry

    assert model_registry.versions(lifecycle.stack, lifecycle.model_name) == []


@then(parsers.re(rf"{PERSON} gets? version (?P<version>\d+) of the churn model$"))
def loaded_version(attempt: Attempt, who: str, version: str) -> None:
    """The person loaded that registry version of this scenario's churn model."""
    assert attempt.error is None, attempt.error
    assert attempt.value == version, attempt.value
