"""The verbs of communications. Each runs in one transaction and checks the actor.

``actor=None`` is the system (the worker, imports).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time, timedelta
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.template import TemplateSyntaxError

from servicedesk.accounts import permissions
from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.core import clock, locking, scheduling
from servicedesk.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from servicedesk.core.lookups import one
from servicedesk.core.registry import Reschedule, Skipped
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import Incident
from servicedesk.incidents.services import LOCK_RELATED, append_event

from . import conf, dispatch, rendering, samples
from .models import (
    ActionRequest,
    ActionState,
    Channel,
    MessageKind,
    Notification,
    NotificationPreference,
    NotificationRule,
    NotificationTemplate,
    RecipientKind,
    RuleRecipient,
    SubjectType,
    TemplateStatus,
    Watcher,
    action_text,
)
from .recipients import Recipient

# ---- permissions ------------------------------------------------------------------------


def is_admin(user: User | None) -> bool:
    return user is None or user.is_superuser or user.role == Role.ADMIN


def require_admin(actor: User | None, what: str) -> None:
    if not is_admin(actor):
        raise PermissionDenied(f"Only administrators may {what}.")


def require_approver(actor: User | None) -> None:
    if not (is_admin(actor) or (actor is not None and actor.role == Role.MANAGER)):
        raise PermissionDenied("Only administrators and managers approve templates.")


def require_staff(actor: User | None, what: str) -> None:
    if actor is not None and not (actor.is_support_staff or actor.is_superuser):
        raise PermissionDenied(f"Only support staff may {what}.")


# ---- templates ------------------------------------------------------------------------------


def check_template_source(*, subject: str, body: str) -> None:
    """422 naming the field when a template does not compile."""
    if not subject.strip():
        raise FieldError("subject", "must not be empty")
    if not body.strip():
        raise FieldError("body", "must not be empty")
    for field, source in (("subject", subject), ("body", body)):
        try:
            rendering.compile_template(source)
        except TemplateSyntaxError as exc:
            raise FieldError(field, f"template error: {exc}") from None


@transaction.atomic
def do_create_template(
    *, actor: User | None, key: str, language: str, subject: str, body: str, channel: str = "",
    description: str = "",
) -> NotificationTemplate:  # fmt: skip
    """A new template starts as a draft: nothing is sent with it until it is approved."""
    require_admin(actor, "edit templates")
    check_template_source(subject=subject, body=body)
    if NotificationTemplate.objects.filter(key=key, channel=channel, language=language).exists():
        raise FieldError("key", "a template with this key, channel and language exists")
    return NotificationTemplate.objects.create(
        key=key, channel=channel, language=language, subject=subject, body=body,
        description=description, updated_by=actor,
    )  # fmt: skip


@transaction.atomic
def do_update_template(
    *, actor: User | None, template: NotificationTemplate | int, changes: dict[str, Any],
    expected_version: int | None = None,
) -> NotificationTemplate:  # fmt: skip
    """Edit the working copy. A changed text becomes a draft; the approved copy keeps
    being sent until the draft is approved."""
    require_admin(actor, "edit templates")
    template = _lock_template(template, expected_version)
    unknown = set(changes) - {"subject", "body", "description"}
    if unknown:
        raise FieldError(sorted(unknown)[0], "this field cannot be changed")
    subject = changes.get("subject", template.subject)
    body = changes.get("body", template.body)
    check_template_source(subject=subject, body=body)
    text_changed = (subject, body) != (template.subject, template.body)
    template.subject, template.body = subject, body
    template.description = changes.get("description", template.description)
    if text_changed:
        same_as_approved = (subject, body) == (template.approved_subject, template.approved_body)
        template.status = (
            TemplateStatus.APPROVED
            if same_as_approved and template.approved_at
            else TemplateStatus.DRAFT
        )
    template.version += 1
    template.updated_by = actor
    template.save()
    return template


def _lock_template(
    template: NotificationTemplate | int, expected_version: int | None = None
) -> NotificationTemplate:
    pk = template.pk if isinstance(template, NotificationTemplate) else template
    locked = NotificationTemplate.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(f"Template {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        raise PreconditionFailed(
            "The template was changed by someone else; reload it.", current_version=locked.version
        )
    return locked


@transaction.atomic
def do_approve_template(
    *, actor: User | None, template: NotificationTemplate | int,
    expected_version: int | None = None,
) -> NotificationTemplate:  # fmt: skip
    """Approve the working copy: from now on messages are built from it."""
    require_approver(actor)
    template = _lock_template(template, expected_version)
    check_template_source(subject=template.subject, body=template.body)
    trial_render(template.subject, template.body, language=template.language)
    template.approved_subject, template.approved_body = template.subject, template.body
    template.approved_by, template.approved_at = actor, clock.now()
    template.status = TemplateStatus.APPROVED
    template.version += 1
    template.save()
    return template


def trial_render(subject: str, body: str, *, language: str) -> None:
    """Render against the newest incident, if any, to catch errors that only show at run time."""
    incident = Incident.objects.select_related(
        "reporter", "owner_group", "assigned_group", "assignee", "coordinator"
    ).order_by("-id").first()  # fmt: skip
    if incident is not None:
        preview(
            subject=subject, body=body, language=language, subject_type="incident",
            record=incident, event_type="created",
        )  # fmt: skip


@transaction.atomic
def do_delete_template(*, actor: User | None, template: NotificationTemplate | int) -> None:
    require_admin(actor, "delete templates")
    template = _lock_template(template)
    if template.shipped:
        raise Conflict("Shipped templates cannot be deleted; edit or restore them instead.")
    template.delete()


@transaction.atomic
def do_restore_template(
    *, actor: User | None, template: NotificationTemplate | int
) -> NotificationTemplate:
    """Put the shipped text back into the working copy (as a draft unless it is the approved one)."""
    from . import defaults

    require_admin(actor, "edit templates")
    template = _lock_template(template)
    shipped = defaults.shipped_template(template.key, template.language)
    if shipped is None or template.channel:
        raise Conflict("This template was not shipped with the product.")
    return do_update_template(
        actor=actor, template=template, changes={"subject": shipped[0], "body": shipped[1]}
    )


def preview(
    *, subject: str, body: str, language: str, subject_type: str, record: Any,
    event_type: str = "", kind: str = MessageKind.STATUS, recipient: User | None = None,
) -> rendering.Rendered:  # fmt: skip
    """Render template text (saved or not) with a real record and one of its events
    (its latest of ``event_type``, else a sample); changes nothing."""
    from .labels import language_of

    event = samples.latest_event(subject_type, event_type, record) if event_type else None
    if event is None:
        event = samples.sample_event(subject_type, event_type or "created", record)
    language = language_of(language)
    due = samples.preview_due() if kind == MessageKind.ACTION else None
    context = rendering.build_context(
        subject_type=subject_type, subject=record, event=event, language=language,
        time_zone=(recipient.time_zone if recipient else "") or "UTC",
        recipient_name=str(recipient) if recipient else "", sender=rendering.sender_for(
            record, kind=kind),
        action_due=due,
    )  # fmt: skip
    try:
        rendered = rendering.render(subject, body, context)
    except TemplateSyntaxError as exc:
        raise FieldError("body", f"template error: {exc}") from None
    except Exception as exc:
        # Django templates swallow most errors; what escapes is the template's fault.
        raise FieldError("body", f"the template fails on {context['number']}: {exc}") from None
    message = rendering.with_reference(rendered, context["number"])
    if kind == MessageKind.ACTION:
        message = rendering.with_action_details(message, context)
    return message


# ---- rules ------------------------------------------------------------------------------------

RECIPIENT_NEEDS = {
    RecipientKind.MANAGER_CHAIN: "level",
    RecipientKind.USER: "user",
    RecipientKind.GROUP: "group",
    RecipientKind.ADDRESS: "address",
    RecipientKind.WEBHOOK: "webhook",
}
RULE_FIELDS = {
    "name", "description", "subject_type", "event_types", "payload_match", "severities",
    "support_levels", "services", "technologies", "user_groups", "kind", "action", "due_in",
    "completes_on", "template_key", "channels", "language", "urgent", "notify_actor", "active",
    "recipients",
}  # fmt: skip


def _check_address(address: str) -> None:
    if address.startswith(("http://", "https://")):
        try:
            URLValidator(schemes=["http", "https"])(address)
        except DjangoValidationError:
            raise FieldError(["body", "recipients"], "not a valid URL") from None
        return
    try:
        validate_email(address)
    except DjangoValidationError:
        raise FieldError(
            ["body", "recipients"], "an address is an e-mail address or an http(s) URL"
        ) from None


def _at(index: int, field: str) -> list[str]:
    # Locations hold the list index as an int, as the schema validator's do.
    return cast(list[str], ["body", "recipients", index, field])


def _check_recipients(recipients: list[dict[str, Any]]) -> None:
    if not recipients:
        raise FieldError("recipients", "name at least one recipient")
    for index, spec in enumerate(recipients):
        kind = spec.get("kind")
        if kind not in RecipientKind.values:
            raise FieldError(_at(index, "kind"), "unknown recipient kind")
        needed = RECIPIENT_NEEDS.get(RecipientKind(kind))
        if needed and not spec.get(needed):
            raise FieldError(_at(index, needed), f"a {kind} recipient needs it")
        if kind == RecipientKind.ADDRESS:
            _check_address(spec["address"])
        level = spec.get("level")
        if level is not None and kind == RecipientKind.SUPPORT_LEVEL and level not in (1, 2, 3):
            raise FieldError(_at(index, "level"), "must be 1, 2 or 3")


def _check_payload_match(value: Any) -> None:
    if not isinstance(value, dict):
        raise FieldError("payload_match", "must be an object")
    for key, wanted in value.items():
        items = wanted if isinstance(wanted, list) else [wanted]
        if not all(isinstance(i, str | int | float | bool) or i is None for i in items):
            raise FieldError("payload_match", f"{key}: values must be scalars or lists of them")


def _check_rule(rule: NotificationRule, recipients: list[dict[str, Any]] | None) -> None:
    if not rule.name.strip():
        raise FieldError("name", "must not be empty")
    if NotificationRule.objects.filter(name=rule.name).exclude(pk=rule.pk).exists():
        raise FieldError("name", "a rule with this name exists")
    if rule.subject_type not in SubjectType.values:
        raise FieldError("subject_type", f"must be one of {', '.join(SubjectType.values)}")
    if not rule.event_types:
        raise FieldError("event_types", "name at least one event type")
    if not rule.channels or set(rule.channels) - set(Channel.values):
        raise FieldError("channels", f"choose from {', '.join(Channel.values)}")
    if not NotificationTemplate.objects.filter(key=rule.template_key).exists():
        raise FieldError("template", f"no template with key {rule.template_key!r}")
    if rule.kind not in MessageKind.values:
        raise FieldError("kind", "must be status or action")
    _check_payload_match(rule.payload_match)
    if recipients is not None:
        _check_recipients(recipients)


def _apply_rule_data(rule: NotificationRule, data: dict[str, Any]) -> None:
    unknown = set(data) - RULE_FIELDS
    if unknown:
        raise FieldError(sorted(unknown)[0], "unknown field")
    for field in RULE_FIELDS - {"services", "technologies", "user_groups", "recipients"}:
        if field in data:
            setattr(rule, field, data[field])


@transaction.atomic
def do_save_rule(
    *, actor: User | None, data: dict[str, Any], rule: NotificationRule | int | None = None
) -> NotificationRule:
    """Create a rule or change one. ``data`` holds model fields; ``services``,
    ``technologies``, ``user_groups`` are records; ``recipients`` is a list of
    ``{"kind", "level", "user", "group", "address", "webhook"}`` with records."""
    require_admin(actor, "edit notification rules")
    if rule is None:
        rule = NotificationRule()
    else:
        pk = rule.pk if isinstance(rule, NotificationRule) else rule
        found = NotificationRule.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            raise NotFound(f"Rule {pk} does not exist.")
        rule = found
    _apply_rule_data(rule, data)
    recipients = data.get("recipients")
    _check_rule(rule, recipients)
    rule.save()
    for relation in ("services", "technologies", "user_groups"):
        if relation in data:
            getattr(rule, relation).set(data[relation])
    if recipients is not None:
        rule.recipients.all().delete()
        RuleRecipient.objects.bulk_create(
            RuleRecipient(
                rule=rule,
                kind=spec["kind"],
                level=spec.get("level"),
                user=spec.get("user"),
                group=spec.get("group"),
                address=spec.get("address") or "",
                webhook=spec.get("webhook"),
            )
            for spec in recipients
        )
    return rule


@transaction.atomic
def do_delete_rule(*, actor: User | None, rule: NotificationRule | int) -> None:
    require_admin(actor, "delete notification rules")
    pk = rule.pk if isinstance(rule, NotificationRule) else rule
    deleted, _ = NotificationRule.objects.filter(pk=pk).delete()
    if not deleted:
        raise NotFound(f"Rule {pk} does not exist.")


# ---- in-app notifications -----------------------------------------------------------------


@transaction.atomic
def do_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when ``ids`` is None)."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=clock.now())


# ---- watchers ----------------------------------------------------------------------------------


def _visible_incident(actor: User, incident_id: int) -> Incident:
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None or not permissions.can_view_incident(actor, incident):
        raise NotFound(f"Incident {incident_id} does not exist.")
    return incident


@transaction.atomic
def do_watch(*, actor: User, incident: Incident | int, user: User | None = None) -> Watcher:
    """Follow an incident (support staff may add someone else)."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    found = _visible_incident(actor, pk)
    user = user or actor
    if user != actor:
        require_staff(actor, "add other people as watchers")
        if not user.is_active:
            raise FieldError("user", "must be an active user")
    watcher, _ = Watcher.objects.get_or_create(
        subject_type=SubjectType.INCIDENT, subject_id=found.pk, user=user
    )
    return watcher


