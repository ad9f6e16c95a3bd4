"""Read-only queries of error control (API, admin, reports)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from servicedesk.accounts.models import User
from servicedesk.core.errors import FieldError, NotFound

from .models import (
    NUMBER_PREFIX,
    Audience,
    FixProject,
    FixStatus,
    KnownError,
    KnownErrorIncident,
    Status,
)

PREFETCH = ("services", "configuration_items", "codes", "fix_projects")


def is_staff(user: User) -> bool:
    return user.is_support_staff or user.is_superuser


def known_errors(user: User) -> QuerySet[KnownError]:
    """Support staff see the whole KEDB; end users the workarounds published for
    the portal (of known errors not closed)."""
    qs = KnownError.objects.select_related("problem", "technology").prefetch_related(*PREFETCH)
    qs = qs.annotate(caused=Count("incident_links", distinct=True))
    if not is_staff(user):
        qs = qs.filter(audience=Audience.PORTAL).exclude(status=Status.CLOSED)
    return qs


def get_known_error(user: User, pk: int) -> KnownError:
    ke = known_errors(user).filter(pk=pk).first()
    if ke is None:
        raise NotFound(f"Known error {pk} does not exist.")
    return ke


def parse_number(text: str) -> int | None:
    value = text.strip().upper()
    if value.startswith(NUMBER_PREFIX):
        digits = value[len(NUMBER_PREFIX) :]
        if digits.isdigit() and 0 < len(digits) <= 10 and int(digits) < 2**31:
            return int(digits)
    return None


@dataclass
class KnownErrorFilter:
    status: list[str] | None = None
    audience: list[str] | None = None
    technology: int | None = None
    service: int | None = None
    configuration_item: int | None = None
    problem: int | None = None
    rate_rising: bool | None = None
    text: str | None = None

    def apply(self, qs: QuerySet[KnownError]) -> QuerySet[KnownError]:
        if self.status:
            qs = qs.filter(status__in=self.status)
        if self.audience:
            qs = qs.filter(audience__in=self.audience)
        for field in ("technology", "problem"):
            value = getattr(self, field)
            if value is not None:
                qs = qs.filter(**{f"{field}_id": value})
        if self.service is not None:
            qs = qs.filter(services=self.service)
        if self.configuration_item is not None:
            qs = qs.filter(configuration_items=self.configuration_item)
        if self.rate_rising is not None:
            qs = qs.filter(rate_rising=self.rate_rising)
        if self.text and self.text.strip():
            number = parse_number(self.text)
            text = self.text.strip()
            qs = (
                qs.filter(pk=number)
                if number is not None
                else qs.filter(Q(title__icontains=text) | Q(symptoms__icontains=text))
            )
        return qs.distinct() if self.service or self.configuration_item else qs


# ---- fix projects: the prioritised list --------------------------------------------------


def _encode(priority: int, pk: int) -> str:
    return base64.urlsafe_b64encode(f"fix:{priority}:{pk}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, priority, pk = raw.split(":")
        if kind != "fix" or not (0 < int(priority) < 10 and 0 < int(pk) < 2**63):
            raise ValueError
        return int(priority), int(pk)
    except (ValueError, UnicodeDecodeError):
        raise FieldError(["query", "cursor"], "not a cursor this API returned") from None


def fix_projects(
    *, status: Sequence[str] | None = None, known_error: int | None = None, active: bool | None = None,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[FixProject], str | None]:  # fmt: skip
    """The prioritised list: priority 1 first, then the oldest; keyset-paginated."""
    qs = FixProject.objects.select_related("known_error", "owner", "group")
    if status:
        qs = qs.filter(status__in=status)
    if active is not None:
        qs = qs.filter(status__in=[*ACTIVE]) if active else qs.exclude(status__in=[*ACTIVE])
    if known_error is not None:
        qs = qs.filter(known_error_id=known_error)
    if cursor:
        priority, pk = _decode(cursor)
        qs = qs.filter(Q(priority__gt=priority) | Q(priority=priority, pk__gt=pk))
    rows = list(qs.order_by("priority", "id")[: limit + 1])
    next_cursor = (
        _encode(rows[limit - 1].priority, rows[limit - 1].pk) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


ACTIVE = (FixStatus.PROPOSED, FixStatus.APPROVED, FixStatus.IN_PROGRESS)
CENT = Decimal("0.01")


def figures(
    opened_from: datetime | None = None, opened_to: datetime | None = None
) -> dict[str, Any]:
    """SPEC Table 3 figures: known errors, incidents caused by known errors,
    fix projects started and implemented, and the cost of all fix projects.
    The period (when given) selects known errors and fix projects created in
    it and incidents opened in it."""
    kes = KnownError.objects.all()
    fixes = FixProject.objects.all()
    links = KnownErrorIncident.objects.all()
    if opened_from is not None:
        kes, fixes = (
            kes.filter(created_at__gte=opened_from),
            fixes.filter(created_at__gte=opened_from),
        )
        links = links.filter(incident__opened_at__gte=opened_from)
    if opened_to is not None:
        kes, fixes = kes.filter(created_at__lt=opened_to), fixes.filter(created_at__lt=opened_to)
        links = links.filter(incident__opened_at__lt=opened_to)
    costs = fixes.exclude(status=FixStatus.CANCELLED).aggregate(
        estimate=Sum("cost_estimate"), actual=Sum("actual_cost")
    )
    return {
        "known_errors": kes.count(),
        "known_errors_open": kes.exclude(status=Status.CLOSED).count(),
        "incidents_caused": links.values("incident").distinct().count(),
        "fix_projects_started": fixes.filter(actual_start__isnull=False).count(),
        "fix_projects_implemented": fixes.filter(status=FixStatus.IMPLEMENTED).count(),
        # SQLite sums decimals without their scale: quantise for one answer on both.
        "fix_projects_cost_estimate": Decimal(costs["estimate"] or 0).quantize(CENT),
        "fix_projects_actual_cost": Decimal(costs["actual"] or 0).quantize(CENT),
    }
