"""Distribution drift by the Population Stability Index (PSI).

``PSI = sum_i (r_i - b_i) * ln(r_i / b_i)`` over bins ``i``, where ``b_i`` is the baseline's (training data's)
share of rows in bin ``i`` and ``r_i`` the recent window's share.

Bins
  - numeric features: the baseline's quantile (decile) edges ``e_0 < e_1 < ... < e_k``, recorded at training
    time. The outer bins are open-ended: a recent value below ``e_1`` counts in the first bin, a value at or
    above ``e_{k-1}`` in the last, so values outside the training range are never dropped (they are exactly
    what drift looks like). Bin ``i`` holds ``e_i <= x < e_{i+1}``; the same rule as PostgreSQL's
    ``width_bucket(x, ARRAY[e_1..e_{k-1}])``, which counts them (see ``server.services.monitoring``).
  - categorical features: one bin per category seen in training plus an ``other`` bin for categories the
    baseline never saw (its baseline share is 0, smoothed below).
  - prediction: the predicted probability over the baseline's fixed bins (0.0, 0.1, ... 1.0) like a numeric
    feature, and the predicted label like a categorical one.

Smoothing: a share of 0 makes ``ln`` infinite, so every share is floored at ``EPSILON`` (1e-4) before the
sum; an empty bin on one side then contributes a large but finite term.

Thresholds (the usual credit-risk convention): PSI < 0.1 no drift; 0.1 <= PSI <= 0.25 moderate drift;
PSI > 0.25 drifted. Only "drifted" sets ``drifted``; "moderate" is reported for people to watch.
A window with fewer than ``MIN_SAMPLES`` values is reported as ``insufficient_data`` and never drifted:
PSI's sampling noise grows as ``(bins - 1) / n``, and a handful of requests would flag anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

EPSILON = 1e-4
MODERATE_THRESHOLD = 0.1
DRIFT_THRESHOLD = 0.25
MIN_SAMPLES = 50
OTHER = "other"


def psi(baseline: Sequence[float], recent: Sequence[float], epsilon: float = EPSILON) -> float:
    """PSI of two aligned share vectors (each summing to 1), shares floored at ``epsilon``; ValueError if
    their lengths differ."""
    total = 0.0
    for b, r in zip(baseline, recent, strict=True):
        b, r = max(float(b), epsilon), max(float(r), epsilon)
        total += (r - b) * math.log(r / b)
    return total


def severity(value: float) -> str:
    if value > DRIFT_THRESHOLD:
        return "drifted"
    if value >= MODERATE_THRESHOLD:
        return "moderate"
    return "none"


def interior_edges(bin_edges: Sequence[float]) -> list[float]:
    """The thresholds between bins (the outer edges are open): what ``width_bucket`` takes."""
    return [float(e) for e in bin_edges[1:-1]]


@dataclass
class Bin:
    label: str
    baseline_share: float
    recent_share: float
    recent_count: int


@dataclass
class Drift:
    """One feature's (or the prediction's) comparison: the PSI, its verdict and the numbers behind it."""

    name: str
    kind: str  # numeric | categorical
    psi: float | None
    status: str  # none | moderate | drifted | insufficient_data
    drifted: bool
    recent_count: int
    bins: list[Bin] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verdict(name: str, kind: str, labels: list[str], baseline: list[float], counts: list[int]) -> Drift:
    n = sum(counts)
    recent = [c / n if n else 0.0 for c in counts]
    bins = [
        Bin(label, round(b, 6), round(r, 6), c)
        for label, b, r, c in zip(labels, baseline, recent, counts, strict=True)
    ]
    if n < MIN_SAMPLES:
        return Drift(name, kind, None, "insufficient_data", False, n, bins)
    value = round(psi(baseline, recent), 6)
    status = severity(value)
    return Drift(name, kind, value, status, status == "drifted", n, bins)


def _edge_label(value: float) -> str:
    return f"{value:g}"


def numeric_drift(name: str, profile: Mapping[str, Any], counts: Sequence[int]) -> Drift:
    """``profile``: ``{"bin_edges": [...], "frequencies": [...]}``; ``counts``: recent values per bin."""
    edges = [float(e) for e in profile["bin_edges"]]
    baseline = [float(f) for f in profile["frequencies"]]
    if len(counts) != len(baseline) or len(edges) != len(baseline) + 1:
        raise ValueError(f"{name}: {len(edges)} edges, {len(baseline)} baseline bins, {len(counts)} counts")
    labels = []
    for i in range(len(baseline)):
        low = "-inf" if i == 0 else _edge_label(edges[i])
        high = "+inf" if i == len(baseline) - 1 else _edge_label(edges[i + 1])
        labels.append(f"[{low}, {high})")
    return _verdict(name, "numeric", labels, baseline, [int(c) for c in counts])


def categorical_drift(name: str, profile: Mapping[str, Any], counts: Mapping[str, int]) -> Drift:
    """``profile``: ``{"frequencies": {category: share}}``; unseen recent categories go to ``other``."""
    shares = {str(k): float(v) for k, v in profile["frequencies"].items()}
    labels = sorted(shares)
    other = sum(int(c) for k, c in counts.items() if str(k) not in shares)
    binned = [int(counts.get(label, 0)) for label in labels] + [other]
    return _verdict(name, "categorical", [*labels, OTHER], [shares[k] for k in labels] + [0.0], binned)


@dataclass
class DriftReport:
    features: list[Drift]
    prediction: list[Drift]

    @property
    def drifted_features(self) -> list[str]:
        return [d.name for d in self.features if d.drifted]

    @property
    def drifted(self) -> bool:
        return any(d.drifted for d in [*self.features, *self.prediction])

    def as_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "thresholds": {"moderate": MODERATE_THRESHOLD, "drifted": DRIFT_THRESHOLD},
            "method": "psi",
            "epsilon": EPSILON,
            "min_samples": MIN_SAMPLES,
            "features": [d.as_dict() for d in self.features],
            "prediction": [d.as_dict() for d in self.prediction],
        }
