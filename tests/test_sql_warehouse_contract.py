"""The fake SQL warehouse as Databricks documents it, judged by the real SDK: lifecycle, warehouses, results.

Sources (named again beside each test): databricks-sdk ``service/sql.py`` (``StatementExecutionAPI`` and
``execute_statement`` docstrings, ``StatementState``/``StatementStatus``, ``ExternalLink``,
``ResultManifest``, ``State``, ``WarehousesAPI`` and its waiters); the 25 MiB INLINE failure as users
report it (github.com/databrickslabs/ucx/issues/3447); S3's presigned-URL behaviour for external links.
Time is the fake's clock: tests move it with the control API instead of waiting.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from collections.abc import Iterator

import httpx
import pyarrow as pa
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied
from databricks.sdk.service.sql import (
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    Format,
    State,
    StatementResponse,
    StatementState,
)

from fixtures.workspace.sql import WAREHOUSE_ID
from fixtures.workspace.sql.results import EXTERNAL_CHUNK_BYTES, INLINE_LIMIT_BYTES

SLOW = "acc_slow_marker"  # statements carrying this comment take as long as a test says


@pytest.fixture
def timing(fake) -> Iterator:
    """The control API for timing; whatever a test sets is undone after it (as scenarios' faults are)."""
    yield fake.control
    fake.control.clear_faults()


@pytest.fixture(scope="module")
def numbers(admin) -> str:
    w, _ = admin
    name = f"wh_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(name)
    w.schemas.create("data", name)
    done = w.statement_execution.execute_statement(
        f"CREATE TABLE {name}.data.numbers AS SELECT id, CASE WHEN id % 5 = 0 THEN NULL ELSE "
        "concat('n-', CAST(id AS STRING)) END AS label, CAST(id / 4 AS DECIMAL(10,2)) AS quarter "
        "FROM range(0, 50000) AS r(id)",
        WAREHOUSE_ID,
    )
    assert done.status.state == StatementState.SUCCEEDED, done.status
    return f"{name}.data.numbers"


def slow(sql: str) -> str:
    return f"/* {SLOW} */ {sql}"


# Statement lifecycle --------------------------------------------------------------------------------------
def test_wait_timeout_is_0_or_5_to_50_seconds(admin) -> None:
    """``wait_timeout``: "N can be set to 0 or to a value between 5 and 50" (execute_statement docstring)."""
    w, _ = admin
    for refused in ("3s", "51s", "10", "-5s", "ten"):
        with pytest.raises(BadRequest, match="wait_timeout"):
            w.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, wait_timeout=refused)
    for accepted in ("5s", "50s"):
        answered = w.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, wait_timeout=accepted)
        assert answered.status.state == StatementState.SUCCEEDED


def test_zero_wait_answers_pending_then_the_statement_runs_its_duration(admin, timing) -> None:
    """``0s``: "the call returns directly with PENDING state and a statement ID"; PENDING "waiting for
    warehouse", RUNNING "running", SUCCEEDED "result data available" (StatementStatus.state)."""
    w, _ = admin
    timing.statement_duration(SLOW, 60_000)
    submitted = w.statement_execution.execute_statement(
        slow("SELECT 42 AS answer"), WAREHOUSE_ID, wait_timeout="0s"
    )
    assert submitted.status.state == StatementState.PENDING and submitted.manifest is None
    assert w.statement_execution.get_statement(submitted.statement_id).status.state == StatementState.RUNNING
    with pytest.raises(BadRequest):  # no result to fetch while it runs
        w.statement_execution.get_statement_result_chunk_n(submitted.statement_id, 0)
    timing.advance_clock(61)
    done = w.statement_execution.get_statement(submitted.statement_id)
    assert done.status.state == StatementState.SUCCEEDED and done.result.data_array == [["42"]]


