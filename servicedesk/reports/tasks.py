"""Worker jobs of reports: the marked incidents' facts, scheduled e-mails, and
restoration notices into the facts."""

from __future__ import annotations

from datetime import timedelta

from servicedesk.core import clock
from servicedesk.core.models import OutboxMessage
from servicedesk.core.registry import drain, periodic

from . import facts, pending, services
from .models import FactWatermark

NOTICE_WATERMARK = "restoration-notices"
# Re-read this much before the last scan: a transaction that wrote a message
# may commit after a later one did.
NOTICE_OVERLAP = timedelta(minutes=30)


@drain("reports.facts", backlog=pending.backlog)
def refresh_marked_facts() -> int:
    return pending.refresh_pending()


@periodic("reports.send_scheduled", every=timedelta(minutes=5))
def send_scheduled_reports() -> str:
    return f"queued {services.send_due_schedules()} messages"


@periodic("reports.capture_notices", every=timedelta(minutes=5))
def capture_restoration_notices() -> str:
    """Record in the facts the restoration messages queued since the last scan, whatever
    order listeners ran in (the outbox itself keeps delivered rows for 30 days only)."""
    now = clock.now()
    mark, _ = FactWatermark.objects.get_or_create(name=NOTICE_WATERMARK)
    since = mark.last_at - NOTICE_OVERLAP if mark.last_at else None
    rows = OutboxMessage.objects.filter(
        subject_type="incident", event_type__in=facts.RESTORATION_EVENT_TYPES
    )
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    ids = set(rows.values_list("subject_id", flat=True))
    refreshed = facts.refresh(i for i in ids if i is not None)
    mark.last_at = now
    mark.save(update_fields=["last_at"])
    return f"refreshed {refreshed} incidents"
