"""Turning ids from requests into records, with field-level errors."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from .errors import FieldError

M = TypeVar("M", bound=Model)


def one(queryset: QuerySet[M]) -> M | None:
    """The row of a query that matches at most one (a primary or unique key), or
    None. Unlike ``first()`` it adds no ORDER BY: Django compiles an ordering by
    hashing every selected column, which for a row read with its related rows
    cost more than the rest of the query (half of an incident's detail request)."""
    return next(iter(queryset[:1]), None)


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
    obj = one(qs.select_related(*related) if related else qs)
    if obj is None:
        raise FieldError(field, f"no {model._meta.verbose_name} with id {pk}")
    return obj
