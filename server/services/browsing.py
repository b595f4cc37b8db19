"""What a user's saved preferences change in browsing (US4.2).

- ``catalog.page_size`` (a whole number, 1..MAX_PAGE_SIZE): how many rows a table read returns when the
  request does not say (``limit`` omitted). An explicit ``limit`` always wins.

Preferences only adjust defaults: if none is saved, the value saved is unusable, Lakebase is not
configured or it is down, browsing behaves exactly as without preferences (the reason is logged), so the
database never stands between a user and Unity Catalog.
"""

from __future__ import annotations

import logging
from typing import Any

from server.errors import AppError
from server.models.catalog import MAX_PAGE_SIZE
from server.services.preferences import PreferenceService

log = logging.getLogger(__name__)
PAGE_SIZE_KEY = "catalog.page_size"
DEFAULT_ROWS_PAGE_SIZE = 100


class BrowsingPreferences:
    def __init__(self, preferences: PreferenceService | None) -> None:
        self._preferences = preferences  # None: Lakebase is not configured

    def _saved(self, user: str, key: str) -> Any:
        if self._preferences is None:
            return None
        try:
            return self._preferences.get(user, key).value
        except AppError as error:
            if error.code != "PREFERENCE_NOT_FOUND":
                log.warning("preference %s not applied: %s", key, error.code)
            return None

    def rows_page_size(self, user: str) -> int:
        value = self._saved(user, PAGE_SIZE_KEY)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PAGE_SIZE:
            return value
        if value is not None:
            log.warning(
                "preference %s ignored: %r is not a page size 1..%d", PAGE_SIZE_KEY, value, MAX_PAGE_SIZE
            )
        return DEFAULT_ROWS_PAGE_SIZE
