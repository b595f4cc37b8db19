"""Paging limits that more than one route shares."""

# An offset past the end answers an empty page (requirement 6.4), so the cap only keeps an offset within
# what the backends take: Databricks SQL's OFFSET takes an INT literal (a larger one is a BIGINT, refused
# with INVALID_LIMIT_LIKE_EXPRESSION: docs.databricks.com, sql-ref-syntax-qry-select-offset), Postgres's a
# bigint. Table rows and the inference history both page with it.
MAX_OFFSET = 1_000_000_000
