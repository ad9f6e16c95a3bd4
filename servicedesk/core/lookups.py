"""Turning ids from requests into records, with field-level errors."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model

from .errors import FieldError

M = TypeVar("M", bound=Model)


def resolve(
    model: type[M],
    pk: int | None,
    field: str | list[str],
    *,
    related: tuple[str, ...] = (),
    **conditions: Any,
) -> M | None:
    """The record ``pk`` of ``model`` (None stays None); 422 naming ``field`` when absent.
    ``related``: foreign keys to load with it (select_related)."""
    if pk is None:
        return None
    qs = model._default_manager.filter(pk=pk, **conditions)
    obj = (qs.select_related(*related) if related else qs).first()
    if obj is None:
        raise FieldError(field, f"no {model._meta.verbose_name} with id {pk}")
    return obj