def _submit_in_background(w: WorkspaceClient, sql: str, **kwargs) -> tuple[threading.Thread, list]:
    answers: list[StatementResponse] = []
    thread = threading.Thread(
        target=lambda: answers.append(w.statement_execution.execute_statement(sql, WAREHOUSE_ID, **kwargs))
    )
    thread.start()
    return thread, answers


def _advance_until_answered(fake, thread: threading.Thread, step: float) -> None:
    """Moves the clock in steps until the held call answers (it holds for wait_timeout on that clock)."""
    for _ in range(200):
        thread.join(timeout=0.05)
        if not thread.is_alive():
            return
        fake.control.advance_clock(step)
    raise AssertionError("the call was never answered")


def test_on_wait_timeout_continue_answers_with_the_running_statement(fake, admin, timing) -> None:
    """CONTINUE: "When set to CONTINUE, the statement execution continues asynchronously and the call returns
    a statement ID which can be used for polling" (ExecuteStatementRequestOnWaitTimeout)."""
    w, _ = admin
    timing.statement_duration(SLOW, 3_600_000)
    keep_going = ExecuteStatementRequestOnWaitTimeout.CONTINUE
    thread, answers = _submit_in_background(
        w, slow("SELECT 1"), wait_timeout="5s", on_wait_timeout=keep_going
    )
    _advance_until_answered(fake, thread, 6)
    (answer,) = answers
    assert answer.status.state == StatementState.RUNNING and answer.statement_id
    w.statement_execution.cancel_execution(answer.statement_id)
    assert w.statement_execution.get_statement(answer.statement_id).status.state == StatementState.CANCELED


def test_on_wait_timeout_cancel_answers_canceled(fake, admin, timing) -> None:
    """CANCEL: "When set to CANCEL, the statement execution is canceled and the call returns with a CANCELED
    state" (ExecuteStatementRequestOnWaitTimeout)."""
    w, _ = admin
    timing.statement_duration(SLOW, 3_600_000)
    give_up = ExecuteStatementRequestOnWaitTimeout.CANCEL
    thread, answers = _submit_in_background(w, slow("SELECT 1"), wait_timeout="5s", on_wait_timeout=give_up)
    _advance_until_answered(fake, thread, 6)
    assert answers[0].status.state == StatementState.CANCELED


def test_a_canceled_statement_changes_nothing(admin, numbers, timing) -> None:
    """Cancel ends what has not ended; "an outstanding statement might have already completed execution
    when the cancel request arrives" (StatementExecutionAPI docstring): a finished one keeps its state."""
    w, _ = admin
    catalog = numbers.split(".")[0]
    timing.statement_duration(SLOW, 60_000)
    created = w.statement_execution.execute_statement(
        slow(f"CREATE TABLE {catalog}.data.never AS SELECT 1 AS x"), WAREHOUSE_ID, wait_timeout="0s"
    )
    w.statement_execution.cancel_execution(created.statement_id)
    timing.advance_clock(120)
    assert w.statement_execution.get_statement(created.statement_id).status.state == StatementState.CANCELED
    assert not w.tables.exists(f"{catalog}.data.never").table_exists
    quick = w.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID)
    w.statement_execution.cancel_execution(quick.statement_id)
    assert w.statement_execution.get_statement(quick.statement_id).status.state == StatementState.SUCCEEDED


