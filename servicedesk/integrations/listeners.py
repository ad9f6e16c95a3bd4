"""Queue a signed webhook for each endpoint that wants an incident event; keep
intake's alert groups in step with their incidents."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from servicedesk.core import clock, confcache, events, outbox
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import IncidentEvent

from .models import AlertGroup, WebhookEndpoint

confcache.watch(WebhookEndpoint)


def _active_endpoints() -> tuple[WebhookEndpoint, ...]:
    # Shared by every caller (read only).
    return tuple(WebhookEndpoint.objects.filter(active=True))


def incident_envelope(event: IncidentEvent) -> dict[str, object]:
    incident = event.incident
    return {
        "id": event.pk,
        "type": f"incident.{event.type}",
        "occurred_at": event.at.isoformat(),
        "actor": ref(event.actor),
        "incident": {
            "id": incident.pk,
            "number": incident.number,
            "title": incident.title,
            "status": incident.status,
            "severity": incident.severity,
            "priority": incident.priority,
            "support_level": incident.support_level,
            "owner_group": ref(incident.owner_group),
            "assigned_group": ref(incident.assigned_group),
            "assignee": ref(incident.assignee),
        },
        "payload": event.payload,
    }


@events.subscribe("incident")
def queue_incident_webhooks(event: IncidentEvent) -> None:
    wanted = f"incident.{event.type}"
    endpoints = [
        (e.pk, e.url)
        for e in confcache.cached("integrations.webhooks", _active_endpoints)
        if e.wants(wanted)
    ]
    if not endpoints:
        return
    envelope = incident_envelope(event)
    for pk, url in endpoints:
        outbox.enqueue(
            channel="webhook", destination=url, payload=envelope,
            event_type=wanted, subject_type="incident",
            subject_id=event.incident_id, meta={"endpoint_id": pk},
        )  # fmt: skip


# ---- intake: an alert group is open exactly while its incident is --------------------

CLOSING_EVENTS = frozenset({"resolved", "cancelled", "closed"})


@events.subscribe("incident")
def follow_incident_state(event: IncidentEvent) -> None:
    """Close the incident's alert groups when it is resolved, cancelled or closed, so
    the next alert with their key opens a new incident; reopen them when the
    incident is reopened, unless a new incident has taken the key meanwhile."""
    if event.type in CLOSING_EVENTS:
        AlertGroup.objects.filter(incident_id=event.incident_id, is_open=True).update(
            is_open=False, closed_at=clock.now()
        )
    elif event.type == "reopened":
        for group in AlertGroup.objects.filter(incident_id=event.incident_id, is_open=False):
            if AlertGroup.objects.filter(
                integration_id=group.integration_id, key=group.key, is_open=True
            ).exists():
                continue
            try:
                with transaction.atomic():
                    AlertGroup.objects.filter(pk=group.pk).update(is_open=True, closed_at=None)
            except IntegrityError:
                continue  # a concurrent alert opened a new group for the key
