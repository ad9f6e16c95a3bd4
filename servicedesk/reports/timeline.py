"""From an incident's timeline and spans to its report facts: a pure function.

Every figure of docs/metrics.md starts here. The walk follows the status
changes the events record (in time order, ties in write order), so reopened,
paused and re-assigned incidents count by what actually happened, and an
event that arrives late is simply placed where it belongs on the next
recomputation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OPEN = frozenset({"new", "assigned", "in_progress", "pending"})
RESOLVED = frozenset({"resolved", "closed"})
# Pending on the user or a vendor stops the SLA clock (the foundation's rule).
SLA_PAUSE_REASONS = frozenset({"awaiting_user", "awaiting_vendor"})
# Event types whose own type names the status they lead to.
STATUS_OF_TYPE = {
    "resolved": "resolved",
    "closed": "closed",
    "reopened": "in_progress",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class IncidentRow:
    id: int
    opened_at: datetime
    severity: int
    service_id: int | None
    technology_id: int | None
    user_group_id: int | None
    status: str
    assigned_group_id: int | None
    support_level: int
    resolve_by: datetime | None


@dataclass(frozen=True)
class EventRow:
    type: str
    at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class SpanRow:
    group_id: int
    support_level: int
    started_at: datetime
    ended_at: datetime | None


@dataclass
class GroupTime:
    group_id: int
    support_level: int
    spans: int = 0
    seconds: float = 0.0
    business_seconds: float = 0.0


@dataclass
class Facts:
    """The per-incident figures; field names match ``models.IncidentFact``."""

    status: str
    is_open: bool
    current_group_id: int | None
    current_level: int
    reached: set[int] = field(default_factory=set)
    reopen_count: int = 0
    resolved_at: datetime | None = None
    resolved_level: int | None = None
    resolved_group_id: int | None = None
    restore_seconds: float | None = None
    restore_business_seconds: float | None = None
    pending_seconds: float = 0.0
    sla_paused_seconds: float = 0.0
    target_seconds: float | None = None
    in_target: bool | None = None
    closed_at: datetime | None = None
    satisfaction: int | None = None
    groups: list[GroupTime] = field(default_factory=list)


def _status_after(event: EventRow) -> tuple[str | None, str]:
    """The status an event leads to (None: it changes no status) and the pending reason."""
    if event.type in STATUS_OF_TYPE:
        return STATUS_OF_TYPE[event.type], ""
    if event.type == "created":
        return event.payload.get("status") or "new", ""
    status = event.payload.get("status_to")
    if not isinstance(status, str) or not status:
        return None, ""
    return status, str(event.payload.get("pending_reason") or "")


def _ref_id(value: Any) -> int | None:
    if isinstance(value, dict) and isinstance(value.get("id"), int):
        return value["id"]
    return None


def compute(
    incident: IncidentRow,
    events: Sequence[EventRow],
    spans: Sequence[SpanRow],
    *,
    business_seconds: Callable[[datetime, datetime], float],
    target_seconds: Callable[[int], float | None],
) -> Facts:
    """The facts of one incident. ``events`` in write order (sorted here by time)."""
    ordered = sorted(events, key=lambda e: e.at)  # stable: ties keep write order
    status: str | None = None
    reason = ""
    since: datetime | None = None
    open_seconds = open_business = pending = paused = 0.0
    last_resolved: EventRow | None = None
    facts = Facts(
        status=incident.status,
        is_open=incident.status in OPEN,
        current_group_id=incident.assigned_group_id,
        current_level=incident.support_level,
    )

    def account(until: datetime) -> None:
        nonlocal open_seconds, open_business, pending, paused
        if status not in OPEN or since is None or until <= since:
            return
        seconds = (until - since).total_seconds()
        open_seconds += seconds
        open_business += business_seconds(since, until)
        if status == "pending":
            pending += seconds
            if reason in SLA_PAUSE_REASONS:
                paused += seconds

    for event in ordered:
        if event.type == "closed":
            facts.closed_at = event.at
            rating = event.payload.get("satisfaction")
            facts.satisfaction = rating if isinstance(rating, int) else None
        elif event.type == "reopened":
            facts.reopen_count += 1
        new_status, new_reason = _status_after(event)
        if new_status is None:
            continue
        if status is None:
            since = incident.opened_at if event.type == "created" else event.at
        account(event.at)
        if event.type == "resolved":
            last_resolved = event
        status, reason, since = new_status, new_reason, event.at
        if status in OPEN:
            last_resolved = None

    facts.pending_seconds = pending
    facts.sla_paused_seconds = paused
    if incident.status in RESOLVED and last_resolved is not None:
        facts.resolved_at = last_resolved.at
        level = last_resolved.payload.get("support_level")
        facts.resolved_level = level if isinstance(level, int) else None
        facts.resolved_group_id = _ref_id(last_resolved.payload.get("group"))
        facts.restore_seconds = open_seconds
        facts.restore_business_seconds = open_business
        facts.target_seconds = target_seconds(incident.severity)
        if incident.resolve_by is not None:
            facts.in_target = last_resolved.at <= incident.resolve_by
        elif facts.target_seconds is not None:
            facts.in_target = open_seconds - paused <= facts.target_seconds
    elif incident.status not in RESOLVED:
        facts.closed_at = None
        facts.satisfaction = None

    by_group: dict[int, GroupTime] = {}
    for span in spans:
        facts.reached.add(span.support_level)
        held = by_group.setdefault(span.group_id, GroupTime(span.group_id, span.support_level))
        held.spans += 1
        if span.ended_at is None:
            facts.current_group_id, facts.current_level = span.group_id, span.support_level
            continue
        held.seconds += max((span.ended_at - span.started_at).total_seconds(), 0.0)
        held.business_seconds += business_seconds(span.started_at, span.ended_at)
    facts.groups = list(by_group.values())
    return facts
