"""The incident reports of SPEC Table 1 and section 8 (definitions: docs/metrics.md)."""

from __future__ import annotations

import bisect
import dataclasses
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Min, Q, Sum

from servicedesk.catalog.models import Technology, UserGroup

from . import rollup
from .business_time import business_seconds
from .facts import target_hours
from .models import IncidentFact, MonthlyCount
from .registry import Chart, Column, Params, Result, Table, report
from .selectors import (
    filtered_facts,
    group_facts_resolved_in_period,
    group_names,
    names,
    opened_in_period,
    ref,
    resolved_in_period,
)

HOUR = 3600.0
# Elapsed-time buckets of open incidents: (label, from hours, to hours).
BUCKETS: list[tuple[str, float, float | None]] = [
    ("< 1 h", 0, 1), ("1-4 h", 1, 4), ("4-8 h", 4, 8), ("8-24 h", 8, 24),
    ("1-3 d", 24, 72), ("3-7 d", 72, 168), (">= 7 d", 168, None),
]  # fmt: skip
# SPEC section 4: the share each level should resolve, and of what.
LEVEL_TARGETS = {1: (0.80, "all"), 2: (0.75, "received"), 3: (1.00, "received")}


# Counts name a column the covering indexes carry ("severity": never null), so
# PostgreSQL can answer from the index alone; Django refuses COUNT(*) with a filter.
def _grouped(qs: Any, *keys: str, **figures: Any) -> list[dict[str, Any]]:
    """``GROUP BY keys`` with the figures, ordered by the keys."""
    return list(qs.values(*keys).annotate(**figures).order_by(*keys))


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 4)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 4)


# ---- open now -----------------------------------------------------------------------------


def _count_from(opened: list[datetime], now: datetime, threshold: float, business: bool) -> int:
    """How many of the (ascending) opening times are at least ``threshold`` seconds old."""

    def young(i: int) -> bool:
        age = business_seconds(opened[i], now) if business else (now - opened[i]).total_seconds()
        return age < threshold

    # Age falls as the opening time rises, so "young" is False then True along the list.
    return bisect.bisect_left(range(len(opened)), True, key=young)


@report(
    "incidents-open",
    title="Open incidents",
    description=(
        "Incidents open now by severity, by time elapsed since registration (calendar and "
        "business time) and by the group holding them. The period restricts the registration "
        "date only when given."
    ),
    chart=Chart(table="by_elapsed", label="bucket", values=("calendar", "business")),
    snapshot=True,
)
def incidents_open(p: Params) -> Result:
    # Open incidents are where they are now: level and group filters mean the current ones.
    qs = filtered_facts(
        dataclasses.replace(p, support_level=None, group=None),
        IncidentFact.objects.filter(is_open=True),
    )
    if p.support_level is not None:
        qs = qs.filter(current_level=p.support_level)
    if p.group is not None:
        qs = qs.filter(current_group_id=p.group)
    if p.explicit_period:
        qs = qs.filter(opened_at__gte=p.start, opened_at__lt=p.end)

    by_severity = Table(
        "by_severity", "By severity",
        [Column("severity", "Severity"), Column("open", "Open")],
        [{"severity": r["severity"], "open": r["n"]}
         for r in qs.values("severity").annotate(n=Count("*")).order_by("severity")],
    )  # fmt: skip
    opened = list(qs.order_by("opened_at").values_list("opened_at", flat=True))
    elapsed_rows = []
    for label, low, high in BUCKETS:
        row: dict[str, Any] = {"bucket": label}
        for key, business in (("calendar", False), ("business", True)):
            older_than_low = _count_from(opened, p.now, low * HOUR, business)
            older_than_high = (
                0 if high is None else _count_from(opened, p.now, high * HOUR, business)
            )
            row[key] = older_than_low - older_than_high
        elapsed_rows.append(row)
    by_elapsed = Table(
        "by_elapsed", "By elapsed time",
        [Column("bucket", "Elapsed", "text"), Column("calendar", "Calendar time"),
         Column("business", "Business time")],
        elapsed_rows,
    )  # fmt: skip
    groups = list(
        qs.values("current_group_id", "current_level")
        .annotate(n=Count("*"), oldest=Min("opened_at"))
        .order_by("current_level", "current_group_id")
    )
    titles = group_names(r["current_group_id"] for r in groups)
    by_group = Table(
        "by_group", "By responsible group",
        [Column("group", "Group", "ref"), Column("support_level", "Level"),
         Column("open", "Open"), Column("oldest_opened_at", "Oldest opened", "datetime")],
        [{"group": ref(r["current_group_id"], titles), "support_level": r["current_level"],
          "open": r["n"], "oldest_opened_at": r["oldest"].isoformat() if r["oldest"] else None}
         for r in groups],
    )  # fmt: skip
    return Result([by_severity, by_elapsed, by_group], {"open": len(opened)})


