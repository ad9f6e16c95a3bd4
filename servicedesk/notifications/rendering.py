"""Building a message: the context a template sees, and rendering it.

Templates are Django templates over plain text (no HTML escaping). The
context holds prepared, human-readable values only (labels, names, local
times), so a template that prints a field never shows a code or "None";
the raw record is there too (``incident``, ``problem``, ``known_error``) for
administrators who need more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.template import Context, Engine, Template
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from servicedesk.accounts.models import User

from . import labels
from .labels import label, when, word

ENGINE = Engine(
    autoescape=False,
    builtins=["django.templatetags.i18n", "django.templatetags.tz"],
    string_if_invalid="",
)

SUBJECT_PREFIXES = {"incident": "INC-", "problem": "PRB-", "known_error": "KE-"}
WEB_PATHS = {"incident": "incidents", "problem": "problems", "known_error": "known-errors"}


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Compile (and cache) a template source; raises TemplateSyntaxError."""
    return ENGINE.from_string(source)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@dataclass(frozen=True)
class Sender:
    """In whose name a message goes out."""

    name: str
    role: str = ""
    phone: str = ""
    email: str = ""
    user: User | None = None


def number_of(subject_type: str, subject: Any) -> str:
    """The subject's human reference (INC-000042); every message names it."""
    value = getattr(subject, "number", None)
    if value:
        return str(value)
    prefix = SUBJECT_PREFIXES.get(subject_type, f"{subject_type.upper()}-")
    return f"{prefix}{int(subject.pk):06d}"


def link_for(subject_type: str, subject: Any) -> str:
    """The address of the subject's page (settings.BASE_URL + the web path)."""
    try:
        path = reverse(f"web:{subject_type}", args=[subject.pk])
    except NoReverseMatch:
        path = f"/{WEB_PATHS.get(subject_type, subject_type)}/{subject.pk}/"
    return f"{settings.BASE_URL}{path}"


def _text(value: Any) -> str:
    """A value as text for a message: '' for nothing, names for records."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("name") or "")
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t)
    return str(value).strip()


def contact_of(subject: Any, language: str) -> str:
    """How to reach the user who reported (phone first), never empty."""
    reporter = getattr(subject, "reporter", None)
    phone = getattr(subject, "contact_phone", "") or getattr(reporter, "phone", "") or ""
    email = getattr(subject, "contact_email", "") or getattr(reporter, "email", "") or ""
    parts = [p for p in (phone.strip(), email.strip()) if p]
    if not parts:
        owner = getattr(subject, "owner", None)
        parts = [p for p in (getattr(owner, "phone", ""), getattr(owner, "email", "")) if p]
    return ", ".join(parts) if parts else word("no_contact", language)


def sender_for(subject: Any, *, kind: str, author: User | None = None) -> Sender:
    """Status messages go out in the coordinator's name once there is one (the
    single contact after a hierarchical escalation); otherwise in the author's
    (manual updates) or the owning desk's."""
    coordinator = getattr(subject, "coordinator", None)
    person = coordinator if (coordinator is not None and kind == "status") else author
    if person is not None:
        return Sender(
            name=str(person), role=person.job_title, phone=person.phone, email=person.email,
            user=person,
        )  # fmt: skip
    group = getattr(subject, "owner_group", None)
    if group is not None:
        return Sender(name=str(group), phone=group.phone, email=group.email)
    return Sender(name="")


