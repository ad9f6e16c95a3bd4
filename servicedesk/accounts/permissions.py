"""Who may do what. Checked by services' callers (API, views) on every request."""

from __future__ import annotations

from typing import Any, Protocol

from servicedesk.core.errors import PermissionDenied

from .models import Role, User


class _IncidentLike(Protocol):
    reporter_id: Any
    owner_group_id: Any
    assigned_group_id: Any


def group_ids(user: User) -> set[int]:
    """The support groups a user belongs to (cached on the user for the request)."""
    cached = getattr(user, "_servicedesk_group_ids", None)
    if cached is None:
        cached = {
            gid: level
            for gid, level in user.support_groups.filter(is_active=True).values_list("id", "level")
        }
        user._servicedesk_group_ids = cached  # type: ignore[attr-defined]
    return set(cached)


def is_first_line(user: User) -> bool:
    group_ids(user)
    return 1 in user._servicedesk_group_ids.values()  # type: ignore[attr-defined]


def is_manager(user: User) -> bool:
    return user.role in (Role.MANAGER, Role.ADMIN) or user.is_superuser


def can_view_incident(user: User, incident: _IncidentLike) -> bool:
    return user.is_support_staff or user.is_superuser or incident.reporter_id == user.id


def can_work_incident(user: User, incident: _IncidentLike) -> bool:
    """Agents work incidents of their groups; the 1st line owns every incident;
    managers, problem managers and administrators work any."""
    if user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER, Role.PROBLEM_MANAGER):
        return True
    if user.role != Role.AGENT:
        return False
    groups = group_ids(user)
    return (
        is_first_line(user)
        or incident.owner_group_id in groups
        or incident.assigned_group_id in groups
    )


def require(allowed: bool, message: str = "You do not have permission to do that.") -> None:
    if not allowed:
        raise PermissionDenied(message)
