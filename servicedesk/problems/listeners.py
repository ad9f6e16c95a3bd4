"""Automatic inputs to problem control, from the incident timeline (issue 4).

A candidate for every incident of severity 1 (``SERVICEDESK_PROBLEM_CANDIDATE_SEVERITY``)
when it is registered or raised to it, and for every incident functionally
escalated to the 3rd line (``SERVICEDESK_PROBLEM_CANDIDATE_LEVEL``). Runs in the
incident's transaction and only writes rows; one candidate per incident.
"""

from __future__ import annotations

from servicedesk.core import events
from servicedesk.incidents.models import IncidentEvent

from . import conf
from .candidates import propose_for_incident
from .models import Source


@events.subscribe("incident")
def propose_problem_candidates(event: IncidentEvent) -> None:
    incident = event.incident
    if event.type in ("created", "severity_changed"):
        threshold = conf.candidate_severity()
        if incident.severity <= threshold:
            propose_for_incident(
                incident=incident, source=Source.SEVERITY,
                reason=f"severity {incident.severity} (candidates from severity {threshold})",
                new=event.type == "created",
            )  # fmt: skip
    elif event.type == "escalated":
        payload = event.payload
        level = conf.candidate_level()
        if payload.get("kind") == "functional" and (payload.get("to_level") or 0) >= level:
            propose_for_incident(
                incident=incident, source=Source.ESCALATION,
                reason=f"escalated to support level {level}",
            )  # fmt: skip
