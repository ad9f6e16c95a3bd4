"""A problem's history rebuilt from its timeline (``problems.ProblemEvent``).

The problem reports (``problem_reports.py``, definitions in docs/metrics.md)
never read the card's timestamps: they walk each problem's events in time
order (ties in write order) and derive the status, level and group it was in
at every moment. Problems are few next to incidents (thousands, not millions),
so this is done when a report runs, in one query for the events of the
problems it selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from servicedesk.problems.models import Problem, ProblemEvent, ProblemIncident

from .registry import Params

# While in these statuses a group holds the problem and its time counts for the
# group and level (the same rule as the problem's spans: deferral and
# resolution stop it).
HELD = frozenset({"new", "under_investigation", "root_cause_known"})
CAUSE_UNKNOWN = frozenset({"new", "under_investigation", "deferred"})
FINISHED = frozenset({"resolved", "closed"})
STATUS_OF_EVENT = {
    "deferred": "deferred",
    "root_cause_found": "root_cause_known",
    "resolved": "resolved",
    "closed": "closed",
}


@dataclass
class Segment:
    """``[start, end)`` in one status at one level and group (``end`` None: until now)."""

    start: datetime
    end: datetime | None
    status: str
    level: int | None
    group_id: int | None

    def until(self, now: datetime) -> datetime:
        return self.end if self.end is not None else now


@dataclass
class ProblemHistory:
    problem_id: int
    opened_at: datetime
    status: str = "new"
    segments: list[Segment] = field(default_factory=list)
    # The last root_cause_found not undone by a return to investigation.
    cause_found_at: datetime | None = None
    # When the problem last went from open to resolved/closed (None while open).
    finished_at: datetime | None = None
    deferrals: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    levels: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)
    priority: int | None = None
    cause_estimate_hours: int | None = None

    @property
    def cause_unknown(self) -> bool:
        return self.status in CAUSE_UNKNOWN

    def held(self) -> Iterator[Segment]:
        return (s for s in self.segments if s.status in HELD)


def _group_id(value: Any) -> int | None:
    return value.get("id") if isinstance(value, dict) else None


def build(
    problem_id: int, events: Iterable[tuple[str, datetime, dict[str, Any]]]
) -> ProblemHistory:
    """Walk one problem's events (in order) into its history."""
    history: ProblemHistory | None = None
    status, level, group = "new", None, None
    since: datetime | None = None
    for kind, at, payload in events:
        if history is None:
            history = ProblemHistory(problem_id, opened_at=at)
            since = at
        if kind == "created":
            status = payload.get("status") or "new"
            level = payload.get("support_level")
            group = _group_id(payload.get("assigned_group")) or _group_id(
                payload.get("owner_group")
            )
            history.opened_at = since = at
            history.priority = payload.get("priority")
            history.cause_estimate_hours = payload.get("cause_estimate_hours")
        elif kind == "updated":
            changes = payload.get("changes") or {}
            for name in ("priority", "cause_estimate_hours"):
                if name in changes:
                    setattr(history, name, changes[name].get("to"))
        new_status, new_level, new_group = status, level, group
        if kind == "status_changed":
            new_status = payload.get("status_to") or status
        elif kind in STATUS_OF_EVENT:
            new_status = STATUS_OF_EVENT[kind]
        elif kind == "assigned":
            new_group = _group_id(payload.get("to_group")) or group
            new_level = payload.get("support_level") or level
        elif kind in ("escalated", "de_escalated"):
            new_group = _group_id(payload.get("to_group")) or group
            new_level = payload.get("to_level") or level
        if kind == "created":
            history.levels.update([level] if level is not None else [])
            history.groups.update([group] if group is not None else [])
            continue
        if (new_status, new_level, new_group) != (status, level, group):
            assert since is not None
            if at > since:
                history.segments.append(Segment(since, at, status, level, group))
                since = at
            if status != "deferred" and new_status == "deferred":
                history.deferrals.append((at, None))
            elif status == "deferred" and new_status != "deferred" and history.deferrals:
                history.deferrals[-1] = (history.deferrals[-1][0], at)
            if status not in FINISHED and new_status in FINISHED:
                history.finished_at = at
            elif new_status not in FINISHED:
                history.finished_at = None
            if kind == "root_cause_found":
                history.cause_found_at = at
            elif new_status in ("new", "under_investigation"):
                history.cause_found_at = None
            status, level, group = new_status, new_level, new_group
        if level is not None:
            history.levels.add(level)
        if group is not None:
            history.groups.add(group)
    if history is None:
        raise ValueError(f"problem {problem_id} has no timeline")
    assert since is not None
    history.segments.append(Segment(since, None, status, level, group))
    history.status = status
    if level is not None:
        history.levels.add(level)
    if group is not None:
        history.groups.add(group)
    return history


def filtered_problems(p: Params) -> QuerySet[Problem]:
    """Problems matching the card filters. ``severity``: a linked incident of that
    severity; ``user_group``: one of the problem's user groups (support level and
    group are read from the timeline, :func:`matches`)."""
    qs = Problem.objects.all()
    if p.service is not None:
        qs = qs.filter(service_id=p.service)
    if p.technology is not None:
        qs = qs.filter(technology_id=p.technology)
    if p.user_group is not None:
        qs = qs.filter(user_groups=p.user_group)
    if p.severity:
        qs = qs.filter(
            Exists(
                ProblemIncident.objects.filter(
                    problem_id=OuterRef("pk"), incident__severity__in=p.severity
                )
            )
        )
    return qs


def matches(history: ProblemHistory, p: Params) -> bool:
    """The support level filter: the problem reached that level; group: it held it."""
    if p.support_level is not None and p.support_level not in history.levels:
        return False
    return p.group is None or p.group in history.groups


def histories(p: Params, narrow: Q | None = None, *, match: bool = True) -> list[ProblemHistory]:
    """The histories of the filtered problems (narrowed by ``narrow``), in id order;
    with ``match``, only those meeting the support level and group filters."""
    selected = filtered_problems(p)
    if narrow is not None:
        selected = selected.filter(narrow)
    rows = (
        ProblemEvent.objects.filter(problem__in=selected.values("pk"))
        .order_by("problem_id", "at", "id")
        .values_list("problem_id", "type", "at", "payload")
        .iterator(chunk_size=5000)
    )
    found: list[ProblemHistory] = []
    current: int | None = None
    batch: list[tuple[str, datetime, dict[str, Any]]] = []
    for problem_id, kind, at, payload in rows:
        if problem_id != current:
            if batch:
                found.append(build(current, batch))  # type: ignore[arg-type]
            current, batch = problem_id, []
        batch.append((kind, at, payload or {}))
    if batch:
        found.append(build(current, batch))  # type: ignore[arg-type]
    return [h for h in found if not match or matches(h, p)]


def events_between(kinds: Iterable[str], p: Params) -> Q:
    """Problems with an event of these kinds in the period (an uncorrelated
    subquery on the events' (type, at) index: read once, not per problem)."""
    return Q(
        pk__in=ProblemEvent.objects.filter(
            type__in=list(kinds), at__gte=p.start, at__lt=p.end
        ).values("problem_id")
    )
