"""From an event to outbox messages, inside the event's transaction.

``notify_event`` is called by the listeners for every published event. It
first settles open action requests the event completes, then applies each
active rule whose event type, conditions and payload conditions match:
resolve the recipients, open action requests, render the approved template
per recipient language, and queue one outbox message per destination. A
rule that fails (a broken template, a missing record) is logged and rolled
back to its savepoint: it never undoes the change that caused the event.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import transaction

from servicedesk.accounts.models import User
from servicedesk.core import clock, confcache, outbox, scheduling
from servicedesk.core.lookups import KeyedRead
from servicedesk.core.models import OutboxMessage
from servicedesk.core.writes import insert

from . import conf, rendering
from .labels import zone
from .models import (
    ActionRequest,
    ActionState,
    Channel,
    MessageKind,
    NotificationPreference,
    NotificationRule,
    NotificationTemplate,
    RuleRecipient,
    action_text,
)
from .quiet import WorkingHours, next_working_moment
from .recipients import Destination, Recipient, destinations, members_read_once, resolve

log = logging.getLogger("servicedesk.notifications")

SUBJECT_MODELS = {
    "incident": ("incidents", "Incident"),
    "problem": ("problems", "Problem"),
    "known_error": ("knownerrors", "KnownError"),
}
# Events that are urgent by nature: never held by quiet hours.
URGENT_EVENTS = frozenset({"paged", "emergency_meeting"})
# Events after which no open request on the subject is still needed.
TERMINAL_EVENTS = {
    "incident": frozenset({"resolved", "closed", "cancelled"}),
    "problem": frozenset({"closed"}),
    "known_error": frozenset({"closed"}),
}
REMINDER_KIND = "notifications.action_due"
REMINDER_TEMPLATE = "action_reminder"
# Rules, their recipients and conditions, templates and preferences are read for every
# event: cached per configuration version (core/confcache.py).
confcache.watch(NotificationRule, RuleRecipient, NotificationTemplate, NotificationPreference)
RELATIONS = (("services", "service"), ("technologies", "technology"), ("user_groups", "user_group"))
_CONF = "_confcache_rule"


@dataclass(frozen=True)
class RuleConf:
    """What a cached rule needs besides its own fields."""

    related: dict[str, frozenset[int]]
    recipients: tuple[RuleRecipient, ...]


def reminder_key(request_id: int) -> str:
    return f"notifications.action:{request_id}"


def subject_of(subject_type: str, event: Any) -> Any:
    return getattr(event, subject_type)


def load_subject(subject_type: str, pk: int) -> Any | None:
    """The record of a subject type by id, or None (also when its app has no model yet)."""
    app_label, model_name = SUBJECT_MODELS[subject_type]
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    return model._default_manager.filter(pk=pk).first()


# ---- templates ----------------------------------------------------------------------


def find_template(key: str, channel: str, language: str) -> NotificationTemplate | None:
    """The approved template for a key: the channel's own in the language, then the
    any-channel one, then the same in English. (Shared, read only.)"""
    return confcache.cached(
        f"notifications.template:{key}:{channel}:{language}",
        lambda: _find_template(key, channel, language),
    )


def _find_template(key: str, channel: str, language: str) -> NotificationTemplate | None:
    candidates = [
        t
        for t in NotificationTemplate.objects.filter(
            key=key, channel__in=[channel, ""], language__in=[language, "en"]
        )
        if t.is_usable
    ]
    order = [(channel, language), ("", language), (channel, "en"), ("", "en")]
    for wanted in order:
        for template in candidates:
            if (template.channel, template.language) == wanted:
                return template
    return None


# ---- matching -------------------------------------------------------------------------


def facts(subject_type: str, subject: Any, event: Any) -> dict[str, Any]:
    """The payload plus derived facts that payload conditions may test."""
    payload = dict(getattr(event, "payload", None) or {})
    actor = getattr(event, "actor", None)

    def ref_id(value: Any) -> Any:
        return value.get("id") if isinstance(value, dict) else None

    derived = {
        "group_changed": ref_id(payload.get("from_group")) != ref_id(payload.get("to_group")),
        "self_assigned": actor is not None
        and ref_id(payload.get("to_assignee")) == getattr(actor, "pk", None),
        "subject_status": getattr(subject, "status", None),
        "by_system": actor is None,
    }
    return {**derived, **payload}


def _ids(subject: Any, name: str) -> set[int]:
    value = getattr(subject, f"{name}_id", None)
    if value is not None:
        return {int(value)}
    many = getattr(subject, f"{name}s", None)
    if many is not None and hasattr(many, "values_list"):
        return set(many.values_list("pk", flat=True))
    return set()


def prematches(rule: NotificationRule, subject_type: str, subject: Any, event: Any) -> bool:
    """The rule's conditions on the card and the payload (no database read)."""
    if rule.severities and getattr(subject, "severity", None) not in rule.severities:
        return False
    if rule.support_levels and getattr(subject, "support_level", None) not in rule.support_levels:
        return False
    if rule.payload_match:
        known = facts(subject_type, subject, event)
        for key, wanted in rule.payload_match.items():
            value = known.get(key)
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if value not in allowed:
                return False
    return True


