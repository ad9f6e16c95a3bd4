"""API schemas of the escalation matrix, calendars, plans and SLA clocks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AnyHttpUrl, Field, StringConstraints

from servicedesk.core.http import etag
from servicedesk.core.schemas import RefOut, StrictIn, ref
from servicedesk.core.validation import Code, Id, Name, SafeDateTime, SafeText, ShortText

from .models import BusinessCalendar, EscalationPolicy

# Durations are seconds, from zero to a leap year.
Duration = Annotated[int, Field(ge=0, le=366 * 86400)]
PositiveDuration = Annotated[int, Field(ge=1, le=366 * 86400)]
Level = Annotated[int, Field(ge=1, le=3)]
Severity = Annotated[int, Field(ge=1, le=9)]
StepKindName = Literal["assign", "page", "notify_manager", "emergency_meeting", "webhook"]
ScopeName = Literal["all", "configuration_item", "service", "technology", "user_group"]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class AppliesToIn(StrictIn):
    scope: ScopeName = "all"
    id: Id | None = Field(
        None, description="The CI, service, technology or user group; none for all."
    )


class StepIn(StrictIn):
    kind: StepKindName
    support_level: Level | None = Field(
        None,
        description="assign: the level to reach; page: whose on-call (none: the current group).",
    )
    after: Duration = Field(
        0, description="Seconds after the previous step (per_step) or the opening (from_open)."
    )
    ack_within: Annotated[int, Field(ge=30, le=86400)] | None = Field(
        None, description="page: seconds before the next responder is paged (default 300)."
    )
    starts_in: Annotated[int, Field(ge=0, le=7 * 86400)] | None = Field(
        None, description="emergency_meeting: seconds until it starts (default 600)."
    )
    bridge: Annotated[SafeText, Field(max_length=500)] = ""
    url: Annotated[AnyHttpUrl, Field(max_length=500)] | None = None
    secret: ShortText = ""


class PolicyIn(StrictIn):
    name: Name
    severity: Severity
    applies_to: AppliesToIn = Field(default_factory=lambda: AppliesToIn(scope="all", id=None))
    calendar: Id | None = Field(
        None, description="A business calendar's id; the 24x7 calendar when omitted."
    )
    offsets: Literal["per_step", "from_open"] = "per_step"
    respond_within: PositiveDuration
    resolve_within: PositiveDuration
    steps: Annotated[list[StepIn], Field(max_length=20)] = []
    active: bool = True
    description: SafeText = ""


class AppliesToOut(Schema):
    scope: str
    id: int | None
    name: str | None


class StepOut(Schema):
    kind: str
    support_level: int | None
    after: int
    ack_within: int | None
    starts_in: int | None
    bridge: str
    url: str | None
    secret: str


class PolicyOut(Schema):
    id: int
    name: str
    severity: int
    applies_to: AppliesToOut
    calendar: RefOut
    offsets: str
    respond_within: int
    resolve_within: int
    steps: list[StepOut]
    active: bool
    description: str
    version: int
    etag: str
    updated_at: datetime


def policy_out(policy: EscalationPolicy) -> dict[str, Any]:
    target = policy.target
    return {
        "id": policy.pk, "name": policy.name, "severity": policy.severity,
        "applies_to": {"scope": policy.scope, "id": target.pk if target else None,
                       "name": str(target) if target else None},
        "calendar": ref(policy.calendar), "offsets": policy.offsets,
        "respond_within": policy.respond_within, "resolve_within": policy.resolve_within,
        "steps": [
            {"kind": s.kind, "support_level": s.support_level, "after": s.after,
             "ack_within": s.ack_within, "starts_in": s.starts_in, "bridge": s.bridge,
             "url": s.url or None, "secret": s.secret}
            for s in policy.steps.all()
        ],
        "active": policy.active, "description": policy.description, "version": policy.version,
        "etag": etag(policy.pk, policy.version), "updated_at": policy.updated_at,
    }  # fmt: skip


class PolicyFilterIn(Schema):
    severity: Severity | None = None
    active: bool | None = None
    cursor: Annotated[str, StringConstraints(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class SimulateIn(Schema):
    opened_at: SafeDateTime | None = Field(
        None, description="When the incident opens; now when omitted."
    )
    severity: Severity | None = Field(
        None, description="The incident's severity; the policy's when omitted."
    )


class CalendarIn(StrictIn):
    name: Name
    kind: Literal["24x7", "business_hours"] = "24x7"
    time_zone: Annotated[Code, Field(min_length=1)] = "UTC"
    hours: dict[Day, Annotated[list[tuple[HHMM, HHMM]], Field(max_length=6)]] = Field(
        default_factory=dict, description='business_hours: {"mon": [["09:00", "18:00"]], ...}'
    )
    country: Annotated[str, StringConstraints(max_length=8, pattern=r"^[A-Za-z]{0,3}$")] = ""
    subdivision: Annotated[str, StringConstraints(max_length=16, pattern=r"^[A-Za-z0-9-]*$")] = ""
    extra_holidays: Annotated[list[date], Field(max_length=500)] = []
    extra_workdays: Annotated[list[date], Field(max_length=500)] = []
    description: SafeText = ""


class CalendarOut(Schema):
    id: int
    name: str
    kind: str
    time_zone: str
    hours: dict[str, list[list[str]]]
    country: str
    subdivision: str
    extra_holidays: list[str]
    extra_workdays: list[str]
    description: str


def calendar_out(row: BusinessCalendar) -> dict[str, Any]:
    return {
        "id": row.pk, "name": row.name, "kind": row.kind, "time_zone": row.time_zone,
        "hours": row.hours or {}, "country": row.country, "subdivision": row.subdivision,
        "extra_holidays": row.extra_holidays or [], "extra_workdays": row.extra_workdays or [],
        "description": row.description,
    }  # fmt: skip


class PlannedStepOut(Schema):
    step: int
    kind: str
    support_level: int | None
    after: int
    offset: int = Field(description="Seconds of clock time from the opening.")
    due_at: datetime | None
    state: Literal["pending", "paused", "held", "done", "skipped", "failed"]
    detail: str
    performed_at: datetime | None
    flags: list[str]


class ClockOut(Schema):
    name: Literal["respond", "resolve"]
    state: Literal["running", "paused", "stopped"]
    target_seconds: int
    elapsed_seconds: float
    remaining_seconds: float = Field(description="Negative once the target is passed.")
    due_at: datetime | None
    breached: bool
    breached_at: datetime | None
    stopped_at: datetime | None
    thresholds_fired: list[int]


class HistoryOut(Schema):
    generation: int
    step: int
    policy: str
    kind: str
    support_level: int | None
    state: str
    detail: str
    due_at: datetime
    performed_at: datetime


class PlanOut(Schema):
    incident: RefOut
    severity: int
    policy: RefOut | None
    calendar: RefOut | None
    offsets: str | None
    status: Literal["running", "paused", "stopped", "none"]
    pause_reason: str
    opened_at: datetime
    respond_by: datetime | None
    resolve_by: datetime | None
    clocks: list[ClockOut]
    steps: list[PlannedStepOut]
    history: list[HistoryOut]
    warnings: list[str]


class SlaOut(Schema):
    incident: RefOut
    policy: RefOut | None
    calendar: RefOut | None
    status: Literal["running", "paused", "stopped", "none"]
    pause_reason: str
    respond_by: datetime | None
    resolve_by: datetime | None
    clocks: list[ClockOut]


class ThresholdOut(Schema):
    percent: int
    at: datetime


class SimulatedClockOut(Schema):
    name: str
    target_seconds: int
    due_at: datetime
    thresholds: list[ThresholdOut]


class SimulationOut(Schema):
    policy: RefOut
    severity: int
    calendar: RefOut
    offsets: str
    opened_at: datetime
    respond_by: datetime
    resolve_by: datetime
    clocks: list[SimulatedClockOut]
    steps: list[PlannedStepOut]
    warnings: list[str]
