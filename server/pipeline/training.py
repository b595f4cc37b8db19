"""Training (US8.2): a basic scikit-learn pipeline, wrapped by the custom pyfunc model, tracked in MLflow.

One MLflow run per training: params, metrics (ROC AUC, accuracy on the held-out split), the custom model
(signature, input example, explicit pip requirements), the basic model, a confusion-matrix plot and the
training-data profile that drift monitoring uses as its baseline.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from server.config import Settings
from server.pipeline import columns, data, profile, tracking

CUSTOM_MODEL_CODE = Path(__file__).with_name("churn_model.py")
MODEL_NAME = "model"  # the custom (pyfunc) model, the one that is registered
BASIC_MODEL_NAME = "basic_model"
PROFILE_PATH = "monitoring/training_profile.json"
CONFUSION_MATRIX_PATH = "plots/confusion_matrix.png"
PRIMARY_METRIC = "roc_auc"


@dataclass(frozen=True)
class TrainingParams:
    regularization: float = 1.0  # LogisticRegression's C
    max_iter: int = 200
    features: tuple[str, ...] = tuple(columns.FEATURES)

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in columns.FEATURES]
        if unknown or not self.features:
            raise ValueError(
                f"unknown features {unknown}; choose from {', '.join(columns.FEATURES)}"
                if unknown
                else "train on at least one feature"
            )
        if self.regularization <= 0:
            raise ValueError(f"regularization must be positive, got {self.regularization}")


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    experiment_id: str
    model_uri: str
    metrics: dict[str, float]
    params: dict[str, str] = field(default_factory=dict)


def build_pipeline(params: TrainingParams):  # -> sklearn Pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in params.features if f in columns.NUMERIC_FEATURES]
    categorical = [f for f in params.features if f in columns.CATEGORICAL_FEATURES]
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline(
        [
            ("preprocess", preprocess),
            ("classifier", LogisticRegression(C=params.regularization, max_iter=params.max_iter)),
        ]
    )


def model_inputs(customers: pd.DataFrame) -> pd.DataFrame:
    """What the model is asked about a customer: every feature, typed as the signature says."""
    return (
        customers[columns.FEATURES]
        .astype({c: columns.SCHEMA[c][1] for c in columns.FEATURES})
        .reset_index(drop=True)
    )


def pip_requirements() -> list[str]:
    """Pinned to what trained the model; explicit, because inferring them costs seconds per model."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "pandas", "numpy", "joblib")]


def train(
    settings: Settings,
    experiment: str,
    customers: pd.DataFrame,
    params: TrainingParams | None = None,
    *,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> TrainingResult:
    """Fits on the ``train`` split, evaluates on ``test``, records everything in one MLflow run."""
    import joblib
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.models import infer_signature
    from sklearn.metrics import accuracy_score, roc_auc_score

    params = params or TrainingParams()
    data.validate(customers, what="training data")
    train_rows = customers[customers[columns.SPLIT] == "train"]
    test_rows = customers[customers[columns.SPLIT] == "test"]
    x_train, x_test = model_inputs(train_rows), model_inputs(test_rows)
    y_train, y_test = train_rows[columns.LABEL].to_numpy(), test_rows[columns.LABEL].to_numpy()

    pipeline = build_pipeline(params).fit(x_train, y_train)
    probability = pipeline.predict_proba(x_test)[:, 1]
    label = (probability >= 0.5).astype("int64")
    metrics = {
        PRIMARY_METRIC: float(roc_auc_score(y_test, probability)),
        "accuracy": float(accuracy_score(y_test, label)),
        "train_rows": float(len(x_train)),
        "test_rows": float(len(x_test)),
    }
    logged_params = {
        "model_type": "logistic_regression",
        "regularization": str(params.regularization),
        "max_iter": str(params.max_iter),
        "features": ",".join(params.features),
        "data_fingerprint": data.fingerprint(customers),
        "threshold": "0.5",
    }
    train_probability = pipeline.predict_proba(x_train)[:, 1]
    baseline = profile.build(
        x_train,
        columns.NUMERIC_FEATURES,
        columns.CATEGORICAL_FEATURES,
        train_probability,
        (train_probability >= 0.5).astype("int64"),
    )

    mlflow_client = tracking.client(settings)
    experiment_id = tracking.ensure_experiment(mlflow_client, experiment, settings.mlflow_artifact_location)
    example = x_test.head(5)
    output = pd.DataFrame(
        {
            "label": label[:5],
            "probability": probability[:5],
            "model_version": ["unregistered"] * len(example),
        }
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ii]nteger column.*")
        signature = infer_signature(example, output)
        basic_signature = infer_signature(example, label[:5])

    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        now = int(time.time() * 1000)
        mlflow_client.log_batch(  # params and metrics in one round trip to the tracking server
            run.info.run_id,
            metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
            params=[Param(key, value) for key, value in logged_params.items()],
        )
        mlflow.log_dict(baseline, PROFILE_PATH)
        mlflow.log_figure(_confusion_matrix_figure(y_test, label), CONFUSION_MATRIX_PATH)
        with tempfile.TemporaryDirectory() as scratch:
            pipeline_file = Path(scratch) / "sklearn_pipeline.joblib"
            joblib.dump(pipeline, pipeline_file)
            mlflow.sklearn.log_model(
                pipeline,
                name=BASIC_MODEL_NAME,
                signature=basic_signature,
                pip_requirements=pip_requirements(),
                # skops (the default) spends seconds scanning types; the basic model is ours, pickle is fine.
                serialization_format="cloudpickle",
            )
            info = mlflow.pyfunc.log_model(
                name=MODEL_NAME,
                python_model=str(CUSTOM_MODEL_CODE),
                artifacts={"sklearn_pipeline": str(pipeline_file)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
                model_config={"threshold": 0.5, "model_version": "unregistered"},
            )
    return TrainingResult(run.info.run_id, experiment_id, info.model_uri, metrics, logged_params)


def _confusion_matrix_figure(actual: np.ndarray, predicted: np.ndarray):
    import matplotlib

    matplotlib.use("Agg")  # no display: render to PNG only
    from matplotlib.figure import Figure
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(actual, predicted, labels=[0, 1])
    figure = Figure(figsize=(4, 4))
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set_xticks([0, 1], ["stays", "churns"])
    axes.set_yticks([0, 1], ["stays", "churns"])
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Churn confusion matrix (test split)")
    return figure


def describe(result: TrainingResult) -> dict:
    return asdict(result)
