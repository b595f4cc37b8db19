from __future__ import annotations

from fastapi import APIRouter

from server.dependencies import User
from server.models.user import UserProfile

router = APIRouter(prefix="/api/user", tags=["user"])


@router.get(
    "/me", response_model=UserProfile, summary="The signed-in user's profile, as the workspace knows it"
)
def me(user: User) -> UserProfile:
    return UserProfile(
        id=user.id,
        user_name=user.user_name,
        display_name=user.display_name,
        email=user.email,
        groups=list(user.groups),
    )
