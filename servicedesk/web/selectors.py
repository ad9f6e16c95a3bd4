"""Read-only queries of the pages: queues and their counts, pickers, lookups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts import permissions
from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.catalog.models import ConfigurationItem, Service, Technology
from servicedesk.core.pagination import keyset_page
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents.models import OPEN_STATUSES, Incident, SeverityBand, Task


@dataclass(frozen=True)
class Scope:
    """What the queue conditions need to know about the person and the groups."""

    user: User
    my_groups: set[int]
    groups_by_level: dict[int, list[int]]


@dataclass(frozen=True)
class Queue:
    """A named slice of the open incidents a user sees in the workspace."""

    key: str
    label: Any
    condition: Callable[[Scope], Q]


# Each condition is answered by an index of incidents alone (assignee+status,
# group+status, status+id), so a count costs microseconds at 100,000 rows. The
# support level of an incident is the level of the group holding it (the
# services keep them equal), so "by level" selects the groups of that level.
QUEUES: list[Queue] = [
    Queue("mine", _("My incidents"), lambda s: Q(assignee_id=s.user.pk)),
    Queue("groups", _("My groups"), lambda s: Q(assigned_group_id__in=s.my_groups)),
    Queue("unassigned", _("Unassigned"), lambda s: Q(assignee__isnull=True)),
    Queue("level1", _("1st line"), lambda s: Q(assigned_group_id__in=s.groups_by_level.get(1, []))),
    Queue("level2", _("2nd line"), lambda s: Q(assigned_group_id__in=s.groups_by_level.get(2, []))),
    Queue("level3", _("3rd line"), lambda s: Q(assigned_group_id__in=s.groups_by_level.get(3, []))),
    Queue("all", _("All open"), lambda s: Q()),
]
QUEUE_KEYS = {queue.key: queue for queue in QUEUES}


def scope(user: User, groups: list[SupportGroup]) -> Scope:
    by_level: dict[int, list[int]] = {}
    for group in groups:
        by_level.setdefault(group.level, []).append(group.pk)
    return Scope(user, permissions.group_ids(user), by_level)


def default_queue(user: User) -> str:
    return "groups" if permissions.group_ids(user) else "all"


def queue_incidents(scope: Scope, key: str, *, open_only: bool = True) -> QuerySet[Incident]:
    qs = incident_selectors.visible_incidents(scope.user).filter(QUEUE_KEYS[key].condition(scope))
    if open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    return qs


def queue_counts(scope: Scope) -> dict[str, int]:
    """Open incidents per queue, in one round trip: a COUNT per queue, each answered
    by an index, as scalar subqueries of one SELECT. (One aggregate with a FILTER
    per queue would read every open row: 20 ms at 100,000 incidents.)"""
    base = incident_selectors.visible_incidents(scope.user).filter(status__in=OPEN_STATUSES)
    parts: list[str] = []
    params: list[Any] = []
    for queue in QUEUES:
        try:
            sql, part_params = (
                base.filter(queue.condition(scope)).order_by().values("pk").query.sql_with_params()
            )
        except EmptyResultSet:  # e.g. "my groups" of someone in no group: nothing to count
            parts.append("0")
            continue
        # The SQL is Django's own for the queryset; values stay parameters.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS q_{queue.key})")  # noqa: S608
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {queue.key: int(value) for queue, value in zip(QUEUES, row, strict=True)}


# What a queue row shows (the incident page loads everything).
ROW_RELATED = ("service", "configuration_item", "assigned_group", "assignee", "coordinator")


def queue_page(
    qs: QuerySet[Incident], *, cursor: str | None, limit: int
) -> tuple[list[Incident], str | None]:
    """One page of a queue, newest first, in two steps: the page's ids from the
    index alone, then those rows with what a row shows. Joining first would
    join every open incident before the sort and the limit."""
    keys, next_cursor = keyset_page(qs.only("pk"), cursor=cursor, limit=limit)
    ids = [k.pk for k in keys]
    rows = Incident.objects.select_related(*ROW_RELATED).filter(pk__in=ids).order_by("-id")
    return list(rows), next_cursor


def support_groups() -> list[SupportGroup]:
    """Every group, inactive ones too (their incidents still count per level)."""
    return list(SupportGroup.objects.order_by("level", "name"))


def group_members(group_id: int | None) -> list[User]:
    if group_id is None:
        return []
    return list(
        User.objects.filter(support_groups__id=group_id, is_active=True)
        .exclude(role=Role.END_USER)
        .order_by("first_name", "last_name", "username")
    )


def technologies() -> list[Technology]:
    return list(Technology.objects.order_by("name"))


def severity_levels() -> list[int]:
    return list(SeverityBand.objects.order_by("severity").values_list("severity", flat=True)) or [
        1, 2, 3, 4,
    ]  # fmt: skip


def severity_band(severity: int) -> SeverityBand | None:
    return SeverityBand.objects.filter(severity=severity).first()


def active_person(pk: int) -> User | None:
    return User.objects.filter(pk=pk, is_active=True).first()


def task_of(incident: Incident, task_id: int) -> Task | None:
    return Task.objects.filter(pk=task_id, incident=incident).first()


def services() -> list[Service]:
    return list(Service.objects.filter(is_active=True).order_by("name"))


def configuration_items(service_id: int | None) -> list[ConfigurationItem]:
    qs = ConfigurationItem.objects.filter(is_active=True).order_by("name")
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    return list(qs.select_related("service"))


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def find_reporters(text: str, limit: int = 8) -> list[User]:
    """People matching a name, username, e-mail or phone (digits in any format).

    ``555 04 00``, ``555-04-00`` and ``5550400`` all find ``+7 495 555-04-00``.
    """
    text = text.strip()
    if len(text) < 2:
        return []
    condition = Q()
    for word in text.split()[:4]:
        condition &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(email__icontains=word)
        )
    qs = User.objects.filter(is_active=True).select_related("user_group")
    digits = _digits(text)
    if len(digits) >= 3:
        phone_digits: Any = Replace("phone", Value(" "), Value(""))
        for char in "-+()./":
            phone_digits = Replace(phone_digits, Value(char), Value(""))
        qs = qs.annotate(phone_digits=phone_digits)
        condition = condition | Q(phone_digits__contains=digits)
    return list(qs.filter(condition).order_by("last_name", "first_name", "username")[:limit])