def matches(rule: NotificationRule, subject_type: str, subject: Any, event: Any) -> bool:
    """Does the event on ``subject`` meet the rule's conditions? Empty lists match all."""
    if not prematches(rule, subject_type, subject, event):
        return False
    conf: RuleConf | None = rule.__dict__.get(_CONF)
    for relation, name in RELATIONS:
        if conf is not None:
            wanted_ids: set[int] | frozenset[int] = conf.related[relation]
        else:
            wanted_ids = set(getattr(rule, relation).values_list("pk", flat=True))
        if wanted_ids and not wanted_ids & _ids(subject, name):
            return False
    return True


def is_urgent(subject: Any, event_type: str, *, rule_urgent: bool = False) -> bool:
    """Pages, emergency meetings and top-severity incidents never wait for the morning."""
    severity = getattr(subject, "severity", None)
    return (
        rule_urgent
        or event_type in URGENT_EVENTS
        or (isinstance(severity, int) and severity <= conf.urgent_severity())
    )


def working_hours(user: User) -> WorkingHours | None:
    """The person's working hours, or None when their messages are never held."""
    if not conf.quiet_hours_enabled():
        return None
    pref = confcache.cached(
        f"notifications.preference:{user.pk}",
        lambda: NotificationPreference.objects.filter(user=user).first(),
    )
    if pref is not None and not pref.quiet_hours:
        return None
    starts, ends = conf.work_hours()
    days = conf.work_days()
    if pref is not None:
        starts, ends, days = pref.work_starts, pref.work_ends, list(pref.work_days)
    return WorkingHours(
        days=frozenset(days), starts=starts, ends=ends, time_zone=zone(user.time_zone)
    )


def deliver_after(destination: Destination, *, urgent: bool, now: datetime) -> datetime | None:
    """Quiet hours: hold non-urgent e-mail to a person until their next working moment.
    In-app notifications and webhooks disturb nobody and are never held."""
    user = destination.user
    if urgent or user is None or destination.channel != Channel.EMAIL:
        return None
    hours = working_hours(user)
    return None if hours is None else next_working_moment(hours, now)


# ---- queuing ------------------------------------------------------------------------------


@dataclass
class Outgoing:
    """What to send about which subject; shared by rules, manual updates and reminders."""

    subject_type: str
    subject: Any
    event: Any
    template_key: str
    kind: str
    channels: list[str]
    urgent: bool
    sender: rendering.Sender
    action: dict[str, Any] | None = None
    action_due: datetime | None = None
    action_request: ActionRequest | None = None
    text: str = ""
    rule: NotificationRule | None = None
    exclude_user_id: int | None = None
    # Templates found so far, by (channel, language): one lookup per rule, not per recipient.
    templates: dict[tuple[str, str], NotificationTemplate | None] = field(default_factory=dict)
    # Contexts built so far, by what they depend on besides the recipient's name: a
    # group's members who share a language and a time zone share one.
    contexts: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)

    def template(self, channel: str, language: str) -> NotificationTemplate | None:
        if (channel, language) not in self.templates:
            self.templates[channel, language] = find_template(self.template_key, channel, language)
        return self.templates[channel, language]


