"""Test helpers: incidents at a moment, the worker run at a moment, timelines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from servicedesk.core.models import DueItem, RowState
from servicedesk.core.worker import Worker
from servicedesk.escalation import engine
from servicedesk.escalation.models import EscalationPolicy
from servicedesk.incidents import services
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.testing.org import Org

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # a Monday, 11:00 in Moscow


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def create(org: Org, moment: datetime = T0, **kw: Any) -> Incident:
    kw.setdefault("title", "ERP is down for the warehouse")
    kw.setdefault("reporter", org.reporter)
    kw.setdefault("configuration_item", org.router)
    with at(moment):
        return services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)


def run_worker(moment: datetime, *, name: str = "test-worker") -> int:
    """Perform everything due at ``moment``; returns how many items ran."""
    worker = Worker(name=name, lease_seconds=60)
    total = 0
    with at(moment):
        while claimed := worker.run_due_once():
            total += claimed
    return total


def item(incident: Incident) -> DueItem | None:
    return DueItem.objects.filter(key=engine.key(incident.pk)).first()


def due_at(incident: Incident) -> datetime | None:
    row = item(incident)
    if row is None or row.state not in (RowState.PENDING, RowState.LEASED):
        return None
    return row.scheduled_at


def events(incident: Incident, *types: str) -> list[IncidentEvent]:
    qs = IncidentEvent.objects.filter(incident=incident).order_by("id")
    if types:
        qs = qs.filter(type__in=types)
    return list(qs)


def steps_log(incident: Incident) -> list[tuple[int, str, str]]:
    return [
        (e.payload["step"], e.payload["kind"], e.payload["state"])
        for e in events(incident, "escalation_step")
    ]


def policy(severity: int) -> EscalationPolicy:
    return EscalationPolicy.objects.get(severity=severity, scope="all", active=True)


def refresh(incident: Incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)
