"""Keep the report facts equal to what the timeline says.

:func:`refresh` recomputes the facts of some incidents from their whole
timeline and spans (``timeline.compute``) and replaces the stored rows; the
listener calls it for every incident event, ``servicedesk reports rebuild``
for all incidents, the importers for what they imported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from servicedesk.core import clock
from servicedesk.core.models import OutboxMessage, RowState
from servicedesk.incidents.models import AssignmentSpan, Incident, IncidentEvent

from . import rollup
from .business_time import business_seconds
from .models import IncidentFact, IncidentGroupFact
from .timeline import EventRow, IncidentRow, SpanRow, compute

# Events that change nothing a report counts: no recomputation for them.
IGNORED_EVENT_TYPES = frozenset({"commented", "task_added", "task_done"})
# Outbox messages about an incident that tell of its restoration (docs/metrics.md).
RESTORATION_EVENT_TYPES = ("resolved", "incident.resolved")
DEFAULT_TARGET_HOURS = {1: 2.0, 2: 4.0, 3: 8.0, 4: 24.0}
BATCH = 1000


def target_hours() -> dict[int, float]:
    """Resolution targets by severity (SPEC Table 4; severity 4: 24 hours)."""
    text = getattr(settings, "SERVICEDESK_REPORTS_TARGET_HOURS", "")
    if not text:
        return dict(DEFAULT_TARGET_HOURS)
    targets: dict[int, float] = {}
    for item in text.split(","):
        severity, _, hours = item.partition(":")
        targets[int(severity)] = float(hours)
    return targets


def target_seconds(severity: int) -> float | None:
    hours = target_hours().get(severity)
    return None if hours is None else hours * 3600


def _notices(incidents: dict[int, Any]) -> dict[int, list[datetime]]:
    """When each incident's end user was sent a restoration message (any channel but
    webhooks), from the outbox rows that still exist."""
    found: dict[int, list[datetime]] = defaultdict(list)
    rows = (
        OutboxMessage.objects.filter(
            subject_type="incident",
            subject_id__in=list(incidents),
            event_type__in=RESTORATION_EVENT_TYPES,
        )
        .exclude(channel="webhook")
        .exclude(state=RowState.FAILED)
        .values_list("subject_id", "destination", "created_at")
    )
    for subject_id, destination, created_at in rows:
        incident = incidents.get(subject_id) if subject_id is not None else None
        if subject_id is None or incident is None:
            continue
        addresses = {
            (value or "").strip().lower()
            for value in (
                incident["contact_email"],
                incident["contact_phone"],
                incident["reporter__email"],
                incident["reporter__phone"],
            )
        } - {""}
        if destination.strip().lower() in addresses:
            found[subject_id].append(created_at)
    return found


def refresh(
    incident_ids: Iterable[int],
    *,
    business: Callable[[datetime, datetime], float] = business_seconds,
) -> int:
    """Recompute and store the facts of these incidents; returns how many."""
    ids = sorted(set(incident_ids))
    done = 0
    for start in range(0, len(ids), BATCH):
        done += _refresh_batch(ids[start : start + BATCH], business)
    return done


# No savepoint: inside a service's transaction (the listener) a failure undoes the
# whole change anyway, and each savepoint is two more queries on every incident event.
@transaction.atomic(savepoint=False)
def _refresh_batch(ids: Sequence[int], business: Callable[[datetime, datetime], float]) -> int:
    incidents = {
        row["id"]: row
        for row in Incident.objects.filter(pk__in=ids).values(
            "id", "opened_at", "severity", "service_id", "technology_id", "user_group_id",
            "status", "assigned_group_id", "support_level", "resolve_by", "contact_email",
            "contact_phone", "reporter__email", "reporter__phone",
        )
    }  # fmt: skip
    events: dict[int, list[EventRow]] = defaultdict(list)
    for incident_id, kind, at, payload in (
        IncidentEvent.objects.filter(incident_id__in=ids)
        .exclude(type__in=IGNORED_EVENT_TYPES)
        .order_by("incident_id", "id")
        .values_list("incident_id", "type", "at", "payload")
    ):
        events[incident_id].append(EventRow(kind, at, payload or {}))
    spans: dict[int, list[SpanRow]] = defaultdict(list)
    for incident_id, group_id, level, started, ended in (
        AssignmentSpan.objects.filter(incident_id__in=ids)
        .order_by("incident_id", "started_at", "id")
        .values_list("incident_id", "group_id", "support_level", "started_at", "ended_at")
    ):
        spans[incident_id].append(SpanRow(group_id, level, started, ended))
    old = {
        row["incident_id"]: row
        for row in IncidentFact.objects.filter(incident_id__in=ids).values(
            "incident_id", "notified_for", *rollup.FACT_FIELDS
        )
    }
    resolved = {k: v for k, v in incidents.items() if v["status"] in ("resolved", "closed")}
    notices = _notices(resolved) if resolved else {}
    now = clock.now()

    fact_rows: list[IncidentFact] = []
    group_rows: list[IncidentGroupFact] = []
    for incident_id, row in incidents.items():
        incident = IncidentRow(
            id=incident_id, opened_at=row["opened_at"], severity=row["severity"],
            service_id=row["service_id"], technology_id=row["technology_id"],
            user_group_id=row["user_group_id"], status=row["status"],
            assigned_group_id=row["assigned_group_id"], support_level=row["support_level"],
            resolve_by=row["resolve_by"],
        )  # fmt: skip
        facts = compute(
            incident,
            events.get(incident_id, []),
            spans.get(incident_id, []),
            business_seconds=business,
            target_seconds=target_seconds,
        )
        notified_for = None
        # Sticky: the outbox keeps delivered messages for 30 days only.
        if facts.resolved_at is not None and (
            (old.get(incident_id) or {}).get("notified_for") == facts.resolved_at
            or any(sent >= facts.resolved_at for sent in notices.get(incident_id, []))
        ):
            notified_for = facts.resolved_at
        fact_rows.append(
            IncidentFact(
                incident_id=incident_id, opened_at=incident.opened_at,
                severity=incident.severity, service_id=incident.service_id,
                technology_id=incident.technology_id, user_group_id=incident.user_group_id,
                status=facts.status, is_open=facts.is_open,
                current_group_id=facts.current_group_id, current_level=facts.current_level,
                reached_l1=1 in facts.reached, reached_l2=2 in facts.reached,
                reached_l3=3 in facts.reached, reopen_count=facts.reopen_count,
                resolved_at=facts.resolved_at, resolved_level=facts.resolved_level,
                resolved_group_id=facts.resolved_group_id,
                restore_seconds=facts.restore_seconds,
                restore_business_seconds=facts.restore_business_seconds,
                pending_seconds=facts.pending_seconds,
                sla_paused_seconds=facts.sla_paused_seconds,
                target_seconds=facts.target_seconds, resolve_by=incident.resolve_by,
                in_target=facts.in_target, closed_at=facts.closed_at,
                satisfaction=facts.satisfaction, notified_for=notified_for, computed_at=now,
            )
        )  # fmt: skip
        for held in facts.groups:
            group_rows.append(
                IncidentGroupFact(
                    incident_id=incident_id, group_id=held.group_id,
                    support_level=held.support_level, spans=held.spans, seconds=held.seconds,
                    business_seconds=held.business_seconds, opened_at=incident.opened_at,
                    resolved_at=facts.resolved_at, severity=incident.severity,
                    service_id=incident.service_id, technology_id=incident.technology_id,
                    user_group_id=incident.user_group_id,
                )
            )  # fmt: skip
    rollup.apply(
        old.values(), ({f: getattr(row, f) for f in rollup.FACT_FIELDS} for row in fact_rows)
    )
    IncidentGroupFact.objects.filter(incident_id__in=ids).delete()
    _insert(IncidentFact, fact_rows, upsert_on="incident_id")
    _insert(IncidentGroupFact, group_rows)
    return len(fact_rows)


def _insert(model: type[Any], rows: Sequence[Any], upsert_on: str = "") -> None:
    """``bulk_create`` without its per-value preparation, which costs more than the
    computation itself (a rebuild writes a million rows; docs/performance/reports.md).
    ``upsert_on``: replace the row with the same value of that unique column."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.name == "id")]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    adapt = connection.ops.adapt_datetimefield_value
    values = []
    for row in rows:
        item = []
        for f in fields:
            value = getattr(row, f.attname)
            item.append(adapt(value) if isinstance(value, datetime) else value)
        values.append(item)
    table = connection.ops.quote_name(model._meta.db_table)
    # Identifiers come from the model's own metadata; every value is a parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
    if upsert_on:
        quote = connection.ops.quote_name
        updates = ", ".join(
            f"{quote(f.column)} = excluded.{quote(f.column)}"
            for f in fields
            if f.column != upsert_on
        )
        sql += f" ON CONFLICT ({quote(upsert_on)}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def rebuild(*, progress: Callable[[int, int], None] | None = None, batch: int = 5000) -> int:
    """Recompute the facts of every incident (after a change of calendar or targets)."""
    total = Incident.objects.count()
    done = 0
    last = 0
    while True:
        ids = list(
            Incident.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        done += refresh(ids)
        last = ids[-1]
        if progress is not None:
            progress(done, total)
    # The months may be cut in another time zone than when the counts were kept.
    rollup.rebuild()
    return done
