"""API schemas of problem control."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from servicedesk.core import clock
from servicedesk.core.http import etag
from servicedesk.core.schemas import RefOut, StrictIn, ref
from servicedesk.core.validation import Count, Id, SafeDateTime, SafeText, ShortText, Title

from . import services, transitions
from .models import Problem

StatusName = Literal[
    "new", "under_investigation", "root_cause_known", "resolved", "closed", "deferred"
]
SourceName = Literal["manual", "severity", "escalation", "review", "trend"]
AudienceName = Literal["support", "portal"]
Priority = Annotated[int, Field(ge=1, le=5)]
Impact = Annotated[int, Field(ge=0, le=5)]
Hours = Annotated[int, Field(ge=1, le=100_000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
IdList = Annotated[list[Id], Field(max_length=500)]
Cursor = Annotated[ShortText, Field(max_length=64)]


class ProblemIn(StrictIn):
    title: Title
    description: SafeText = ""
    technology: Id | None = None
    service: Id | None = None
    category: Id | None = None
    configuration_items: IdList = []
    user_groups: IdList = []
    priority: Priority = 3
    major: bool = False
    users_affected: Count = 0
    business_impact: Impact = 0
    cost_estimate: Money = Decimal(0)
    cause_estimate_hours: Hours | None = Field(
        None,
        description="Estimate of the time to find the cause; the configured default when omitted.",
    )
    owner_group: Id | None = Field(
        None, description="The technology's 2nd-line group when omitted."
    )
    owner: Id | None = None
    team: IdList = []
    incidents: IdList = Field([], description="Incidents to link at once.")
    set_pending: bool = Field(
        False, description="Set the linked open incidents pending on the problem."
    )


class ProblemPatch(StrictIn):
    title: Title | None = None
    description: SafeText | None = None
    technology: Id | None = None
    service: Id | None = None
    category: Id | None = None
    configuration_items: IdList | None = None
    user_groups: IdList | None = None
    team: IdList | None = None
    owner: Id | None = None
    priority: Priority | None = None
    major: bool | None = None
    users_affected: Count | None = None
    business_impact: Impact | None = None
    cost_estimate: Money | None = None
    cause_estimate_hours: Hours | None = None


class ProblemOut(Schema):
    id: int
    number: str
    title: str
    description: str
    source: str
    technology: RefOut | None
    service: RefOut | None
    category: RefOut | None
    configuration_items: list[RefOut]
    user_groups: list[RefOut]
    team: list[RefOut]
    priority: int
    major: bool
    users_affected: int
    business_impact: int
    cost_estimate: Decimal
    score: float
    owner_group: RefOut
    owner: RefOut | None
    assigned_group: RefOut | None
    assignee: RefOut | None
    support_level: int
    status: str
    deferred_reason: str
    root_cause: str
    workaround: str
    resolution: str
    close_reason: str
    cause_estimate_hours: int
    investigation_hours: float
    progress_percent: float = Field(
        description="Investigation time spent as a share of the estimate."
    )
    overrun: bool = Field(description="More time spent than estimated.")
    linked_incidents: int
    known_errors: list[RefOut]
    opened_at: datetime
    root_cause_found_at: datetime | None
    deferred_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    version: int
    etag: str
    allowed_transitions: list[str]


def linked_count(problem: Problem) -> int:
    """The annotated count of linked incidents (``selectors``), else a query."""
    links = getattr(problem, "links", None)
    return int(links) if links is not None else problem.incident_links.count()


def problem_out(problem: Problem) -> dict[str, Any]:
    """Serialise a problem (references prefetched by ``selectors``)."""
    hours = services.investigation_hours(problem, clock.now())
    estimate = problem.cause_estimate_hours or 1
    return {
        "id": problem.pk, "number": problem.number, "title": problem.title,
        "description": problem.description, "source": problem.source,
        "technology": ref(problem.technology), "service": ref(problem.service),
        "category": ref(problem.category),
        "configuration_items": [ref(c) for c in problem.configuration_items.all()],
        "user_groups": [ref(g) for g in problem.user_groups.all()],
        "team": [ref(u) for u in problem.team.all()],
        "priority": problem.priority, "major": problem.major,
        "users_affected": problem.users_affected, "business_impact": problem.business_impact,
        "cost_estimate": problem.cost_estimate, "score": problem.score,
        "owner_group": ref(problem.owner_group), "owner": ref(problem.owner),
        "assigned_group": ref(problem.assigned_group), "assignee": ref(problem.assignee),
        "support_level": problem.support_level, "status": problem.status,
        "deferred_reason": problem.deferred_reason, "root_cause": problem.root_cause,
        "workaround": problem.workaround, "resolution": problem.resolution,
        "close_reason": problem.close_reason, "cause_estimate_hours": problem.cause_estimate_hours,
        "investigation_hours": round(hours, 2),
        "progress_percent": round(100 * hours / estimate, 1), "overrun": hours > estimate,
        "linked_incidents": linked_count(problem),
        "known_errors": [ref(k) for k in problem.known_errors.all()],
        "opened_at": problem.opened_at, "root_cause_found_at": problem.root_cause_found_at,
        "deferred_at": problem.deferred_at, "resolved_at": problem.resolved_at,
        "closed_at": problem.closed_at, "updated_at": problem.updated_at,
        "version": problem.version, "etag": etag(problem.pk, problem.version),
        "allowed_transitions": sorted(transitions.allowed_next(problem.status)),
    }  # fmt: skip


class ProblemFilterIn(Schema):
    status: list[StatusName] | None = None
    source: list[SourceName] | None = None
    priority: list[Priority] | None = None
    support_level: list[Annotated[int, Field(ge=1, le=3)]] | None = None
    technology: Id | None = None
    service: Id | None = None
    category: Id | None = None
    configuration_item: Id | None = None
    user_group: Id | None = None
    owner_group: Id | None = None
    assigned_group: Id | None = None
    major: bool | None = None
    opened_from: SafeDateTime | None = None
    opened_to: SafeDateTime | None = None
    text: ShortText | None = Field(None, description="Number (PRB-000042) or words of the title.")
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class CommentIn(StrictIn):
    comment: SafeText = ""


class ReasonIn(StrictIn):
    reason: Annotated[SafeText, Field(min_length=1)]


class OptionalReasonIn(StrictIn):
    reason: SafeText = ""


class RootCauseIn(StrictIn):
    root_cause: Annotated[SafeText, Field(min_length=1)]
    symptoms: SafeText = Field(
        "", description="Symptoms for the known error (the description when empty)."
    )
    create_known_error: bool = True
    workaround: SafeText | None = Field(None, description="Publish this workaround at once.")
    audience: AudienceName = "support"


class WorkaroundIn(StrictIn):
    workaround: Annotated[SafeText, Field(min_length=1)]
    audience: AudienceName = "support"


class ResolutionIn(StrictIn):
    resolution: Annotated[SafeText, Field(min_length=1)]


class AssignIn(StrictIn):
    group: Id | None = None
    assignee: Id | None = None


class LinkIn(StrictIn):
    incident: Id
    set_pending: bool = Field(False, description="Set the (open) incident pending on the problem.")
    comment: SafeText = ""


class EventOut(Schema):
    id: int
    type: str
    actor: RefOut | None
    at: datetime
    payload: dict[str, Any]


class SpanOut(Schema):
    group: RefOut
    support_level: int
    started_at: datetime
    ended_at: datetime | None
    end_reason: str
    duration_seconds: float | None


class LinkedIncidentOut(Schema):
    incident: RefOut
    status: str
    severity: int
    category: RefOut | None
    configuration_item: RefOut | None
    opened_at: datetime
    linked_at: datetime
    linked_by: RefOut | None


class FactorOut(Schema):
    key: str
    raw: float
    scaled: float
    weight: float
    contribution: float


class ScoreOut(Schema):
    score: float
    factors: list[FactorOut]


# ---- RCA ----------------------------------------------------------------------------------


class CauseIn(StrictIn):
    text: Annotated[ShortText, Field(min_length=1)]
    root_cause: bool = False
    sub_causes: Annotated[list[CauseIn], Field(max_length=50)] = []


class CategoryIn(StrictIn):
    name: Annotated[ShortText, Field(min_length=1, max_length=60)]
    causes: Annotated[list[CauseIn], Field(max_length=100)] = []


class IshikawaIn(StrictIn):
    categories: Annotated[list[CategoryIn], Field(max_length=20)]


class WhyIn(StrictIn):
    why: Annotated[SafeText, Field(min_length=1)]
    because: Annotated[SafeText, Field(min_length=1)]


class FiveWhysIn(StrictIn):
    steps: Annotated[list[WhyIn], Field(max_length=10)]


class KepnerTregoeRowIn(StrictIn):
    dimension: Literal["what", "where", "when", "extent"]
    question: ShortText = ""
    is_: SafeText = Field("", alias="is")
    is_not: SafeText = ""
    distinctions: SafeText = ""
    changes: SafeText = ""


class KepnerTregoeIn(StrictIn):
    rows: Annotated[list[KepnerTregoeRowIn], Field(max_length=40)]


class ParetoRowOut(Schema):
    key: str
    count: int
    percent: float
    cumulative_percent: float
    vital_few: bool


class RcaOut(Schema):
    ishikawa: list[dict[str, Any]]
    five_whys: list[dict[str, Any]]
    kepner_tregoe: list[dict[str, Any]]
    pareto: dict[str, list[ParetoRowOut]]


# ---- reviews -------------------------------------------------------------------------------


class ActionIn(StrictIn):
    title: Title
    owner: Id
    due_at: SafeDateTime | None = None


class ReviewIn(StrictIn):
    held_at: SafeDateTime | None = None
    participants: IdList = []
    went_well: SafeText = ""
    went_wrong: SafeText = ""
    lessons: SafeText = ""
    actions: Annotated[list[ActionIn], Field(max_length=50)] = []


class ActionOut(Schema):
    id: int
    title: str
    owner: RefOut
    due_at: datetime | None
    done_at: datetime | None
    overdue: bool


class ReviewOut(Schema):
    id: int
    held_at: datetime
    participants: list[RefOut]
    went_well: str
    went_wrong: str
    lessons: str
    created_by: RefOut
    actions: list[ActionOut]


# ---- candidates, review queue, trends -----------------------------------------------------


class CandidateOut(Schema):
    id: int
    source: str
    state: str
    title: str
    incident: RefOut | None
    incidents: list[RefOut]
    reasons: list[str]
    evidence: dict[str, Any]
    problem: RefOut | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: RefOut | None
    decision_note: str


class CandidateFilterIn(Schema):
    state: list[Literal["open", "accepted", "dismissed"]] | None = None
    source: list[SourceName] | None = None
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class AcceptIn(StrictIn):
    problem: Id | None = Field(None, description="Link to this problem instead of opening one.")
    title: ShortText = ""
    note: SafeText = ""
    priority: Priority = 3
    cause_estimate_hours: Hours | None = None


class DismissIn(StrictIn):
    note: SafeText = ""


class ReviewQueueItemOut(Schema):
    incident: RefOut
    status: str
    severity: int
    support_level: int
    service: RefOut | None
    configuration_item: RefOut | None
    category: RefOut | None
    assigned_group: RefOut | None
    opened_at: datetime
    candidate: CandidateOut | None


class ReviewQueueFilterIn(Schema):
    hours: Annotated[int, Field(ge=1, le=24 * 90)] | None = None
    include_decided: bool = False
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 100


class SendIn(StrictIn):
    incidents: Annotated[list[Id], Field(min_length=1, max_length=500)]
    problem: Id | None = Field(None, description="An existing problem; a new one when omitted.")
    title: ShortText = ""
    priority: Priority = 3
    cause_estimate_hours: Hours | None = None
    set_pending: bool = False


class ReviewDismissIn(StrictIn):
    incidents: Annotated[list[Id], Field(min_length=1, max_length=500)]
    note: SafeText = ""


TrendDimension = Literal["configuration_item", "text", "service", "category"]


class TrendRulesIn(Schema):
    window_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    min_incidents: Annotated[int, Field(ge=2, le=10_000)] | None = None
    dimensions: list[TrendDimension] | None = None
    text_similarity: Annotated[float, Field(gt=0, le=1)] | None = None


class TrendRulesBody(StrictIn):
    window_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    min_incidents: Annotated[int, Field(ge=2, le=10_000)] | None = None
    dimensions: list[TrendDimension] | None = None
    text_similarity: Annotated[float, Field(gt=0, le=1)] | None = None


class ClusterOut(Schema):
    rule: str
    key: str
    label: str
    count: int
    incidents: list[RefOut]
    first_opened_at: datetime
    last_opened_at: datetime
    shared_terms: list[str]
    explanation: str
    candidate: int | None


class TrendsOut(Schema):
    rules: dict[str, Any]
    items: list[ClusterOut]
    next: str | None = None


class PortfolioItemOut(Schema):
    rank: int
    problem: RefOut
    status: str
    priority: int
    score: float
    linked_incidents: int
    cause_estimate_hours: int
    investigation_hours: float
    progress_percent: float
    overrun: bool
    support_level: int
    assigned_group: RefOut | None


class PortfolioFilterIn(Schema):
    status: list[Literal["new", "under_investigation", "root_cause_known", "deferred"]] | None = (
        None
    )
    limit: Annotated[int, Field(ge=1, le=500)] = 100
