"""API schemas of on-call schedules, overrides and pages."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints

from servicedesk.core.http import etag
from servicedesk.core.schemas import RefOut, StrictIn, ref
from servicedesk.core.validation import (
    Code,
    Id,
    Name,
    SafeDateTime,
    SafeText,
    ShortText,
    clean_text,
)

from .models import OnCallOverride, OnCallSchedule, Page

HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class LayerIn(StrictIn):
    name: Name
    rotation: Literal["daily", "weekly", "custom"] = "weekly"
    shift_length: Annotated[int, Field(ge=3600, le=366 * 86400)] | None = Field(
        None, description="custom: seconds of wall-clock time per shift."
    )
    starts_on: date | None = Field(None, description="The first shift's date; today when omitted.")
    handoff_time: time = Field(time(9, 0), description="Local time of the hand-off.")
    restriction: dict[Day, Annotated[list[tuple[HHMM, HHMM]], Field(max_length=6)]] = Field(
        default_factory=dict,
        description='Hours the layer covers, e.g. {"sat": [["00:00", "24:00"]]}; empty: always.',
    )
    members: Annotated[list[Id], Field(max_length=100)] = Field(
        default_factory=list, description="User ids, in turn order."
    )


class ScheduleUpdateIn(StrictIn):
    name: Annotated[
        str, StringConstraints(max_length=100, strip_whitespace=True), AfterValidator(clean_text)
    ] = Field("", description="Empty keeps the current name.")
    time_zone: Annotated[Code, Field(min_length=1)] = "UTC"
    description: SafeText = ""
    layers: Annotated[list[LayerIn], Field(max_length=10)] = []


class ScheduleIn(ScheduleUpdateIn):
    group: Id


class LayerOut(Schema):
    id: int
    position: int
    name: str
    rotation: str
    shift_length: int | None
    starts_on: date
    handoff_time: str
    restriction: dict[str, Any]
    members: list[RefOut]


class ScheduleOut(Schema):
    id: int
    name: str
    group: RefOut
    time_zone: str
    description: str
    layers: list[LayerOut]
    version: int
    etag: str
    updated_at: datetime


def schedule_out(schedule: OnCallSchedule) -> dict[str, Any]:
    layers = []
    for layer in schedule.layers.order_by("position").prefetch_related("memberships__user"):
        layers.append({
            "id": layer.pk, "position": layer.position, "name": layer.name,
            "rotation": layer.rotation, "shift_length": layer.shift_length,
            "starts_on": layer.starts_on, "handoff_time": layer.handoff_time.strftime("%H:%M"),
            "restriction": layer.restriction or {},
            "members": [ref(m.user) for m in layer.memberships.all()],
        })  # fmt: skip
    return {
        "id": schedule.pk, "name": schedule.name, "group": ref(schedule.group),
        "time_zone": schedule.time_zone, "description": schedule.description, "layers": layers,
        "version": schedule.version, "etag": etag(schedule.pk, schedule.version),
        "updated_at": schedule.updated_at,
    }  # fmt: skip


class WhoIn(Schema):
    at: SafeDateTime | None = Field(None, description="The moment; now when omitted.")


class ResponderOut(Schema):
    person: RefOut
    layer: RefOut | None
    source: Literal["rotation", "override", "manager"]
    until: datetime | None


class WhoOut(Schema):
    at: datetime
    schedule: RefOut
    group: RefOut
    on_call: RefOut | None
    responders: list[ResponderOut]


class ShiftsIn(Schema):
    start: SafeDateTime | None = Field(None, description="From; now when omitted.")
    days: Annotated[int, Field(ge=1, le=366)] = 28


class FeedOut(Schema):
    url: str = Field(description="The calendar subscription URL with its key (shown once).")


class ShiftOut(Schema):
    person: RefOut
    start: datetime
    end: datetime


class OverrideIn(StrictIn):
    person: Id
    starts_at: SafeDateTime
    ends_at: SafeDateTime
    layer: Id | None = Field(None, description="The layer covered; the first when omitted.")
    reason: ShortText = ""


class OverrideOut(Schema):
    id: int
    person: RefOut
    layer: RefOut | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    imported: bool


def override_out(row: OnCallOverride) -> dict[str, Any]:
    return {
        "id": row.pk, "person": ref(row.person), "layer": ref(row.layer),
        "starts_at": row.starts_at, "ends_at": row.ends_at, "reason": row.reason,
        "imported": bool(row.ical_uid),
    }  # fmt: skip


class SkippedOut(Schema):
    uid: str
    reason: str


class ImportOut(Schema):
    imported: int
    removed: int
    skipped: list[SkippedOut]


class PageIn(StrictIn):
    incident: Id
    group: Id
    ack_within: Annotated[int, Field(ge=30, le=86400)] = 300


class ListIn(Schema):
    cursor: Annotated[str, StringConstraints(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class PageFilterIn(Schema):
    incident: Id | None = None
    state: Literal["paging", "acknowledged", "exhausted", "cancelled"] | None = None
    cursor: Annotated[str, StringConstraints(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class PageOut(Schema):
    id: int
    incident: RefOut
    group: RefOut
    state: str
    attempt: int
    person: RefOut | None
    ack_within: int
    ack_by: datetime | None
    responders: list[int]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: RefOut | None
    ended_at: datetime | None


def page_out(page: Page) -> dict[str, Any]:
    return {
        "id": page.pk, "incident": ref(page.incident), "group": ref(page.group),
        "state": page.state, "attempt": page.attempt, "person": ref(page.person),
        "ack_within": page.ack_within, "ack_by": page.ack_by, "responders": page.responders,
        "created_at": page.created_at, "acknowledged_at": page.acknowledged_at,
        "acknowledged_by": ref(page.acknowledged_by), "ended_at": page.ended_at,
    }  # fmt: skip
