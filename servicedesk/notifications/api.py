"""REST endpoints of communications: parse, call a service, serialise."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from servicedesk.accounts import permissions
from servicedesk.accounts.models import SupportGroup, User
from servicedesk.catalog.models import Service, Technology, UserGroup
from servicedesk.core import clock
from servicedesk.core.errors import FieldError, NotFound, PermissionDenied
from servicedesk.core.http import etag, expected_version
from servicedesk.core.lookups import resolve
from servicedesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, keyset_page
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut, RefOut, ref
from servicedesk.core.validation import Code
from servicedesk.incidents.models import Incident
from servicedesk.integrations.models import WebhookEndpoint

from . import dispatch, selectors, services
from .labels import language_of
from .models import ActionState, NotificationRule, NotificationTemplate, Watcher
from .schemas import (
    ActionRequestOut,
    CountOut,
    DoneIn,
    MarkReadIn,
    NotificationOut,
    PreferencesIn,
    PreferencesOut,
    PreviewIn,
    PreviewOut,
    RecipientIn,
    RuleIn,
    RuleOut,
    RulePatch,
    StatusUpdateIn,
    StatusUpdateOut,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
    WatchIn,
    action_request_out,
    notification_out,
    preferences_out,
    rule_out,
    template_out,
)

router = Router(tags=["notifications"])
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _staff(request: HttpRequest) -> User:
    user = _user(request)
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied("Only support staff may see this.")
    return user


class PageIn(Schema):
    cursor: str | None = None
    limit: Limit = DEFAULT_LIMIT


# ---- in-app notifications --------------------------------------------------------------


class NotificationFilterIn(PageIn):
    include_read: bool = Field(False, description="Also list notifications already read.")


@router.get("/notifications", response={200: PageOut[NotificationOut], **ERRORS})
def list_notifications(request: HttpRequest, filters: Query[NotificationFilterIn]) -> Any:
    """The caller's in-app notifications, newest first: the unread ones unless
    ``include_read``."""
    qs = selectors.notifications(_user(request), include_read=filters.include_read)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": [notification_out(n) for n in rows], "next": next_cursor}


@router.get("/notifications/unread-count", response={200: CountOut, **ERRORS})
def unread_count(request: HttpRequest) -> Any:
    return {"count": selectors.notifications(_user(request)).count()}


@router.post("/notifications/read", response={200: CountOut, **WRITE_ERRORS})
def mark_read(request: HttpRequest, payload: MarkReadIn | None = None) -> Any:
    """Mark notifications read (all unread ones without ``ids``); returns how many."""
    ids = payload.ids if payload is not None else None
    return {"count": services.do_mark_read(user=_user(request), ids=ids)}


@router.post(
    "/notifications/{notification_id}/read", response={200: NotificationOut, **WRITE_ERRORS}
)
def mark_one_read(request: HttpRequest, notification_id: RowId) -> Any:
    user = _user(request)
    notification = (
        selectors.notifications(user, include_read=True).filter(pk=notification_id).first()
    )
    if notification is None:
        raise NotFound(f"Notification {notification_id} does not exist.")
    services.do_mark_read(user=user, ids=[notification_id])
    notification.refresh_from_db()
    return notification_out(notification)


# ---- rules ----------------------------------------------------------------------------


def _recipients(items: list[RecipientIn]) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(items):
        where: list[Any] = ["body", "recipients", index]
        out.append({
            "kind": item.kind, "level": item.level, "address": item.address,
            "user": resolve(User, item.user, [*where, "user"], is_active=True),
            "group": resolve(SupportGroup, item.group, [*where, "group"]),
            "webhook": resolve(WebhookEndpoint, item.webhook, [*where, "webhook"]),
        })  # fmt: skip
    return out


def _refs(model: type[Any], ids: list[int], field: str) -> list[Any]:
    return [resolve(model, pk, ["body", "conditions", field]) for pk in ids]


def _rule_data(payload: RuleIn | RulePatch) -> dict[str, Any]:
    given = payload.model_dump(exclude_unset=isinstance(payload, RulePatch))
    data: dict[str, Any] = {}
    simple = ("name", "description", "subject_type", "event_types", "channels", "kind",
              "action", "due_in", "completes_on", "language", "urgent", "notify_actor", "active")  # fmt: skip
    for field in simple:
        if field in given and (given[field] is not None or field == "due_in"):
            data[field] = given[field]
    if given.get("template") is not None:
        data["template_key"] = given["template"]
    if payload.recipients is not None:
        data["recipients"] = _recipients(payload.recipients)
    conditions = payload.conditions
    if conditions is not None:
        data.update(
            severities=conditions.severities, support_levels=conditions.support_levels,
            payload_match=conditions.payload,
            services=_refs(Service, conditions.services, "services"),
            technologies=_refs(Technology, conditions.technologies, "technologies"),
            user_groups=_refs(UserGroup, conditions.user_groups, "user_groups"),
        )  # fmt: skip
    return data


def _rule(pk: int) -> NotificationRule:
    rule = selectors.rules().filter(pk=pk).first()
    if rule is None:
        raise NotFound(f"Rule {pk} does not exist.")
    return rule


@router.get("/notification-rules", response={200: PageOut[RuleOut], **ERRORS})
def list_rules(request: HttpRequest, page: Query[PageIn]) -> Any:
    """Every rule (support staff may read them; administrators change them)."""
    _staff(request)
    rows, next_cursor = keyset_page(
        selectors.rules(), cursor=page.cursor, limit=page.limit, ascending=True
    )
    return {"items": [rule_out(r) for r in rows], "next": next_cursor}


@router.post("/notification-rules", response={201: RuleOut, **WRITE_ERRORS})
def create_rule(request: HttpRequest, payload: RuleIn) -> Any:
    rule = services.do_save_rule(actor=_user(request), data=_rule_data(payload))
    return Status(201, rule_out(_rule(rule.pk)))


@router.get("/notification-rules/{rule_id}", response={200: RuleOut, **ERRORS})
def get_rule(request: HttpRequest, rule_id: RowId) -> Any:
    _staff(request)
    return rule_out(_rule(rule_id))


@router.put("/notification-rules/{rule_id}", response={200: RuleOut, **WRITE_ERRORS})
def replace_rule(request: HttpRequest, rule_id: RowId, payload: RuleIn) -> Any:
    services.do_save_rule(actor=_user(request), rule=rule_id, data=_rule_data(payload))
    return rule_out(_rule(rule_id))


@router.patch("/notification-rules/{rule_id}", response={200: RuleOut, **WRITE_ERRORS})
def update_rule(request: HttpRequest, rule_id: RowId, payload: RulePatch) -> Any:
    services.do_save_rule(actor=_user(request), rule=rule_id, data=_rule_data(payload))
    return rule_out(_rule(rule_id))


@router.delete("/notification-rules/{rule_id}", response={204: None, **WRITE_ERRORS})
def delete_rule(request: HttpRequest, rule_id: RowId) -> Any:
    services.do_delete_rule(actor=_user(request), rule=rule_id)
    return Status(204, None)


# ---- templates ---------------------------------------------------------------------------


class TemplateFilterIn(PageIn):
    key: Code | None = None
    language: Code | None = None
    status: Code | None = None


def _template(pk: int) -> NotificationTemplate:
    template = selectors.templates().filter(pk=pk).first()
    if template is None:
        raise NotFound(f"Template {pk} does not exist.")
    return template


def _template_response(response: HttpResponse, pk: int) -> dict[str, Any]:
    template = _template(pk)
    response["ETag"] = etag(template.pk, template.version)
    return template_out(template)


@router.get("/notification-templates", response={200: PageOut[TemplateOut], **ERRORS})
def list_templates(request: HttpRequest, filters: Query[TemplateFilterIn]) -> Any:
    _staff(request)
    qs = selectors.templates()
    for field in ("key", "language", "status"):
        value = getattr(filters, field)
        if value:
            qs = qs.filter(**{field: value})
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit, ascending=True)
    return {"items": [template_out(t) for t in rows], "next": next_cursor}


@router.post("/notification-templates", response={201: TemplateOut, **WRITE_ERRORS})
def create_template(request: HttpRequest, response: HttpResponse, payload: TemplateIn) -> Any:
    """A new template is a draft; approve it before rules can use it."""
    template = services.do_create_template(actor=_user(request), **payload.model_dump())
    return Status(201, _template_response(response, template.pk))


@router.post("/notification-templates/preview", response={200: PreviewOut, **WRITE_ERRORS})
def preview_text(request: HttpRequest, payload: PreviewIn) -> Any:
    """Render unsaved template text with a real record (the newest incident unless
    ``record`` names one) and one of its events. Nothing is saved or sent."""
    user = _staff(request)
    services.check_template_source(subject=payload.subject, body=payload.body)
    record = _record(user, payload.record.type, payload.record.id)
    rendered = services.preview(
        subject=payload.subject, body=payload.body, language=payload.language,
        subject_type=payload.record.type, record=record, event_type=payload.event_type,
        kind=payload.kind, recipient=user,
    )  # fmt: skip
    return {"subject": rendered.subject, "body": rendered.body, "record": str(record)}


def _record(user: User, subject_type: str, pk: int | None) -> Any:
    if subject_type == "incident":
        qs = Incident.objects.select_related(
            "reporter", "owner_group", "assigned_group", "assignee", "coordinator", "service",
            "configuration_item", "technology", "user_group", "category",
        )  # fmt: skip
        record = qs.filter(pk=pk).first() if pk else qs.order_by("-id").first()
        if record is not None and not permissions.can_view_incident(user, record):
            record = None
    else:
        record = dispatch.load_subject(subject_type, pk) if pk else None
    if record is None:
        raise FieldError(["body", "record"], f"no {subject_type.replace('_', ' ')} to preview with")
    return record


class TemplatePreviewIn(Schema):
    record_type: str = Field("incident", pattern="^(incident|problem|known_error)$")
    record: int | None = Field(None, ge=1, le=2_147_483_647)
    event_type: Code = ""
    approved: bool = Field(False, description="Preview the approved copy instead of the draft.")


@router.get("/notification-templates/{template_id}/preview", response={200: PreviewOut, **ERRORS})
def preview_template(
    request: HttpRequest, template_id: RowId, params: Query[TemplatePreviewIn]
) -> Any:
    """Render a saved template (its draft, or the approved copy) with a real record."""
    user = _staff(request)
    template = _template(template_id)
    subject, body = (
        (template.approved_subject, template.approved_body)
        if params.approved
        else (template.subject, template.body)
    )
    if not body:
        raise FieldError(["query", "approved"], "this template has no approved copy yet")
    record = _record(user, params.record_type, params.record)
    rendered = services.preview(
        subject=subject, body=body, language=template.language, subject_type=params.record_type,
        record=record, event_type=params.event_type, recipient=user,
    )  # fmt: skip
    return {"subject": rendered.subject, "body": rendered.body, "record": str(record)}


@router.get("/notification-templates/{template_id}", response={200: TemplateOut, **ERRORS})
def get_template(request: HttpRequest, response: HttpResponse, template_id: RowId) -> Any:
    _staff(request)
    return _template_response(response, template_id)


@router.patch("/notification-templates/{template_id}", response={200: TemplateOut, **WRITE_ERRORS})
def update_template(
    request: HttpRequest, response: HttpResponse, template_id: RowId, payload: TemplatePatch
) -> Any:
    """Edit the working copy; a changed text is a draft until approved (send ``If-Match``)."""
    services.do_update_template(
        actor=_user(request), template=template_id,
        changes={k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None},
        expected_version=expected_version(request, template_id),
    )  # fmt: skip
    return _template_response(response, template_id)


@router.post(
    "/notification-templates/{template_id}/approve", response={200: TemplateOut, **WRITE_ERRORS}
)
def approve_template(request: HttpRequest, response: HttpResponse, template_id: RowId) -> Any:
    """Approve the working copy (administrators and managers): messages use it from now on."""
    services.do_approve_template(
        actor=_user(request), template=template_id,
        expected_version=expected_version(request, template_id),
    )  # fmt: skip
    return _template_response(response, template_id)


@router.post(
    "/notification-templates/{template_id}/restore", response={200: TemplateOut, **WRITE_ERRORS}
)
def restore_template(request: HttpRequest, response: HttpResponse, template_id: RowId) -> Any:
    """Put the shipped text back into the working copy (a draft until approved)."""
    services.do_restore_template(actor=_user(request), template=template_id)
    return _template_response(response, template_id)


@router.delete("/notification-templates/{template_id}", response={204: None, **WRITE_ERRORS})
def delete_template(request: HttpRequest, template_id: RowId) -> Any:
    services.do_delete_template(actor=_user(request), template=template_id)
    return Status(204, None)


# ---- action requests -------------------------------------------------------------------------


class ActionFilterIn(PageIn):
    mine: bool = Field(False, description="Only requests addressed to me or my groups.")
    state: str | None = Field(None, pattern="^(open|done|cancelled)$")
    overdue: bool = Field(False, description="Only open requests past their due time.")


@router.get("/action-requests", response={200: PageOut[ActionRequestOut], **ERRORS})
def list_action_requests(request: HttpRequest, filters: Query[ActionFilterIn]) -> Any:
    user = _user(request)
    now = clock.now()
    qs = selectors.action_requests(user)
    if filters.mine:
        qs = selectors.addressed_to(qs, user)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.overdue:
        qs = qs.filter(state=ActionState.OPEN, due_at__lte=now)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    language = language_of(user.language)
    return {"items": [action_request_out(r, now, language) for r in rows], "next": next_cursor}


@router.get(
    "/incidents/{incident_id}/action-requests", response={200: PageOut[ActionRequestOut], **ERRORS}
)
def incident_action_requests(request: HttpRequest, incident_id: RowId, page: Query[PageIn]) -> Any:
    """The incident's action requests, newest first; ``overdue`` marks the late ones."""
    user = _staff(request)
    selectors.visible_incident(user, incident_id)
    now = clock.now()
    qs = selectors.action_requests(user).filter(subject_type="incident", subject_id=incident_id)
    rows, next_cursor = keyset_page(qs, cursor=page.cursor, limit=page.limit)
    language = language_of(user.language)
    return {"items": [action_request_out(r, now, language) for r in rows], "next": next_cursor}


