"""Event types of known errors (subject "known_error") and fix projects (subject
"fix_project"), with payload schemas checked on write.

Known error: ``created``, ``updated``, ``workaround_published``,
``workaround_withdrawn``, ``workaround_applied``, ``status_changed``,
``fix_started``, ``fixed``, ``accepted``, ``closed``, ``rate_rising``.
Fix project: ``created``, ``updated``, ``status_changed``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from servicedesk.incidents.events import Ref


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Created(Payload):
    status: str
    audience: str
    problem: Ref | None = None


class Updated(Payload):
    changes: dict[str, dict[str, Any]]


class WorkaroundPublished(Payload):
    workaround: str
    audience: str
    problem: Ref | None = None


class WorkaroundWithdrawn(Payload):
    reason: str = ""


class WorkaroundApplied(Payload):
    incident: Ref
    resolved: bool


class StatusChanged(Payload):
    status_from: str
    status_to: str
    reason: str = ""
    fix_project: Ref | None = None


class Closed(Payload):
    status_from: str
    reason: str = ""
    incidents_told: int = 0
    problem_closed: bool = False


class RateRising(Payload):
    recent: int
    baseline: float
    window_days: int


class FixCreated(Payload):
    status: str
    priority: int
    known_error: Ref


class FixStatusChanged(Payload):
    status_from: str
    status_to: str
    known_error: Ref
    reason: str = ""


KNOWN_ERROR_EVENTS: dict[str, type[Payload]] = {
    "created": Created,
    "updated": Updated,
    "workaround_published": WorkaroundPublished,
    "workaround_withdrawn": WorkaroundWithdrawn,
    "workaround_applied": WorkaroundApplied,
    "status_changed": StatusChanged,
    "fix_started": StatusChanged,
    "fixed": StatusChanged,
    "accepted": StatusChanged,
    "closed": Closed,
    "rate_rising": RateRising,
}
FIX_PROJECT_EVENTS: dict[str, type[Payload]] = {
    "created": FixCreated,
    "updated": Updated,
    "status_changed": FixStatusChanged,
}


def validate(
    table: dict[str, type[Payload]], event_type: str, payload: dict[str, Any]
) -> dict[str, Any]:
    schema = table.get(event_type)
    if schema is None:
        raise ValueError(f"unknown event type {event_type!r}")
    return schema.model_validate(payload).model_dump(mode="json", exclude_none=False)
