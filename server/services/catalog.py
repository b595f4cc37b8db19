"""Unity Catalog browsing and table rows, always as the calling user (on-behalf-of).

Nothing about permissions is cached: every request asks the workspace again, so a revoked grant is refused
on the next request. Row queries are built only from identifiers that Unity Catalog confirmed (quoted) and
bound parameters; filter values never become SQL text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound
from databricks.sdk.service.catalog import (
    CatalogInfo,
    ColumnInfo,
    ListCatalogsResponse,
    ListSchemasResponse,
    ListTablesResponse,
    SchemaInfo,
    TableInfo,
)
from databricks.sdk.service.sql import StatementParameterListItem, StatementResponse, StatementState

from server.errors import AppError, workspace_message
from server.models.catalog import (
    CatalogSummary,
    InFilter,
    Page,
    RowFilter,
    RowsPage,
    RowsQuery,
    SchemaSummary,
    TableColumn,
    TableDetail,
)
from server.services.warehouse import SqlWarehouse

log = logging.getLogger(__name__)
# A Databricks error message starts with its error class: "[TABLE_OR_VIEW_NOT_FOUND] The table ...".
_ERROR_CLASS = re.compile(r"^\[([A-Z][A-Z0-9_.]*)\]")

T = TypeVar("T")
UC = "/api/2.1/unity-catalog"
# Unity Catalog names: 1-255 characters, no period, space, forward slash or control character; and no
# '?', '#' or '%', which the SDK would put unencoded into a URL path.
NAME_PATTERN = r"^[^. /?#%\x00-\x1f\x7f-\x9f]{1,255}$"
NOT_FOUND_CODES = {
    "CATALOG_DOES_NOT_EXIST": "CATALOG_NOT_FOUND",
    "SCHEMA_DOES_NOT_EXIST": "SCHEMA_NOT_FOUND",
    "TABLE_DOES_NOT_EXIST": "TABLE_NOT_FOUND",
}
INTEGER_TYPES = {"LONG", "INT", "SHORT", "BYTE"}
FLOAT_TYPES = {"DOUBLE", "FLOAT"}
FILTERABLE = INTEGER_TYPES | FLOAT_TYPES | {"DECIMAL", "STRING", "CHAR", "BOOLEAN", "DATE", "TIMESTAMP",
                                           "TIMESTAMP_NTZ"}  # fmt: skip
ORDERABLE = FILTERABLE | {"BINARY"}
OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _utc(epoch_ms: int | None) -> dt.datetime | None:
    return None if epoch_ms is None else dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)


def _column(column: ColumnInfo) -> TableColumn:
    return TableColumn(
        name=column.name or "",
        type=column.type_text or "",
        type_name=column.type_name.value if column.type_name else None,
        nullable=column.nullable if column.nullable is not None else True,
        comment=column.comment,
        position=column.position,
    )


def table_detail(info: TableInfo) -> TableDetail:
    return TableDetail(
        name=info.name or "",
        catalog=info.catalog_name or "",
        schema_name=info.schema_name or "",
        full_name=info.full_name or "",
        table_type=info.table_type.value if info.table_type else None,
        data_source_format=info.data_source_format.value if info.data_source_format else None,
        owner=info.owner,
        comment=info.comment,
        created_at=_utc(info.created_at),
        updated_at=_utc(info.updated_at),
        columns=[_column(c) for c in sorted(info.columns or [], key=lambda c: c.position or 0)],
    )


def not_found(error: NotFound) -> AppError:
    code = NOT_FOUND_CODES.get(error.error_code or "", "NOT_FOUND")
    return AppError(404, code, workspace_message(error))


def _typed(column: TableColumn, value: Any, where: str) -> str:
    """A filter value checked against its column's type, as the string a statement parameter carries."""
    kind = column.type_name or "STRING"
    try:
        if kind in INTEGER_TYPES:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return str(int(value))
        if kind in FLOAT_TYPES or kind == "DECIMAL":
            if isinstance(value, bool):
                raise ValueError
            number = decimal.Decimal(str(value))
            if not number.is_finite():
                raise ValueError
            return str(number)
        if kind == "BOOLEAN":
            if isinstance(value, bool):
                return "true" if value else "false"
            if str(value).lower() in ("true", "false"):
                return str(value).lower()
            raise ValueError
        if kind == "DATE":
            return dt.date.fromisoformat(str(value)).isoformat()
        if kind in ("TIMESTAMP", "TIMESTAMP_NTZ"):
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).isoformat()
    except (ValueError, decimal.InvalidOperation, TypeError) as error:
        raise _bad_filter(where, f"'{value}' is not a valid {column.type} value") from error
    return str(value)


def _bad_filter(field: str, issue: str) -> AppError:
    return AppError(
        400, "INVALID_FILTER", "A filter is not valid.", details=[{"field": field, "issue": issue}]
    )