def queue(
    outgoing: Outgoing,
    recipient: Recipient,
    seen: set[tuple[str, str]],
    sink: list[OutboxMessage] | None = None,
) -> int:
    """Render and enqueue the messages for one recipient; returns how many were queued.
    With ``sink``, the messages are appended to it for one :func:`outbox.enqueue_many`."""
    queued = 0
    now = clock.now()
    event_type = getattr(outgoing.event, "type", "")
    for channel in outgoing.channels:
        for destination in destinations(recipient, channel):
            if (channel, destination.destination) in seen:
                continue
            user = destination.user
            if user is not None and user.pk == outgoing.exclude_user_id:
                continue
            seen.add((channel, destination.destination))
            rcpt = destination.recipient
            template = outgoing.template(channel, rcpt.language)
            if template is None:
                log.warning(
                    "no approved template %r for %s/%s: message to %s not sent",
                    outgoing.template_key, channel, rcpt.language, destination.destination,
                )  # fmt: skip
                continue
            context = _context(outgoing, template.language, rcpt)
            message = rendering.render(template.approved_subject, template.approved_body, context)
            message = rendering.with_reference(message, context["number"])
            if outgoing.kind == MessageKind.ACTION:
                message = rendering.with_action_details(message, context)
            _enqueue(outgoing, destination, message, context, now=now, event_type=event_type,
                     sink=sink)  # fmt: skip
            queued += 1
    return queued


def _context(outgoing: Outgoing, language: str, rcpt: Recipient) -> dict[str, Any]:
    action = action_text(outgoing.action or {}, language)
    key = (language, rcpt.time_zone, action, outgoing.action_due)
    shared = outgoing.contexts.get(key)
    if shared is None:
        shared = outgoing.contexts[key] = rendering.build_context(
            subject_type=outgoing.subject_type, subject=outgoing.subject,
            event=outgoing.event, language=language, time_zone=rcpt.time_zone,
            sender=outgoing.sender, action=action, action_due=outgoing.action_due,
            text=outgoing.text,
        )  # fmt: skip
    return {**shared, "recipient": rcpt.name}


def _enqueue(
    outgoing: Outgoing,
    destination: Destination,
    message: rendering.Rendered,
    context: dict[str, Any],
    *,
    now: datetime,
    event_type: str,
    sink: list[OutboxMessage] | None = None,
) -> None:
    subject = outgoing.subject
    sender = outgoing.sender
    request = outgoing.action_request
    common = {
        "kind": outgoing.kind,
        "number": context["number"],
        "subject_type": outgoing.subject_type,
        "subject_id": subject.pk,
        "event_type": event_type,
        "language": context["language"],
        "link": context["link"],
        "action_request_id": request.pk if request else None,
    }
    if destination.channel == Channel.EMAIL:
        payload = {
            **common, "to": destination.destination, "subject": message.subject,
            "body": message.body, "from_name": sender.name, "reply_to": sender.email,
        }  # fmt: skip
    elif destination.channel == Channel.INAPP:
        payload = {
            **common, "user_id": destination.user.pk if destination.user else None,
            "title": message.subject, "body": message.body,
            "sender_id": sender.user.pk if sender.user else None,
        }  # fmt: skip
    else:
        payload = {
            "type": "notification",
            "kind": outgoing.kind,
            "event": f"{outgoing.subject_type}.{event_type}",
            "occurred_at": now.isoformat(),
            "subject": {
                "type": outgoing.subject_type, "id": subject.pk, "number": context["number"],
                "title": context["title"], "link": context["link"],
            },
            "message": {"subject": message.subject, "body": message.body,
                        "language": context["language"]},
            "sender": {"name": context["sender"]["name"], "email": sender.email},
            "recipient": destination.recipient.name,
            "action_request": _request_out(request),
        }  # fmt: skip
    queued: dict[str, Any] = dict(
        channel=destination.channel,
        destination=destination.destination,
        payload=payload,
        event_type=f"{outgoing.subject_type}.{event_type}",
        subject_type=outgoing.subject_type,
        subject_id=subject.pk,
        meta={
            **destination.meta,
            "rule_id": outgoing.rule.pk if outgoing.rule else None,
            "urgent": outgoing.urgent,
        },
        deliver_after=deliver_after(destination, urgent=outgoing.urgent, now=now),
    )
    if sink is None:
        outbox.enqueue(**queued)
    else:
        sink.append(outbox.message_for(**queued))