@router.post("/action-requests/{request_id}/done", response={200: ActionRequestOut, **WRITE_ERRORS})
def complete_action_request(
    request: HttpRequest, request_id: RowId, payload: DoneIn | None = None
) -> Any:
    user = _user(request)
    done = services.do_complete_action_request(
        request=request_id, actor=user, outcome=payload.outcome if payload else ""
    )
    return action_request_out(
        selectors.action_requests(user).get(pk=done.pk), clock.now(), language_of(user.language)
    )


# ---- manual status updates --------------------------------------------------------------------


@router.post(
    "/incidents/{incident_id}/status-updates", response={201: StatusUpdateOut, **WRITE_ERRORS}
)
def send_status_update(request: HttpRequest, incident_id: RowId, payload: StatusUpdateIn) -> Any:
    """A hand-written status update to the incident's stakeholders (reporter, watchers,
    groups, coordinator); for high-severity incidents. Recorded on the timeline."""
    user = _user(request)
    selectors.visible_incident(user, incident_id)
    event, messages = services.do_send_status_update(
        incident=incident_id, actor=user, text=payload.text, channels=list(payload.channels)
    )
    return Status(
        201,
        {
            "event": event.pk,
            "recipients": event.payload["recipients"],
            "messages": messages,
            "sender": event.payload.get("sender"),
        },
    )