def _convert(value: str | None, type_name: str | None) -> Any:
    if value is None:
        return None
    if type_name in INTEGER_TYPES:
        return int(value)
    if type_name in FLOAT_TYPES:
        return float(value)
    if type_name == "BOOLEAN":
        return value == "true"
    return value  # decimals stay exact as strings; dates and timestamps are ISO 8601


class CatalogService:
    def __init__(self, warehouse: SqlWarehouse) -> None:
        self._warehouse = warehouse

    # listings ---------------------------------------------------------------------------------------------
    @staticmethod
    def _page(
        w: WorkspaceClient,
        path: str,
        query: dict[str, Any],
        parse: Callable[[dict], Any],
        field: str,
        page_size: int,
        page_token: str | None,
    ) -> tuple[list[Any], str | None]:
        """One page of a UC list; skips the empty pages UC may return while more follow."""
        query = {**query, "max_results": page_size}
        token = page_token
        while True:
            if token:
                query["page_token"] = token
            try:
                body = w.api_client.do(
                    "GET", f"{UC}/{path}", query=query, headers={"Accept": "application/json"}
                )
            except NotFound as error:
                raise not_found(error) from error
            except BadRequest as error:
                if not token:
                    raise
                # A token this listing never issued (or one that expired) names no page.
                message = "The page token does not name a page of this list; start again without it."
                raise AppError(404, "PAGE_NOT_FOUND", message) from error
            response = parse(body if isinstance(body, dict) else {})
            items, token = getattr(response, field) or [], response.next_page_token
            if items or not token:
                return items, token

    def catalogs(self, w: WorkspaceClient, page_size: int, page_token: str | None) -> Page[CatalogSummary]:
        items, token = self._page(
            w, "catalogs", {}, ListCatalogsResponse.from_dict, "catalogs", page_size, page_token
        )
        catalogs: list[CatalogInfo] = items
        summaries = [CatalogSummary(name=c.name or "", comment=c.comment, owner=c.owner) for c in catalogs]
        return Page(items=summaries, next_page_token=token)

    def schemas(
        self, w: WorkspaceClient, catalog: str, page_size: int, page_token: str | None
    ) -> Page[SchemaSummary]:
        items, token = self._page(
            w, "schemas", {"catalog_name": catalog}, ListSchemasResponse.from_dict, "schemas", page_size,
            page_token,
        )  # fmt: skip
        schemas: list[SchemaInfo] = items
        summaries = [
            SchemaSummary(
                name=s.name or "",
                catalog=s.catalog_name or catalog,
                full_name=s.full_name or "",
                comment=s.comment,
                owner=s.owner,
            )
            for s in schemas
        ]
        return Page(items=summaries, next_page_token=token)

    def _tables(
        self,
        w: WorkspaceClient,
        catalog: str,
        schema: str,
        page_size: int,
        page_token: str | None,
        omit: bool,
    ) -> tuple[list[TableInfo], str | None]:
        query = {"catalog_name": catalog, "schema_name": schema, "omit_columns": "true" if omit else "false"}
        return self._page(w, "tables", query, ListTablesResponse.from_dict, "tables", page_size, page_token)

    def table_names(
        self, w: WorkspaceClient, catalog: str, schema: str, page_size: int, page_token: str | None
    ) -> Page[str]:
        tables, token = self._tables(w, catalog, schema, page_size, page_token, omit=True)
        return Page(items=[t.name or "" for t in tables], next_page_token=token)

    def tables(
        self, w: WorkspaceClient, catalog: str, schema: str, page_size: int, page_token: str | None
    ) -> Page[TableDetail]:
        tables, token = self._tables(w, catalog, schema, page_size, page_token, omit=False)
        return Page(items=[table_detail(t) for t in tables], next_page_token=token)

    def table(self, w: WorkspaceClient, catalog: str, schema: str, table: str) -> TableDetail:
        try:
            return table_detail(w.tables.get(f"{catalog}.{schema}.{table}"))
        except NotFound as error:
            raise not_found(error) from error

    # rows -------------------------------------------------------------------------------------------------
    def rows(self, w: WorkspaceClient, catalog: str, schema: str, table: str, query: RowsQuery) -> RowsPage:
        if not self._warehouse.warehouse_id:
            raise AppError(
                503,
                "WAREHOUSE_NOT_CONFIGURED",
                "No SQL warehouse is configured: set DATABRICKS_WAREHOUSE_ID.",
            )
        detail = self.table(w, catalog, schema, table)  # existence and permission, asked every time
        columns = {c.name.lower(): c for c in detail.columns}
        where, parameters = self._where(query.filters, columns)
        source = ".".join(quote(part) for part in (detail.catalog, detail.schema_name, detail.name))
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        select = ", ".join(quote(c.name) for c in detail.columns)
        order = [str(i + 1) for i, c in enumerate(detail.columns) if (c.type_name or "STRING") in ORDERABLE]
        order_by = f" ORDER BY {', '.join(order)}" if order else ""
        # One statement answers the page and the total (a window over the filtered rows); only a page past
        # the end, which has no row to carry the total, needs a second one.
        total_column = "__total_rows"
        while total_column.lower() in columns:
            total_column += "_"
        page_sql = (
            f"SELECT {select}, COUNT(*) OVER () AS {quote(total_column)} FROM {source}{condition}{order_by} "
            f"LIMIT {query.limit} OFFSET {query.offset}"
        )
        data = self._run(w, page_sql, parameters)
        if data:
            total = int(data[0][-1] or 0)
        else:
            total_sql = f"SELECT COUNT(*) AS total FROM {source}{condition}"
            total = int(self._run(w, total_sql, parameters)[0][0] or 0)
        rows = [
            {c.name: _convert(value, c.type_name) for c, value in zip(detail.columns, row[:-1], strict=True)}
            for row in data
        ]
        following = query.offset + len(rows)
        return RowsPage(
            table=detail.full_name, columns=detail.columns, rows=rows, total=total, limit=query.limit,
            offset=query.offset, next_offset=following if rows and following < total else None,
        )  # fmt: skip

    @staticmethod
    def _where(
        filters: list[RowFilter], columns: dict[str, TableColumn]
    ) -> tuple[list[str], list[StatementParameterListItem]]:
        unknown = [
            {"field": f"filters[{i}].column", "issue": f"no column '{f.column}' in this table"}
            for i, f in enumerate(filters)
            if f.column.lower() not in columns
        ]
        if unknown:
            known = ", ".join(sorted(c.name for c in columns.values()))
            raise AppError(
                400, "UNKNOWN_COLUMN", f"Filters name columns the table does not have (it has: {known}).",
                details=unknown,
            )  # fmt: skip
        where: list[str] = []
        parameters: list[StatementParameterListItem] = []

        def bind(column: TableColumn, value: Any, field: str) -> str:
            name = f"p{len(parameters)}"
            sql_type = (
                "STRING" if (column.type_name or "STRING") in ("STRING", "CHAR") else column.type.upper()
            )
            parameters.append(
                StatementParameterListItem(name=name, value=_typed(column, value, field), type=sql_type)
            )
            return f":{name}"

        for i, f in enumerate(filters):
            column = columns[f.column.lower()]
            field = f"filters[{i}]"
            if (column.type_name or "STRING") not in FILTERABLE:
                raise _bad_filter(f"{field}.column", f"columns of type {column.type} cannot be filtered")
            if column.type_name == "BOOLEAN" and f.op not in ("eq", "ne", "in"):
                raise _bad_filter(f"{field}.op", "true/false columns take eq, ne or in")
            target = quote(column.name)
            if isinstance(f, InFilter):
                markers = [bind(column, v, f"{field}.values[{j}]") for j, v in enumerate(f.values)]
                where.append(f"{target} IN ({', '.join(markers)})")
            elif f.value is None:
                where.append(f"{target} IS {'NOT ' if f.op == 'ne' else ''}NULL")
            else:
                where.append(f"{target} {OPERATORS[f.op]} {bind(column, f.value, f'{field}.value')}")
        return where, parameters

    def _run(
        self, w: WorkspaceClient, sql: str, parameters: list[StatementParameterListItem]
    ) -> list[list[str | None]]:
        response = self._warehouse.execute(w, sql, parameters)
        self._raise_for(response)
        return self._warehouse.rows(w, response)

    def _raise_for(self, response: StatementResponse) -> None:
        """A failed statement as the user may see it: its error class, never its message, which can quote
        the statement (Databricks appends "== SQL ==" and the text to parse errors); the log keeps it."""
        status = response.status
        state = status.state if status else None
        if state == StatementState.SUCCEEDED:
            return
        error = status.error if status else None
        message = error.message if error and error.message else ""
        sql_state = status.sql_state if status else None
        if sql_state == "42501" or "INSUFFICIENT_PERMISSIONS" in message:
            raise AppError(403, "PERMISSION_DENIED", "You do not have permission to read this table.")
        if sql_state == "42P01" or "TABLE_OR_VIEW_NOT_FOUND" in message:
            raise AppError(404, "TABLE_NOT_FOUND", "The table does not exist, or you may not see it.")
        if state in (StatementState.CANCELED, StatementState.PENDING, StatementState.RUNNING):
            raise self._warehouse.busy()
        log.warning("statement %s: %s", state, message)
        found = _ERROR_CLASS.match(message)
        if found:
            error_class = found[1]
        elif error and error.error_code:
            error_class = error.error_code.value
        else:
            error_class = state.value if state else "no status"
        raise AppError(502, "QUERY_FAILED", f"The SQL warehouse could not read the table ({error_class}).")