def test_statements_nobody_polls_are_dropped_and_results_close_after_an_hour(admin, timing) -> None:
    """Lifetime: "To keep a statement alive, poll for its status at least once every 15 minutes"; "The results
    are only available for one hour after success" (CLOSED: "result no longer available for fetch"); "After at
    least 12 hours in terminal state, the statement is removed ... HTTP 404" (get_statement)."""
    w, _ = admin
    timing.statement_duration(SLOW, 3_600_000)
    forgotten = w.statement_execution.execute_statement(slow("SELECT 1"), WAREHOUSE_ID, wait_timeout="0s")
    finished = w.statement_execution.execute_statement("SELECT 2", WAREHOUSE_ID)
    timing.advance_clock(16 * 60)
    assert w.statement_execution.get_statement(forgotten.statement_id).status.state == StatementState.CANCELED
    assert w.statement_execution.get_statement(finished.statement_id).status.state == StatementState.SUCCEEDED
    timing.advance_clock(45 * 60)
    closed = w.statement_execution.get_statement(finished.statement_id)
    assert closed.status.state == StatementState.CLOSED and closed.result is None
    with pytest.raises(BadRequest):
        w.statement_execution.get_statement_result_chunk_n(finished.statement_id, 0)
    timing.advance_clock(12 * 3600)
    with pytest.raises(NotFound):
        w.statement_execution.get_statement(finished.statement_id)


# Warehouses -----------------------------------------------------------------------------------------------
def test_a_statement_starts_a_stopped_warehouse_and_waits_for_it(admin, timing) -> None:
    """``State``: STOPPED, STARTING, RUNNING, STOPPING; a statement is PENDING "waiting for warehouse"
    (StatementStatus) while the warehouse it started comes up; ``stop``/``start`` are waited for with the
    SDK's own waiters (``wait_get_warehouse_stopped``/``_running``)."""
    w, _ = admin
    timing.warehouse_timing(WAREHOUSE_ID, startup_ms=30_000)
    stopped = w.warehouses.stop(WAREHOUSE_ID).result()
    assert stopped.state == State.STOPPED and stopped.num_clusters == 0
    submitted = w.statement_execution.execute_statement("SELECT 7", WAREHOUSE_ID, wait_timeout="0s")
    assert w.warehouses.get(WAREHOUSE_ID).state == State.STARTING
    assert w.statement_execution.get_statement(submitted.statement_id).status.state == StatementState.PENDING
    timing.advance_clock(31)
    assert w.warehouses.get(WAREHOUSE_ID).state == State.RUNNING
    done = w.statement_execution.get_statement(submitted.statement_id)
    assert done.status.state == StatementState.SUCCEEDED and done.result.data_array == [["7"]]


def test_warehouses_stop_after_idle_minutes_and_stopping_takes_time(admin, timing) -> None:
    """``auto_stop_mins``: "must be idle (i.e., no RUNNING queries) before it is automatically stopped"
    (CreateWarehouseRequest); STOPPING lasts while it shuts down; starting again waits for RUNNING."""
    w, _ = admin
    w.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID)
    warehouse = w.warehouses.get(WAREHOUSE_ID)
    assert warehouse.state == State.RUNNING and warehouse.auto_stop_mins
    timing.advance_clock(warehouse.auto_stop_mins * 60 - 5)
    assert w.warehouses.get(WAREHOUSE_ID).state == State.RUNNING
    timing.advance_clock(10)
    assert w.warehouses.get(WAREHOUSE_ID).state == State.STOPPED
    w.warehouses.start(WAREHOUSE_ID).result()
    timing.warehouse_timing(WAREHOUSE_ID, shutdown_ms=20_000)
    w.warehouses.stop(WAREHOUSE_ID)
    assert w.warehouses.get(WAREHOUSE_ID).state == State.STOPPING
    timing.advance_clock(21)
    assert w.warehouses.get(WAREHOUSE_ID).state == State.STOPPED
    assert w.warehouses.start(WAREHOUSE_ID).result().state == State.RUNNING


def test_only_managers_start_and_stop_a_warehouse(fake, admin) -> None:
    """Starting and stopping take CAN_MANAGE (workspace admins hold it); using it does not."""
    user = fake.control.create_user(f"wh.{uuid.uuid4().hex[:6]}@example.com", "Warehouse User", [])
    ben = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    with pytest.raises(PermissionDenied):
        ben.warehouses.stop(WAREHOUSE_ID)
    assert [wh.id for wh in ben.warehouses.list()] == [WAREHOUSE_ID]
    with pytest.raises(NotFound):
        ben.warehouses.get("0000000000000000")


