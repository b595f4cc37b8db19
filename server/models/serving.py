"""Model Serving as the API shows it: endpoints, input schemas, predictions, batches, inference history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.validation import JsonObject

DEFAULT_HISTORY_PAGE = 50
MAX_HISTORY_PAGE = 1000
# A scoring or batch request body, at most (the OpenAPI states it as x-max-body-bytes).
MAX_BODY_BYTES = 32 * 1024 * 1024


class ServedEntity(BaseModel):
    name: str = Field(..., description="The served entity's name on the endpoint (names the answering model)")
    model_name: str | None = Field(None, description="The registered model served")
    model_version: str | None = Field(None, description="Its registry version")
    traffic_percentage: int = Field(0, description="Share of the endpoint's traffic it answers, in percent")
    state: str | None = Field(None, description="Deployment state, e.g. DEPLOYMENT_READY")


class Endpoint(BaseModel):
    name: str
    ready: str | None = Field(None, description="READY or NOT_READY")
    config_update: str | None = Field(None, description="NOT_UPDATING, IN_PROGRESS, UPDATE_FAILED...")
    served_entities: list[ServedEntity] = Field(default_factory=list)
    creator: str | None = None
    created_at: dt.datetime | None = Field(None, description="UTC")
    updated_at: dt.datetime | None = Field(None, description="UTC")
    config_version: int | None = None


class EndpointList(BaseModel):
    endpoints: list[Endpoint]


class InputColumn(BaseModel):
    name: str
    type: str = Field(..., description="JSON type: number, integer, string, boolean...")
    format: str | None = Field(None, description="e.g. double, int64")
    required: bool = True


class InputSchema(BaseModel):
    endpoint: str
    served_entity: str | None = Field(None, description="The served entity the schema was read from")
    type: str = Field(
        ..., description='"dataframe" (named columns) or "unknown" (its signature names no columns)'
    )
    columns: list[InputColumn] = Field(default_factory=list)
    example_request: dict[str, Any] | None = Field(
        None, description="A request body that this endpoint accepts"
    )
    message: str | None = None


class InvokeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"records": [{"tenure_months": 12, "monthly_charges": 70.5, "support_tickets": 1}]}]
        },
    )

    records: list[JsonObject] = Field(..., min_length=1, description="One object per record, by column")


class Prediction(BaseModel):
    endpoint: str
    served_entity: str | None = Field(None, description="The served entity that answered")
    model_name: str | None = None
    model_version: str | None = Field(None, description="The registry version that answered")
    predictions: list[Any] = Field(..., description="One prediction per record, in the order sent")
    latency_ms: float
    log_id: int | None = Field(None, description="The call in the inference history; None if not logged")


class ChunkResult(BaseModel):
    index: int
    first_record: int = Field(..., description="Position of the chunk's first record in the request")
    record_count: int
    status: str = Field(..., description='"success" or "error"')
    served_entity: str | None = None
    model_version: str | None = None
    error_code: str | None = None
    message: str | None = None


class BatchPrediction(BaseModel):
    endpoint: str
    batch_id: str
    record_count: int
    succeeded_records: int
    failed_chunks: int
    predictions: list[Any] = Field(
        ..., description="One per record, in the order sent; null where the record's chunk failed"
    )
    chunks: list[ChunkResult]
    latency_ms: float


class InferenceRecord(BaseModel):
    id: int
    endpoint: str
    served_entity: str | None
    model_name: str | None
    model_version: str | None
    request_id: str | None
    batch_id: str | None
    chunk_index: int | None
    record_count: int
    inputs: Any
    outputs: Any
    status: str
    error_code: str | None
    error_message: str | None
    latency_ms: float
    started_at: dt.datetime = Field(..., description="UTC")
    finished_at: dt.datetime = Field(..., description="UTC")


class InferenceHistory(BaseModel):
    items: list[InferenceRecord] = Field(..., description="Newest first (by id, stable)")
    total: int
    limit: int
    offset: int
