"""Demo data of escalation: Table 4 ships by migration; here the demo's past is
replayed, so its open incidents show the escalations that would have fired."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F

from servicedesk.core import clock
from servicedesk.core.models import DueItem, RowState
from servicedesk.core.worker import Worker

from . import engine

MAX_REPLAYED = 10_000
# After every app that creates demo incidents (see core/demo.py).
DEMO_ORDER = 90


def load(org: Any) -> None:
    catch_up(clock.now())


def catch_up(until: datetime, kinds: tuple[str, ...] = (engine.KIND, "oncall.page_timeout")) -> int:
    """Perform the due escalation (and paging) timers up to ``until``, each at its
    own moment, as a worker running at the time would have. Idempotent."""
    worker = Worker(name="demo-replay")
    performed = 0
    while performed < MAX_REPLAYED:
        item = (
            DueItem.objects.filter(kind__in=kinds, state=RowState.PENDING, due_at__lte=until)
            .order_by("due_at", "id")
            .first()
        )
        if item is None:
            break
        # Lease it as the worker's claim does, then perform it at its due time.
        leased = DueItem.objects.filter(pk=item.pk, token=item.token, state=RowState.PENDING).update(
            state=RowState.LEASED, token=F("token") + 1, lease_owner=worker.name,
            due_at=until + timedelta(minutes=5),
        )  # fmt: skip
        if leased:
            with clock.frozen_at(item.due_at):
                worker.perform(item.pk, item.token + 1)
        performed += 1
    return performed