def _incident_context(incident: Any, language: str, tz: str) -> dict[str, Any]:
    reporter = incident.reporter
    return {
        "incident": incident,
        "status": label("status", incident.status, language),
        "pending_reason": label("pending_reason", incident.pending_reason, language),
        "severity": label("severity", incident.severity, language),
        "priority": str(incident.priority),
        "support_level": label("support_level", incident.support_level, language),
        "source": label("source", incident.source, language),
        "reporter": _text(reporter),
        "reporter_phone": incident.contact_phone or getattr(reporter, "phone", ""),
        "reporter_email": incident.contact_email or getattr(reporter, "email", ""),
        "user_group": _text(incident.user_group),
        "service": _text(incident.service),
        "configuration_item": _text(incident.configuration_item),
        "technology": _text(incident.technology),
        "category": _text(incident.category),
        "owner_group": _text(incident.owner_group),
        "assigned_group": _text(incident.assigned_group),
        "assignee": _text(incident.assignee),
        "coordinator": _text(incident.coordinator),
        "description": incident.description.strip(),
        "business_impact": incident.business_impact.strip(),
        "affected_users": incident.affected_users or "",
        "resolution": incident.resolution.strip(),
        "resolution_code": label("resolution_code", incident.resolution_code, language),
        "opened_at": when(incident.opened_at, language, tz),
        "respond_by": when(incident.respond_by, language, tz),
        "resolve_by": when(incident.resolve_by, language, tz),
        "expected_resolution": when(incident.expected_resolution_at, language, tz),
    }


def _generic_context(subject: Any, subject_type: str, language: str) -> dict[str, Any]:
    """Problems and known errors: the attributes they are expected to have, if present."""
    get = lambda name: getattr(subject, name, None)  # noqa: E731
    return {
        subject_type: subject,
        "status": label(f"{subject_type}_status", get("status"), language),
        "priority": _text(get("priority")),
        "severity": label("severity", get("severity"), language) if get("severity") else "",
        "technology": _text(get("technology")),
        "service": _text(get("service")),
        "description": _text(get("description")),
        "symptoms": _text(get("symptoms")),
        "root_cause": _text(get("root_cause")),
        "workaround": _text(get("workaround")),
        "permanent_fix": _text(get("permanent_fix") or get("fix")),
        "owner_group": _text(get("owner_group") or get("owner")),
    }


def _event_context(event: Any, subject: Any, language: str, tz: str) -> dict[str, Any]:
    """Readable values from the event's payload (every key optional)."""
    payload: dict[str, Any] = dict(getattr(event, "payload", None) or {})
    actor = getattr(event, "actor", None)
    kind = payload.get("kind")
    out: dict[str, Any] = {
        "event": {
            "type": getattr(event, "type", ""),
            "actor": _text(actor),
            "at": when(getattr(event, "at", None), language, tz),
        },
        "payload": payload,
        "actor": _text(actor),
        "comment": _text(payload.get("comment")),
        "reason": "",
        "escalation_kind": label("escalation_kind", kind, language)
        if kind in ("functional", "hierarchical")
        else "",
        "hierarchical": kind == "hierarchical",
        "automatic": bool(payload.get("automatic")),
        "from_group": _text(payload.get("from_group")),
        "to_group": _text(payload.get("to_group") or payload.get("group")),
        "to_assignee": _text(payload.get("to_assignee")),
        "from_level": label("support_level", payload.get("from_level"), language),
        "to_level": label("support_level", payload.get("to_level"), language),
        "manager": _text(payload.get("manager")),
        "status_from": label("status", payload.get("status_from"), language),
        "status_to": label("status", payload.get("status_to"), language),
        "from_severity": label("severity", payload.get("from_severity"), language),
        "to_severity": label("severity", payload.get("to_severity"), language),
        "clock": label("clock", payload.get("clock"), language),
        "percent": payload.get("percent") or "",
        "paged_person": _text(payload.get("person")),
        "paged_group": _text(payload.get("group")),
        "participants": _text(payload.get("participants")),
        "starts_at": when(payload.get("starts_at"), language, tz),
        "bridge": _text(payload.get("bridge")),
        "satisfaction": payload.get("satisfaction") or "",
    }
    reason = payload.get("reason")
    if getattr(event, "type", "") == "escalated":
        out["reason"] = label("escalation_reason", reason, language)
    else:
        out["reason"] = _text(reason)
    if payload.get("pending_reason"):
        out["pending_reason"] = label("pending_reason", payload["pending_reason"], language)
    for key in ("root_cause", "workaround", "fix", "title"):
        if payload.get(key):
            out[f"event_{key}"] = _text(payload[key])
    if getattr(event, "type", "") == "commented" and payload.get("public"):
        from servicedesk.incidents.models import Comment

        comment_id = payload.get("comment_id")
        body = (
            Comment.objects.filter(pk=comment_id if isinstance(comment_id, int) else 0, public=True)
            .values_list("body", flat=True)
            .first()
        )
        out["comment"] = (body or "").strip()
    clock = payload.get("clock")
    if clock in ("respond", "resolve"):
        out["due"] = when(getattr(subject, f"{clock}_by", None), language, tz)
    return out


