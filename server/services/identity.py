"""Who is calling: resolved by the workspace from the user's forwarded token (on-behalf-of).

Forwarded identity headers (X-Forwarded-Email and friends) are never trusted: anyone can send them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cachetools import TTLCache
from databricks.sdk.errors import PermissionDenied, Unauthenticated

from server.clients import WorkspaceClients, token_key
from server.errors import AppError


@dataclass(frozen=True)
class CurrentUser:
    id: str
    user_name: str
    display_name: str
    email: str | None
    groups: tuple[str, ...]


def missing_token() -> AppError:
    return AppError(401, "MISSING_TOKEN", "Sign in: no user access token was forwarded with the request.")


class IdentityService:
    def __init__(self, workspace: WorkspaceClients, ttl_seconds: float) -> None:
        self._workspace = workspace
        self._lock = threading.Lock()
        self._cache: TTLCache[str, CurrentUser] = TTLCache(maxsize=4096, ttl=ttl_seconds)

    def resolve(self, token: str | None) -> CurrentUser:
        if not token:
            raise missing_token()
        key = token_key(token)
        with self._lock:
            user = self._cache.get(key)
        if user is not None:
            return user
        try:
            me = self._workspace.for_user(token).current_user.me()
        except (Unauthenticated, PermissionDenied) as error:
            raise AppError(401, "INVALID_TOKEN", "The access token is invalid or expired.") from error
        emails = [e.value for e in (me.emails or []) if e.value]
        primary = next((e.value for e in (me.emails or []) if e.primary), None)
        user = CurrentUser(
            id=me.id or "",
            user_name=me.user_name or "",
            display_name=me.display_name or me.user_name or "",
            email=primary or (emails[0] if emails else None),
            groups=tuple(sorted(g.display for g in (me.groups or []) if g.display)),
        )
        with self._lock:
            self._cache[key] = user
        return user
