"""The incident timeline's event types: a closed, documented list with payload schemas.

Escalation, communications and reports consume these events, so each type has
a schema that is checked when the event is written. Later capabilities add
their own types with :func:`register` (see docs/events.md for the full list).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Level = Literal[1, 2, 3]


class Ref(BaseModel):
    """A reference to a group, user or catalogue record, readable without a lookup."""

    id: int
    name: str


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Created(Payload):
    status: str
    severity: int
    priority: int
    support_level: Level
    source: str
    affected_users: int
    owner_group: Ref
    assigned_group: Ref | None = None
    assignee: Ref | None = None


class Updated(Payload):
    # field name -> {"from": ..., "to": ...}
    changes: dict[str, dict[str, Any]]


class SeverityChanged(Payload):
    from_severity: int
    to_severity: int
    affected_users: int
    reason: str = ""
    manual: bool = False


class Assigned(Payload):
    from_group: Ref | None
    to_group: Ref | None
    from_assignee: Ref | None
    to_assignee: Ref | None
    support_level: Level
    status_from: str
    status_to: str


class StatusChanged(Payload):
    status_from: str
    status_to: str
    pending_reason: str = ""
    comment: str = ""


class Escalated(Payload):
    kind: Literal["functional", "hierarchical"]
    reason: str
    comment: str = ""
    automatic: bool = False
    # functional
    from_level: Level | None = None
    to_level: Level | None = None
    from_group: Ref | None = None
    to_group: Ref | None = None
    # hierarchical
    manager: Ref | None = None
    chain_position: int | None = None
    status_from: str
    status_to: str


class DeEscalated(Payload):
    from_level: Level
    to_level: Level
    from_group: Ref
    to_group: Ref
    reason: str = ""
    status_from: str
    status_to: str


class Commented(Payload):
    comment_id: int
    public: bool


class TaskAdded(Payload):
    task_id: int
    title: str
    assignee: Ref | None = None
    partner: Ref | None = None
    due_at: str | None = None


class TaskDone(Payload):
    task_id: int
    title: str


class Resolved(Payload):
    status_from: str
    resolution_code: str
    resolution: str
    support_level: Level
    group: Ref | None
    assignee: Ref | None = None


class Closed(Payload):
    automatic: bool = False
    satisfaction: int | None = None
    comment: str = ""


class Reopened(Payload):
    reason: str = ""
    reopen_count: int
    support_level: Level
    group: Ref | None


class Cancelled(Payload):
    status_from: str
    reason: str = ""


EVENT_TYPES: dict[str, type[Payload]] = {
    "created": Created,
    "updated": Updated,
    "severity_changed": SeverityChanged,
    "assigned": Assigned,
    "status_changed": StatusChanged,
    "escalated": Escalated,
    "de_escalated": DeEscalated,
    "commented": Commented,
    "task_added": TaskAdded,
    "task_done": TaskDone,
    "resolved": Resolved,
    "closed": Closed,
    "reopened": Reopened,
    "cancelled": Cancelled,
}


def register(event_type: str, schema: type[Payload]) -> None:
    """Add an event type (for capabilities built on the foundation)."""
    existing = EVENT_TYPES.get(event_type)
    if existing is not None and existing is not schema:
        raise ValueError(f"event type {event_type!r} is already registered")
    EVENT_TYPES[event_type] = schema


def validate(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored: checked against the type's schema, JSON-ready."""
    schema = EVENT_TYPES.get(event_type)
    if schema is None:
        raise ValueError(f"unknown incident event type {event_type!r}")
    return schema.model_validate(payload).model_dump(mode="json", exclude_none=False)


def ref(obj: Any) -> dict[str, Any] | None:
    """{"id", "name"} for a model instance, or None."""
    if obj is None:
        return None
    return {"id": obj.pk, "name": str(obj)}
