"""Core periodic jobs: retention of finished machinery rows."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings

from . import clock
from . import worker as _worker  # noqa: F401  (registers the periodic-job handler)
from .models import DueItem, IdempotencyKey, OutboxMessage, RowState
from .registry import due_handler, periodic


@periodic("core.expire_idempotency_keys", every=timedelta(hours=1))
def expire_idempotency_keys() -> str:
    cutoff = clock.now() - timedelta(hours=settings.SERVICEDESK_IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return f"deleted {deleted}"


@periodic("core.prune_outbox", every=timedelta(hours=6))
def prune_outbox() -> str:
    """Delivered messages (and their logs) are kept for 30 days."""
    cutoff = clock.now() - timedelta(days=30)
    deleted, _ = OutboxMessage.objects.filter(state=RowState.DONE, delivered_at__lt=cutoff).delete()
    return f"deleted {deleted}"


PROBE_KIND = "core.probe"


@due_handler(PROBE_KIND)
def probe(item: DueItem) -> None:
    """A step that does nothing but prove a worker performs steps: its run log
    (``DueRun``) is the evidence. ``servicedesk doctor --probe`` schedules one.
    A ``hold_seconds`` payload keeps the step busy (used to test leases)."""
    hold = float(item.payload.get("hold_seconds", 0))
    if hold > 0:
        time.sleep(min(hold, 30))
