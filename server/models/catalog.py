"""What the catalog endpoints answer and accept."""

from __future__ import annotations

import datetime as dt
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")
Scalar = str | int | float | bool
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 100_000_000
# A filtered-rows request body, at most: 50 filters of up to 1,000 values each fit with room to spare
# for ordinary values; the OpenAPI states it as x-max-body-bytes.
MAX_ROWS_QUERY_BYTES = 1024 * 1024


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_page_token: str | None = Field(None, description="Pass back as page_token for the next page")


class CatalogSummary(BaseModel):
    name: str
    comment: str | None = None
    owner: str | None = None


class SchemaSummary(BaseModel):
    name: str
    catalog: str
    full_name: str
    comment: str | None = None
    owner: str | None = None


class TableColumn(BaseModel):
    name: str
    type: str = Field(description="Databricks SQL type, e.g. bigint, decimal(10,2)")
    type_name: str | None = Field(None, description="Unity Catalog type family, e.g. LONG, DECIMAL")
    nullable: bool = True
    comment: str | None = None
    position: int | None = None


class TableDetail(BaseModel):
    name: str
    catalog: str
    schema_name: str = Field(serialization_alias="schema")
    full_name: str
    table_type: str | None = None
    data_source_format: str | None = None
    owner: str | None = None
    comment: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    columns: list[TableColumn]


class EqualityFilter(BaseModel):
    """``eq``/``ne`` a value; a null value means IS NULL / IS NOT NULL."""

    column: str = Field(min_length=1, max_length=255)
    op: Literal["eq", "ne"] = "eq"
    value: Scalar | None = None


class RangeFilter(BaseModel):
    column: str = Field(min_length=1, max_length=255)
    op: Literal["gt", "gte", "lt", "lte"]
    value: Scalar


class InFilter(BaseModel):
    column: str = Field(min_length=1, max_length=255)
    op: Literal["in"]
    values: list[Scalar] = Field(min_length=1, max_length=1000)


RowFilter = EqualityFilter | RangeFilter | InFilter


class RowsQuery(BaseModel):
    filters: list[RowFilter] = Field(default_factory=list, max_length=50)
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class RowsPage(BaseModel):
    table: str
    columns: list[TableColumn]
    rows: list[dict[str, Scalar | None]]
    total: int = Field(description="Rows matching the filters, over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Offset of the next page; absent on the last page")
