"""Outgoing webhook endpoints (administrators), and the intake endpoints (intake/api.py)."""

from __future__ import annotations

from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Path, Router, Schema, Status
from pydantic import AnyHttpUrl, Field

from servicedesk.accounts.models import Role, User
from servicedesk.core.errors import FieldError, NotFound, PermissionDenied
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, StrictIn
from servicedesk.core.validation import Code, Name

from .intake.api import router as intake_router
from .models import WebhookEndpoint

router = Router(tags=["webhooks"])
router.add_router("", intake_router)
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]


class WebhookIn(StrictIn):
    name: Name
    url: Annotated[AnyHttpUrl, Field(max_length=500)]
    event_types: Annotated[list[Code], Field(max_length=50)] = []
    active: bool = True


class WebhookOut(Schema):
    id: int
    name: str
    url: str
    event_types: list[str]
    active: bool
    secret: str


def _admin(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    if not (user.is_superuser or user.role == Role.ADMIN):
        raise PermissionDenied("Only administrators manage webhooks.")
    return user


def _out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"id": endpoint.pk, "name": endpoint.name, "url": endpoint.url,
            "event_types": endpoint.event_types, "active": endpoint.active, "secret": endpoint.secret}  # fmt: skip


@router.get("/webhooks", response={200: list[WebhookOut], **ERRORS})
def list_webhooks(request: HttpRequest) -> Any:
    _admin(request)
    return [_out(e) for e in WebhookEndpoint.objects.all()]


@router.post("/webhooks", response={201: WebhookOut, **WRITE_ERRORS})
def create_webhook(request: HttpRequest, payload: WebhookIn) -> Any:
    """Register a receiver; the response carries the signing secret."""
    _admin(request)
    with transaction.atomic():
        if WebhookEndpoint.objects.filter(name=payload.name).exists():
            raise FieldError("name", "a webhook with this name exists")
        endpoint = WebhookEndpoint.objects.create(
            name=payload.name,
            url=str(payload.url),
            event_types=payload.event_types,
            active=payload.active,
        )
    return Status(201, _out(endpoint))


@router.delete("/webhooks/{webhook_id}", response={204: None, **WRITE_ERRORS})
def delete_webhook(request: HttpRequest, webhook_id: RowId) -> Any:
    _admin(request)
    deleted, _ = WebhookEndpoint.objects.filter(pk=webhook_id).delete()
    if not deleted:
        raise NotFound(f"Webhook {webhook_id} does not exist.")
    return Status(204, None)
