"""Unity Catalog browsing and table rows, as the signed-in user may see them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from server.dependencies import Services, User, UserWorkspace
from server.models.catalog import (
    MAX_OFFSET,
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
    w: UserWorkspace, services: Services, page_size: PageSize = 100, page_token: PageToken = None
) -> Page[CatalogSummary]:
    return services.catalog.catalogs(w, page_size, page_token)


@router.get("/{catalog}/schemas", response_model=Page[SchemaSummary], summary="Schemas of a catalog")
def schemas(
    catalog: Name,
    w: UserWorkspace,
    services: Services,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Page[SchemaSummary]:
    return services.catalog.schemas(w, catalog, page_size, page_token)


@router.get("/{catalog}/schemas/{schema}/table-names", response_model=Page[str], summary="Table names")
def table_names(
    catalog: Name,
    schema: Name,
    w: UserWorkspace,
    services: Services,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Page[str]:
    return services.catalog.table_names(w, catalog, schema, page_size, page_token)


@router.get(
    "/{catalog}/schemas/{schema}/tables", response_model=Page[TableDetail], summary="Tables with metadata"
)
def tables(
    catalog: Name,
    schema: Name,
    w: UserWorkspace,
    services: Services,
    page_size: PageSize = 100,
    page_token: PageToken = None,
) -> Page[TableDetail]:
    return services.catalog.tables(w, catalog, schema, page_size, page_token)


@router.get(TABLE, response_model=TableDetail, response_model_by_alias=True, summary="One table's metadata")
def table(catalog: Name, schema: Name, table: Name, w: UserWorkspace, services: Services) -> TableDetail:
    return services.catalog.table(w, catalog, schema, table)


@router.get(f"{TABLE}/rows", response_model=RowsPage, summary="A page of a table's rows, with the total")
def rows(
    catalog: Name,
    schema: Name,
    table: Name,
    w: UserWorkspace,
    services: Services,
    user: User,
    limit: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_PAGE_SIZE, description="Rows per page; omitted: the saved catalog.page_size, or 100"
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RowsPage:
    limit = limit or services.browsing.rows_page_size(user.user_name)
    return services.catalog.rows(w, catalog, schema, table, RowsQuery(limit=limit, offset=offset))


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
    services: Services,
) -> RowsPage:
    return services.catalog.rows(w, catalog, schema, table, query)
