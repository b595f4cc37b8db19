"""The custom churn model (MLflow "models from code"): this file is logged with the model and run at load.

It wraps the fitted scikit-learn pipeline (an artifact) and answers, per customer, the predicted label,
the churn probability and the registry version that answered. The version is not known when the model is
logged (the registry assigns it afterwards): whoever loads a registered version passes it as
``model_config={"model_version": "<n>"}``; without it the model says ``"unregistered"``.

Only mlflow, pandas and joblib are imported: the file must load wherever the model is served.
"""

from __future__ import annotations

import joblib
import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel
from mlflow.pyfunc.model import PythonModelContext

THRESHOLD = 0.5


class ChurnModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.pipeline = joblib.load(context.artifacts["sklearn_pipeline"])
        config = context.model_config or {}
        self.model_version = str(config.get("model_version") or "unregistered")
        self.threshold = float(config.get("threshold", THRESHOLD))

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        probability = self.pipeline.predict_proba(model_input)[:, 1]
        return pd.DataFrame(
            {
                "label": (probability >= self.threshold).astype("int64"),
                "probability": probability.astype("float64"),
                "model_version": [self.model_version] * len(probability),
            }
        )


mlflow.models.set_model(ChurnModel())
