"""What the catalog endpoints answer and accept."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from server.models.paging import MAX_OFFSET
from server.validation import FREE_TEXT_PATTERN, TEXT_PATTERN

T = TypeVar("T")
Scalar = str | int | float | bool
# A value a filter compares with: the body reader keeps text to the app's rule; the pattern says so.
FilterScalar = Annotated[str, Field(pattern=FREE_TEXT_PATTERN)] | int | float | bool
ColumnName = Annotated[str, Field(min_length=1, max_length=255, pattern=TEXT_PATTERN)]
# Unknown members are refused rather than ignored: a misspelt "filter" must not return every row.
STRICT = ConfigDict(extra="forbid")
MAX_PAGE_SIZE = 1000
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

    model_config = STRICT
    column: ColumnName
    op: Literal["eq", "ne"] = "eq"
    value: FilterScalar | None = None


class RangeFilter(BaseModel):
    model_config = STRICT
    column: ColumnName
    op: Literal["gt", "gte", "lt", "lte"]
    value: FilterScalar


class InFilter(BaseModel):
    model_config = STRICT
    column: ColumnName
    op: Literal["in"]
    values: list[FilterScalar] = Field(min_length=1, max_length=1000)


RowFilter = EqualityFilter | RangeFilter | InFilter


class RowsQuery(BaseModel):
    model_config = STRICT
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