def build_context(
    *,
    subject_type: str,
    subject: Any,
    event: Any,
    language: str,
    time_zone: str,
    recipient_name: str = "",
    sender: Sender | None = None,
    action: str = "",
    action_due: datetime | None = None,
    text: str = "",
) -> dict[str, Any]:
    """Everything a template may print, already in the recipient's language."""
    context: dict[str, Any] = {
        "language": language,
        "subject_type": subject_type,
        "number": number_of(subject_type, subject),
        "title": _text(getattr(subject, "title", "")),
        "link": link_for(subject_type, subject),
        "recipient": recipient_name,
        "contact": contact_of(subject, language),
        "action": action,
        "action_due": when(action_due, language, time_zone),
        "text": text.strip(),
        "service_desk": word("service_desk", language),
    }
    if subject_type == "incident":
        context.update(_incident_context(subject, language, time_zone))
    else:
        context.update(_generic_context(subject, subject_type, language))
    event_context = _event_context(event, subject, language, time_zone)
    # Payload values describe the event; card values keep their names
    # (``status``), so the payload never overwrites a card value with blank.
    for key, value in event_context.items():
        if key not in context or value not in ("", None):
            context[key] = value
    sender = sender or sender_for(subject, kind="status")
    context["sender"] = {
        "name": sender.name or word("service_desk", language),
        "role": sender.role, "phone": sender.phone, "email": sender.email,
    }  # fmt: skip
    return context


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy_body(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _tidy_subject(text: str) -> str:
    return " ".join(text.split())[:250]


def render(subject_source: str, body_source: str, context: dict[str, Any]) -> Rendered:
    """Render a subject and a body in the context's language."""
    with translation.override(labels.language_of(context.get("language"))):
        ctx = Context(context, autoescape=False)
        subject = _tidy_subject(compile_template(subject_source).render(ctx))
        body = _tidy_body(compile_template(body_source).render(ctx))
    return Rendered(subject=subject, body=body)


def with_reference(rendered: Rendered, number: str) -> Rendered:
    """Every message names its incident (or problem) in the subject or first line."""
    first_line = rendered.body.split("\n", 1)[0]
    if number in rendered.subject or (not rendered.subject and number in first_line):
        return rendered
    subject = f"{number}: {rendered.subject}" if rendered.subject else number
    return Rendered(subject=subject, body=rendered.body)


ACTION_FOOTER = {
    "en": "Reference: {number}\nLink: {link}\nReporter's contact: {contact}",
    "ru": "Номер: {number}\nСсылка: {link}\nКонтакт пользователя: {contact}",  # noqa: RUF001
}


def with_action_details(rendered: Rendered, context: dict[str, Any]) -> Rendered:
    """Action requests always carry the reference, the link and the reporter's
    contact; a template that left them out gets them appended."""
    body = rendered.body
    if context["link"] in body and context["contact"] in body:
        return rendered
    footer = ACTION_FOOTER[labels.language_of(context.get("language"))].format(
        number=context["number"], link=context["link"], contact=context["contact"]
    )
    return Rendered(subject=rendered.subject, body=f"{body}\n\n{footer}".strip())