# ---- by period ----------------------------------------------------------------------------


def _months(start: date, end: date) -> list[date]:
    months, current = [], start.replace(day=1)
    while current <= end:
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


def _month_bounds(months: list[date], p: Params) -> list[tuple[datetime, datetime, bool]]:
    """Each month's [start, end) in the reporting time zone clipped to the period, and
    whether the period holds the whole month."""
    zone = ZoneInfo(p.time_zone)
    starts = [datetime.combine(m, time.min, tzinfo=zone) for m in months]
    after = (months[-1] + timedelta(days=32)).replace(day=1)
    starts.append(datetime.combine(after, time.min, tzinfo=zone))
    return [
        (max(a, p.start), min(b, p.end), a >= p.start and b <= p.end) for a, b in pairwise(starts)
    ]


def _month_counts(kind: str, months: list[date], p: Params) -> dict[date, int]:
    """Incidents registered / finally resolved per month of the reporting time zone.

    Whole months come from the monthly counts (``rollup``); months the period cuts
    (usually the current one) are counted on the facts by time range. The group
    filter ("held by") is not in the monthly counts: with it, every month is
    counted on the facts."""
    field = "opened_at" if kind == "opened" else "resolved_at"
    bounds = _month_bounds(months, p)
    whole = [m for m, (_, _, full) in zip(months, bounds, strict=True) if full and p.group is None]
    counts: dict[date, int] = {}
    if whole:
        condition = rollup.month_filter(
            severity=p.severity, service=p.service, technology=p.technology,
            user_group=p.user_group, support_level=p.support_level,
        )  # fmt: skip
        rows = (
            MonthlyCount.objects.filter(condition, kind=kind, month__in=whole)
            .values("month")
            .annotate(total=Sum("n"))
            .order_by()
        )
        found = {row["month"]: row["total"] for row in rows}
        counts.update({m: found.get(m, 0) for m in whole})
    rest = [(m, a, b) for m, (a, b, _) in zip(months, bounds, strict=True) if m not in counts]
    base = opened_in_period(p) if kind == "opened" else resolved_in_period(p)
    if 0 < len(rest) <= 3:
        # The cut months at the ends: each a short index range.
        for m, a, b in rest:
            counts[m] = base.filter(**{f"{field}__gte": a, f"{field}__lt": b}).count()
    elif rest:
        figures = base.aggregate(**{
            f"m{i}": Count("severity", filter=Q(**{f"{field}__gte": a, f"{field}__lt": b}))
            for i, (_, a, b) in enumerate(rest)
        })  # fmt: skip
        counts.update({m: figures[f"m{i}"] for i, (m, _, _) in enumerate(rest)})
    return counts


@report(
    "incidents-by-period",
    title="Incidents by month and quarter",
    description=(
        "Incidents registered in each month and quarter of the period, and incidents finally "
        "resolved in each, cut in the reporting time zone."
    ),
    chart=Chart(table="by_month", label="month", values=("opened", "resolved")),
)
def incidents_by_period(p: Params) -> Result:
    months = _months(p.date_from, p.date_to)
    opened = _month_counts("opened", months, p)
    resolved = _month_counts("resolved", months, p)
    by_month = Table(
        "by_month", "By month",
        [Column("month", "Month", "text"), Column("opened", "Registered"),
         Column("resolved", "Resolved")],
        [{"month": m.strftime("%Y-%m"), "opened": opened[m], "resolved": resolved[m]}
         for m in months],
    )  # fmt: skip
    quarters: dict[str, dict[str, Any]] = {}
    for m in months:
        key = f"{m.year}-Q{(m.month - 1) // 3 + 1}"
        row = quarters.setdefault(key, {"quarter": key, "opened": 0, "resolved": 0})
        row["opened"] += opened[m]
        row["resolved"] += resolved[m]
    by_quarter = Table(
        "by_quarter", "By quarter",
        [Column("quarter", "Quarter", "text"), Column("opened", "Registered"),
         Column("resolved", "Resolved")],
        list(quarters.values()),
    )  # fmt: skip
    return Result(
        [by_month, by_quarter],
        {"opened": sum(opened.values()), "resolved": sum(resolved.values())},
    )


