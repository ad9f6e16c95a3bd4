"""Keyset (cursor) pagination: ``{"items": [...], "next": cursor-or-null}``.

Pages are cut by id, newest first: no COUNT(*), no OFFSET, so the cost of a
page does not grow with the table, and rows inserted meanwhile do not shift
the pages a client is walking through.
"""

from __future__ import annotations

import base64
from typing import TypeVar

from django.db.models import Model, QuerySet

from .errors import FieldError

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        pk = int(value)
        if kind != "id" or not 0 < pk < 2**63:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise FieldError(["query", "cursor"], "not a cursor this API returned") from None
    return pk


def keyset_page(
    qs: QuerySet[M], *, cursor: str | None, limit: int, ascending: bool = False
) -> tuple[list[M], str | None]:
    if ascending:
        qs = qs.order_by("id")
        if cursor:
            qs = qs.filter(pk__gt=decode_cursor(cursor))
    else:
        qs = qs.order_by("-id")
        if cursor:
            qs = qs.filter(pk__lt=decode_cursor(cursor))
    rows = list(qs[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].pk) if len(rows) > limit else None
    return rows[:limit], next_cursor
