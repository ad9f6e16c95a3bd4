"""The escalation engine follows the incident's timeline (in the change's transaction)."""

from __future__ import annotations

from servicedesk.core import events as bus
from servicedesk.incidents.models import IncidentEvent

from . import engine
from .events import OWN_TYPES

# Changing one of these may make another policy the most specific one.
SCOPE_FIELDS = frozenset({"configuration_item", "service", "technology", "user_group"})
STOPS = frozenset({"resolved", "cancelled", "closed"})
# Events that may move the status or the first response.
FOLLOWS = frozenset({"status_changed", "assigned", "escalated", "de_escalated"})


@bus.subscribe("incident")
def follow_incident(event: IncidentEvent) -> None:
    kind = event.type
    if kind in OWN_TYPES:
        return
    incident = event.incident
    if kind == "escalated" and engine.performing(incident.pk):
        # The worker's own escalation steps: it settles the clocks itself. (Other
        # changes made meanwhile, e.g. by another app's listener, are followed.)
        return
    if kind == "created":
        engine.start(incident)
    elif kind == "severity_changed":
        engine.recompute(incident, "severity")
    elif kind == "updated" and SCOPE_FIELDS & set(event.payload.get("changes", {})):
        engine.recompute(incident, "scope")
    elif kind in STOPS:
        engine.stop(incident, kind)
    elif kind == "reopened":
        engine.reopen(incident)
    elif kind in FOLLOWS:
        engine.sync(incident)
