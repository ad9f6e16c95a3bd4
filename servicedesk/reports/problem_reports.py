"""The problem and known-error reports of SPEC Tables 2 and 3 (definitions:
docs/metrics.md). Problems are read from their timeline (``problem_timeline``);
known errors, the incidents they caused and fix projects from the error
control records and the fix projects' timeline."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from servicedesk.catalog.models import Technology, UserGroup
from servicedesk.knownerrors.models import (
    FixProject,
    FixProjectEvent,
    FixStatus,
    KnownError,
    KnownErrorIncident,
)
from servicedesk.knownerrors.models import Status as KnownErrorStatus
from servicedesk.problems.models import CAUSE_UNKNOWN_STATUSES, Problem, Status

from .business_time import business_seconds
from .incident_reports import BUCKETS, HOUR, _count_from, _hours, _months, _share
from .problem_timeline import FINISHED, events_between, filtered_problems, histories
from .registry import Chart, Column, Params, Result, Table, report
from .selectors import group_names, names, ref


def _month_key(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m")


def _quarter_key(month: str) -> str:
    year, number = month.split("-")
    return f"{year}-Q{(int(number) - 1) // 3 + 1}"


def _in(moment: datetime | None, p: Params) -> TypeGuard[datetime]:
    return moment is not None and p.start <= moment < p.end


def _monthly(
    p: Params, series: dict[str, Iterable[datetime | None]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows per month and per quarter of the period: how many moments of each series."""
    zone = ZoneInfo(p.time_zone)
    months = [m.strftime("%Y-%m") for m in _months(p.date_from, p.date_to)]
    counts = {key: Counter(_month_key(t, zone) for t in times if _in(t, p))
              for key, times in series.items()}  # fmt: skip
    by_month: list[dict[str, Any]] = [
        {"month": m, **{key: counts[key][m] for key in series}} for m in months
    ]
    quarters: dict[str, dict[str, Any]] = {}
    for row in by_month:
        quarter = _quarter_key(row["month"])
        q = quarters.setdefault(quarter, {"quarter": quarter} | dict.fromkeys(series, 0))
        for key in series:
            q[key] += row[key]
    return by_month, list(quarters.values())


def _mean(values: list[float]) -> float | None:
    return _hours(sum(values) / len(values)) if values else None


def _problem_refs(ids: Iterable[int]) -> dict[int, str]:
    return names(Problem, ids)


# ---- problems by period -------------------------------------------------------------------


@report(
    "problems-by-period",
    title="Problems by month and quarter",
    description=(
        "Problems registered in each month and quarter of the period, problems whose cause was "
        "found in each, and problems resolved or closed in each."
    ),
    subject="problem",
    chart=Chart(table="by_month", label="month", values=("opened", "cause_found", "finished")),
)
def problems_by_period(p: Params) -> Result:
    found = histories(p, events_between(("created", "root_cause_found", "resolved", "closed"), p))
    series: dict[str, Iterable[datetime | None]] = {
        "opened": [h.opened_at for h in found],
        "cause_found": [h.cause_found_at for h in found],
        "finished": [h.finished_at for h in found],
    }
    by_month, by_quarter = _monthly(p, series)
    columns = [Column("opened", "Registered"), Column("cause_found", "Cause found"),
               Column("finished", "Resolved or closed")]  # fmt: skip
    return Result(
        [
            Table("by_month", "By month", [Column("month", "Month", "text"), *columns], by_month),
            Table(
                "by_quarter",
                "By quarter",
                [Column("quarter", "Quarter", "text"), *columns],
                by_quarter,
            ),
        ],
        {key: sum(row[key] for row in by_month) for key in series},
    )


# ---- open problems (cause not found) ------------------------------------------------------