# ---- watchers ------------------------------------------------------------------------------------


@router.get("/incidents/{incident_id}/watchers", response={200: PageOut[RefOut], **ERRORS})
def list_watchers(request: HttpRequest, incident_id: RowId, page: Query[PageIn]) -> Any:
    user = _user(request)
    selectors.visible_incident(user, incident_id)
    qs = Watcher.objects.filter(subject_type="incident", subject_id=incident_id).select_related(
        "user"
    )
    if not (user.is_support_staff or user.is_superuser):
        qs = qs.filter(user=user)
    rows, next_cursor = keyset_page(qs, cursor=page.cursor, limit=page.limit, ascending=True)
    return {"items": [ref(w.user) for w in rows], "next": next_cursor}


@router.post("/incidents/{incident_id}/watchers", response={201: RefOut, **WRITE_ERRORS})
def watch(request: HttpRequest, incident_id: RowId, payload: WatchIn | None = None) -> Any:
    """Follow the incident (the caller, or someone else when support staff say so)."""
    user = _user(request)
    other = resolve(User, payload.user, "user") if payload and payload.user else None
    watcher = services.do_watch(actor=user, incident=incident_id, user=other)
    return Status(201, ref(watcher.user))


@router.delete("/incidents/{incident_id}/watchers/{user_id}", response={204: None, **WRITE_ERRORS})
def unwatch(request: HttpRequest, incident_id: RowId, user_id: RowId) -> Any:
    user = _user(request)
    other = resolve(User, user_id, ["path", "user_id"])
    services.do_unwatch(actor=user, incident=incident_id, user=other)
    return Status(204, None)


# ---- preferences -----------------------------------------------------------------------------------


@router.get("/notification-preferences", response={200: PreferencesOut, **ERRORS})
def get_preferences(request: HttpRequest) -> Any:
    """The caller's working hours: non-urgent e-mail outside them waits for the morning."""
    return preferences_out(selectors.preferences(_user(request)))


@router.put("/notification-preferences", response={200: PreferencesOut, **WRITE_ERRORS})
def set_preferences(request: HttpRequest, payload: PreferencesIn) -> Any:
    user = _user(request)
    pref = services.do_set_preferences(user=user, **payload.model_dump())
    return preferences_out(pref)
