"""Model Serving through the user's own workspace client (on-behalf-of): endpoints, schemas, inference.

- A request first asks the workspace, as the user, for the endpoint (``serving_endpoints.get``): a user
  the workspace refuses gets exactly the answer for an endpoint that does not exist (404
  ENDPOINT_NOT_FOUND), so the app tells nobody that an endpoint they may not see exists. Only then may
  cached data serve them: input schemas (``get_open_api``) are cached per endpoint and config version for a
  short TTL (``serving_metadata_ttl_seconds``), shared by the users the workspace confirmed.
- Scoring skips that lookup for a user the workspace confirmed within the same TTL (half the workspace
  calls of a scoring call): the query itself runs as the user, so the workspace still decides whether they
  may query, and any refusal on that path (input that does not fit the cached schema, a refused query) is
  answered only after a fresh confirmation, so a user who lost access learns nothing from the cache.
- A user who may see an endpoint but not query it gets 403 PERMISSION_DENIED when scoring.
- Inference is ``serving_endpoints.query`` with ``dataframe_records``. Each call has a deadline
  (``serving_timeout_seconds``): past it the user gets 503 MODEL_TIMEOUT with Retry-After.
- Input is checked against the served model's signature before it is sent: missing or unexpected columns
  are a 400 INVALID_INPUT naming them.
- Batches are cut into chunks of ``serving_batch_chunk_size`` records sent a few at a time; predictions come
  back in the order sent, and a failed chunk is reported on its own without failing the others.
- Every call to an endpoint (each chunk of a batch too) is written to the inference log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from cachetools import TTLCache
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, DatabricksError, NotFound, PermissionDenied

from server.config import Settings
from server.errors import AppError, from_workspace_error, payload_too_large, workspace_message
from server.models.serving import (
    BatchPrediction,
    ChunkResult,
    Endpoint,
    EndpointList,
    InputColumn,
    InputSchema,
    Prediction,
    ServedEntity,
)
from server.services.inference_log import InferenceCall, InferenceLog

log = logging.getLogger(__name__)
T = TypeVar("T")

UNKNOWN_SCHEMA_MESSAGE = (
    "The model served by this endpoint does not name its input columns (its signature has none), so they "
    "are not known. Send records with the columns the model was trained on, or log the model with a "
    "signature inferred from a table of its inputs (mlflow infer_signature) and serve that version to get "
    "a schema and an example here."
)
EXAMPLE_VALUES = {"number": 1.5, "integer": 1, "boolean": True, "string": "text"}


def _utc(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms else None


def endpoint_not_found(name: str) -> AppError:
    """Said alike of an endpoint that does not exist and of one the user may not see."""
    return AppError(
        404, "ENDPOINT_NOT_FOUND", f"There is no serving endpoint named '{name}' that you may use."
    )


def may_not_query(name: str) -> AppError:
    return AppError(403, "PERMISSION_DENIED", f"You may see the serving endpoint '{name}' but not query it.")


def mismatch(name: str, schema: InputSchema, records: list[dict[str, Any]]) -> AppError | None:
    """The 400 INVALID_INPUT naming missing and unexpected columns, or None if the records fit."""
    if schema.type != "dataframe":
        return None
    known = {c.name for c in schema.columns}
    required = {c.name for c in schema.columns if c.required}
    sent: set[str] = set()
    missing: set[str] = set()
    for record in records:
        keys = set(record)
        sent |= keys
        missing |= required - keys
    extra = sent - known
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"missing columns: {', '.join(sorted(missing))}")
    if extra:
        parts.append(f"unexpected columns: {', '.join(sorted(extra))}")
    details = [{"field": c, "issue": "missing column"} for c in sorted(missing)]
    details += [{"field": c, "issue": "unexpected column"} for c in sorted(extra)]
    return AppError(
        400,
        "INVALID_INPUT",
        f"The input does not match the signature of the model served by '{name}': {'; '.join(parts)}.",
        details=details,
    )


@dataclass
class _Outcome:
    predictions: list[Any] | None
    served_entity: str | None
    model_name: str | None
    model_version: str | None
    error: AppError | None
    latency_ms: float
    log_id: int | None = None


class ServingService:
    def __init__(self, settings: Settings, inference_log: InferenceLog) -> None:
        self._settings = settings
        self._log = inference_log
        # Shared by every user, and read only after the workspace confirmed in the same request that the user
        # may see (details) or has just queried (served entity of an answer) the endpoint.
        self._details: TTLCache[str, Endpoint] = TTLCache(
            maxsize=1024, ttl=settings.serving_metadata_ttl_seconds
        )
        self._schemas: TTLCache[tuple[str, int | None], InputSchema] = TTLCache(
            maxsize=1024, ttl=settings.serving_metadata_ttl_seconds
        )
        # (user, endpoint) pairs the workspace confirmed: their scoring calls may use the cached schema.
        self._confirmed: TTLCache[tuple[str, str], bool] = TTLCache(
            maxsize=8192, ttl=settings.serving_metadata_ttl_seconds
        )
        # Calls to endpoints run here, so a slow model never starves the app's own thread pool.
        self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="serving")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # endpoints ------------------------------------------------------------------------------------------
    @staticmethod
    def _workspace_call(name: str, fn: Callable[[], T]) -> T:
        """A call about one endpoint: missing and not visible are the same answer (token and scope refusals
        keep their own)."""
        try:
            return fn()
        except DatabricksError as error:
            refusal = from_workspace_error(error)
            if isinstance(error, NotFound) or refusal.code == "PERMISSION_DENIED":
                raise endpoint_not_found(name) from None
            raise refusal from error

    def list_endpoints(self, ws: WorkspaceClient) -> EndpointList:
        try:
            listed = list(ws.serving_endpoints.list())
        except DatabricksError as error:
            raise from_workspace_error(error) from error
        endpoints = []
        for item in listed:
            config = item.config
            entities = [
                ServedEntity(name=e.name or "", model_name=e.entity_name, model_version=e.entity_version)
                for e in (config.served_entities or [] if config else [])
            ]
            endpoints.append(
                Endpoint(
                    name=item.name or "",
                    ready=item.state.ready.value if item.state and item.state.ready else None,
                    config_update=item.state.config_update.value
                    if item.state and item.state.config_update
                    else None,
                    served_entities=entities,
                    creator=item.creator,
                    created_at=_utc(item.creation_timestamp),
                    updated_at=_utc(item.last_updated_timestamp),
                )
            )
        return EndpointList(endpoints=sorted(endpoints, key=lambda e: e.name))

    def get_endpoint(self, ws: WorkspaceClient, name: str, *, fresh: bool = True) -> Endpoint:
        """The endpoint as the workspace shows it to this user now (``fresh=False``: cached details, only for
        a user the workspace has just let query it)."""
        if not fresh and name in self._details:
            return self._details[name]
        detailed = self._workspace_call(name, lambda: ws.serving_endpoints.get(name))
        config = detailed.config
        routes = {}
        if config and config.traffic_config and config.traffic_config.routes:
            routes = {
                (r.served_entity_name or r.served_model_name): r.traffic_percentage
                for r in config.traffic_config.routes
            }
        entities = [
            ServedEntity(
                name=e.name or "",
                model_name=e.entity_name,
                model_version=e.entity_version,
                traffic_percentage=routes.get(e.name, 0),
                state=e.state.deployment.value if e.state and e.state.deployment else None,
            )
            for e in (config.served_entities or [] if config else [])
        ]
        endpoint = Endpoint(
            name=detailed.name or name,
            ready=detailed.state.ready.value if detailed.state and detailed.state.ready else None,
            config_update=(
                detailed.state.config_update.value
                if detailed.state and detailed.state.config_update
                else None
            ),
            served_entities=entities,
            creator=detailed.creator,
            created_at=_utc(detailed.creation_timestamp),
            updated_at=_utc(detailed.last_updated_timestamp),
            config_version=config.config_version if config else None,
        )
        self._details[name] = endpoint
        return endpoint

    def _entity(self, ws: WorkspaceClient, name: str, served: str) -> ServedEntity | None:
        """The served entity that answered, from cached details, refreshed once if it is not known yet (the
        endpoint was re-pointed); None if even fresh details do not name it (re-pointed again meanwhile)."""

        def named(endpoint: Endpoint) -> ServedEntity | None:
            return next((e for e in endpoint.served_entities if e.name == served), None)

        return named(self.get_endpoint(ws, name, fresh=False)) or named(self.get_endpoint(ws, name))

    # schema ---------------------------------------------------------------------------------------------
    def input_schema(self, ws: WorkspaceClient, name: str) -> InputSchema:
        key = (name, self.get_endpoint(ws, name).config_version)  # the workspace confirms the user first
        cached = self._schemas.get(key)
        if cached is not None:
            return cached
        response = self._workspace_call(name, lambda: ws.serving_endpoints.get_open_api(name))
        # raw=True: the SDK always sets ``contents`` to the streamed body
        document = json.loads(response.contents.read())
        schema = schema_from_openapi(name, document)
        self._schemas[key] = schema
        return schema

    def check_input(self, ws: WorkspaceClient, user: str, name: str, records: list[dict[str, Any]]) -> None:
        """Refuses records that do not fit the served model's signature. For a user the workspace confirmed
        lately, the cached schema may let the records through without asking the workspace; a refusal is
        always decided on a fresh confirmation and the schema of the config served now."""
        if (user, name) in self._confirmed and name in self._details:
            cached = self._schemas.get((name, self._details[name].config_version))
            if cached is not None and mismatch(name, cached, records) is None:
                return
        schema = self.input_schema(ws, name)  # the workspace confirms the user first
        self._confirmed[(user, name)] = True
        refusal = mismatch(name, schema, records)
        if refusal is not None:
            raise refusal

    # inference ------------------------------------------------------------------------------------------
    def _query(
        self, ws: WorkspaceClient, user: str, name: str, records: list[dict[str, Any]]
    ) -> tuple[list[Any], str | None]:
        try:
            response = ws.serving_endpoints.query(name, dataframe_records=records)
        except NotFound:
            self._confirmed.pop((user, name), None)
            raise endpoint_not_found(name) from None
        except BadRequest as error:
            message = workspace_message(error)
            message = message if len(message) <= 500 else message[:500] + " ..."
            raise AppError(400, "INVALID_INPUT", f"The model refused the input: {message}") from error
        except DatabricksError as error:
            refusal = from_workspace_error(error)
            if isinstance(error, PermissionDenied) and refusal.code == "PERMISSION_DENIED":
                # Whether the user may still see it decides between 403 and 404: asked fresh, not from cache.
                self._confirmed.pop((user, name), None)
                self.get_endpoint(ws, name)
                raise may_not_query(name) from error
            raise refusal from error
        return list(response.predictions or []), response.served_model_name

    async def _call(
        self,
        ws: WorkspaceClient,
        user: str,
        name: str,
        records: list[dict[str, Any]],
        request_id: str,
        batch_id: str | None = None,
        chunk_index: int | None = None,
    ) -> _Outcome:
        """One call to the endpoint, within the deadline, logged whatever its outcome."""
        started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
        predictions = served = None
        error: AppError | None = None
        try:
            predictions, served = await asyncio.wait_for(
                self._run(self._query, ws, user, name, records),
                timeout=self._settings.serving_timeout_seconds,
            )
            if len(predictions) != len(records):
                error = AppError(
                    502,
                    "UPSTREAM_ERROR",
                    f"The endpoint answered {len(predictions)} predictions for {len(records)} records.",
                )
        except TimeoutError:
            error = AppError(
                503,
                "MODEL_TIMEOUT",
                f"The model behind '{name}' did not answer within "
                f"{self._settings.serving_timeout_seconds:g} s; "
                "try again shortly.",
                retry_after=self._settings.serving_retry_after_seconds,
            )
        except AppError as refused:
            error = refused
        latency_ms = (time.perf_counter() - clock) * 1000
        entity = await self._run(self._entity, ws, name, served) if served and error is None else None
        outcome = _Outcome(
            predictions=predictions if error is None else None,
            served_entity=served,
            model_name=entity.model_name if entity else None,
            model_version=entity.model_version if entity else None,
            error=error,
            latency_ms=latency_ms,
        )
        outcome.log_id = await self._run(
            self._log.record,
            InferenceCall(
                user_name=user,
                endpoint=name,
                inputs=records,
                outputs=outcome.predictions,
                started_at=started,
                finished_at=dt.datetime.now(dt.UTC),
                latency_ms=latency_ms,
                status="success" if error is None else "error",
                served_entity=served,
                model_name=outcome.model_name,
                model_version=outcome.model_version,
                request_id=request_id,
                batch_id=batch_id,
                chunk_index=chunk_index,
                error_code=error.code if error else None,
                error_message=error.message if error else None,
            ),
        )
        return outcome

    async def _checked(
        self, ws: WorkspaceClient, user: str, name: str, records: list[dict[str, Any]], request_id: str
    ) -> None:
        """Refuse input that does not fit the signature; the refusal is logged like any other call."""
        try:
            await self._run(self.check_input, ws, user, name, records)
        except AppError as error:
            if error.code == "INVALID_INPUT":
                now = dt.datetime.now(dt.UTC)
                await self._run(
                    self._log.record,
                    InferenceCall(
                        user_name=user,
                        endpoint=name,
                        inputs=records,
                        started_at=now,
                        finished_at=now,
                        latency_ms=0.0,
                        status="error",
                        request_id=request_id,
                        error_code=error.code,
                        error_message=error.message,
                    ),
                )
            raise

    async def invoke(
        self, ws: WorkspaceClient, user: str, name: str, records: list[dict[str, Any]], request_id: str
    ) -> Prediction:
        if len(records) > self._settings.serving_max_records:
            raise payload_too_large(
                f"A real-time call takes at most {self._settings.serving_max_records} records "
                f"({len(records)} sent); use batch inference for more."
            )
        await self._checked(ws, user, name, records, request_id)
        outcome = await self._call(ws, user, name, records, request_id)
        if outcome.error is not None:
            raise outcome.error
        return Prediction(
            endpoint=name,
            served_entity=outcome.served_entity,
            model_name=outcome.model_name,
            model_version=outcome.model_version,
            predictions=outcome.predictions or [],
            latency_ms=round(outcome.latency_ms, 3),
            log_id=outcome.log_id,
        )

    async def batch(
        self, ws: WorkspaceClient, user: str, name: str, records: list[dict[str, Any]], request_id: str
    ) -> BatchPrediction:
        settings = self._settings
        if len(records) > settings.serving_batch_max_records:
            raise payload_too_large(
                f"A batch takes at most {settings.serving_batch_max_records} records ({len(records)} sent)."
            )
        await self._checked(ws, user, name, records, request_id)
        clock = time.perf_counter()
        batch_id = str(uuid.uuid4())
        size = settings.serving_batch_chunk_size
        chunks = [records[i : i + size] for i in range(0, len(records), size)]
        gate = asyncio.Semaphore(settings.serving_batch_parallelism)

        async def run(index: int, chunk: list[dict[str, Any]]) -> _Outcome:
            async with gate:
                return await self._call(ws, user, name, chunk, request_id, batch_id, index)

        outcomes = await asyncio.gather(*(run(i, c) for i, c in enumerate(chunks)))
        if all(o.error is not None for o in outcomes):
            raise outcomes[0].error  # nothing succeeded: the cause, as for a single call
        predictions: list[Any] = []
        results = []
        for index, (chunk, outcome) in enumerate(zip(chunks, outcomes, strict=True)):
            predictions += outcome.predictions if outcome.error is None else [None] * len(chunk)
            results.append(
                ChunkResult(
                    index=index,
                    first_record=index * size,
                    record_count=len(chunk),
                    status="success" if outcome.error is None else "error",
                    served_entity=outcome.served_entity,
                    model_version=outcome.model_version,
                    error_code=outcome.error.code if outcome.error else None,
                    message=outcome.error.message if outcome.error else None,
                )
            )
        failed = [r for r in results if r.status == "error"]
        return BatchPrediction(
            endpoint=name,
            batch_id=batch_id,
            record_count=len(records),
            succeeded_records=len(records) - sum(r.record_count for r in failed),
            failed_chunks=len(failed),
            predictions=predictions,
            chunks=results,
            latency_ms=round((time.perf_counter() - clock) * 1000, 3),
        )


def schema_from_openapi(name: str, document: dict[str, Any]) -> InputSchema:
    """The input columns of the endpoint's first served entity, from its OpenAPI document."""
    path, operations = next(iter((document.get("paths") or {}).items()), ("", {}))
    body = ((operations.get("post") or {}).get("requestBody") or {}).get("content") or {}
    schema = (body.get("application/json") or {}).get("schema") or {}
    served = path.split("/served-models/", 1)[-1].split("/", 1)[0] if "/served-models/" in path else None
    for option in schema.get("oneOf") or [schema]:
        records = (option.get("properties") or {}).get("dataframe_records") or {}
        items = records.get("items") or {}
        properties = items.get("properties")
        if not properties:
            continue
        required = set(items.get("required") or [])
        columns = [
            InputColumn(
                name=column,
                type=spec.get("type", "string"),
                format=spec.get("format"),
                required=column in required,
            )
            for column, spec in properties.items()
        ]
        example = {c.name: EXAMPLE_VALUES.get(c.type, "text") for c in columns}
        return InputSchema(
            endpoint=name,
            served_entity=served,
            type="dataframe",
            columns=columns,
            example_request={"records": [example]},
        )
    return InputSchema(endpoint=name, served_entity=served, type="unknown", message=UNKNOWN_SCHEMA_MESSAGE)