@report(
    "problems-open",
    title="Open problems (cause not found)",
    description=(
        "Problems whose cause is not found now (new, under investigation or deferred) by "
        "status, by time since registration (calendar and business time) and by the group "
        "holding them. The period restricts the registration date only when given."
    ),
    subject="problem",
    chart=Chart(table="by_elapsed", label="bucket", values=("calendar", "business")),
    snapshot=True,
)
def problems_open(p: Params) -> Result:
    narrow = Q(status__in=CAUSE_UNKNOWN_STATUSES)
    if p.explicit_period:
        narrow &= Q(opened_at__gte=p.start, opened_at__lt=p.end)
    found = [h for h in histories(p, narrow, match=False) if h.cause_unknown]
    # As for open incidents: the level and group filters mean the current ones.
    if p.support_level is not None:
        found = [h for h in found if h.segments[-1].level == p.support_level]
    if p.group is not None:
        found = [h for h in found if h.segments[-1].group_id == p.group]
    by_status = Counter(h.status for h in found)
    status_table = Table(
        "by_status", "By status",
        [Column("status", "Status", "text"), Column("open", "Open")],
        [{"status": str(Status(s).label), "open": by_status[s]}
         for s in ("new", "under_investigation", "deferred")],
    )  # fmt: skip
    opened = sorted(h.opened_at for h in found)
    elapsed_rows = []
    for label, low, high in BUCKETS:
        row: dict[str, Any] = {"bucket": label}
        for key, business in (("calendar", False), ("business", True)):
            older_low = _count_from(opened, p.now, low * HOUR, business)
            older_high = 0 if high is None else _count_from(opened, p.now, high * HOUR, business)
            row[key] = older_low - older_high
        elapsed_rows.append(row)
    elapsed_table = Table(
        "by_elapsed", "By time since registration",
        [Column("bucket", "Elapsed", "text"), Column("calendar", "Calendar time"),
         Column("business", "Business time")],
        elapsed_rows,
    )  # fmt: skip
    groups: dict[tuple[int | None, int | None], list[datetime]] = defaultdict(list)
    for h in found:
        last = h.segments[-1]
        groups[(last.level, last.group_id)].append(h.opened_at)
    titles = group_names(g for _, g in groups)
    group_table = Table(
        "by_group", "By responsible group",
        [Column("group", "Group", "ref"), Column("support_level", "Level"), Column("open", "Open"),
         Column("oldest_opened_at", "Oldest opened", "datetime")],
        [{"group": ref(g, titles), "support_level": level, "open": len(times),
          "oldest_opened_at": min(times).isoformat()}
         for (level, g), times in sorted(groups.items(), key=lambda i: (i[0][0] or 0, i[0][1] or 0))],
    )  # fmt: skip
    return Result([status_table, elapsed_table, group_table], {"open": len(found)})


# ---- deferred problems --------------------------------------------------------------------


@report(
    "problems-deferred",
    title="Problems whose cause analysis is deferred",
    description=(
        "Deferrals started and ended (resumed or closed) in each month of the period, and the "
        "problems deferred now with how long they have waited."
    ),
    subject="problem",
    chart=Chart(table="by_month", label="month", values=("deferred", "resumed")),
)
def problems_deferred(p: Params) -> Result:
    narrow = events_between(("deferred", "status_changed", "closed"), p) | Q(status=Status.DEFERRED)
    found = histories(p, narrow)
    starts = [start for h in found for start, _ in h.deferrals]
    resumed: list[datetime | None] = []
    ended_durations: list[float] = []
    for h in found:
        for start, end in h.deferrals:
            if end is None:
                continue
            if _in(end, p):
                ended_durations.append((end - start).total_seconds())
            # Resumed: back to investigation (the other way out is closing it).
            if any(s.start == end and s.status == "under_investigation" for s in h.segments):
                resumed.append(end)
    by_month, by_quarter = _monthly(p, {"deferred": starts, "resumed": resumed})
    now_rows = []
    now_deferred = [h for h in found if h.status == "deferred"]
    titles = _problem_refs(h.problem_id for h in now_deferred)
    for h in now_deferred:
        since = h.deferrals[-1][0]
        now_rows.append({
            "problem": ref(h.problem_id, titles), "priority": h.priority,
            "deferred_since": since.isoformat(), "times_deferred": len(h.deferrals),
            "deferred_hours": _hours((p.now - since).total_seconds()),
            "deferred_business_hours": _hours(business_seconds(since, p.now)),
        })  # fmt: skip
    month_columns = [Column("deferred", "Deferred"), Column("resumed", "Resumed")]
    tables = [
        Table("by_month", "By month", [Column("month", "Month", "text"), *month_columns], by_month),
        Table("by_quarter", "By quarter", [Column("quarter", "Quarter", "text"), *month_columns],
              by_quarter),
        Table("deferred_now", "Deferred now",
              [Column("problem", "Problem", "ref"), Column("priority", "Priority"),
               Column("deferred_since", "Deferred since", "datetime"),
               Column("times_deferred", "Times deferred"),
               Column("deferred_hours", "Hours deferred", "hours"),
               Column("deferred_business_hours", "Business hours deferred", "hours")],
              now_rows),
    ]  # fmt: skip
    summary = {
        "deferred_now": len(now_rows),
        "deferred": sum(r["deferred"] for r in by_month),
        "resumed": sum(r["resumed"] for r in by_month),
        "mean_deferred_hours": _mean(ended_durations),
    }
    return Result(tables, summary)