# Results --------------------------------------------------------------------------------------------------
def test_row_limit_and_byte_limit_truncate(admin, numbers) -> None:
    """``row_limit``/``byte_limit`` apply to the result and set ``truncated`` (execute_statement); bytes are
    counted on the internal representation (8 per BIGINT)."""
    w, _ = admin
    by_rows = w.statement_execution.execute_statement(f"SELECT id FROM {numbers} ORDER BY id", WAREHOUSE_ID,
                                                      row_limit=10)  # fmt: skip
    assert by_rows.manifest.truncated and by_rows.manifest.total_row_count == 10
    by_bytes = w.statement_execution.execute_statement(f"SELECT id FROM {numbers} ORDER BY id", WAREHOUSE_ID,
                                                       byte_limit=800)  # fmt: skip
    assert by_bytes.manifest.truncated and by_bytes.manifest.total_row_count == 100
    whole = w.statement_execution.execute_statement(f"SELECT id FROM {numbers} WHERE id < 5", WAREHOUSE_ID,
                                                    row_limit=5)  # fmt: skip
    assert whole.manifest.truncated is False


def test_inline_results_fail_beyond_25_mib(admin) -> None:
    """INLINE: "Statements with disposition=INLINE are limited to 25 MiB and will fail when this limit is
    exceeded" (StatementExecutionAPI); the warehouse says "Inline byte limit exceeded" (ucx#3447)."""
    w, _ = admin
    wide = "SELECT id, repeat('x', 27000) AS body FROM range(0, 1000) AS r(id)"
    failed = w.statement_execution.execute_statement(wide, WAREHOUSE_ID)
    assert failed.status.state == StatementState.FAILED
    assert "Inline byte limit exceeded" in failed.status.error.message
    assert str(INLINE_LIMIT_BYTES) in failed.status.error.message
    linked = w.statement_execution.execute_statement(
        wide, WAREHOUSE_ID, disposition=Disposition.EXTERNAL_LINKS
    )
    assert linked.status.state == StatementState.SUCCEEDED and linked.manifest.total_row_count == 1000


def _links(w: WorkspaceClient, response: StatementResponse) -> list:
    links, result = [], response.result
    while True:
        links += result.external_links
        following = result.external_links[-1].next_chunk_index
        if following is None:
            return links
        result = w.statement_execution.get_statement_result_chunk_n(response.statement_id, following)


