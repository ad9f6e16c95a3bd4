"""API schemas of error control."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from servicedesk.core.http import etag
from servicedesk.core.schemas import RefOut, StrictIn, ref
from servicedesk.core.validation import Code, Id, SafeDateTime, SafeText, ShortText, Title

from . import transitions
from .models import FixProject, KnownError

StatusName = Literal["open", "fix_in_progress", "fixed", "closed", "accepted"]
AudienceName = Literal["unpublished", "support", "portal"]
FixStatusName = Literal["proposed", "approved", "in_progress", "implemented", "cancelled"]
Priority = Annotated[int, Field(ge=1, le=5)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
IdList = Annotated[list[Id], Field(max_length=500)]
Codes = Annotated[list[Code], Field(max_length=50)]
Cursor = Annotated[ShortText, Field(max_length=64)]
Required = Annotated[SafeText, Field(min_length=1)]
# A catalogue reference by id or by exact name (the matcher is often called
# with what a monitoring tool or a form knows: "mail-01").
RefByIdOrName = Id | Annotated[ShortText, Field(min_length=1)]


class KnownErrorIn(StrictIn):
    title: Title
    symptoms: Required
    root_cause: Required
    workaround: SafeText = Field(description="Required unless audience is 'unpublished'.")
    permanent_fix: SafeText = ""
    keywords: SafeText = ""
    problem: Id | None = None
    technology: Id | None = None
    services: IdList = []
    configuration_items: IdList = []
    error_codes: Codes = []
    priority: Priority = 3
    audience: AudienceName = Field(
        "support",
        description="Published for all support levels by default; 'unpublished' is a draft.",
    )


class KnownErrorPatch(StrictIn):
    title: Title | None = None
    symptoms: Required | None = None
    root_cause: Required | None = None
    workaround: SafeText | None = None
    permanent_fix: SafeText | None = None
    keywords: SafeText | None = None
    technology: Id | None = None
    services: IdList | None = None
    configuration_items: IdList | None = None
    error_codes: Codes | None = None
    priority: Priority | None = None


class KnownErrorOut(Schema):
    id: int
    number: str
    title: str
    symptoms: str
    root_cause: str
    workaround: str
    permanent_fix: str
    keywords: str
    problem: RefOut | None
    technology: RefOut | None
    services: list[RefOut]
    configuration_items: list[RefOut]
    error_codes: list[str]
    priority: int
    status: str
    accepted_reason: str
    audience: str
    published: bool
    workaround_published_at: datetime | None
    rate_rising: bool
    incidents_caused: int
    fix_projects: list[RefOut]
    created_at: datetime
    fixed_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    version: int
    etag: str
    allowed_transitions: list[str]


def known_error_out(ke: KnownError) -> dict[str, Any]:
    """Serialise a known error (references prefetched by ``selectors``)."""
    caused = getattr(ke, "caused", None)
    return {
        "id": ke.pk, "number": ke.number, "title": ke.title, "symptoms": ke.symptoms,
        "root_cause": ke.root_cause, "workaround": ke.workaround,
        "permanent_fix": ke.permanent_fix, "keywords": ke.keywords, "problem": ref(ke.problem),
        "technology": ref(ke.technology), "services": [ref(s) for s in ke.services.all()],
        "configuration_items": [ref(c) for c in ke.configuration_items.all()],
        "error_codes": [c.code for c in ke.codes.all()], "priority": ke.priority,
        "status": ke.status, "accepted_reason": ke.accepted_reason, "audience": ke.audience,
        "published": ke.is_published, "workaround_published_at": ke.workaround_published_at,
        "rate_rising": ke.rate_rising,
        "incidents_caused": int(caused) if caused is not None else ke.incident_links.count(),
        "fix_projects": [ref(f) for f in ke.fix_projects.all()],
        "created_at": ke.created_at, "fixed_at": ke.fixed_at, "closed_at": ke.closed_at,
        "updated_at": ke.updated_at, "version": ke.version, "etag": etag(ke.pk, ke.version),
        "allowed_transitions": sorted(transitions.TRANSITIONS[ke.status]),
    }  # fmt: skip


class KnownErrorFilterIn(Schema):
    status: list[StatusName] | None = None
    audience: list[AudienceName] | None = None
    technology: Id | None = None
    service: Id | None = None
    configuration_item: Id | None = None
    problem: Id | None = None
    rate_rising: bool | None = None
    text: ShortText | None = Field(None, description="Number (KE-000042) or words of the title.")
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class MatchIn(StrictIn):
    text: Annotated[SafeText, Field(min_length=1, max_length=10_000)]
    configuration_item: RefByIdOrName | None = None
    service: RefByIdOrName | None = None
    technology: RefByIdOrName | None = None
    error_code: Code | None = None
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class MatchOut(Schema):
    known_error: KnownErrorOut
    score: float
    text_score: float
    reasons: list[str]


class MatchesOut(Schema):
    items: list[MatchOut]


class PublishIn(StrictIn):
    audience: Literal["support", "portal"] = "support"
    workaround: SafeText | None = None


class WithdrawIn(StrictIn):
    reason: SafeText = ""


class StatusIn(StrictIn):
    status: Literal["open", "fix_in_progress", "fixed", "accepted"]
    reason: SafeText = ""


class CloseIn(StrictIn):
    reason: SafeText = ""
    close_problem: bool = Field(
        False, description="Also resolve (if needed) and close the problem."
    )


class ApplyIn(StrictIn):
    known_error: Id
    resolve: bool = Field(True, description="Resolve the incident with the code 'known_error'.")
    resolution: SafeText = Field("", description="The workaround is quoted when empty.")


class ApplyToIncidentIn(StrictIn):
    incident: Id
    resolve: bool = True
    resolution: SafeText = ""


class AppliedOut(Schema):
    incident: RefOut
    known_error: RefOut
    incident_status: str
    resolved: bool
    applied_at: datetime
    applied_by: RefOut | None


class CausedIncidentOut(Schema):
    incident: RefOut
    status: str
    opened_at: datetime
    applied_at: datetime
    resolved: bool


class EventOut(Schema):
    id: int
    type: str
    actor: RefOut | None
    at: datetime
    payload: dict[str, Any]


class WindowOut(Schema):
    start: datetime
    end: datetime
    incidents: int


class TrendOut(Schema):
    known_error: RefOut
    windows: list[WindowOut]
    recent: int
    baseline: float
    rising: bool


class FiguresOut(Schema):
    known_errors: int
    known_errors_open: int
    incidents_caused: int
    fix_projects_started: int
    fix_projects_implemented: int
    fix_projects_cost_estimate: Decimal
    fix_projects_actual_cost: Decimal


# ---- fix projects -------------------------------------------------------------------------


class FixProjectIn(StrictIn):
    known_error: Id
    title: Title
    description: SafeText = ""
    priority: Priority = 3
    owner: Id | None = None
    group: Id | None = None
    planned_start: date | None = None
    planned_end: date | None = None
    cost_estimate: Money = Decimal(0)
    change_ref: Code = ""


class FixProjectPatch(StrictIn):
    title: Title | None = None
    description: SafeText | None = None
    priority: Priority | None = None
    owner: Id | None = None
    group: Id | None = None
    planned_start: date | None = None
    planned_end: date | None = None
    cost_estimate: Money | None = None
    actual_cost: Money | None = None
    change_ref: Code | None = None


class FixStatusIn(StrictIn):
    status: FixStatusName
    reason: SafeText = ""
    actual_cost: Money | None = None
    change_ref: Code | None = None


class FixProjectOut(Schema):
    id: int
    number: str
    known_error: RefOut
    known_error_status: str
    title: str
    description: str
    priority: int
    status: str
    owner: RefOut | None
    group: RefOut | None
    planned_start: date | None
    planned_end: date | None
    actual_start: date | None
    actual_end: date | None
    late: bool
    cost_estimate: Decimal
    actual_cost: Decimal | None
    change_ref: str
    cancel_reason: str
    created_at: datetime
    updated_at: datetime
    version: int
    etag: str
    allowed_transitions: list[str]


def fix_project_out(fix: FixProject, today: date) -> dict[str, Any]:
    end = fix.actual_end or today
    return {
        "id": fix.pk, "number": fix.number, "known_error": ref(fix.known_error),
        "known_error_status": fix.known_error.status, "title": fix.title,
        "description": fix.description, "priority": fix.priority, "status": fix.status,
        "owner": ref(fix.owner), "group": ref(fix.group), "planned_start": fix.planned_start,
        "planned_end": fix.planned_end, "actual_start": fix.actual_start,
        "actual_end": fix.actual_end,
        "late": fix.planned_end is not None and fix.status != "cancelled" and end > fix.planned_end,
        "cost_estimate": fix.cost_estimate, "actual_cost": fix.actual_cost,
        "change_ref": fix.change_ref, "cancel_reason": fix.cancel_reason,
        "created_at": fix.created_at, "updated_at": fix.updated_at, "version": fix.version,
        "etag": etag(fix.pk, fix.version),
        "allowed_transitions": sorted(transitions.FIX_TRANSITIONS[fix.status]),
    }  # fmt: skip


class FixProjectFilterIn(Schema):
    status: list[FixStatusName] | None = None
    known_error: Id | None = None
    active: bool | None = Field(None, description="Only proposed, approved and in progress.")
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class FiguresFilterIn(Schema):
    opened_from: SafeDateTime | None = None
    opened_to: SafeDateTime | None = None