# ---- time per level -----------------------------------------------------------------------


@report(
    "problem-time-per-level",
    title="Mean time spent on a problem at each level",
    description=(
        "For problems resolved or closed in the period: the mean time each support level and "
        "group held a problem it worked on (deferred time excluded), in calendar and "
        "business hours."
    ),
    subject="problem",
    chart=Chart(
        table="by_level", label="support_level", values=("mean_hours", "mean_business_hours")
    ),
)
def problem_time_per_level(p: Params) -> Result:
    found = histories(p, events_between(("resolved", "closed"), p), match=False)
    found = [h for h in found if _in(h.finished_at, p)]
    per_level: dict[int, list[list[float]]] = defaultdict(list)
    per_group: dict[tuple[int, int], list[list[float]]] = defaultdict(list)
    for h in found:
        level_sum: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        group_sum: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for s in h.held():
            if s.level is None or s.group_id is None:
                continue
            if p.support_level is not None and s.level != p.support_level:
                continue
            if p.group is not None and s.group_id != p.group:
                continue
            end = s.until(p.now)
            seconds = (end - s.start).total_seconds()
            business = business_seconds(s.start, end)
            for bucket in (level_sum[s.level], group_sum[(s.level, s.group_id)]):
                bucket[0] += seconds
                bucket[1] += business
        for level, pair in level_sum.items():
            per_level[level].append(pair)
        for key, pair in group_sum.items():
            per_group[key].append(pair)

    def row(pairs: list[list[float]]) -> dict[str, Any]:
        return {
            "problems": len(pairs),
            "mean_hours": _mean([a for a, _ in pairs]),
            "mean_business_hours": _mean([b for _, b in pairs]),
            "total_hours": _hours(sum(a for a, _ in pairs)),
        }

    figures = [Column("problems", "Problems"), Column("mean_hours", "Mean hours", "hours"),
               Column("mean_business_hours", "Mean business hours", "hours"),
               Column("total_hours", "Total hours", "hours")]  # fmt: skip
    titles = group_names(g for _, g in per_group)
    by_level = Table(
        "by_level", "By support level", [Column("support_level", "Level"), *figures],
        [{"support_level": level, **row(pairs)} for level, pairs in sorted(per_level.items())],
    )  # fmt: skip
    by_group = Table(
        "by_group", "By group",
        [Column("group", "Group", "ref"), Column("support_level", "Level"), *figures],
        [{"group": ref(g, titles), "support_level": level, **row(pairs)}
         for (level, g), pairs in sorted(per_group.items())],
    )  # fmt: skip
    return Result([by_level, by_group], {"problems": len(found)})


# ---- time to find the cause ---------------------------------------------------------------