# ---- support levels -----------------------------------------------------------------------


@report(
    "incidents-by-level",
    title="Incidents transferred to and resolved at each support level",
    description=(
        "Of the incidents finally resolved in the period: how many each support level "
        "received and resolved, against the targets (1st line 80% of all, 2nd line 75% of "
        "what it received, 3rd line all it received)."
    ),
    chart=Chart(table="by_level", label="support_level", values=("received", "resolved")),
)
def incidents_by_level(p: Params) -> Result:
    qs = resolved_in_period(p)
    figures = qs.aggregate(
        total=Count("*"),
        **{
            f"received_{n}": Count("severity", filter=Q(**{f"reached_l{n}": True}))
            for n in (1, 2, 3)
        },
        **{f"resolved_{n}": Count("severity", filter=Q(resolved_level=n)) for n in (1, 2, 3)},
    )
    total = figures["total"]
    rows = []
    for level in (1, 2, 3):
        received, resolved = figures[f"received_{level}"], figures[f"resolved_{level}"]
        target, basis = LEVEL_TARGETS[level]
        share = _share(resolved, total if basis == "all" else received)
        rows.append({
            "support_level": level, "received": received,
            "received_share": _share(received, total), "resolved": resolved,
            "resolved_share_of_all": _share(resolved, total),
            "resolved_share_of_received": _share(resolved, received),
            "transferred_onwards": received - resolved if received >= resolved else 0,
            "target_share": target, "target_basis": basis,
            "target_met": None if share is None else share >= target,
        })  # fmt: skip
    table = Table(
        "by_level", "By support level",
        [Column("support_level", "Level"), Column("received", "Received"),
         Column("received_share", "Received, share of all", "percent"),
         Column("resolved", "Resolved"),
         Column("resolved_share_of_all", "Resolved, share of all", "percent"),
         Column("resolved_share_of_received", "Resolved, share of received", "percent"),
         Column("transferred_onwards", "Not resolved here"),
         Column("target_share", "Target share", "percent"),
         Column("target_basis", "Target of", "text"), Column("target_met", "Target met", "bool")],
        rows,
    )  # fmt: skip
    return Result([table], {"resolved": total})


# ---- time per group -----------------------------------------------------------------------


@report(
    "time-per-group",
    title="Mean time spent on an incident in each group",
    description=(
        "For incidents finally resolved in the period: the mean time each group held an "
        "incident it handled (all its spans added up), in calendar and business hours; "
        "and the same per support level."
    ),
    chart=Chart(table="by_group", label="group", values=("mean_hours", "mean_business_hours")),
)
def time_per_group(p: Params) -> Result:
    qs = group_facts_resolved_in_period(p)
    rows = list(
        qs.values("group_id", "support_level")
        .annotate(n=Count("*"), seconds=Sum("seconds"), business=Sum("business_seconds"))
        .order_by("support_level", "group_id")
    )
    titles = group_names(r["group_id"] for r in rows)
    by_group = Table(
        "by_group", "By group",
        [Column("group", "Group", "ref"), Column("support_level", "Level"),
         Column("incidents", "Incidents"), Column("mean_hours", "Mean hours", "hours"),
         Column("mean_business_hours", "Mean business hours", "hours"),
         Column("total_hours", "Total hours", "hours")],
        [{"group": ref(r["group_id"], titles), "support_level": r["support_level"],
          "incidents": r["n"], "mean_hours": _hours(r["seconds"] / r["n"]),
          "mean_business_hours": _hours(r["business"] / r["n"]),
          "total_hours": _hours(r["seconds"])} for r in rows],
    )  # fmt: skip
    # Per level: the groups' time added up, over the incidents that reached the level
    # (counted on the incident facts: no DISTINCT over the group rows).
    level_seconds: dict[int, list[float]] = {}
    for r in rows:
        totals = level_seconds.setdefault(r["support_level"], [0.0, 0.0])
        totals[0] += r["seconds"]
        totals[1] += r["business"]
    if p.group is not None:
        reached = {r["support_level"]: r["n"] for r in rows}
    else:
        counts = resolved_in_period(p).aggregate(
            **{f"l{n}": Count("severity", filter=Q(**{f"reached_l{n}": True})) for n in (1, 2, 3)}
        )
        reached = {n: counts[f"l{n}"] for n in level_seconds}
    by_level = Table(
        "by_level", "By support level",
        [Column("support_level", "Level"), Column("incidents", "Incidents"),
         Column("mean_hours", "Mean hours", "hours"),
         Column("mean_business_hours", "Mean business hours", "hours")],
        [{"support_level": level, "incidents": reached[level],
          "mean_hours": _hours(seconds / reached[level]) if reached[level] else None,
          "mean_business_hours": _hours(business / reached[level]) if reached[level] else None}
         for level, (seconds, business) in sorted(level_seconds.items())],
    )  # fmt: skip
    return Result([by_group, by_level])


