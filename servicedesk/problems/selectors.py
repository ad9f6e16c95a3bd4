"""Read-only queries of problem control (API, admin, reports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from servicedesk.accounts.models import User
from servicedesk.core.errors import NotFound, PermissionDenied
from servicedesk.core.pagination import keyset_page

from .models import CAUSE_UNKNOWN_STATUSES, NUMBER_PREFIX, Problem, Status

RELATED = (
    "technology",
    "service",
    "category",
    "owner_group",
    "owner",
    "assigned_group",
    "assignee",
)
PREFETCH = ("configuration_items", "user_groups", "team", "known_errors")


def require_staff(user: User) -> None:
    """Problems are internal: end users see none."""
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied("Problems are visible to support staff only.")


def problems(user: User) -> QuerySet[Problem]:
    require_staff(user)
    return (
        Problem.objects.select_related(*RELATED)
        .prefetch_related(*PREFETCH)
        .annotate(links=Count("incident_links", distinct=True))
    )


def get_problem(user: User, pk: int) -> Problem:
    problem = problems(user).filter(pk=pk).first()
    if problem is None:
        raise NotFound(f"Problem {pk} does not exist.")
    return problem


def parse_number(text: str) -> int | None:
    value = text.strip().upper()
    if value.startswith(NUMBER_PREFIX):
        digits = value[len(NUMBER_PREFIX) :]
        if digits.isdigit() and 0 < len(digits) <= 10 and int(digits) < 2**31:
            return int(digits)
    return None


@dataclass
class ProblemFilter:
    status: list[str] | None = None
    source: list[str] | None = None
    priority: list[int] | None = None
    support_level: list[int] | None = None
    technology: int | None = None
    service: int | None = None
    category: int | None = None
    configuration_item: int | None = None
    user_group: int | None = None
    owner_group: int | None = None
    assigned_group: int | None = None
    major: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    text: str | None = None

    def apply(self, qs: QuerySet[Problem]) -> QuerySet[Problem]:
        for field in ("status", "source", "priority", "support_level"):
            values = getattr(self, field)
            if values:
                qs = qs.filter(**{f"{field}__in": values})
        for field in ("technology", "service", "category", "owner_group", "assigned_group"):
            value = getattr(self, field)
            if value is not None:
                qs = qs.filter(**{f"{field}_id": value})
        if self.configuration_item is not None:
            qs = qs.filter(configuration_items=self.configuration_item)
        if self.user_group is not None:
            qs = qs.filter(user_groups=self.user_group)
        if self.major is not None:
            qs = qs.filter(major=self.major)
        if self.opened_from is not None:
            qs = qs.filter(opened_at__gte=self.opened_from)
        if self.opened_to is not None:
            qs = qs.filter(opened_at__lt=self.opened_to)
        if self.text and self.text.strip():
            number = parse_number(self.text)
            if number is not None:
                qs = qs.filter(pk=number)
            else:
                text = self.text.strip()
                qs = qs.filter(Q(title__icontains=text) | Q(description__icontains=text))
        return qs.distinct() if self.configuration_item or self.user_group else qs


def page(
    qs: QuerySet[Problem], *, cursor: str | None, limit: int
) -> tuple[list[Problem], str | None]:
    return keyset_page(qs, cursor=cursor, limit=limit)


def portfolio(user: User, statuses: Sequence[str] | None = None, limit: int = 100) -> list[Problem]:
    """Problems whose cause work is open, ranked by selection score (then priority, age)."""
    chosen = statuses or [*CAUSE_UNKNOWN_STATUSES, Status.ROOT_CAUSE_KNOWN]
    return list(
        problems(user)
        .filter(status__in=chosen)
        .order_by("-score", "priority", "opened_at", "id")[:limit]
    )