@report(
    "time-to-root-cause",
    title="Mean time to find the cause",
    description=(
        "For problems whose cause was found in the period, by priority: the mean time from "
        "registration to the cause (calendar and business hours), the same less the time "
        "deferred, and the time under investigation against the estimate."
    ),
    subject="problem",
    chart=Chart(table="by_priority", label="priority", values=("mean_hours", "mean_net_hours")),
)
def time_to_root_cause(p: Params) -> Result:
    found = [
        h
        for h in histories(p, events_between(("root_cause_found",), p))
        if _in(h.cause_found_at, p)
    ]
    per_priority: dict[int | None, list[dict[str, float]]] = defaultdict(list)
    for h in found:
        assert h.cause_found_at is not None
        until = h.cause_found_at
        elapsed = (until - h.opened_at).total_seconds()
        deferred = sum(
            (min(end or until, until) - start).total_seconds()
            for start, end in h.deferrals
            if start < until
        )
        investigating = sum(
            (min(s.until(until), until) - s.start).total_seconds()
            for s in h.segments
            if s.status == "under_investigation" and s.start < until
        )
        estimate = float(h.cause_estimate_hours or 0) * HOUR
        per_priority[h.priority].append({
            "elapsed": elapsed, "business": business_seconds(h.opened_at, until),
            "net": elapsed - deferred, "investigation": investigating, "estimate": estimate,
            "within": 1.0 if h.cause_estimate_hours and investigating <= estimate else 0.0,
        })  # fmt: skip

    def row(items: list[dict[str, float]]) -> dict[str, Any]:
        return {
            "problems": len(items),
            "mean_hours": _mean([i["elapsed"] for i in items]),
            "mean_business_hours": _mean([i["business"] for i in items]),
            "mean_net_hours": _mean([i["net"] for i in items]),
            "mean_investigation_hours": _mean([i["investigation"] for i in items]),
            "mean_estimate_hours": _mean([i["estimate"] for i in items]),
            "within_estimate": int(sum(i["within"] for i in items)),
        }

    table = Table(
        "by_priority", "By priority",
        [Column("priority", "Priority"), Column("problems", "Problems"),
         Column("mean_hours", "Mean hours", "hours"),
         Column("mean_business_hours", "Mean business hours", "hours"),
         Column("mean_net_hours", "Mean hours less deferral", "hours"),
         Column("mean_investigation_hours", "Mean hours under investigation", "hours"),
         Column("mean_estimate_hours", "Mean estimate, hours", "hours"),
         Column("within_estimate", "Within estimate")],
        [{"priority": prio, **row(items)}
         for prio, items in sorted(per_priority.items(), key=lambda i: i[0] or 0)],
    )  # fmt: skip
    everything = [i for items in per_priority.values() for i in items]
    summary = row(everything)
    summary["within_estimate_share"] = _share(summary["within_estimate"], len(everything))
    return Result([table], summary)


# ---- by technology and user group ---------------------------------------------------------


def _problems_by(
    p: Params, keys: Callable[[QuerySet[Problem]], dict[int, list[int | None]]],
    model: type[Any], name: str, label: str,
) -> Result:  # fmt: skip
    narrow = Q(opened_at__gte=p.start, opened_at__lt=p.end)
    found = [h for h in histories(p, narrow) if _in(h.opened_at, p)]
    dimension = keys(filtered_problems(p).filter(narrow))
    counts: dict[int | None, Counter[str]] = defaultdict(Counter)
    for h in found:
        keys_of = dimension.get(h.problem_id) or [None]
        if name == "user_group" and p.user_group is not None:
            keys_of = [p.user_group]  # the filter's group only, not the problem's others
        for key in keys_of:
            c = counts[key]
            c["opened"] += 1
            c["open_now"] += h.status not in FINISHED
            c["cause_unknown_now"] += h.cause_unknown
            c["finished"] += h.status in FINISHED
    titles = names(model, counts)
    rows = [
        {name: ref(key, titles), "opened": c["opened"], "open_now": c["open_now"],
         "cause_unknown_now": c["cause_unknown_now"], "finished": c["finished"]}
        for key, c in sorted(counts.items(), key=lambda i: (-i[1]["opened"], i[0] or 0))
    ]  # fmt: skip
    table = Table(
        f"by_{name}", f"By {label}",
        [Column(name, label.capitalize(), "ref"), Column("opened", "Registered"),
         Column("open_now", "Open now"), Column("cause_unknown_now", "Cause not found now"),
         Column("finished", "Resolved or closed")],
        rows,
    )  # fmt: skip
    return Result([table], {"opened": len(found)})


def _technologies(qs: QuerySet[Problem]) -> dict[int, list[int | None]]:
    return {pk: [tech] for pk, tech in qs.values_list("pk", "technology_id")}


def _user_groups(qs: QuerySet[Problem]) -> dict[int, list[int | None]]:
    found: dict[int, list[int | None]] = defaultdict(list)
    for pk, group in Problem.user_groups.through.objects.filter(problem__in=qs).values_list(
        "problem_id", "usergroup_id"
    ):
        found[pk].append(group)
    return found


@report(
    "problems-by-technology",
    title="Problems by technology",
    description="Problems registered in the period by technology (none: not classified).",
    subject="problem",
    chart=Chart(table="by_technology", label="technology", values=("opened", "cause_unknown_now")),
)
def problems_by_technology(p: Params) -> Result:
    return _problems_by(p, _technologies, Technology, "technology", "technology")


