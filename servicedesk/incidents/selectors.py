"""Read-only queries over incidents, shared by the API, the UI and reports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from servicedesk.accounts.models import User
from servicedesk.core.errors import NotFound
from servicedesk.core.lookups import KeyedRead
from servicedesk.core.pagination import keyset_page

from .models import Comment, Incident, IncidentEvent, parse_number

LIST_RELATED = (
    "reporter", "owner_group", "assigned_group", "assignee", "coordinator", "service",
    "configuration_item", "technology", "user_group", "category",
)  # fmt: skip


def sees_every_incident(user: User) -> bool:
    """Support staff see every incident; end users see the ones they reported."""
    return bool(user.is_support_staff or user.is_superuser)


def visible_incidents(user: User) -> QuerySet[Incident]:
    qs = Incident.objects.all()
    if not sees_every_incident(user):
        qs = qs.filter(reporter=user)
    return qs


# The reads by id behind every incident request, compiled once (core/lookups.py):
# (with its references?, as its reporter?) -> read. The reporter's reads are the
# rows visible_incidents() gives an end user.
_BY_ID = {
    (True, False): KeyedRead(
        lambda pk: Incident.objects.select_related(*LIST_RELATED).filter(pk=pk)
    ),
    (False, False): KeyedRead(lambda pk: Incident.objects.filter(pk=pk)),
    (True, True): KeyedRead(
        lambda pk, reporter: Incident.objects.select_related(*LIST_RELATED).filter(
            pk=pk, reporter_id=reporter
        ),
        keys=(int, int),
    ),
    (False, True): KeyedRead(
        lambda pk, reporter: Incident.objects.filter(pk=pk, reporter_id=reporter), keys=(int, int)
    ),
}


def get_incident(user: User, pk: int, *, related: bool = True) -> Incident:
    """The incident if ``user`` may see it; otherwise 404 (its existence is not revealed)."""
    if sees_every_incident(user):
        incident = _BY_ID[related, False](pk)
    else:
        incident = _BY_ID[related, True](pk, user.pk)
    if incident is None:
        raise NotFound(f"Incident {pk} does not exist.")
    return incident


def reread(user: User, written: Incident) -> Incident:
    """``written`` as committed, after a write: the row is read again (listeners may
    have changed it), without joins; each reference the write already holds in
    memory and that still names the same record is reused instead of read again."""
    fresh = get_incident(user, written.pk, related=False)
    for name in LIST_RELATED:
        field: Any = Incident._meta.get_field(name)
        same = getattr(fresh, field.attname) == getattr(written, field.attname)
        if same and field.is_cached(written):
            field.set_cached_value(fresh, field.get_cached_value(written))
    return fresh


@dataclass
class IncidentFilter:
    """The filters of the incident list (API and UI share them)."""

    status: list[str] | None = None
    severity: list[int] | None = None
    priority: list[int] | None = None
    support_level: list[int] | None = None
    group: int | None = None  # owner or assigned group
    assigned_group: int | None = None
    assignee: int | None = None
    unassigned: bool | None = None
    reporter: int | None = None
    technology: int | None = None
    user_group: int | None = None
    service: int | None = None
    configuration_item: int | None = None
    category: int | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    text: str | None = None

    def apply(self, qs: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.status:
            qs = qs.filter(status__in=self.status)
        if self.severity:
            qs = qs.filter(severity__in=self.severity)
        if self.priority:
            qs = qs.filter(priority__in=self.priority)
        if self.support_level:
            qs = qs.filter(support_level__in=self.support_level)
        if self.group is not None:
            qs = qs.filter(Q(assigned_group_id=self.group) | Q(owner_group_id=self.group))
        for field in ("assigned_group", "assignee", "reporter", "technology", "user_group",
                      "service", "configuration_item", "category"):  # fmt: skip
            value = getattr(self, field)
            if value is not None:
                qs = qs.filter(**{f"{field}_id": value})
        if self.unassigned is not None:
            qs = qs.filter(assignee__isnull=self.unassigned)
        if self.opened_from is not None:
            qs = qs.filter(opened_at__gte=self.opened_from)
        if self.opened_to is not None:
            qs = qs.filter(opened_at__lt=self.opened_to)
        if self.text:
            text = self.text.strip()
            number = parse_number(text)
            if number is not None:
                qs = qs.filter(pk=number)
            elif text:
                qs = qs.filter(
                    Q(title__icontains=text) | Q(description__icontains=text) | Q(external_ref=text)
                )
        return qs


def page(
    qs: QuerySet[Incident], *, cursor: str | None, limit: int
) -> tuple[list[Incident], str | None]:
    """One page of incidents, newest first (keyset pagination), references attached."""
    rows, next_cursor = keyset_page(qs, cursor=cursor, limit=limit)
    return attach_references(rows), next_cursor


def attach_references(rows: list[Incident]) -> list[Incident]:
    """Load the rows' references (``LIST_RELATED``) with one small query per model
    instead of joining them: PostgreSQL spent about 30 ms *planning* the 11-table
    join of a page (0.9 ms executing it) at 100,000 incidents (docs/performance.md)."""
    fields: list[Any] = [Incident._meta.get_field(name) for name in LIST_RELATED]
    wanted: dict[Any, set[int]] = defaultdict(set)
    for row in rows:
        for field in fields:
            if (value := getattr(row, field.attname)) is not None:
                wanted[field.related_model].add(value)
    loaded = {model: model._default_manager.in_bulk(ids) for model, ids in wanted.items()}
    for row in rows:
        for field in fields:
            value = getattr(row, field.attname)
            field.set_cached_value(
                row, None if value is None else loaded[field.related_model].get(value)
            )
    return rows


def timeline(user: User, incident: Incident) -> QuerySet[IncidentEvent]:
    """The incident's events in order; internal notes are hidden from end users."""
    qs = incident.events.select_related("actor").order_by("id")
    if not sees_every_incident(user):
        internal = Comment.objects.filter(incident=incident, public=False).values_list(
            "pk", flat=True
        )
        qs = qs.exclude(type="commented", payload__comment_id__in=list(internal))
    return qs


def comments(user: User, incident: Incident) -> QuerySet[Comment]:
    qs = incident.comments.select_related("author").order_by("created_at", "id")
    if not sees_every_incident(user):
        qs = qs.filter(public=True)
    return qs
