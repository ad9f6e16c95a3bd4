"""Monthly counts of registered and resolved incidents, kept exact incrementally.

``facts.refresh`` hands every recomputed incident's old and new fact to
:func:`apply`, which subtracts the old monthly cells and adds the new ones in
the same transaction: a late event that moves an incident's resolution into
another month moves its count with it. Cells are updated in key order, so two
transactions touching the same cells queue instead of deadlocking.
:func:`rebuild` recounts everything from the facts (after a change of the
reporting time zone).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from .business_time import reporting_time_zone
from .models import IncidentFact, MonthlyCount

Cell = tuple[str, date, int, int, int, int, int]
COLUMNS = ("kind", "month", "severity", "service", "technology", "user_group", "reached")
FACT_FIELDS = (
    "opened_at", "resolved_at", "severity", "service_id", "technology_id", "user_group_id",
    "reached_l1", "reached_l2", "reached_l3",
)  # fmt: skip


def reached_mask(l1: bool, l2: bool, l3: bool) -> int:
    return (1 if l1 else 0) | (2 if l2 else 0) | (4 if l3 else 0)


def _month(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date().replace(day=1)


def cells(fact: dict[str, Any], zone: ZoneInfo) -> list[Cell]:
    """The cells one incident's fact counts in (a dict with ``FACT_FIELDS``)."""
    dims = (
        fact["severity"], fact["service_id"] or 0, fact["technology_id"] or 0,
        fact["user_group_id"] or 0,
        reached_mask(fact["reached_l1"], fact["reached_l2"], fact["reached_l3"]),
    )  # fmt: skip
    found: list[Cell] = [("opened", _month(fact["opened_at"], zone), *dims)]
    if fact["resolved_at"] is not None:
        found.append(("resolved", _month(fact["resolved_at"], zone), *dims))
    return found


def apply(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]) -> None:
    """Move the counts from the old facts' cells to the new ones."""
    zone = ZoneInfo(reporting_time_zone())
    delta: Counter[Cell] = Counter()
    for fact in old:
        delta.subtract(cells(fact, zone))
    for fact in new:
        delta.update(cells(fact, zone))
    changes = sorted((cell, n) for cell, n in delta.items() if n)
    if not changes:
        return
    table = connection.ops.quote_name(MonthlyCount._meta.db_table)
    columns = ", ".join(COLUMNS)
    adapt = connection.ops.adapt_datefield_value
    # Both databases speak INSERT ... ON CONFLICT DO UPDATE (SQLite since 3.24).
    sql = (
        f"INSERT INTO {table} ({columns}, n) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({columns}) DO UPDATE SET n = {table}.n + excluded.n"
    )
    rows = [(k, adapt(m), s, sv, t, u, r, n) for (k, m, s, sv, t, u, r), n in changes]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def rebuild() -> int:
    """Recount every cell from the facts; returns the number of cells."""
    zone = ZoneInfo(reporting_time_zone())
    MonthlyCount.objects.all().delete()
    counter: Counter[Cell] = Counter()
    for kind, field in (("opened", "opened_at"), ("resolved", "resolved_at")):
        rows = (
            IncidentFact.objects.filter(**{f"{field}__isnull": False})
            .annotate(m=TruncMonth(field, tzinfo=zone))
            .values("m", "severity", "service_id", "technology_id", "user_group_id",
                    "reached_l1", "reached_l2", "reached_l3")
            .annotate(n=Count("pk"))
            .order_by()
        )  # fmt: skip
        for row in rows:
            month = row["m"]
            day = month.astimezone(zone).date() if isinstance(month, datetime) else month
            mask = reached_mask(row["reached_l1"], row["reached_l2"], row["reached_l3"])
            key: Cell = (kind, day, row["severity"], row["service_id"] or 0,
                         row["technology_id"] or 0, row["user_group_id"] or 0, mask)  # fmt: skip
            counter[key] += row["n"]
    MonthlyCount.objects.bulk_create(
        [MonthlyCount(**dict(zip(COLUMNS, cell, strict=True)), n=n) for cell, n in counter.items()],
        batch_size=2000,
    )
    return len(counter)


def month_filter(
    *, severity: tuple[int, ...], service: int | None, technology: int | None,
    user_group: int | None, support_level: int | None,
) -> Q:  # fmt: skip
    """The report filters on the cells (the group filter cannot be: see the caller)."""
    condition = Q()
    if severity:
        condition &= Q(severity__in=severity)
    for field, value in (("service", service), ("technology", technology),
                         ("user_group", user_group)):  # fmt: skip
        if value is not None:
            condition &= Q(**{field: value})
    if support_level is not None:
        bit = 1 << (support_level - 1)
        condition &= Q(reached__in=[mask for mask in range(8) if mask & bit])
    return condition