@transaction.atomic
def do_unwatch(*, actor: User, incident: Incident | int, user: User | None = None) -> None:
    pk = incident.pk if isinstance(incident, Incident) else incident
    found = _visible_incident(actor, pk)
    user = user or actor
    if user != actor:
        require_staff(actor, "remove other watchers")
    Watcher.objects.filter(
        subject_type=SubjectType.INCIDENT, subject_id=found.pk, user=user
    ).delete()


# ---- preferences ------------------------------------------------------------------------------


@transaction.atomic
def do_set_preferences(
    *, user: User, quiet_hours: bool | None = None, work_days: list[int] | None = None,
    work_starts: time | None = None, work_ends: time | None = None,
) -> NotificationPreference:  # fmt: skip
    pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    if quiet_hours is not None:
        pref.quiet_hours = quiet_hours
    if work_days is not None:
        if any(d not in range(7) for d in work_days):
            raise FieldError("work_days", "days are 0 (Monday) to 6 (Sunday)")
        pref.work_days = sorted(set(work_days))
    if work_starts is not None:
        pref.work_starts = work_starts
    if work_ends is not None:
        pref.work_ends = work_ends
    pref.save()
    return pref


# ---- manual status updates ---------------------------------------------------------------


def stakeholders(incident: Incident) -> list[Recipient]:
    """Who a status update about the incident goes to: the reporter, the watchers,
    the assigned agent or group, the owner group and the coordinator."""
    found: list[Recipient] = []
    people: list[Any] = [incident.reporter]
    people += [
        w.user
        for w in Watcher.objects.filter(subject_type=SubjectType.INCIDENT, subject_id=incident.pk)
        .select_related("user")
        .order_by("id")
    ]
    people += [incident.assignee or incident.assigned_group, incident.owner_group]
    people.append(incident.coordinator)
    keys: set[tuple[str, object]] = set()
    for item in people:
        if isinstance(item, User) and item.is_active:
            recipient = Recipient(user=item)
        elif isinstance(item, SupportGroup) and item.is_active:
            recipient = Recipient(group=item)
        else:
            continue
        if recipient.key not in keys:
            keys.add(recipient.key)
            found.append(recipient)
    return found