def _request_out(request: ActionRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {
        "id": request.pk,
        "action": action_text(request.action, "en"),
        "due_at": request.due_at.isoformat(),
        "addressee": request.addressee_name,
    }


# ---- action requests ------------------------------------------------------------------


def _due_from(rule: NotificationRule, event: Any, now: datetime) -> datetime:
    starts_at = (getattr(event, "payload", None) or {}).get("starts_at")
    if isinstance(starts_at, str):
        try:
            parsed = datetime.fromisoformat(starts_at)
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    seconds = rule.due_in if rule.due_in is not None else conf.action_due_minutes() * 60
    return now + timedelta(seconds=seconds)


def open_request(
    *, rule: NotificationRule, subject_type: str, subject: Any, event: Any, recipient: Recipient,
    urgent: bool,
) -> ActionRequest:  # fmt: skip
    """Track an action request and schedule its reminder for when it falls due."""
    now = clock.now()
    request = insert(
        ActionRequest(
            rule=rule,
            subject_type=subject_type,
            subject_id=subject.pk,
            number=rendering.number_of(subject_type, subject),
            incident=subject if subject_type == "incident" else None,
            event_type=getattr(event, "type", ""),
            addressee=recipient.user,
            addressee_group=recipient.group,
            address=recipient.address or (recipient.webhook.url if recipient.webhook else ""),
            action=rule.action or {"en": rule.name},
            requested_at=now,
            due_at=_due_from(rule, event, now),
            completes_on=list(rule.completes_on),
            channels=list(rule.channels),
            urgent=urgent,
        )
    )
    scheduling.schedule(
        key=reminder_key(request.pk), kind=REMINDER_KIND, at=request.due_at,
        payload={"action_request_id": request.pk},
    )  # fmt: skip
    return request


def completes(spec: str, event_type: str, known: dict[str, Any]) -> bool:
    """Does an event meet a ``completes_on`` entry: ``type`` or ``type[key=value,...]``
    (values compared as text with the event's payload and derived facts)?"""
    name, _, rest = spec.partition("[")
    if name.strip() != event_type:
        return False
    for condition in filter(None, (c.strip() for c in rest.rstrip("]").split(","))):
        key, _, wanted = condition.partition("=")
        value = known.get(key.strip())
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if text != wanted.strip():
            return False
    return True


# Read for every event: compiled once (core/lookups.py).
_open_requests = KeyedRead(
    lambda subject_type, subject_id: ActionRequest.objects.filter(
        subject_type=subject_type, subject_id=subject_id, state=ActionState.OPEN
    ),
    keys=(str, int),
)


def settle_requests(subject_type: str, subject: Any, event: Any) -> int:
    """Close open requests on the subject that this event completes or makes moot."""
    event_type = getattr(event, "type", "")
    if event_type == "created":
        return 0  # a subject's first event: nothing can be open on it yet
    terminal = event_type in TERMINAL_EVENTS.get(subject_type, frozenset())
    open_requests = _open_requests.all(subject_type, subject.pk)
    settled = 0
    now = clock.now()
    actor = getattr(event, "actor", None)
    known: dict[str, Any] | None = None
    for request in open_requests:
        if known is None:
            known = facts(subject_type, subject, event)
        if any(completes(spec, event_type, known) for spec in request.completes_on):
            request.state, request.outcome = ActionState.DONE, f"done: {event_type}"
        elif terminal:
            request.state, request.outcome = (
                ActionState.CANCELLED,
                f"no longer needed: {event_type}",
            )
        else:
            continue
        request.done_at = now
        request.done_by = actor if isinstance(actor, User) else None
        request.save(update_fields=["state", "outcome", "done_at", "done_by"])
        scheduling.cancel(reminder_key(request.pk))
        settled += 1
    return settled


# ---- the entry point ------------------------------------------------------------------------


def _active_rules() -> dict[str, tuple[NotificationRule, ...]]:
    by_subject: dict[str, list[NotificationRule]] = {}
    rules = NotificationRule.objects.filter(active=True).order_by("id")
    for rule in rules.prefetch_related(*(r for r, _ in RELATIONS)):
        specs = rule.recipients.select_related("group", "webhook").order_by("id")
        setattr(rule, _CONF, RuleConf(
            related={r: frozenset(o.pk for o in getattr(rule, r).all()) for r, _ in RELATIONS},
            recipients=tuple(specs),
        ))  # fmt: skip
        by_subject.setdefault(rule.subject_type, []).append(rule)
    return {subject: tuple(rules) for subject, rules in by_subject.items()}


def rules_for(subject_type: str, event_type: str) -> list[NotificationRule]:
    """The active rules of a subject type that fire on ``event_type`` (copies of the
    cached rows)."""
    rules = confcache.cached("notifications.rules", _active_rules).get(subject_type, ())
    return [copy.copy(r) for r in rules if event_type in (r.event_types or [])]


def _recipient_specs(rule: NotificationRule) -> list[RuleRecipient]:
    conf: RuleConf | None = rule.__dict__.get(_CONF)
    if conf is None:
        return list(rule.recipients.select_related("user", "group", "webhook").order_by("id"))
    # Copies: a USER spec's person is read now (people are not configuration).
    return [copy.copy(spec) for spec in conf.recipients]


def recipients_of(
    rule: NotificationRule, subject_type: str, subject: Any, event: Any
) -> dict[tuple[str, object], Recipient]:
    """Whom one rule addresses for the event (reads only, writes nothing)."""
    recipients: dict[tuple[str, object], Recipient] = {}
    for spec in _recipient_specs(rule):
        for recipient in resolve(
            spec, subject_type=subject_type, subject=subject, event=event, hint=rule.language
        ):
            recipients.setdefault(recipient.key, recipient)
    return recipients


def apply_rule(
    rule: NotificationRule, subject_type: str, subject: Any, event: Any,
    recipients: dict[tuple[str, object], Recipient] | None = None,
) -> int:  # fmt: skip
    """Queue the messages of one matching rule (to ``recipients``, by default
    :func:`recipients_of`); returns how many."""
    urgent = is_urgent(subject, getattr(event, "type", ""), rule_urgent=rule.urgent)
    actor = getattr(event, "actor", None)
    exclude = None if rule.notify_actor or not isinstance(actor, User) else actor.pk
    kind = rule.kind
    sender = rendering.sender_for(subject, kind=kind)
    if recipients is None:
        recipients = recipients_of(rule, subject_type, subject, event)
    seen: set[tuple[str, str]] = set()
    templates: dict[tuple[str, str], NotificationTemplate | None] = {}
    contexts: dict[tuple[Any, ...], dict[str, Any]] = {}
    messages: list[OutboxMessage] = []
    queued = 0
    for recipient in recipients.values():
        if recipient.user is not None and recipient.user.pk == exclude:
            continue
        request = None
        if kind == MessageKind.ACTION:
            request = open_request(
                rule=rule, subject_type=subject_type, subject=subject, event=event,
                recipient=recipient, urgent=urgent,
            )  # fmt: skip
        outgoing = Outgoing(
            subject_type=subject_type, subject=subject, event=event,
            template_key=rule.template_key, kind=kind, channels=list(rule.channels),
            urgent=urgent, sender=sender, action=request.action if request else rule.action,
            action_due=request.due_at if request else None, action_request=request, rule=rule,
            exclude_user_id=exclude, templates=templates, contexts=contexts,
        )  # fmt: skip
        queued += queue(outgoing, recipient, seen, sink=messages)
    outbox.enqueue_many(messages)
    return queued


def notify_event(subject_type: str, event: Any) -> int:
    """Turn one published event into messages (called inside its transaction)."""
    subject = subject_of(subject_type, event)
    if subject is None:
        return 0
    with members_read_once():
        return _notify(subject_type, subject, event)


def _notify(subject_type: str, subject: Any, event: Any) -> int:
    event_type = getattr(event, "type", "")
    queued = 0
    settle_requests(subject_type, subject, event)
    for rule in rules_for(subject_type, event_type):
        try:
            # Conditions and recipients are only read: a rule that excludes the
            # event, addresses nobody (no watchers) or fails there writes nothing
            # and costs no savepoint. What it writes (requests, messages) is
            # undone alone if it fails after that.
            if not matches(rule, subject_type, subject, event):
                continue
            recipients = recipients_of(rule, subject_type, subject, event)
            if not recipients:
                continue
            with transaction.atomic():
                queued += apply_rule(rule, subject_type, subject, event, recipients)
        except Exception:
            # A broken rule must not undo the change that caused the event.
            log.exception("notification rule %s failed on %s.%s", rule.pk, subject_type, event_type)
    return queued
