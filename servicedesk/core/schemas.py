"""Schemas shared by every API router."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class RefOut(Schema):
    """A related record, readable without another request."""

    id: int
    name: str


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(None, description="Cursor of the next page; null on the last page.")


class ErrorOut(Schema):
    detail: Any


class ConflictOut(Schema):
    detail: str
    status: str | None = None
    allowed: list[str] | None = None


class StrictIn(Schema):
    """Input schemas reject unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


def ref(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": str(obj)}


ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ConflictOut, 412: ErrorOut}
