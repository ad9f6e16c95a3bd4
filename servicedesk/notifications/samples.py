"""Events to preview templates with, built around a real record.

A preview uses the record's own latest event of the type when it has one;
otherwise a sample event whose payload has only the required fields, so a
preview also shows how a message reads when the optional ones are empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from servicedesk.core import clock
from servicedesk.incidents.events import ref


@dataclass
class SampleEvent:
    """Quacks like a published event: ``.type``, ``.actor``, ``.at``, ``.payload`` and
    the subject under its own name (``.incident``, ``.problem``, ``.known_error``)."""

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    actor: Any = None
    at: datetime = field(default_factory=clock.now)
    subject_type: str = "incident"
    subject: Any = None

    def __getattr__(self, name: str) -> Any:
        if name == self.__dict__.get("subject_type"):
            return self.__dict__.get("subject")
        raise AttributeError(name)


def sample_payload(subject_type: str, event_type: str, subject: Any) -> dict[str, Any]:
    """A payload of ``event_type`` with the required fields only."""
    if subject_type != "incident":
        return {}
    group = ref(getattr(subject, "assigned_group", None))
    level = getattr(subject, "support_level", 1)
    status = getattr(subject, "status", "new")
    samples: dict[str, dict[str, Any]] = {
        "created": {"status": status, "severity": subject.severity, "priority": subject.priority,
                    "support_level": level, "source": subject.source,
                    "affected_users": subject.affected_users,
                    "owner_group": ref(subject.owner_group)},
        "assigned": {"from_group": None, "to_group": group, "from_assignee": None,
                     "to_assignee": None, "support_level": level, "status_from": "new",
                     "status_to": "assigned"},
        "status_changed": {"status_from": "in_progress", "status_to": "pending",
                           "pending_reason": "awaiting_user"},
        "escalated": {"kind": "functional", "reason": "insufficient_knowledge",
                      "from_level": 1, "to_level": 2, "to_group": group,
                      "status_from": "in_progress", "status_to": "assigned"},
        "de_escalated": {"from_level": 2, "to_level": 1, "from_group": group, "to_group": group,
                         "status_from": "in_progress", "status_to": "assigned"},
        "severity_changed": {"from_severity": 3, "to_severity": subject.severity,
                             "affected_users": subject.affected_users},
        "resolved": {"status_from": "in_progress", "resolution_code": "other",
                     "resolution": "", "support_level": level, "group": group},
        "closed": {},
        "reopened": {"reopen_count": 1, "support_level": level, "group": group},
        "cancelled": {"status_from": status},
        "commented": {"comment_id": 0, "public": False},
        "sla_threshold": {"clock": "resolve", "percent": 75},
        "paged": {"person": None, "group": group},
        "page_acknowledged": {},
        "emergency_meeting": {"participants": []},
    }  # fmt: skip
    return dict(samples.get(event_type, {}))


def sample_event(
    subject_type: str,
    event_type: str,
    subject: Any,
    *,
    overrides: dict[str, Any] | None = None,
    actor: Any = None,
) -> SampleEvent:
    payload = sample_payload(subject_type, event_type, subject)
    for key, value in (overrides or {}).items():
        payload[key] = value[0] if isinstance(value, list) and value else value
    if payload.get("kind") == "hierarchical":
        for key in ("from_level", "to_level", "from_group", "to_group"):
            payload.pop(key, None)
        payload["manager"] = ref(getattr(subject, "coordinator", None))
    return SampleEvent(
        type=event_type, payload=payload, actor=actor, subject_type=subject_type, subject=subject
    )


def latest_event(subject_type: str, event_type: str, subject: Any) -> Any | None:
    """The record's own most recent event of ``event_type`` (incidents keep a timeline)."""
    if subject_type != "incident":
        return None
    from servicedesk.incidents.models import IncidentEvent

    return (
        IncidentEvent.objects.filter(incident=subject, type=event_type)
        .select_related("actor")
        .order_by("-id")
        .first()
    )


def preview_due() -> datetime:
    return clock.now() + timedelta(minutes=30)
