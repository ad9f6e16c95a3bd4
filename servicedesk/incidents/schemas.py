"""API schemas of incidents: what clients send and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import AfterValidator, Field

from servicedesk.core.http import etag
from servicedesk.core.schemas import RefOut, StrictIn, ref
from servicedesk.core.validation import (
    Code,
    Count,
    Id,
    Phone,
    SafeDateTime,
    SafeText,
    ShortText,
    Title,
)

from . import transitions
from .models import Incident

StatusName = Literal["new", "assigned", "in_progress", "pending", "resolved", "closed", "cancelled"]
PendingReasonName = Literal["awaiting_user", "awaiting_vendor", "awaiting_problem"]
SourceName = Literal["phone", "email", "portal", "walk_in", "monitoring", "api"]
ResolutionCodeName = Literal[
    "known_error", "workaround", "permanent_fix", "configuration", "user_instruction",
    "no_fault_found", "duplicate", "other",
]  # fmt: skip
EscalationReasonName = Literal["insufficient_knowledge", "time_expired", "other"]
Level3 = Annotated[int, Field(ge=1, le=3)]
SeverityValue = Annotated[int, Field(ge=1, le=9)]


def _email(value: str) -> str:
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError("not a valid e-mail address") from None
    return value


Email = Annotated[ShortText, AfterValidator(_email)]


class IncidentIn(StrictIn):
    title: Title
    description: SafeText = ""
    reporter: Id | None = Field(None, description="User id; the caller when omitted.")
    contact_phone: Phone | None = Field(None, description="The reporter's phone when omitted.")
    contact_email: Email | None = None
    user_group: Id | None = Field(None, description="The reporter's user group when omitted.")
    service: Id | None = None
    configuration_item: Id | None = None
    technology: Id | None = None
    category: Id | None = None
    affected_users: Count | None = Field(
        None, description="Users who cannot work; 1 when omitted (0 for monitoring)."
    )
    business_impact: SafeText = ""
    impact: Level3 = 2
    urgency: Level3 = 2
    severity: SeverityValue | None = Field(
        None, description="Overrides the band; needs severity_reason."
    )
    severity_reason: ShortText = ""
    source: SourceName = "api"
    external_ref: Code = ""
    expected_resolution_at: SafeDateTime | None = None
    assigned_group: Id | None = None
    assignee: Id | None = None


class IncidentPatch(StrictIn):
    title: Title | None = None
    description: SafeText | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    user_group: Id | None = None
    service: Id | None = None
    configuration_item: Id | None = None
    technology: Id | None = None
    category: Id | None = None
    affected_users: Count | None = None
    business_impact: SafeText | None = None
    impact: Level3 | None = None
    urgency: Level3 | None = None
    severity: SeverityValue | None = Field(
        None, description="null returns to the computed severity."
    )
    severity_reason: ShortText | None = None
    expected_resolution_at: SafeDateTime | None = None


class IncidentOut(Schema):
    id: int
    number: str
    title: str
    description: str
    source: str
    external_ref: str
    reporter: RefOut
    contact_phone: str
    contact_email: str
    user_group: RefOut | None
    service: RefOut | None
    configuration_item: RefOut | None
    technology: RefOut | None
    category: RefOut | None
    affected_users: int
    business_impact: str
    impact: int
    urgency: int
    severity: int
    severity_reason: str
    priority: int
    expected_resolution_at: datetime | None
    respond_by: datetime | None
    resolve_by: datetime | None
    owner_group: RefOut
    assigned_group: RefOut | None
    assignee: RefOut | None
    coordinator: RefOut | None
    support_level: int
    status: str
    pending_reason: str
    resolution_code: str
    resolution: str
    satisfaction: int | None
    satisfaction_comment: str
    reopen_count: int
    opened_at: datetime
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    version: int
    etag: str
    allowed_transitions: list[str]


def incident_out(incident: Incident) -> dict[str, Any]:
    """Serialise an incident (with its references select_related) for the API."""
    return {
        "id": incident.pk,
        "number": incident.number,
        "title": incident.title,
        "description": incident.description,
        "source": incident.source,
        "external_ref": incident.external_ref,
        "reporter": ref(incident.reporter),
        "contact_phone": incident.contact_phone,
        "contact_email": incident.contact_email,
        "user_group": ref(incident.user_group),
        "service": ref(incident.service),
        "configuration_item": ref(incident.configuration_item),
        "technology": ref(incident.technology),
        "category": ref(incident.category),
        "affected_users": incident.affected_users,
        "business_impact": incident.business_impact,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "severity": incident.severity,
        "severity_reason": incident.severity_reason,
        "priority": incident.priority,
        "expected_resolution_at": incident.expected_resolution_at,
        "respond_by": incident.respond_by,
        "resolve_by": incident.resolve_by,
        "owner_group": ref(incident.owner_group),
        "assigned_group": ref(incident.assigned_group),
        "assignee": ref(incident.assignee),
        "coordinator": ref(incident.coordinator),
        "support_level": incident.support_level,
        "status": incident.status,
        "pending_reason": incident.pending_reason,
        "resolution_code": incident.resolution_code,
        "resolution": incident.resolution,
        "satisfaction": incident.satisfaction,
        "satisfaction_comment": incident.satisfaction_comment,
        "reopen_count": incident.reopen_count,
        "opened_at": incident.opened_at,
        "responded_at": incident.responded_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "updated_at": incident.updated_at,
        "version": incident.version,
        "etag": etag(incident.pk, incident.version),
        "allowed_transitions": sorted(transitions.allowed_next(incident.status)),
    }


class AssignIn(StrictIn):
    group: Id | None = None
    assignee: Id | None = None


class PendingIn(StrictIn):
    reason: PendingReasonName
    comment: SafeText = ""


class EscalateIn(StrictIn):
    reason: EscalationReasonName
    comment: SafeText = ""
    kind: Literal["functional", "hierarchical"] = "functional"
    manager: Id | None = Field(None, description="Hierarchical only: a specific manager.")


class DeEscalateIn(StrictIn):
    reason: SafeText = ""


class ResolveIn(StrictIn):
    resolution_code: ResolutionCodeName
    resolution: Annotated[SafeText, Field(min_length=1)]


class CloseIn(StrictIn):
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: SafeText = ""


class ReasonIn(StrictIn):
    reason: SafeText = ""


class CommentIn(StrictIn):
    body: Annotated[SafeText, Field(min_length=1)]
    public: bool | None = Field(
        None, description="Default: internal for staff, public for reporters."
    )


class CommentOut(Schema):
    id: int
    author: RefOut
    body: str
    public: bool
    created_at: datetime


class TaskIn(StrictIn):
    title: Title
    assignee: Id | None = None
    partner: Id | None = None
    due_at: SafeDateTime | None = None


class TaskPatch(StrictIn):
    done: Literal[True]


class TaskOut(Schema):
    id: int
    title: str
    assignee: RefOut | None
    partner: RefOut | None
    due_at: datetime | None
    done_at: datetime | None
    created_by: RefOut
    created_at: datetime
    overdue: bool


class EventOut(Schema):
    id: int
    type: str
    actor: RefOut | None
    at: datetime
    payload: dict[str, Any]


class IncidentFilterIn(Schema):
    status: list[StatusName] | None = None
    severity: list[SeverityValue] | None = None
    priority: list[Annotated[int, Field(ge=1, le=9)]] | None = None
    support_level: list[Level3] | None = None
    group: Id | None = Field(None, description="Owner or assigned group.")
    assigned_group: Id | None = None
    assignee: Id | None = None
    unassigned: bool | None = None
    reporter: Id | None = None
    technology: Id | None = None
    user_group: Id | None = None
    service: Id | None = None
    configuration_item: Id | None = None
    category: Id | None = None
    opened_from: SafeDateTime | None = None
    opened_to: SafeDateTime | None = None
    text: ShortText | None = Field(
        None, description="Number (INC-000042), words of title/description."
    )
    cursor: Annotated[ShortText, Field(max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