@transaction.atomic
def do_send_status_update(
    *, incident: Incident | int, actor: User, text: str,
    channels: list[str] | None = None,
) -> tuple[Any, int]:  # fmt: skip
    """A hand-written status update for a high-severity incident, to its stakeholders,
    recorded on the timeline. Returns (the timeline event, messages queued)."""
    if not text.strip():
        raise FieldError("text", "write the update")
    channels = channels or [Channel.EMAIL, Channel.INAPP]
    if set(channels) - {Channel.EMAIL, Channel.INAPP}:
        raise FieldError("channels", "status updates go by e-mail and in-app")
    pk = incident.pk if isinstance(incident, Incident) else incident
    locked = locking.lock_one(Incident.objects.all(), pk, LOCK_RELATED)
    if locked is None:
        raise NotFound(f"Incident {pk} does not exist.")
    require_staff(actor, "send status updates")
    permissions.require(
        permissions.can_work_incident(actor, locked),
        "You may not work on this incident: it belongs to another group.",
    )
    limit = conf.status_update_max_severity()
    if locked.severity > limit:
        raise Conflict(
            f"Hand-written status updates are for incidents of severity 1 to {limit}; "
            f"{locked.number} is severity {locked.severity}."
        )
    recipients = [
        r for r in stakeholders(locked) if not (r.user is not None and r.user.pk == actor.pk)
    ]
    sender = rendering.sender_for(locked, kind=MessageKind.STATUS, author=actor)
    event = append_event(
        locked, "status_update_sent", actor=actor,
        payload={"text": text.strip(), "author": ref(actor), "sender": ref(sender.user),
                 "recipients": len(recipients), "channels": list(channels)},
    )  # fmt: skip
    outgoing = dispatch.Outgoing(
        subject_type=SubjectType.INCIDENT, subject=locked, event=event,
        template_key="incident_status_update", kind=MessageKind.STATUS, channels=list(channels),
        urgent=dispatch.is_urgent(locked, event.type), sender=sender, text=text,
        exclude_user_id=actor.pk,
    )  # fmt: skip
    seen: set[tuple[str, str]] = set()
    queued = sum(dispatch.queue(outgoing, r, seen) for r in recipients)
    return event, queued


