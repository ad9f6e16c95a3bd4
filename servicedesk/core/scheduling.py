"""Durable timers: schedule, move and cancel due items inside the caller's transaction.

A service that starts or changes a deadline calls :func:`schedule` in its
own transaction, so the timer exists exactly when the change is committed.
Rescheduling bumps the fencing token: a worker performing the old version of
the row can no longer commit it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from . import clock
from .models import DueItem, RowState


@dataclass
class _Performing:
    """The item a worker is performing in this context, and what its handler asked for."""

    key: str
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


_performing: ContextVar[_Performing | None] = ContextVar("servicedesk_performing", default=None)


@contextmanager
def performing(key: str) -> Iterator[_Performing]:
    """Used by the worker: schedule/cancel calls for ``key`` inside are collected,
    not written, because the worker itself settles the row it holds."""
    state = _Performing(key=key)
    token = _performing.set(state)
    try:
        yield state
    finally:
        _performing.reset(token)


def schedule(*, key: str, kind: str, at: datetime, payload: dict[str, Any] | None = None) -> None:
    """Create or move the due item ``key`` to fire ``kind`` at ``at``."""
    current = _performing.get()
    if current is not None and current.key == key:
        current.requests.append(("schedule", {"kind": kind, "at": at, "payload": payload or {}}))
        return
    # One statement on both databases: insert the row, or move the existing one and
    # bump its fencing token (the same as UPDATE-then-INSERT, without a savepoint).
    # (A new row's created_at/updated_at are the real time, as auto_now gives them; a
    # moved row's updated_at is the service clock's.)
    ops = connection.ops
    when = ops.adapt_datetimefield_value(at)
    real = ops.adapt_datetimefield_value(timezone.now())
    moved = ops.adapt_datetimefield_value(clock.now())
    data = DueItem._meta.get_field("payload").get_db_prep_save(payload or {}, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            [key, kind, when, when, data, RowState.PENDING, "", 0, 0, "", None, real, real, moved],
        )


_UPSERT = """
INSERT INTO core_dueitem ("key", kind, scheduled_at, due_at, payload, state, lease_owner, token,
                          attempts, last_error, done_at, updated_at, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT ("key") DO UPDATE SET
    token = core_dueitem.token + 1, kind = excluded.kind, scheduled_at = excluded.scheduled_at,
    due_at = excluded.due_at, payload = excluded.payload, state = excluded.state,
    lease_owner = excluded.lease_owner, attempts = excluded.attempts,
    last_error = excluded.last_error, done_at = excluded.done_at, updated_at = %s
"""


def cancel(key: str) -> None:
    """Cancel the due item ``key`` if it is still active."""
    current = _performing.get()
    if current is not None and current.key == key:
        current.requests.append(("cancel", {}))
        return
    DueItem.objects.filter(key=key, state__in=[RowState.PENDING, RowState.LEASED]).update(
        state=RowState.CANCELLED, token=F("token") + 1, lease_owner="", updated_at=clock.now()
    )


def pending(key: str) -> DueItem | None:
    return DueItem.objects.filter(key=key, state__in=[RowState.PENDING, RowState.LEASED]).first()
