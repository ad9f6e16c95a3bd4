"""Read endpoints for the catalogue."""

from __future__ import annotations

from typing import Annotated, Any

from django.db.models import Model
from django.http import HttpRequest
from ninja import Path, Router, Schema

from servicedesk.core.errors import NotFound
from servicedesk.core.schemas import ERRORS, RefOut, ref
from servicedesk.core.validation import Id

from .models import Category, ConfigurationItem, Partner, Service, Technology, UserGroup

router = Router(tags=["catalogue"])
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]


class TechnologyOut(Schema):
    id: int
    name: str
    slug: str
    description: str


class ServiceOut(Schema):
    id: int
    name: str
    description: str
    technology: RefOut | None
    is_active: bool


class ConfigurationItemOut(Schema):
    id: int
    name: str
    kind: str
    service: RefOut | None
    technology: RefOut | None
    location: str
    is_active: bool


class NamedOut(Schema):
    id: int
    name: str
    description: str


class PartnerOut(Schema):
    id: int
    name: str
    kind: str
    contact_name: str
    email: str
    phone: str


def _one(model: type[Model], pk: int) -> Any:
    obj = model._default_manager.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{str(model._meta.verbose_name).capitalize()} {pk} does not exist.")
    return obj


def _service(s: Service) -> dict[str, Any]:
    return {"id": s.pk, "name": s.name, "description": s.description,
            "technology": ref(s.technology), "is_active": s.is_active}  # fmt: skip


def _ci(c: ConfigurationItem) -> dict[str, Any]:
    return {"id": c.pk, "name": c.name, "kind": c.kind, "service": ref(c.service),
            "technology": ref(c.technology), "location": c.location, "is_active": c.is_active}  # fmt: skip


@router.get("/technologies", response={200: list[TechnologyOut], **ERRORS})
def technologies(request: HttpRequest) -> Any:
    return list(Technology.objects.all())


@router.get("/services", response={200: list[ServiceOut], **ERRORS})
def services(request: HttpRequest) -> Any:
    return [_service(s) for s in Service.objects.select_related("technology")]


@router.get("/services/{service_id}", response={200: ServiceOut, **ERRORS})
def get_service(request: HttpRequest, service_id: RowId) -> Any:
    return _service(_one(Service, service_id))


@router.get("/configuration-items", response={200: list[ConfigurationItemOut], **ERRORS})
def configuration_items(request: HttpRequest, service: Id | None = None) -> Any:
    qs = ConfigurationItem.objects.select_related("service", "technology")
    if service is not None:
        qs = qs.filter(service_id=service)
    return [_ci(c) for c in qs]


@router.get("/configuration-items/{ci_id}", response={200: ConfigurationItemOut, **ERRORS})
def get_configuration_item(request: HttpRequest, ci_id: RowId) -> Any:
    return _ci(_one(ConfigurationItem, ci_id))


@router.get("/user-groups", response={200: list[NamedOut], **ERRORS})
def user_groups(request: HttpRequest) -> Any:
    return list(UserGroup.objects.all())


@router.get("/categories", response={200: list[NamedOut], **ERRORS})
def categories(request: HttpRequest) -> Any:
    return list(Category.objects.all())


@router.get("/partners", response={200: list[PartnerOut], **ERRORS})
def partners(request: HttpRequest) -> Any:
    return list(Partner.objects.all())
