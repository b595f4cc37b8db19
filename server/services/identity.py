"""Who is calling: resolved by the workspace from the user's forwarded token (on-behalf-of).

Forwarded identity headers (X-Forwarded-Email and friends) are never trusted: anyone can send them.
A resolved identity is trusted for ``identity_cache_ttl_seconds``, never past the token's own expiry (the
``exp`` claim of an OAuth token, which the Apps proxy forwards as a JWT), and forgotten as soon as any
workspace call refuses the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import dataclass

from cachetools import TTLCache
from databricks.sdk.errors import DatabricksError

from server.clients import WorkspaceClients, token_key
from server.errors import AppError, from_workspace_error, invalid_token


@dataclass(frozen=True)
class CurrentUser:
    id: str
    user_name: str
    display_name: str
    email: str | None
    groups: tuple[str, ...]


def missing_token() -> AppError:
    return AppError(401, "MISSING_TOKEN", "Sign in: no user access token was forwarded with the request.")


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, unverified: it only bounds how long the app trusts its own
    cache; the workspace checks the token itself on every call. None for opaque tokens (PATs)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (ValueError, binascii.Error, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) else None


class IdentityService:
    def __init__(self, workspace: WorkspaceClients, ttl_seconds: float) -> None:
        self._workspace = workspace
        self._lock = threading.Lock()
        # token digest -> (user, the token's own expiry or None)
        self._cache: TTLCache[str, tuple[CurrentUser, float | None]] = TTLCache(maxsize=4096, ttl=ttl_seconds)

    def resolve(self, token: str | None) -> CurrentUser:
        if not token:
            raise missing_token()
        key = token_key(token)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            user, expires = cached
            if expires is None or time.time() < expires:
                return user
            self.forget(token)
            raise invalid_token()
        expires = token_expiry(token)
        if expires is not None and time.time() >= expires:
            raise invalid_token()
        try:
            me = self._workspace.for_user(token).current_user.me()
        except DatabricksError as error:
            refusal = from_workspace_error(error)
            if refusal.code == "INVALID_TOKEN":
                self.forget(token)
            raise refusal from error
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
            self._cache[key] = (user, expires)
        return user

    def forget(self, token: str) -> None:
        """The workspace refused the token: stop trusting the identity cached for it."""
        key = token_key(token)
        with self._lock:
            self._cache.pop(key, None)
        self._workspace.forget_user(token)