# ---- restoration --------------------------------------------------------------------------


@report(
    "mttr",
    title="Mean time to restore service",
    description=(
        "For incidents finally resolved in the period, by severity: the mean time spent open "
        "until the final resolution (calendar and business hours; time between a resolution "
        "and a reopening is not counted), and the mean net of pauses on the user or a vendor, "
        "against the target."
    ),
    chart=Chart(table="by_severity", label="severity", values=("mean_hours", "target_hours")),
)
def mttr(p: Params) -> Result:
    # One scan: sums per severity; the overall figures are added up from them.
    grouped = _grouped(
        resolved_in_period(p), "severity", n=Count("*"), total=Sum("restore_seconds"),
        business=Sum("restore_business_seconds"), paused=Sum("sla_paused_seconds"),
    )  # fmt: skip
    targets = target_hours()

    def mean(total: float | None, n: int) -> float | None:
        return _hours(total / n) if n and total is not None else None

    rows = [
        {"severity": r["severity"], "resolved": r["n"], "mean_hours": mean(r["total"], r["n"]),
         "mean_business_hours": mean(r["business"], r["n"]),
         "mean_net_hours": mean((r["total"] or 0) - (r["paused"] or 0), r["n"]),
         "target_hours": targets.get(r["severity"])}
        for r in grouped
    ]  # fmt: skip
    n = sum(r["n"] for r in grouped)
    total = sum(r["total"] or 0 for r in grouped)
    overall = {
        "n": n,
        "mean": total / n if n else None,
        "mean_business": sum(r["business"] or 0 for r in grouped) / n if n else None,
        "mean_net": (total - sum(r["paused"] or 0 for r in grouped)) / n if n else None,
    }
    table = Table(
        "by_severity", "By severity",
        [Column("severity", "Severity"), Column("resolved", "Resolved"),
         Column("mean_hours", "Mean hours", "hours"),
         Column("mean_business_hours", "Mean business hours", "hours"),
         Column("mean_net_hours", "Mean hours net of pauses", "hours"),
         Column("target_hours", "Target hours", "hours")],
        rows,
    )  # fmt: skip
    summary = {
        "resolved": overall["n"],
        "mean_hours": _hours(overall["mean"]),
        "mean_business_hours": _hours(overall["mean_business"]),
        "mean_net_hours": _hours(overall["mean_net"]),
    }
    return Result([table], summary)


@report(
    "resolved-in-target",
    title="Incidents resolved within target",
    description=(
        "For incidents finally resolved in the period, by severity: the share resolved by "
        "their deadline (resolve_by when the SLA set one, else the severity's target counted "
        "in open time net of pauses on the user or a vendor)."
    ),
    chart=Chart(table="by_severity", label="severity", values=("within_target", "missed")),
)
def resolved_in_target(p: Params) -> Result:
    qs = resolved_in_period(p)
    fields = {
        "n": Count("*"),
        "within": Count("severity", filter=Q(in_target=True)),
        "judged": Count("in_target"),
        "deadline": Count("resolve_by"),
    }
    grouped = _grouped(qs, "severity", **fields)
    targets = target_hours()
    rows = [
        {"severity": r["severity"], "resolved": r["n"], "within_target": r["within"],
         "missed": r["judged"] - r["within"], "share": _share(r["within"], r["judged"]),
         "with_deadline": r["deadline"], "target_hours": targets.get(r["severity"])}
        for r in grouped
    ]  # fmt: skip
    overall = {key: sum(r[key] for r in grouped) for key in fields}
    table = Table(
        "by_severity", "By severity",
        [Column("severity", "Severity"), Column("resolved", "Resolved"),
         Column("within_target", "Within target"), Column("missed", "Missed"),
         Column("share", "Share within target", "percent"),
         Column("with_deadline", "With an SLA deadline"),
         Column("target_hours", "Target hours", "hours")],
        rows,
    )  # fmt: skip
    summary = {
        "resolved": overall["n"],
        "within_target": overall["within"],
        "share": _share(overall["within"], overall["judged"]),
    }
    return Result([table], summary)


# ---- by technology and user group ---------------------------------------------------------


