"""Monitoring as the API shows it: per-endpoint metrics over a window, and drift against the training data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

DEFAULT_WINDOW = dt.timedelta(hours=24)
MAX_WINDOW = dt.timedelta(days=31)


class Window(BaseModel):
    start: dt.datetime = Field(..., description="Start of the window (inclusive, UTC)")
    end: dt.datetime = Field(..., description="End of the window (exclusive, UTC)")


class CallMetrics(BaseModel):
    served_entity: str | None = Field(None, description="The served entity; absent on the endpoint's total")
    model_name: str | None = None
    model_version: str | None = None
    requests: int = Field(..., description="Calls to the endpoint (a batch counts one per chunk)")
    records: int = Field(..., description="Records scored (or refused) in those calls")
    errors: int
    error_rate: float = Field(..., description="errors / requests (0 when there were no requests)")
    latency_p50_ms: float | None = Field(None, description="Median latency (continuous percentile)")
    latency_p95_ms: float | None = None


class EndpointMetrics(BaseModel):
    endpoint: str
    window: Window
    total: CallMetrics
    versions: list[CallMetrics] = Field(..., description="Per served version, by requests descending")


class DriftBin(BaseModel):
    label: str
    baseline_share: float
    recent_share: float
    recent_count: int


class DriftResult(BaseModel):
    name: str
    kind: str = Field(..., description="numeric or categorical")
    psi: float | None = Field(None, description="Population Stability Index; None with too little data")
    status: str = Field(
        ..., description="none (<0.1), moderate (0.1-0.25), drifted (>0.25), insufficient_data"
    )
    drifted: bool
    recent_count: int
    bins: list[DriftBin]


class VersionDrift(BaseModel):
    model_name: str
    model_version: str
    calls: int = Field(..., description="Successful calls of this version in the window")
    baseline: str = Field(..., description='"training_profile" or "missing"')
    message: str | None = None
    drifted: bool = False
    drifted_features: list[str] = Field(default_factory=list)
    features: list[DriftResult] = Field(default_factory=list)
    prediction: list[DriftResult] = Field(default_factory=list)


class EndpointDrift(BaseModel):
    endpoint: str
    window: Window
    method: dict[str, Any] = Field(..., description="PSI, thresholds, epsilon and minimum sample size")
    versions: list[VersionDrift]
