"""API schemas of communications."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field

from servicedesk.core.schemas import RefOut, StrictIn, ref
from servicedesk.core.validation import Code, Id, Name, SafeText, ShortText

from .models import (
    ActionRequest,
    Notification,
    NotificationPreference,
    NotificationRule,
    NotificationTemplate,
    action_text,
)

SubjectName = Literal["incident", "problem", "known_error"]
ChannelName = Literal["email", "inapp", "webhook"]
LanguageName = Literal["en", "ru"]
KindName = Literal["status", "action"]
RecipientKindName = Literal[
    "reporter", "owner_group", "assigned_group", "assignee", "assignee_or_group", "on_call",
    "manager_chain", "coordinator", "problem_team", "support_level", "participants", "watchers",
    "user", "group", "address", "webhook",
]  # fmt: skip
# Payload condition values: no NUL, no NaN (PostgreSQL's jsonb takes neither).
Scalar = ShortText | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None
Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
Seconds = Annotated[int, Field(ge=0, le=90 * 24 * 3600)]
Severity = Annotated[int, Field(ge=1, le=9)]
Level = Annotated[int, Field(ge=1, le=3)]


# ---- in-app notifications --------------------------------------------------------------


class NotificationOut(Schema):
    id: int
    kind: KindName
    title: str
    body: str
    link: str
    number: str = Field(description="The incident (or problem) the notification is about.")
    subject_type: str
    subject_id: int | None
    event_type: str
    sender: RefOut | None
    action_request: int | None
    created_at: datetime
    read_at: datetime | None


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": n.pk, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
        "number": n.number, "subject_type": n.subject_type, "subject_id": n.subject_id,
        "event_type": n.event_type, "sender": ref(n.sender),
        "action_request": n.action_request_id, "created_at": n.created_at, "read_at": n.read_at,
    }  # fmt: skip


class MarkReadIn(StrictIn):
    ids: Annotated[list[Id], Field(max_length=500)] | None = Field(
        None, description="Notifications to mark read; all unread ones when omitted."
    )


class CountOut(Schema):
    count: int


# ---- rules -----------------------------------------------------------------------------


class RecipientIn(StrictIn):
    kind: RecipientKindName
    level: Level | None = Field(None, description="manager_chain: 1 = first manager; support_level")
    user: Id | None = None
    group: Id | None = None
    address: ShortText = Field("", description="An e-mail address, or an http(s) URL for webhooks")
    webhook: Id | None = Field(None, description="A registered webhook endpoint (/webhooks)")


class RecipientOut(Schema):
    kind: str
    level: int | None
    user: RefOut | None
    group: RefOut | None
    address: str
    webhook: RefOut | None


class ConditionsIn(StrictIn):
    severities: Annotated[list[Severity], Field(max_length=9)] = []
    support_levels: Annotated[list[Level], Field(max_length=3)] = []
    services: Annotated[list[Id], Field(max_length=200)] = []
    technologies: Annotated[list[Id], Field(max_length=200)] = []
    user_groups: Annotated[list[Id], Field(max_length=200)] = []
    payload: dict[Code, Scalar | Annotated[list[Scalar], Field(max_length=50)]] = Field(
        default_factory=dict,
        description="Event payload keys (and derived facts) -> value or allowed values, "
        'e.g. {"kind": "hierarchical"} or {"percent": [75, 90]}.',
    )


class ConditionsOut(Schema):
    severities: list[int]
    support_levels: list[int]
    services: list[RefOut]
    technologies: list[RefOut]
    user_groups: list[RefOut]
    payload: dict[str, Any]


class RuleIn(StrictIn):
    name: Name
    description: SafeText = ""
    subject_type: SubjectName = "incident"
    event_types: Annotated[list[Code], Field(min_length=1, max_length=50)]
    conditions: ConditionsIn = Field(default_factory=ConditionsIn)
    recipients: Annotated[list[RecipientIn], Field(min_length=1, max_length=50)]
    template: Key = Field(description="The key of the templates to use.")
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=3)]
    kind: KindName = "status"
    action: dict[LanguageName, ShortText] = Field(
        default_factory=dict, description="Action requests: what is asked, per language."
    )
    due_in: Seconds | None = Field(
        None, description="Action requests: due this many seconds later."
    )
    completes_on: Annotated[list[Code], Field(max_length=50)] = Field(
        default_factory=list,
        description="Action requests: later events of the same subject that mean it is done: "
        "`type` or `type[key=value,...]` (e.g. `escalated[kind=functional]`).",
    )
    language: Literal["", "en", "ru"] = ""
    urgent: bool = False
    notify_actor: bool = False
    active: bool = True


class RulePatch(StrictIn):
    name: Name | None = None
    description: SafeText | None = None
    event_types: Annotated[list[Code], Field(min_length=1, max_length=50)] | None = None
    conditions: ConditionsIn | None = None
    recipients: Annotated[list[RecipientIn], Field(min_length=1, max_length=50)] | None = None
    template: Key | None = None
    channels: Annotated[list[ChannelName], Field(min_length=1, max_length=3)] | None = None
    kind: KindName | None = None
    action: dict[LanguageName, ShortText] | None = None
    due_in: Seconds | None = None
    completes_on: Annotated[list[Code], Field(max_length=50)] | None = None
    language: Literal["", "en", "ru"] | None = None
    urgent: bool | None = None
    notify_actor: bool | None = None
    active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    description: str
    subject_type: str
    event_types: list[str]
    conditions: ConditionsOut
    recipients: list[RecipientOut]
    template: str
    channels: list[str]
    kind: str
    action: dict[str, str]
    due_in: int | None
    completes_on: list[str]
    language: str
    urgent: bool
    notify_actor: bool
    active: bool
    shipped: bool
    updated_at: datetime


def rule_out(rule: NotificationRule) -> dict[str, Any]:
    return {
        "id": rule.pk, "name": rule.name, "description": rule.description,
        "subject_type": rule.subject_type, "event_types": rule.event_types,
        "conditions": {
            "severities": rule.severities, "support_levels": rule.support_levels,
            "services": [ref(s) for s in rule.services.all()],
            "technologies": [ref(t) for t in rule.technologies.all()],
            "user_groups": [ref(g) for g in rule.user_groups.all()],
            "payload": rule.payload_match,
        },
        "recipients": [
            {"kind": r.kind, "level": r.level, "user": ref(r.user), "group": ref(r.group),
             "address": r.address, "webhook": ref(r.webhook)}
            for r in rule.recipients.all()
        ],
        "template": rule.template_key, "channels": rule.channels, "kind": rule.kind,
        "action": rule.action, "due_in": rule.due_in, "completes_on": rule.completes_on,
        "language": rule.language, "urgent": rule.urgent, "notify_actor": rule.notify_actor,
        "active": rule.active, "shipped": rule.shipped, "updated_at": rule.updated_at,
    }  # fmt: skip


# ---- templates ----------------------------------------------------------------------------


class TemplateIn(StrictIn):
    key: Key
    channel: Literal["", "email", "inapp", "webhook"] = ""
    language: LanguageName
    description: ShortText = ""
    subject: Annotated[SafeText, Field(min_length=1, max_length=1000)]
    body: Annotated[SafeText, Field(min_length=1, max_length=20_000)]


class TemplatePatch(StrictIn):
    description: ShortText | None = None
    subject: Annotated[SafeText, Field(min_length=1, max_length=1000)] | None = None
    body: Annotated[SafeText, Field(min_length=1, max_length=20_000)] | None = None


class TemplateOut(Schema):
    id: int
    key: str
    channel: str
    language: str
    description: str
    subject: str
    body: str
    status: Literal["draft", "approved"]
    approved_subject: str
    approved_body: str
    approved_by: RefOut | None
    approved_at: datetime | None
    updated_by: RefOut | None
    updated_at: datetime
    shipped: bool
    version: int


def template_out(t: NotificationTemplate) -> dict[str, Any]:
    return {
        "id": t.pk, "key": t.key, "channel": t.channel, "language": t.language,
        "description": t.description, "subject": t.subject, "body": t.body, "status": t.status,
        "approved_subject": t.approved_subject, "approved_body": t.approved_body,
        "approved_by": ref(t.approved_by), "approved_at": t.approved_at,
        "updated_by": ref(t.updated_by), "updated_at": t.updated_at, "shipped": t.shipped,
        "version": t.version,
    }  # fmt: skip


class RecordIn(StrictIn):
    type: SubjectName = "incident"
    id: Id | None = Field(None, description="The record; the newest one when omitted.")


class PreviewIn(StrictIn):
    subject: Annotated[SafeText, Field(min_length=1, max_length=1000)]
    body: Annotated[SafeText, Field(min_length=1, max_length=20_000)]
    language: LanguageName = "en"
    kind: KindName = "status"
    record: RecordIn = Field(default_factory=lambda: RecordIn(type="incident", id=None))
    event_type: Code = Field(
        "", description="Use the record's latest event of this type (else a sample)."
    )


class PreviewOut(Schema):
    subject: str
    body: str
    record: str


# ---- action requests, status updates, watchers, preferences ----------------------------


class ActionRequestOut(Schema):
    id: int
    number: str
    subject_type: str
    subject_id: int
    event_type: str
    addressee: RefOut | None
    addressee_group: RefOut | None
    address: str
    action: str
    action_by_language: dict[str, str]
    requested_at: datetime
    due_at: datetime
    state: Literal["open", "done", "cancelled"]
    overdue: bool
    done_at: datetime | None
    done_by: RefOut | None
    outcome: str
    reminders: int


def action_request_out(r: ActionRequest, now: datetime, language: str = "en") -> dict[str, Any]:
    return {
        "id": r.pk, "number": r.number, "subject_type": r.subject_type,
        "subject_id": r.subject_id, "event_type": r.event_type, "addressee": ref(r.addressee),
        "addressee_group": ref(r.addressee_group), "address": r.address,
        "action": action_text(r.action, language), "action_by_language": r.action,
        "requested_at": r.requested_at, "due_at": r.due_at, "state": r.state,
        "overdue": r.is_overdue(now), "done_at": r.done_at, "done_by": ref(r.done_by),
        "outcome": r.outcome, "reminders": r.reminders,
    }  # fmt: skip


class DoneIn(StrictIn):
    outcome: ShortText = ""


class StatusUpdateIn(StrictIn):
    text: Annotated[SafeText, Field(min_length=1, max_length=10_000)]
    channels: Annotated[list[Literal["email", "inapp"]], Field(min_length=1, max_length=2)] = [
        "email",
        "inapp",
    ]


class StatusUpdateOut(Schema):
    event: int
    recipients: int
    messages: int
    sender: RefOut | None


class WatchIn(StrictIn):
    user: Id | None = Field(None, description="Whom to add; the caller when omitted.")


def _wall_clock(value: time) -> time:
    # Working hours are wall-clock times in the person's own time zone.
    return value.replace(tzinfo=None)


WallClock = Annotated[time, AfterValidator(_wall_clock)]


class PreferencesIn(StrictIn):
    quiet_hours: bool = True
    work_days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(max_length=7)] = [
        0, 1, 2, 3, 4,
    ]  # fmt: skip
    work_starts: WallClock = time(8, 0)
    work_ends: WallClock = time(18, 0)


class PreferencesOut(Schema):
    quiet_hours: bool
    work_days: list[int]
    work_starts: time
    work_ends: time
    time_zone: str


def preferences_out(pref: NotificationPreference) -> dict[str, Any]:
    return {
        "quiet_hours": pref.quiet_hours, "work_days": pref.work_days,
        "work_starts": pref.work_starts, "work_ends": pref.work_ends,
        "time_zone": pref.user.time_zone,
    }  # fmt: skip
