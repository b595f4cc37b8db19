"""The training-data profile: the baseline that drift monitoring compares recent traffic with.

Numeric features: decile bin edges of the training data and the share of rows in each bin (plus summary
statistics); categorical features: the share of each category; predictions: the distribution of the
churn probability over fixed bins and of the predicted label. Shares sum to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FORMAT = "churn-training-profile/1"
PROBABILITY_EDGES = [round(x, 1) for x in np.linspace(0.0, 1.0, 11)]


def numeric_profile(values: pd.Series, bins: int = 10) -> dict[str, Any]:
    data = values.dropna().astype("float64").to_numpy()
    edges = np.unique(np.quantile(data, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([data.min(), data.min() + 1.0])
    counts = np.histogram(np.clip(data, edges[0], edges[-1]), bins=edges)[0]
    return {
        "type": "numeric",
        "bin_edges": [float(e) for e in edges],
        "frequencies": [float(c) / len(data) for c in counts],
        "mean": float(data.mean()),
        "std": float(data.std()),
        "min": float(data.min()),
        "max": float(data.max()),
        "null_fraction": float(values.isna().mean()),
    }


def categorical_profile(values: pd.Series) -> dict[str, Any]:
    shares = values.astype("object").value_counts(normalize=True, dropna=True).sort_index()
    return {
        "type": "categorical",
        "frequencies": {str(k): float(v) for k, v in shares.items()},
        "null_fraction": float(values.isna().mean()),
    }


def build(
    features: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    probability: np.ndarray,
    label: np.ndarray,
) -> dict[str, Any]:
    counts = np.histogram(probability, bins=PROBABILITY_EDGES)[0]
    labels = pd.Series(label).value_counts(normalize=True).sort_index()
    return {
        "format": FORMAT,
        "rows": len(features),
        "features": {
            **{column: numeric_profile(features[column]) for column in numeric},
            **{column: categorical_profile(features[column]) for column in categorical},
        },
        "prediction": {
            "probability": {
                "type": "numeric",
                "bin_edges": PROBABILITY_EDGES,
                "frequencies": [float(c) / len(probability) for c in counts],
                "mean": float(np.mean(probability)),
            },
            "label": {"type": "categorical", "frequencies": {str(k): float(v) for k, v in labels.items()}},
        },
    }