# ---- action requests -------------------------------------------------------------------------


def can_complete(actor: User, request: ActionRequest) -> bool:
    if is_admin(actor) or actor.role == Role.MANAGER or request.addressee_id == actor.pk:
        return True
    if request.addressee_group_id and request.addressee_group_id in permissions.group_ids(actor):
        return True
    incident = request.incident
    return incident is not None and permissions.can_work_incident(actor, incident)


@transaction.atomic
def do_complete_action_request(
    *, request: ActionRequest | int, actor: User, outcome: str = ""
) -> ActionRequest:
    """The addressee (or someone working the incident) says the action is done."""
    pk = request.pk if isinstance(request, ActionRequest) else request
    found = one(
        ActionRequest.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(pk=pk)
    )
    if found is None:
        raise NotFound(f"Action request {pk} does not exist.")
    if not can_complete(actor, found):
        raise PermissionDenied("Only the addressee or people working the incident may do that.")
    if found.state != ActionState.OPEN:
        raise Conflict(
            f"The action request is already {found.state}.", status=found.state, allowed=[]
        )
    found.state, found.done_at, found.done_by = ActionState.DONE, clock.now(), actor
    found.outcome = outcome.strip()[:200] or "done"
    found.save(update_fields=["state", "done_at", "done_by", "outcome"])
    scheduling.cancel(dispatch.reminder_key(found.pk))
    if found.incident is not None:
        append_event(
            found.incident, "action_request_done", actor=actor,
            payload={"action_request_id": found.pk, "addressee": found.addressee_name,
                     "action": action_text(found.action, "en"), "outcome": found.outcome},
        )  # fmt: skip
    return found


