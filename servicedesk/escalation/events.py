"""Incident event types of the escalation engine (a cross-team contract: the
communications capability builds its rules on these names and payloads)."""

from __future__ import annotations

from typing import Literal

from servicedesk.incidents.events import Payload, Ref, register

ClockName = Literal["respond", "resolve"]


class SlaThreshold(Payload):
    """A clock reached a share of its target; 100 means breached."""

    clock: ClockName
    percent: Literal[50, 75, 90, 100]
    due_at: str | None
    target_seconds: int
    elapsed_seconds: float
    policy: Ref | None = None


class EscalationStepFired(Payload):
    """A step of the plan fell due: what it did, or why it was skipped or failed."""

    policy: Ref | None = None
    step: int
    kind: Literal["assign", "page", "notify_manager", "emergency_meeting", "webhook"]
    support_level: int | None = None
    state: Literal["done", "skipped", "failed"]
    detail: str = ""
    due_at: str | None = None


class EmergencyMeetingConvened(Payload):
    meeting_id: int
    starts_at: str
    bridge: str
    participants: list[Ref]


register("sla_threshold", SlaThreshold)
register("escalation_step", EscalationStepFired)
register("emergency_meeting", EmergencyMeetingConvened)

OWN_TYPES = frozenset({"sla_threshold", "escalation_step", "emergency_meeting"})
