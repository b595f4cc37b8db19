"""Unity Catalog browsing and table rows, as the signed-in user may see them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from server.dependencies import Browsing, Catalogs, User, UserWorkspace
from server.models.catalog import (
    MAX_PAGE_SIZE,
    MAX_ROWS_QUERY_BYTES,
    CatalogSummary,
    Page,
    RowsPage,
    RowsQuery,
    SchemaSummary,
    TableDetail,
)
from server.models.errors import error_responses
from server.request_body import JsonBody
from server.routers.common import Offset
from server.services.catalog import NAME_PATTERN
from server.validation import TEXT_PATTERN

router = APIRouter(prefix="/api/catalogs", tags=["catalog"], responses=error_responses(403, 404))
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="A Unity Catalog name")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
PageToken = Annotated[
    str | None,
    Query(max_length=4096, pattern=TEXT_PATTERN, description="next_page_token of the previous page"),
]
TABLE = "/{catalog}/schemas/{schema}/tables/{table}"
ROWS_QUERY_BODY = JsonBody(RowsQuery, MAX_ROWS_QUERY_BYTES, description="Filters and the page to read.")


@router.get("", response_model=Page[CatalogSummary], summary="Catalogs the user may use")
def catalogs(
    w: UserWorkspace, service: Catalogs, page_size: PageSize = 100, page_token: PageToken = None
) -> Page[CatalogSummary]:
    return service.catalogs(w, page_size, page_token)


@router.get("/{catalog}/schemas", response_model=Page[SchemaSummary], summary="Schemas of a catalog")
def schemas(
    catalog: Name,
    w: UserWorkspace,
    service: Catalogs,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Page[SchemaSummary]:
    return service.schemas(w, catalog, page_size, page_token)


@router.get("/{catalog}/schemas/{schema}/table-names", response_model=Page[str], summary="Table names")
def table_names(
    catalog: Name,
    schema: Name,
    w: UserWorkspace,
    service: Catalogs,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Page[str]:
    return service.table_names(w, catalog, schema, page_size, page_token)


@router.get(
    "/{catalog}/schemas/{schema}/tables", response_model=Page[TableDetail], summary="Tables with metadata"
)
def tables(
    catalog: Name,
    schema: Name,
    w: UserWorkspace,
    service: Catalogs,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Page[TableDetail]:
    return service.tables(w, catalog, schema, page_size, page_token)


@router.get(TABLE, response_model=TableDetail, response_model_by_alias=True, summary="One table's metadata")
def table(catalog: Name, schema: Name, table: Name, w: UserWorkspace, service: Catalogs) -> TableDetail:
    return service.table(w, catalog, schema, table)


@router.get(f"{TABLE}/rows", response_model=RowsPage, summary="A page of a table's rows, with the total")
def rows(
    catalog: Name,
    schema: Name,
    table: Name,
    w: UserWorkspace,
    service: Catalogs,
    user: User,
    browsing: Browsing,
    limit: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_PAGE_SIZE, description="Rows per page; omitted: the saved catalog.page_size, or 100"
        ),
    ] = None,
    offset: Offset = 0,
) -> RowsPage:
    limit = limit or browsing.rows_page_size(user.user_name)
    return service.rows(w, catalog, schema, table, RowsQuery(limit=limit, offset=offset))


@router.post(
    f"{TABLE}/rows",
    response_model=RowsPage,
    summary="A page of the rows matching filters",
    openapi_extra=ROWS_QUERY_BODY.openapi,
    responses=ROWS_QUERY_BODY.responses,
)
def filtered_rows(
    catalog: Name,
    schema: Name,
    table: Name,
    query: Annotated[RowsQuery, Depends(ROWS_QUERY_BODY)],
    w: UserWorkspace,
    service: Catalogs,
) -> RowsPage:
    return service.rows(w, catalog, schema, table, query)