def test_external_links_json_array_in_chunks_cut_by_size(admin, numbers) -> None:
    """EXTERNAL_LINKS with JSON_ARRAY: "compact JSON"; links "short-lived" (<= 15 minutes) with an
    ``expiration``; ``byte_count`` per chunk and ``total_byte_count`` ("not available when using INLINE")."""
    w, _ = admin
    response = w.statement_execution.execute_statement(
        f"SELECT id, quarter, repeat('y', 100) AS pad FROM {numbers} ORDER BY id", WAREHOUSE_ID,
        disposition=Disposition.EXTERNAL_LINKS, format=Format.JSON_ARRAY,
    )  # fmt: skip
    manifest = response.manifest
    assert manifest.format == Format.JSON_ARRAY and manifest.total_chunk_count > 1
    assert manifest.total_byte_count == sum(c.byte_count for c in manifest.chunks)
    links = _links(w, response)
    assert [link.chunk_index for link in links] == list(range(manifest.total_chunk_count))
    rows = []
    for link in links:
        assert link.expiration and link.byte_count and link.row_offset == len(rows)
        body = httpx.get(link.external_link)  # no Authorization header: the link carries its credential
        assert body.status_code == 200 and len(body.content) == link.byte_count
        assert b", " not in body.content[:200]  # compact
        rows += json.loads(body.content)
    assert len(rows) == 50000 and rows[5] == ["5", "1.25", "y" * 100]
    # Cut by size: 8 + 16 + (4 + 100) internal bytes a row; a chunk holds as many rows as fit.
    per_row = 128
    assert all(c.row_count == EXTERNAL_CHUNK_BYTES // per_row for c in manifest.chunks[:-1])


def test_external_links_refuse_credentials_and_expire(fake, admin, numbers) -> None:
    """Links "must be removed" of any authentication when fetched; "The behavior when attempting to use an
    expired link is cloud specific": S3 answers 400 InvalidArgument and 403 AccessDenied, in XML."""
    w, token = admin
    response = w.statement_execution.execute_statement(
        f"SELECT id FROM {numbers} LIMIT 3", WAREHOUSE_ID, disposition=Disposition.EXTERNAL_LINKS
    )
    link = response.result.external_links[0]
    with_token = httpx.get(link.external_link, headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 400 and b"<Code>InvalidArgument</Code>" in with_token.content
    tampered = httpx.get(link.external_link.replace("signature=", "signature=0"))
    assert tampered.status_code == 403
    fake.control.advance_clock(16 * 60)
    expired = httpx.get(link.external_link)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    fresh = w.statement_execution.get_statement_result_chunk_n(response.statement_id, 0).external_links[0]
    assert httpx.get(fresh.external_link).json() == [["0"], ["1"], ["2"]]


def test_external_links_arrow_stream_and_csv(admin, numbers) -> None:
    """ARROW_STREAM: "each chunk ... formatted as Apache Arrow Stream"; CSV: RFC 4180, values as in
    JSON_ARRAY, null as "null", "Only the first chunk in the result would contain a header row"; both only
    with EXTERNAL_LINKS ("supported only with EXTERNAL_LINKS disposition")."""
    w, _ = admin
    sql = f"SELECT id, label, quarter FROM {numbers} ORDER BY id"
    arrow = w.statement_execution.execute_statement(sql, WAREHOUSE_ID, disposition=Disposition.EXTERNAL_LINKS,
                                                    format=Format.ARROW_STREAM)  # fmt: skip
    tables = [
        pa.ipc.open_stream(httpx.get(link.external_link).content).read_all() for link in _links(w, arrow)
    ]
    table = pa.concat_tables(tables)
    assert table.num_rows == 50000 and table.column("id").to_pylist()[:3] == [0, 1, 2]
    assert (
        pa.types.is_decimal(table.schema.field("quarter").type) and table.column("label")[0].as_py() is None
    )
    padded = f"SELECT id, label, quarter, repeat('z', 200) AS pad FROM {numbers} ORDER BY id"
    as_csv = w.statement_execution.execute_statement(
        padded, WAREHOUSE_ID, disposition=Disposition.EXTERNAL_LINKS, format=Format.CSV, row_limit=20000
    )
    links = _links(w, as_csv)
    assert len(links) > 1
    first, second = (list(csv.reader(io.StringIO(httpx.get(link.external_link).text))) for link in links[:2])
    assert [row[:3] for row in first[:3]] == [
        ["id", "label", "quarter"],
        ["0", "null", "0.00"],
        ["1", "n-1", "0.25"],
    ]
    assert second[0][0] == str(links[1].row_offset)  # no header again
    for refused in (Format.CSV, Format.ARROW_STREAM):
        with pytest.raises(BadRequest):
            w.statement_execution.execute_statement("SELECT 1", WAREHOUSE_ID, format=refused)


def test_a_result_less_statement_has_an_empty_result(admin, numbers) -> None:
    """No rows: ``total_chunk_count`` 0 and ``"result": {}`` (the CLI's test server, libs/testserver)."""
    w, _ = admin
    response = w.statement_execution.execute_statement(f"SELECT id FROM {numbers} WHERE id < 0", WAREHOUSE_ID)
    assert response.manifest.total_chunk_count == 0 and response.manifest.total_row_count == 0
    assert response.result is None or not response.result.data_array
