"""Statements on the SQL warehouse within the app's patience, and their rows however large.

A warehouse may be stopped (the statement starts it), starting, or busy; the Statement Execution API then
answers PENDING or RUNNING and the app polls, pausing between polls, until its patience runs out: then it
cancels the statement (nobody will read it) and answers 503 WAREHOUSE_BUSY with Retry-After.
``wait_timeout`` must be 0 s or 5-50 s, so a patience under 5 s submits asynchronously and polls.

Results come INLINE (JSON_ARRAY, in chunks) up to the API's 25 MiB limit; a result beyond it fails with the
warehouse's "Inline byte limit exceeded" and is asked again with EXTERNAL_LINKS (still JSON_ARRAY, so every
value reads exactly as inline), whose chunks are downloaded from short-lived presigned links: without the
workspace's Authorization header (the links carry their own credential), with the headers a link names,
and a link that expired is asked for again once. Links are never logged or shown to users.
"""

from __future__ import annotations

import contextlib
import time

import httpx
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import (
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    ExternalLink,
    Format,
    StatementParameterListItem,
    StatementResponse,
    StatementState,
)

from server.errors import AppError

RUNNING = (StatementState.PENDING, StatementState.RUNNING)
INLINE_LIMIT_EXCEEDED = "Inline byte limit exceeded"
FIRST_PAUSE_SECONDS = 0.02
LONGEST_PAUSE_SECONDS = 1.0
Row = list[str | None]


class SqlWarehouse:
    def __init__(
        self,
        warehouse_id: str | None,
        patience_seconds: float,
        retry_after_seconds: int,
        downloads: httpx.Client,
    ) -> None:
        self.warehouse_id = warehouse_id
        self._patience = patience_seconds
        self._retry_after = retry_after_seconds
        self._downloads = downloads

    def busy(self) -> AppError:
        return AppError(
            503, "WAREHOUSE_BUSY", "The SQL warehouse did not answer in time; try again.",
            retry_after=self._retry_after,
        )  # fmt: skip

    def _wait_timeout(self) -> str:
        seconds = int(min(self._patience, 10))
        return f"{seconds}s" if seconds >= 5 else "0s"  # the API takes 0 or 5-50 s

    def execute(
        self, w: WorkspaceClient, sql: str, parameters: list[StatementParameterListItem]
    ) -> StatementResponse:
        """The statement's final response (SUCCEEDED or FAILED), within the patience; else WAREHOUSE_BUSY."""
        deadline = time.monotonic() + self._patience
        response = self._finish(w, self._submit(w, sql, parameters, Disposition.INLINE), deadline)
        error = response.status.error if response.status else None
        if error is not None and INLINE_LIMIT_EXCEEDED in (error.message or ""):
            submitted = self._submit(w, sql, parameters, Disposition.EXTERNAL_LINKS)
            response = self._finish(w, submitted, deadline)
        return response

    def _submit(
        self,
        w: WorkspaceClient,
        sql: str,
        parameters: list[StatementParameterListItem],
        disposition: Disposition,
    ) -> StatementResponse:
        return w.statement_execution.execute_statement(
            statement=sql,
            warehouse_id=self.warehouse_id or "",
            parameters=parameters or None,
            disposition=disposition,
            format=Format.JSON_ARRAY,
            wait_timeout=self._wait_timeout(),
            on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
        )

    def _finish(self, w: WorkspaceClient, response: StatementResponse, deadline: float) -> StatementResponse:
        """Polls until the statement ends, pausing longer each time; cancels it when the patience is over."""
        pause = FIRST_PAUSE_SECONDS
        while response.status is not None and response.status.state in RUNNING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._cancel(w, response.statement_id or "")
                raise self.busy()
            time.sleep(min(pause, remaining))  # the poll's pause, bounded by the deadline
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
            response = w.statement_execution.get_statement(response.statement_id or "")
        if response.status is not None and response.status.state == StatementState.CANCELED:
            raise self.busy()
        return response

    @staticmethod
    def _cancel(w: WorkspaceClient, statement_id: str) -> None:
        with contextlib.suppress(Exception):  # best effort: the user's answer (503) does not depend on it
            w.statement_execution.cancel_execution(statement_id)

    # rows -------------------------------------------------------------------------------------------------
    def rows(self, w: WorkspaceClient, response: StatementResponse) -> list[Row]:
        """Every row of a SUCCEEDED statement, following its chunks, inline or through external links."""
        statement_id = response.statement_id or ""
        rows: list[Row] = []
        result = response.result
        while result is not None:
            if result.external_links:
                for link in result.external_links:
                    rows += self._download(w, statement_id, link)
                following = result.external_links[-1].next_chunk_index
            else:
                rows += result.data_array or []
                following = result.next_chunk_index
            if following is None:
                break
            result = w.statement_execution.get_statement_result_chunk_n(statement_id, following)
        return rows

    def _download(self, w: WorkspaceClient, statement_id: str, link: ExternalLink) -> list[Row]:
        for attempt in range(2):
            answer = self._downloads.get(link.external_link or "", headers=link.http_headers or {})
            if answer.status_code == 403 and attempt == 0 and link.chunk_index is not None:
                # Expired on the way: a fresh link for the same chunk.
                fresh = w.statement_execution.get_statement_result_chunk_n(statement_id, link.chunk_index)
                link = (fresh.external_links or [link])[0]
                continue
            if answer.status_code != 200:
                break
            return answer.json()
        raise AppError(502, "QUERY_FAILED", "The SQL warehouse's result could not be downloaded; try again.")