@report(
    "problems-by-user-group",
    title="Problems by user group",
    description=(
        "Problems registered in the period by the user groups they affect (a problem counts "
        "once for each of its user groups)."
    ),
    subject="problem",
    chart=Chart(table="by_user_group", label="user_group", values=("opened", "cause_unknown_now")),
)
def problems_by_user_group(p: Params) -> Result:
    return _problems_by(p, _user_groups, UserGroup, "user_group", "user group")


# ---- known errors -------------------------------------------------------------------------


def _known_errors(p: Params) -> QuerySet[KnownError]:
    qs = KnownError.objects.all()
    if p.technology is not None:
        qs = qs.filter(technology_id=p.technology)
    if p.service is not None:
        qs = qs.filter(services=p.service)
    return qs


@report(
    "known-errors",
    title="Known errors and the incidents they caused",
    description=(
        "Known errors registered in each month of the period, the incidents caused by known "
        "errors (their workaround applied) and how many the workaround resolved; known errors "
        "by status, and those that caused incidents in the period."
    ),
    subject="known_error",
    chart=Chart(table="by_month", label="month", values=("registered", "incidents")),
)
def known_errors(p: Params) -> Result:
    known = _known_errors(p)
    links = KnownErrorIncident.objects.filter(
        known_error__in=known.values("pk"), applied_at__gte=p.start, applied_at__lt=p.end
    )
    if p.severity:
        links = links.filter(incident__severity__in=p.severity)
    if p.user_group is not None:
        links = links.filter(incident__user_group_id=p.user_group)
    link_rows = list(links.values_list("known_error_id", "incident_id", "applied_at", "resolved"))
    registered = list(
        known.filter(created_at__gte=p.start, created_at__lt=p.end).values_list(
            "created_at", flat=True
        )
    )
    by_month, by_quarter = _monthly(p, {
        "registered": registered,
        "incidents": [at for _, _, at, _ in link_rows],
        "resolved_by_workaround": [at for _, _, at, resolved in link_rows if resolved],
    })  # fmt: skip
    statuses = Counter(known.filter(created_at__lt=p.end).values_list("status", flat=True))
    labels = {s.value: str(s.label) for s in KnownErrorStatus}
    per_error: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for pk, _, _, resolved in link_rows:
        per_error[pk][0] += 1
        per_error[pk][1] += int(resolved)
    titles = names(KnownError, per_error)
    month_columns = [Column("registered", "Registered"), Column("incidents", "Incidents caused"),
                     Column("resolved_by_workaround", "Resolved by the workaround")]  # fmt: skip
    tables = [
        Table("by_month", "By month", [Column("month", "Month", "text"), *month_columns], by_month),
        Table("by_quarter", "By quarter", [Column("quarter", "Quarter", "text"), *month_columns],
              by_quarter),
        Table("by_status", "Known errors by status now",
              [Column("status", "Status", "text"), Column("known_errors", "Known errors")],
              [{"status": labels.get(s, s), "known_errors": statuses[s]} for s in labels]),
        Table("by_known_error", "Incidents per known error",
              [Column("known_error", "Known error", "ref"), Column("incidents", "Incidents caused"),
               Column("resolved_by_workaround", "Resolved by the workaround")],
              [{"known_error": ref(pk, titles), "incidents": n, "resolved_by_workaround": r}
               for pk, (n, r) in sorted(per_error.items(), key=lambda i: (-i[1][0], i[0]))]),
    ]  # fmt: skip
    summary = {
        "known_errors": sum(statuses.values()),
        "registered": len(registered),
        "incidents": len({incident for _, incident, _, _ in link_rows}),
        "resolved_by_workaround": sum(1 for *_, resolved in link_rows if resolved),
    }
    return Result(tables, summary)


