"""Read-only queries of communications, shared by the API and the admin."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from servicedesk.accounts import permissions
from servicedesk.accounts.models import User
from servicedesk.core.errors import NotFound
from servicedesk.core.lookups import one
from servicedesk.incidents.models import Incident

from .models import (
    ActionRequest,
    Notification,
    NotificationPreference,
    NotificationRule,
    NotificationTemplate,
)


def notifications(user: User, *, include_read: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(user=user).select_related("sender")
    return qs if include_read else qs.filter(read_at__isnull=True)


def rules() -> QuerySet[NotificationRule]:
    return NotificationRule.objects.prefetch_related(
        "services", "technologies", "user_groups", "recipients__user", "recipients__group",
        "recipients__webhook",
    )  # fmt: skip


def templates() -> QuerySet[NotificationTemplate]:
    return NotificationTemplate.objects.select_related("approved_by", "updated_by")


def action_requests(user: User) -> QuerySet[ActionRequest]:
    """Support staff see every request; others the ones addressed to them."""
    qs = ActionRequest.objects.select_related("addressee", "addressee_group", "done_by")
    if user.is_support_staff or user.is_superuser:
        return qs
    return qs.filter(addressee=user)


def addressed_to(qs: QuerySet[ActionRequest], user: User) -> QuerySet[ActionRequest]:
    return qs.filter(Q(addressee=user) | Q(addressee_group_id__in=permissions.group_ids(user)))


def visible_incident(user: User, pk: int) -> Incident:
    incident = Incident.objects.filter(pk=pk).first()
    if incident is None or not permissions.can_view_incident(user, incident):
        raise NotFound(f"Incident {pk} does not exist.")
    return incident


def preferences(user: User) -> NotificationPreference:
    """The person's preferences (defaults when they never saved any; nothing is written)."""
    pref = one(NotificationPreference.objects.filter(user=user).select_related("user"))
    if pref is not None:
        return pref
    from . import conf

    starts, ends = conf.work_hours()
    return NotificationPreference(
        user=user, quiet_hours=True, work_days=conf.work_days(), work_starts=starts, work_ends=ends
    )
