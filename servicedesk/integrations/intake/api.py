"""The intake endpoints (integration tokens, not user auth) and their management API.

Senders authenticate with ``Authorization: Bearer <integration token>`` or,
where they cannot set headers, ``?token=``. Every request, whatever happens to
it, leaves an IntakeRequest row (``GET /intake/requests``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import RequestDataTooBig
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from servicedesk.accounts.models import Role, User
from servicedesk.core import clock
from servicedesk.core.errors import NotFound, PermissionDenied, ServiceError
from servicedesk.core.lookups import resolve
from servicedesk.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, keyset_page
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, ErrorOut, PageOut, RefOut, StrictIn, ref
from servicedesk.core.validation import Id, Name
from servicedesk.incidents import selectors as incident_selectors

from .. import services
from ..models import (
    AlertGroup,
    Attachment,
    IntakeRequest,
    IntakeResult,
    Integration,
    IntegrationKind,
    OnResolved,
)
from .payloads import (
    PARSERS,
    AlertmanagerPayload,
    GenericAlertIn,
    GrafanaPayload,
    PayloadError,
    inline_schema,
)

router = Router(tags=["intake"])
log = logging.getLogger("servicedesk.intake")
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
KindName = Literal["alertmanager", "zabbix", "grafana", "generic", "email"]


class IntakeOutcomeOut(Schema):
    key: str
    action: str = Field(description="opened, updated, resolved, alert_resolved or not_open")
    incident: RefOut | None


class IntakeOut(Schema):
    request: int
    result: str
    alerts: int
    outcomes: list[IntakeOutcomeOut]


INTAKE_RESPONSES: dict[int, Any] = {
    200: IntakeOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut, 422: ErrorOut,
    500: ErrorOut, 503: ErrorOut,
}  # fmt: skip


def _token(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.GET.get("token", "")


def _remote(request: HttpRequest) -> str | None:
    value = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _reply(status: int, body: dict[str, Any]) -> HttpResponse:
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="servicedesk-intake"'
    return response


def receive(request: HttpRequest, kind: str) -> HttpResponse:
    """Authenticate, parse, ingest, log: the one path of every intake endpoint."""
    received_at, remote = clock.now(), _remote(request)

    def reject(integration: Integration | None, result: str, status: int, detail: Any,
               body: bytes = b"") -> HttpResponse:  # fmt: skip
        text = detail if isinstance(detail, str) else json.dumps(detail)
        record = services.record_request(
            integration=integration, kind=kind, received_at=received_at, result=result,
            status_code=status, detail=text, body=body, remote_addr=remote,
        )  # fmt: skip
        return _reply(status, {"detail": detail, "request": record.pk})

    try:
        body = request.body
    except RequestDataTooBig:
        return reject(None, IntakeResult.REJECTED, 413, "the body is too large")
    integration = services.authenticate(_token(request))
    if integration is None:
        # The body of an unauthenticated request is not kept: the log is no free storage.
        return reject(None, IntakeResult.UNAUTHORISED, 401, "a valid integration token is required")
    if integration.kind != kind:
        return reject(integration, IntakeResult.REJECTED, 403,
                      f"this token belongs to a {integration.kind} integration", body)  # fmt: skip
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return reject(integration, IntakeResult.REJECTED, 400, f"the body is not JSON: {exc}", body)
    try:
        alerts = PARSERS[kind](data)
    except PayloadError as exc:
        return reject(integration, IntakeResult.REJECTED, 422, exc.errors, body)
    except (TypeError, ValueError, AttributeError) as exc:  # a shape no parser foresaw
        log.warning("unreadable %s payload from %s: %s", kind, integration, exc)
        detail = [{"loc": ["body"], "msg": f"unreadable payload: {exc}", "type": "value_error"}]
        return reject(integration, IntakeResult.REJECTED, 422, detail, body)
    try:
        record = services.do_receive_alerts(
            integration=integration, alerts=alerts, body=body, received_at=received_at,
            remote_addr=remote,
        )  # fmt: skip
    except ServiceError as exc:
        # A configuration problem (no service desk group, an invalid rule): the sender
        # retries on 5xx, so the alert arrives once it is fixed.
        return reject(integration, IntakeResult.FAILED, 503, exc.message, body)
    except Exception as exc:
        log.exception("intake from %s failed", integration)
        return reject(integration, IntakeResult.FAILED, 500, f"{type(exc).__name__}: {exc}", body)
    return _reply(200, {
        "request": record.pk, "result": record.result, "alerts": record.alerts,
        "outcomes": [services.outcome_out(o) for o in record.outcomes],
    })  # fmt: skip


def _body_doc(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        },
    }


ZABBIX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The media type script's parameters as JSON. Read: event_id (required), "
    "event_value (1 problem, 0 recovery) or event_status, event_name/trigger_name, host_host "
    "or host_name, event_severity/event_nseverity, event_tags (object, list of {tag,value}, "
    "their JSON text or 'tag:value, ...'), trigger_description, operation_data, message.",
    "properties": {"event_id": {"type": ["string", "integer"]}},
    "required": ["event_id"],
    "additionalProperties": True,
}


@router.post("/intake/alertmanager", auth=None, response=INTAKE_RESPONSES,
             openapi_extra=_body_doc(inline_schema(AlertmanagerPayload),
                                     "Alertmanager webhook payload, version 4."))  # fmt: skip
def intake_alertmanager(request: HttpRequest) -> HttpResponse:
    """Prometheus Alertmanager ``webhook_configs`` receiver (payload version 4)."""
    return receive(request, IntegrationKind.ALERTMANAGER)


@router.post("/intake/zabbix", auth=None, response=INTAKE_RESPONSES,
             openapi_extra=_body_doc(ZABBIX_SCHEMA, "A Zabbix webhook media type's JSON."))  # fmt: skip
def intake_zabbix(request: HttpRequest) -> HttpResponse:
    """Zabbix webhook media types (the JSON their script sends; see docs/intake.md)."""
    return receive(request, IntegrationKind.ZABBIX)


@router.post("/intake/grafana", auth=None, response=INTAKE_RESPONSES,
             openapi_extra=_body_doc(inline_schema(GrafanaPayload),
                                     "Grafana alerting webhook contact point."))  # fmt: skip
def intake_grafana(request: HttpRequest) -> HttpResponse:
    """Grafana alerting webhook contact point (and legacy dashboard alerts)."""
    return receive(request, IntegrationKind.GRAFANA)


@router.post("/intake/generic", auth=None, response=INTAKE_RESPONSES,
             openapi_extra=_body_doc(inline_schema(GenericAlertIn),
                                     "ServiceDesk's generic alert (docs/intake.md)."))  # fmt: skip
def intake_generic(request: HttpRequest) -> HttpResponse:
    """Anything that can POST JSON: one alert per request, de-duplicated by ``key``."""
    return receive(request, IntegrationKind.GENERIC)


# ---- management ---------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _admin(request: HttpRequest) -> User:
    user = _user(request)
    if not (user.is_superuser or user.role == Role.ADMIN):
        raise PermissionDenied("Only administrators manage integrations.")
    return user


def _staff(request: HttpRequest) -> User:
    user = _user(request)
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied("Only support staff see alert groups.")
    return user


class IntegrationIn(StrictIn):
    kind: KindName
    name: Name
    reporter: Id | None = Field(
        None, description="User id; the integration's system user if omitted."
    )
    dedup_labels: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                            Field(max_length=20)] = []  # fmt: skip
    on_resolved: Literal["resolve", "event"] = "resolve"
    repeat_event_minutes: Annotated[int, Field(ge=0, le=10_080)] = 5
    mailbox_address: Annotated[str, Field(max_length=254)] = ""


class IntegrationOut(Schema):
    id: int
    name: str
    kind: str
    active: bool
    token_prefix: str
    reporter: RefOut | None
    dedup_labels: list[str]
    on_resolved: str
    repeat_event_minutes: int
    endpoint: str | None


class IntegrationCreatedOut(IntegrationOut):
    token: str | None = Field(description="Shown once: store it in the sender's configuration.")


class TokenOut(Schema):
    token: str


def _integration_out(integration: Integration) -> dict[str, Any]:
    endpoint = None if integration.kind == "email" else f"/api/v1/intake/{integration.kind}"
    return {
        "id": integration.pk, "name": integration.name, "kind": integration.kind,
        "active": integration.active, "token_prefix": integration.token_prefix,
        "reporter": ref(integration.reporter or integration.system_user),
        "dedup_labels": integration.dedup_labels, "on_resolved": integration.on_resolved,
        "repeat_event_minutes": integration.repeat_event_minutes, "endpoint": endpoint,
    }  # fmt: skip


@router.get("/intake/integrations", response={200: list[IntegrationOut], **ERRORS})
def list_integrations(request: HttpRequest) -> Any:
    _admin(request)
    return [
        _integration_out(i) for i in Integration.objects.select_related("reporter", "system_user")
    ]


@router.post("/intake/integrations", response={201: IntegrationCreatedOut, **WRITE_ERRORS})
def create_integration(request: HttpRequest, payload: IntegrationIn) -> Any:
    """Create an integration; the response carries its token (the only time it is shown)."""
    actor = _admin(request)
    integration, token = services.do_create_integration(
        actor=actor, kind=payload.kind, name=payload.name,
        reporter=resolve(User, payload.reporter, "reporter"),
        dedup_labels=payload.dedup_labels, on_resolved=payload.on_resolved or OnResolved.RESOLVE,
        repeat_event_minutes=payload.repeat_event_minutes, mailbox_address=payload.mailbox_address,
    )  # fmt: skip
    return Status(201, {**_integration_out(integration), "token": token})


@router.post(
    "/intake/integrations/{integration_id}/token", response={200: TokenOut, **WRITE_ERRORS}
)
def rotate_token(request: HttpRequest, integration_id: RowId) -> Any:
    """Issue a new token; the old one stops working at once."""
    actor = _admin(request)
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise NotFound(f"Integration {integration_id} does not exist.")
    return {"token": services.do_rotate_token(integration=integration, actor=actor)}


class RequestOut(Schema):
    id: int
    integration: RefOut | None
    kind: str
    received_at: datetime
    remote_addr: str | None
    result: str
    status_code: int
    detail: str
    alerts: int
    outcomes: list[IntakeOutcomeOut]
    incident: RefOut | None


class RequestFilter(Schema):
    integration: Id | None = None
    result: Literal["accepted", "ignored", "rejected", "unauthorised", "failed"] | None = None
    cursor: Annotated[str, Field(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


@router.get("/intake/requests", response={200: PageOut[RequestOut], **ERRORS})
def list_requests(request: HttpRequest, filters: Query[RequestFilter]) -> Any:
    """The intake log, newest first: every delivery and what became of it."""
    _admin(request)
    qs = IntakeRequest.objects.select_related("integration", "incident")
    if filters.integration:
        qs = qs.filter(integration_id=filters.integration)
    if filters.result:
        qs = qs.filter(result=filters.result)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    items = [{
        "id": r.pk, "integration": ref(r.integration), "kind": r.kind,
        "received_at": r.received_at, "remote_addr": r.remote_addr, "result": r.result,
        "status_code": r.status_code, "detail": r.detail, "alerts": r.alerts,
        "outcomes": [services.outcome_out(o) for o in r.outcomes], "incident": ref(r.incident),
    } for r in rows]  # fmt: skip
    return {"items": items, "next": next_cursor}


class AlertGroupOut(Schema):
    id: int
    integration: RefOut
    key: str
    open: bool
    incident: RefOut | None
    alert_status: str
    count: int
    title: str
    labels: dict[str, str]
    source_url: str
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None


class AlertGroupFilter(Schema):
    incident: Id | None = None
    integration: Id | None = None
    open: bool | None = None
    cursor: Annotated[str, Field(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


@router.get("/intake/alert-groups", response={200: PageOut[AlertGroupOut], **ERRORS})
def list_alert_groups(request: HttpRequest, filters: Query[AlertGroupFilter]) -> Any:
    """Alert groups (de-duplicated alerts), newest first: count and last-seen per key."""
    _staff(request)
    qs = AlertGroup.objects.select_related("integration", "incident").filter(incident__isnull=False)
    if filters.incident:
        qs = qs.filter(incident_id=filters.incident)
    if filters.integration:
        qs = qs.filter(integration_id=filters.integration)
    if filters.open is not None:
        qs = qs.filter(is_open=filters.open)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    items = [{
        "id": g.pk, "integration": ref(g.integration), "key": g.key, "open": g.is_open,
        "incident": ref(g.incident), "alert_status": g.alert_status, "count": g.count,
        "title": g.title, "labels": g.labels, "source_url": g.source_url,
        "first_seen_at": g.first_seen_at, "last_seen_at": g.last_seen_at,
        "resolved_at": g.resolved_at,
    } for g in rows]  # fmt: skip
    return {"items": items, "next": next_cursor}


class AttachmentOut(Schema):
    id: int
    incident: RefOut
    filename: str
    content_type: str
    size: int
    created_at: datetime


class AttachmentFilter(Schema):
    incident: Id


@router.get("/intake/attachments", response={200: list[AttachmentOut], **ERRORS})
def list_attachments(request: HttpRequest, filters: Query[AttachmentFilter]) -> Any:
    """Files that arrived by e-mail for an incident the caller may see."""
    incident = incident_selectors.visible_incidents(_user(request)).filter(pk=filters.incident)
    if not incident.exists():
        raise NotFound(f"Incident {filters.incident} does not exist.")
    rows = Attachment.objects.filter(incident_id=filters.incident).select_related("incident")
    return [{"id": a.pk, "incident": ref(a.incident), "filename": a.filename,
             "content_type": a.content_type, "size": a.size, "created_at": a.created_at}
            for a in rows]  # fmt: skip


@router.get("/intake/attachments/{attachment_id}/content", response={200: None, **ERRORS})
def attachment_content(request: HttpRequest, attachment_id: RowId) -> Any:
    """The file, as a download (never rendered inline: it came from outside)."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    visible = incident_selectors.visible_incidents(_user(request))
    if attachment is None or not visible.filter(pk=attachment.incident_id).exists():
        raise NotFound(f"Attachment {attachment_id} does not exist.")
    if not attachment.path.exists():
        raise NotFound(f"The file of attachment {attachment_id} is missing.")
    return FileResponse(
        attachment.path.open("rb"), as_attachment=True, filename=attachment.filename,
        content_type="application/octet-stream",
    )  # fmt: skip
