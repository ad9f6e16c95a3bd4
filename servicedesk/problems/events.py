"""The problem timeline's event types, with payload schemas checked on write.

Other capabilities build on these names (communications, reports): keep them.
``created``, ``updated``, ``status_changed``, ``assigned``, ``escalated``,
``de_escalated``, ``root_cause_found``, ``workaround_published``,
``incident_linked``, ``incident_unlinked``, ``deferred``, ``resolved``,
``closed``, ``rca_updated``, ``review_recorded``, ``follow_up_done``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from servicedesk.incidents.events import Ref

Level = Literal[1, 2, 3]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Created(Payload):
    status: str
    source: str
    priority: int
    support_level: Level
    owner_group: Ref
    assigned_group: Ref | None = None
    cause_estimate_hours: int
    incidents: list[Ref] = []
    candidate_id: int | None = None


class Updated(Payload):
    changes: dict[str, dict[str, Any]]


class StatusChanged(Payload):
    status_from: str
    status_to: str
    comment: str = ""


class Assigned(Payload):
    from_group: Ref | None
    to_group: Ref | None
    from_assignee: Ref | None
    to_assignee: Ref | None
    support_level: Level


class Escalated(Payload):
    from_level: Level
    to_level: Level
    from_group: Ref | None
    to_group: Ref
    reason: str = ""


class DeEscalated(Payload):
    from_level: Level
    to_level: Level
    from_group: Ref | None
    to_group: Ref
    reason: str = ""


class RootCauseFound(Payload):
    status_from: str
    root_cause: str
    investigation_hours: float
    cause_estimate_hours: int
    known_error: Ref | None = None


class WorkaroundPublished(Payload):
    workaround: str
    audience: str
    known_error: Ref
    # Every support level is told (SPEC Table 2 output); communications delivers.
    support_levels: list[Level] = [1, 2, 3]


class IncidentLinked(Payload):
    incident: Ref
    set_pending: bool = False
    comment: str = ""


class IncidentUnlinked(Payload):
    incident: Ref
    comment: str = ""


class Deferred(Payload):
    status_from: str
    reason: str


class Resolved(Payload):
    status_from: str
    resolution: str


class Closed(Payload):
    status_from: str
    reason: str = ""


class RcaUpdated(Payload):
    artefact: Literal["ishikawa", "five_whys", "kepner_tregoe"]
    entries: int


class ReviewRecorded(Payload):
    review_id: int
    actions: int


class FollowUpDone(Payload):
    review_id: int
    action_id: int
    title: str


EVENT_TYPES: dict[str, type[Payload]] = {
    "created": Created,
    "updated": Updated,
    "status_changed": StatusChanged,
    "assigned": Assigned,
    "escalated": Escalated,
    "de_escalated": DeEscalated,
    "root_cause_found": RootCauseFound,
    "workaround_published": WorkaroundPublished,
    "incident_linked": IncidentLinked,
    "incident_unlinked": IncidentUnlinked,
    "deferred": Deferred,
    "resolved": Resolved,
    "closed": Closed,
    "rca_updated": RcaUpdated,
    "review_recorded": ReviewRecorded,
    "follow_up_done": FollowUpDone,
}


def validate(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    schema = EVENT_TYPES.get(event_type)
    if schema is None:
        raise ValueError(f"unknown problem event type {event_type!r}")
    return schema.model_validate(payload).model_dump(mode="json", exclude_none=False)
