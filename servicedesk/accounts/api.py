"""Read endpoints for people and support groups."""

from __future__ import annotations

from typing import Annotated, Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from pydantic import Field

from servicedesk.core.errors import NotFound
from servicedesk.core.lookups import one
from servicedesk.core.pagination import keyset_page
from servicedesk.core.schemas import ERRORS, PageOut, RefOut, ref
from servicedesk.core.validation import Id, ShortText

from .models import SupportGroup, User

router = Router(tags=["people and groups"])
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]


class UserOut(Schema):
    id: int
    username: str
    name: str
    email: str
    phone: str
    role: str
    job_title: str
    language: str
    time_zone: str
    user_group: RefOut | None
    manager: RefOut | None
    support_groups: list[RefOut]


class GroupOut(Schema):
    id: int
    name: str
    level: int
    technology: RefOut | None
    manager: RefOut | None
    email: str
    phone: str
    is_active: bool
    members: list[RefOut]


class UserFilter(Schema):
    text: ShortText | None = None
    role: str | None = Field(None, max_length=20)
    group: Id | None = None
    cursor: ShortText | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.pk, "username": user.username, "name": str(user), "email": user.email,
        "phone": user.phone, "role": user.role, "job_title": user.job_title,
        "language": user.language, "time_zone": user.time_zone,
        "user_group": ref(user.user_group), "manager": ref(user.manager),
        "support_groups": [ref(g) for g in user.support_groups.all()],
    }  # fmt: skip


def group_out(group: SupportGroup) -> dict[str, Any]:
    return {
        "id": group.pk, "name": group.name, "level": group.level,
        "technology": ref(group.technology), "manager": ref(group.manager),
        "email": group.email, "phone": group.phone, "is_active": group.is_active,
        "members": [ref(m) for m in group.members.all()],
    }  # fmt: skip


def _staff_only(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    if not (user.is_support_staff or user.is_superuser):
        raise NotFound("Not found.")
    return user


@router.get("/users/me", response={200: UserOut, **ERRORS})
def me(request: HttpRequest) -> Any:
    user: User = request.auth  # type: ignore[attr-defined]
    return user_out(User.objects.select_related("user_group", "manager").get(pk=user.pk))


@router.get("/users", response={200: PageOut[UserOut], **ERRORS})
def list_users(request: HttpRequest, filters: Query[UserFilter]) -> Any:
    """People (support staff only): reporter lookup by name, username, e-mail or phone."""
    _staff_only(request)
    qs = User.objects.filter(is_active=True).select_related("user_group", "manager")
    if filters.text:
        t = filters.text.strip()
        qs = qs.filter(
            Q(username__icontains=t) | Q(first_name__icontains=t) | Q(last_name__icontains=t)
            | Q(email__icontains=t) | Q(phone__icontains=t)
        )  # fmt: skip
    if filters.role:
        qs = qs.filter(role=filters.role)
    if filters.group:
        qs = qs.filter(support_groups__id=filters.group)
    rows, nxt = keyset_page(
        qs.prefetch_related("support_groups"),
        cursor=filters.cursor,
        limit=filters.limit,
        ascending=True,
    )
    return {"items": [user_out(u) for u in rows], "next": nxt}


@router.get("/users/{user_id}", response={200: UserOut, **ERRORS})
def get_user(request: HttpRequest, user_id: RowId) -> Any:
    caller = request.auth  # type: ignore[attr-defined]
    if caller.pk != user_id:
        _staff_only(request)
    user = one(User.objects.select_related("user_group", "manager").filter(pk=user_id))
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user_out(user)


@router.get("/groups", response={200: list[GroupOut], **ERRORS})
def list_groups(
    request: HttpRequest, level: Annotated[int, Field(ge=1, le=3)] | None = None
) -> Any:
    qs = SupportGroup.objects.select_related("technology", "manager").prefetch_related("members")
    if level is not None:
        qs = qs.filter(level=level)
    return [group_out(g) for g in qs.order_by("level", "name")]


@router.get("/groups/{group_id}", response={200: GroupOut, **ERRORS})
def get_group(request: HttpRequest, group_id: RowId) -> Any:
    group = (
        SupportGroup.objects.select_related("technology", "manager")
        .prefetch_related("members").filter(pk=group_id).first()
    )  # fmt: skip
    if group is None:
        raise NotFound(f"Group {group_id} does not exist.")
    return group_out(group)
