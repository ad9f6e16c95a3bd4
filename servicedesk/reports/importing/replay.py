"""Replay an incident event log into incidents, timeline events and spans.

Each log row is one change of one incident: the status it is in after the
change, the group holding it and (when the group is new) its support level.
The replay writes what the incident services would have written at those
moments (``created``, ``assigned``/``escalated``/``de_escalated``,
``status_changed``, ``resolved``, ``reopened``, ``closed``, ``cancelled`` and
one span per holding), in bulk and with the log's timestamps, then computes
the report facts. Events are not published: a replayed 2012 incident must not
start timers or send mail today.

Rules (docs/reports.md, "Importing event logs"):
- a new group closes the open span and opens one (escalated when the level
  rises, de-escalated when it falls, assigned otherwise);
- a row with an open status after a resolution reopens the incident with the
  row's group;
- ``closed`` straight from an open status resolves and closes at that moment;
- rows after ``closed`` or ``cancelled`` are ignored (both are final) and counted.

Idempotent: an incident whose ``external_ref`` already exists is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.catalog.models import Service, Technology, UserGroup
from servicedesk.incidents import events as event_types
from servicedesk.incidents.models import AssignmentSpan, Incident, IncidentEvent
from servicedesk.incidents.severity import priority_for

from .. import facts

OPEN = ("new", "assigned", "in_progress", "pending")
STATUSES = (*OPEN, "resolved", "closed", "cancelled")


@dataclass
class Change:
    at: datetime
    status: str | None  # None: the row changes the group only
    group: str = ""
    level: int | None = None
    pending_reason: str = ""
    satisfaction: int | None = None


@dataclass
class Case:
    ref: str
    title: str
    severity: int
    changes: list[Change]
    service: str = ""
    technology: str = ""
    user_group: str = ""
    description: str = ""


@dataclass
class Outcome:
    cases: int = 0
    imported: int = 0
    skipped: int = 0
    ignored_rows: int = 0
    events: int = 0
    spans: int = 0


class Lookups:
    """Find-or-create the groups and catalogue records a log names."""

    def __init__(self, reporter_username: str) -> None:
        self.reporter, _ = User.objects.get_or_create(
            username=reporter_username,
            defaults={"role": Role.END_USER, "is_active": False, "last_name": "(imported)"},
        )
        self.groups: dict[str, SupportGroup] = {g.name: g for g in SupportGroup.objects.all()}
        self.catalogue: dict[tuple[type[Any], str], Any] = {}
        first_line = SupportGroup.objects.filter(
            level=1, technology__isnull=True, is_active=True
        ).first()
        self.owner = first_line

    def group(self, name: str, level: int) -> SupportGroup:
        found = self.groups.get(name)
        if found is None:
            # Teams of a historical log become inactive groups: they keep their
            # figures but never receive live work (nor clash with the routing rules).
            found, _ = SupportGroup.objects.get_or_create(
                name=name[:100], defaults={"level": level, "is_active": False}
            )
            self.groups[name] = found
        return found

    def named(self, model: type[Any], name: str) -> Any:
        if not name:
            return None
        key = (model, name)
        if key not in self.catalogue:
            if model is Technology:
                obj = Technology.objects.filter(name=name[:100]).first()
                if obj is None:
                    slug = slugify(name)[:90] or "technology"
                    while Technology.objects.filter(slug=slug).exists():
                        slug = f"{slug[:80]}-{Technology.objects.count()}"
                    obj = Technology.objects.create(name=name[:100], slug=slug)
            else:
                obj, _ = model.objects.get_or_create(name=name[:100])
            self.catalogue[key] = obj
        return self.catalogue[key]


def _ref(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": str(obj)}


@dataclass
class _Built:
    incident: Incident
    events: list[tuple[str, datetime, dict[str, Any]]] = field(default_factory=list)
    spans: list[AssignmentSpan] = field(default_factory=list)
    ignored: int = 0


def _build(case: Case, lookups: Lookups) -> _Built | None:
    changes = sorted(case.changes, key=lambda c: c.at)
    if not changes:
        return None
    first = changes[0]
    group = lookups.group(first.group, first.level or 1) if first.group else lookups.owner
    owner = lookups.owner or group
    if owner is None:
        raise ValueError(f"{case.ref}: no group to own the incident (configure a 1st-line group)")
    service = lookups.named(Service, case.service)
    technology = lookups.named(Technology, case.technology)
    incident = Incident(
        title=case.title[:200], description=case.description, source="api",
        external_ref=case.ref[:100], reporter=lookups.reporter, contact_phone="",
        contact_email="", user_group=lookups.named(UserGroup, case.user_group),
        service=service, technology=technology, affected_users=0, impact=2, urgency=2,
        severity=case.severity, severity_reason="imported", priority=priority_for(2, 2),
        owner_group=owner, assigned_group=group, support_level=group.level if group else 1,
        status="new", opened_at=first.at, updated_at=first.at,
    )  # fmt: skip
    built = _Built(incident)
    state = {"status": "new", "reason": "", "group": group}

    def event(kind: str, at: datetime, payload: dict[str, Any]) -> None:
        built.events.append((kind, at, event_types.validate(kind, payload)))

    def open_span(holder: SupportGroup | None, at: datetime) -> None:
        if holder is not None:
            built.spans.append(
                AssignmentSpan(group=holder, support_level=holder.level, started_at=at)
            )

    def close_span(at: datetime, reason: str) -> None:
        for span in built.spans:
            if span.ended_at is None:
                span.ended_at, span.end_reason = at, reason

    initial = first.status if first.status in OPEN else "new"
    event("created", first.at, {
        "status": initial, "severity": case.severity, "priority": incident.priority,
        "support_level": incident.support_level, "source": "api", "affected_users": 0,
        "owner_group": _ref(owner), "assigned_group": _ref(group), "assignee": None,
    })  # fmt: skip
    open_span(group, first.at)
    state["status"] = initial

    for change in changes:
        status = str(state["status"])
        holder: SupportGroup | None = state["group"]  # type: ignore[assignment]
        if status in ("closed", "cancelled"):
            built.ignored += 1
            continue
        target = change.status
        new_group = (
            lookups.group(change.group, change.level or (holder.level if holder else 1))
            if change.group else holder
        )  # fmt: skip
        if status == "resolved":
            if target in OPEN:
                incident.reopen_count += 1
                event("reopened", change.at, {
                    "reason": "", "reopen_count": incident.reopen_count,
                    "support_level": new_group.level if new_group else incident.support_level,
                    "group": _ref(new_group),
                })  # fmt: skip
                open_span(new_group, change.at)
                state.update(status="in_progress", reason="", group=new_group)
                status, holder = "in_progress", new_group
                incident.resolved_at = None
            elif target == "closed":
                event(
                    "closed",
                    change.at,
                    {"automatic": False, "satisfaction": change.satisfaction, "comment": ""},
                )
                incident.closed_at, incident.satisfaction = change.at, change.satisfaction
                state["status"] = "closed"
                continue
            else:
                continue
        if new_group is not None and new_group != holder:
            close_span(change.at, "reassigned")
            open_span(new_group, change.at)
            from_level = holder.level if holder else new_group.level
            status_to = target if target in OPEN else status
            if holder is not None and new_group.level > from_level:
                event("escalated", change.at, {
                    "kind": "functional", "reason": "other", "from_level": from_level,
                    "to_level": new_group.level, "from_group": _ref(holder),
                    "to_group": _ref(new_group), "status_from": status, "status_to": status_to,
                })  # fmt: skip
                built.spans[-2].end_reason = "escalated"
            elif holder is not None and new_group.level < from_level:
                event("de_escalated", change.at, {
                    "from_level": from_level, "to_level": new_group.level,
                    "from_group": _ref(holder), "to_group": _ref(new_group),
                    "status_from": status, "status_to": status_to,
                })  # fmt: skip
                built.spans[-2].end_reason = "de_escalated"
            else:
                event("assigned", change.at, {
                    "from_group": _ref(holder), "to_group": _ref(new_group),
                    "from_assignee": None, "to_assignee": None,
                    "support_level": new_group.level, "status_from": status,
                    "status_to": status_to,
                })  # fmt: skip
            state.update(group=new_group, status=status_to)
            status, holder = status_to, new_group
        if target is None or (target == status and target != "pending"):
            continue
        if target in OPEN:
            reason = change.pending_reason if target == "pending" else ""
            if target == status and reason == state["reason"]:
                continue
            event("status_changed", change.at, {
                "status_from": status, "status_to": target, "pending_reason": reason,
                "comment": "",
            })  # fmt: skip
            state.update(status=target, reason=reason)
            if target == "in_progress" and incident.responded_at is None:
                incident.responded_at = change.at
        elif target in ("resolved", "closed"):
            event("resolved", change.at, {
                "status_from": status, "resolution_code": "other",
                "resolution": "Imported from an event log.",
                "support_level": holder.level if holder else incident.support_level,
                "group": _ref(holder), "assignee": None,
            })  # fmt: skip
            close_span(change.at, "resolved")
            incident.resolved_at = change.at
            incident.responded_at = incident.responded_at or change.at
            state["status"] = "resolved"
            if target == "closed":
                event(
                    "closed",
                    change.at,
                    {"automatic": False, "satisfaction": change.satisfaction, "comment": ""},
                )
                incident.closed_at, incident.satisfaction = change.at, change.satisfaction
                state["status"] = "closed"
        elif target == "cancelled":
            event("cancelled", change.at, {"status_from": status, "reason": ""})
            close_span(change.at, "cancelled")
            state["status"] = "cancelled"

    final_group: SupportGroup | None = state["group"]  # type: ignore[assignment]
    incident.status = str(state["status"])
    incident.pending_reason = str(state["reason"]) if incident.status == "pending" else ""
    incident.assigned_group = final_group
    incident.support_level = final_group.level if final_group else incident.support_level
    incident.updated_at = max(at for _, at, _ in built.events)
    incident.version = len(built.events)
    if incident.status not in ("resolved", "closed"):
        incident.resolved_at = None
    if incident.status == "resolved":
        incident.resolution_code, incident.resolution = "other", "Imported from an event log."
    return built


def _chunks(items: Iterable[Case], size: int) -> Iterator[list[Case]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def replay(
    cases: Iterable[Case], *, reporter_username: str, batch: int = 500,
    progress: Callable[[Outcome], None] | None = None,
) -> Outcome:  # fmt: skip
    """Import ``cases``; returns what was imported, skipped and ignored."""
    outcome = Outcome()
    lookups = Lookups(reporter_username)
    for chunk in _chunks(cases, batch):
        outcome.cases += len(chunk)
        with transaction.atomic():
            existing = set(
                Incident.objects.filter(external_ref__in=[c.ref for c in chunk]).values_list(
                    "external_ref", flat=True
                )
            )
            built = []
            for case in chunk:
                if case.ref in existing:
                    outcome.skipped += 1
                    continue
                existing.add(case.ref)
                item = _build(case, lookups)
                if item is not None:
                    built.append(item)
            Incident.objects.bulk_create([b.incident for b in built], batch_size=500)
            rows: list[IncidentEvent] = []
            spans: list[AssignmentSpan] = []
            for item in built:
                outcome.ignored_rows += item.ignored
                for kind, at, payload in item.events:
                    rows.append(
                        IncidentEvent(incident=item.incident, type=kind, at=at, payload=payload)
                    )
                for span in item.spans:
                    span.incident = item.incident
                    spans.append(span)
            IncidentEvent.objects.bulk_create(rows, batch_size=1000)
            AssignmentSpan.objects.bulk_create(spans, batch_size=1000)
            facts.refresh(b.incident.pk for b in built)
        outcome.imported += len(built)
        outcome.events += len(rows)
        outcome.spans += len(spans)
        if progress is not None:
            progress(outcome)
    return outcome
