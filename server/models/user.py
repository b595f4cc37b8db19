from __future__ import annotations

from pydantic import BaseModel


class UserProfile(BaseModel):
    id: str
    user_name: str
    display_name: str
    email: str | None
    groups: list[str]
