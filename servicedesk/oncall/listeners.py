"""Paging stops when the incident is resolved, cancelled or closed."""

from __future__ import annotations

from servicedesk.core import events as bus
from servicedesk.incidents.models import IncidentEvent

from . import services


@bus.subscribe("incident")
def stop_paging(event: IncidentEvent) -> None:
    if event.type in ("resolved", "cancelled", "closed"):
        services.cancel_pages(event.incident)