def _by_dimension(p: Params, field: str, model: type[Any], label: str) -> Result:
    qs = opened_in_period(p)
    rows = list(
        qs.values(field)
        .annotate(
            n=Count("*"),
            open_now=Count("severity", filter=Q(is_open=True)),
            resolved=Count("resolved_at"),
        )
        .order_by("-n", field)
    )
    titles = names(model, (r[field] for r in rows))
    table = Table(
        "by_" + field.removesuffix("_id"), f"By {label}",
        [Column(field.removesuffix("_id"), label.capitalize(), "ref"),
         Column("opened", "Registered"), Column("open_now", "Open now"),
         Column("resolved", "Resolved")],
        [{field.removesuffix("_id"): ref(r[field], titles), "opened": r["n"],
          "open_now": r["open_now"], "resolved": r["resolved"]} for r in rows],
    )  # fmt: skip
    return Result([table], {"opened": sum(r["n"] for r in rows)})


@report(
    "incidents-by-technology",
    title="Incidents by technology",
    description="Incidents registered in the period by technology (none: not classified).",
    chart=Chart(table="by_technology", label="technology", values=("opened",)),
)
def incidents_by_technology(p: Params) -> Result:
    return _by_dimension(p, "technology_id", Technology, "technology")


@report(
    "incidents-by-user-group",
    title="Incidents by user group",
    description="Incidents registered in the period by the reporting user group (department).",
    chart=Chart(table="by_user_group", label="user_group", values=("opened",)),
)
def incidents_by_user_group(p: Params) -> Result:
    return _by_dimension(p, "user_group_id", UserGroup, "user group")


# ---- satisfaction ---------------------------------------------------------------------------


@report(
    "satisfaction",
    title="End-user satisfaction and restoration notices",
    description=(
        "For incidents finally resolved in the period: the end users' ratings at closure "
        "(1-5) per resolving group and support level, and the share of end users sent a "
        "notice of the restoration."
    ),
    chart=Chart(table="by_group", label="group", values=("mean_rating",)),
)
def satisfaction(p: Params) -> Result:
    # One scan per resolving group; levels and the whole are added up from it.
    groups = _grouped(
        resolved_in_period(p), "resolved_level", "resolved_group_id", n=Count("*"),
        rated=Count("satisfaction"), points=Sum("satisfaction"),
        notified=Count("severity", filter=Q(notified_for=F("resolved_at"))),
    )  # fmt: skip
    titles = group_names(r["resolved_group_id"] for r in groups)

    def rating(points: int | None, rated: int) -> float | None:
        return round(points / rated, 4) if rated and points is not None else None

    by_group = Table(
        "by_group", "By resolving group",
        [Column("group", "Group", "ref"), Column("support_level", "Level"),
         Column("resolved", "Resolved"), Column("rated", "Rated"),
         Column("mean_rating", "Mean rating", "float")],
        [{"group": ref(r["resolved_group_id"], titles), "support_level": r["resolved_level"],
          "resolved": r["n"], "rated": r["rated"], "mean_rating": rating(r["points"], r["rated"])}
         for r in groups],
    )  # fmt: skip
    levels: dict[int | None, dict[str, int]] = {}
    for r in groups:
        level = levels.setdefault(r["resolved_level"], {"n": 0, "rated": 0, "points": 0})
        for key in level:
            level[key] += r[key] or 0
    by_level = Table(
        "by_level", "By support level",
        [Column("support_level", "Level"), Column("resolved", "Resolved"),
         Column("rated", "Rated"), Column("mean_rating", "Mean rating", "float")],
        [{"support_level": level, "resolved": v["n"], "rated": v["rated"],
          "mean_rating": rating(v["points"], v["rated"])}
         for level, v in sorted(levels.items(), key=lambda item: (item[0] is None, item[0] or 0))],
    )  # fmt: skip
    overall = {
        key: sum(r[key] or 0 for r in groups) for key in ("n", "rated", "points", "notified")
    }
    notices = Table(
        "notification", "End users notified of restoration",
        [Column("resolved", "Resolved"), Column("notified", "Notified"),
         Column("share", "Share notified", "percent")],
        [{"resolved": overall["n"], "notified": overall["notified"],
          "share": _share(overall["notified"], overall["n"])}],
    )  # fmt: skip
    summary = {
        "resolved": overall["n"],
        "rated": overall["rated"],
        "mean_rating": rating(overall["points"], overall["rated"]),
        "notified_share": _share(overall["notified"], overall["n"]),
    }
    return Result([by_group, by_level, notices], summary)