def _reminder_recipient(request: ActionRequest) -> Recipient | None:
    if request.addressee is not None:
        return Recipient(user=request.addressee)
    if request.addressee_group is not None:
        return Recipient(group=request.addressee_group)
    if request.address:
        return Recipient(address=request.address)
    return None


def remind(request_id: int) -> Reschedule | Skipped | None:
    """The due item of an action request: mark it overdue (once, on the incident's
    timeline) and remind the addressee; again every interval up to the limit."""
    request = one(
        ActionRequest.objects.select_for_update(of=("self",))
        .select_related("addressee", "addressee_group", "incident")
        .filter(pk=request_id)
    )
    if request is None or request.state != ActionState.OPEN:
        return Skipped("the action request is settled")
    now = clock.now()
    if request.due_at > now:
        # Its due time moved (a rule changed it): wait for it.
        return Reschedule(at=request.due_at, detail="not due yet")
    subject = dispatch.load_subject(request.subject_type, request.subject_id)
    if subject is None:
        return Skipped("the subject no longer exists")
    if request.overdue_at is None:
        request.overdue_at = now
        if request.incident is not None:
            append_event(
                request.incident, "action_request_overdue", actor=None,
                payload={"action_request_id": request.pk, "addressee": request.addressee_name,
                         "action": action_text(request.action, "en"),
                         "due_at": request.due_at.isoformat()},
            )  # fmt: skip
    recipient = _reminder_recipient(request)
    if recipient is not None:
        event = samples.SampleEvent(
            type="action_request_overdue", subject_type=request.subject_type, subject=subject,
            payload={"action_request_id": request.pk},
        )  # fmt: skip
        outgoing = dispatch.Outgoing(
            subject_type=request.subject_type, subject=subject, event=event,
            template_key=dispatch.REMINDER_TEMPLATE, kind=MessageKind.ACTION,
            channels=list(request.channels) or [Channel.EMAIL], urgent=request.urgent,
            sender=rendering.sender_for(subject, kind=MessageKind.ACTION), action=request.action,
            action_due=request.due_at, action_request=request,
        )  # fmt: skip
        dispatch.queue(outgoing, recipient, set())
    request.reminders += 1
    request.save(update_fields=["overdue_at", "reminders"])
    if request.reminders >= conf.action_max_reminders():
        return None  # done: the last reminder went out
    interval = timedelta(minutes=conf.action_reminder_minutes())
    return Reschedule(at=now + interval, detail=f"reminder {request.reminders} sent")