# ---- fix projects -------------------------------------------------------------------------


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@report(
    "fix-projects",
    title="Fix projects started and implemented, and their cost",
    description=(
        "Fix projects proposed, started, implemented and cancelled in each month of the period "
        "(from their timeline), the cost of those implemented, and every fix project by status "
        "now with its cost."
    ),
    subject="fix_project",
    chart=Chart(table="by_month", label="month", values=("started", "implemented")),
)
def fix_projects(p: Params) -> Result:
    projects = FixProject.objects.all()
    if p.technology is not None:
        projects = projects.filter(known_error__technology_id=p.technology)
    if p.service is not None:
        projects = projects.filter(known_error__services=p.service)
    if p.group is not None:
        projects = projects.filter(group_id=p.group)
    if p.support_level is not None:
        projects = projects.filter(group__level=p.support_level)
    info = {
        pk: (status, estimate, actual)
        for pk, status, estimate, actual in projects.filter(created_at__lt=p.end).values_list(
            "pk", "status", "cost_estimate", "actual_cost"
        )
    }
    moments: dict[str, dict[int, datetime]] = defaultdict(dict)
    events = (
        FixProjectEvent.objects.filter(fix_project__in=projects.values("pk"), at__lt=p.end)
        .filter(Q(type="created") | Q(type="status_changed"))
        .order_by("fix_project_id", "at", "id")
        .values_list("fix_project_id", "type", "at", "payload")
    )
    steps = {FixStatus.IN_PROGRESS.value: "started", FixStatus.IMPLEMENTED.value: "implemented",
             FixStatus.CANCELLED.value: "cancelled"}  # fmt: skip
    for pk, kind, at, payload in events:
        to = str((payload or {}).get("status_to"))
        step = "proposed" if kind == "created" else steps.get(to)
        if step is not None:
            moments[step].setdefault(pk, at)  # the first time it got there
    by_month, by_quarter = _monthly(
        p, {step: list(moments[step].values())
            for step in ("proposed", "started", "implemented", "cancelled")},
    )  # fmt: skip

    def cost(pk: int) -> Decimal:
        _, estimate, actual = info[pk]
        return actual if actual is not None else estimate

    zone = ZoneInfo(p.time_zone)
    implemented_cost: Counter[str] = Counter()
    for pk, at in moments["implemented"].items():
        if _in(at, p) and pk in info:
            implemented_cost[_month_key(at, zone)] += float(cost(pk))  # type: ignore[assignment]
    for row in by_month:
        row["implemented_cost"] = round(implemented_cost[row["month"]], 2)
    for row in by_quarter:
        row["implemented_cost"] = round(
            sum(
                r["implemented_cost"]
                for r in by_month
                if _quarter_key(r["month"]) == row["quarter"]
            ),
            2,
        )
    per_status: dict[str, list[Decimal]] = {s.value: [Decimal(0)] * 4 for s in FixStatus}
    for pk, (status, estimate, actual) in info.items():
        totals = per_status[status]
        totals[0] += 1
        totals[1] += estimate
        totals[2] += actual or 0
        totals[3] += cost(pk)
    labels = {s.value: str(s.label) for s in FixStatus}
    month_columns = [Column("proposed", "Proposed"), Column("started", "Started"),
                     Column("implemented", "Implemented"), Column("cancelled", "Cancelled"),
                     Column("implemented_cost", "Cost of those implemented", "float")]  # fmt: skip
    tables = [
        Table("by_month", "By month", [Column("month", "Month", "text"), *month_columns], by_month),
        Table("by_quarter", "By quarter", [Column("quarter", "Quarter", "text"), *month_columns],
              by_quarter),
        Table("by_status", "Fix projects by status now",
              [Column("status", "Status", "text"), Column("projects", "Projects"),
               Column("cost_estimate", "Estimated cost", "float"),
               Column("actual_cost", "Actual cost", "float"),
               Column("cost", "Cost (actual, else estimated)", "float")],
              [{"status": labels[s], "projects": int(t[0]), "cost_estimate": _money(t[1]),
                "actual_cost": _money(t[2]), "cost": _money(t[3])}
               for s, t in per_status.items()]),
    ]  # fmt: skip
    summary = {
        "proposed": sum(r["proposed"] for r in by_month),
        "started": sum(r["started"] for r in by_month),
        "implemented": sum(r["implemented"] for r in by_month),
        "cancelled": sum(r["cancelled"] for r in by_month),
        "implemented_cost": round(sum(implemented_cost.values()), 2),
        "total_cost": _money(
            sum((cost(pk) for pk, (status, _, _) in info.items() if status != FixStatus.CANCELLED),
                Decimal(0))
        ),
    }  # fmt: skip
    return Result(tables, summary)
