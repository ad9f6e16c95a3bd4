"""Write outgoing messages in the transaction of the change that causes them.

The worker delivers them (``worker.py``) at least once, with a stable
``message_id``; a rolled-back change leaves no message behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from . import clock
from .models import OutboxMessage
from .writes import insert, insert_many


def enqueue(
    *,
    channel: str,
    destination: str,
    payload: dict[str, Any],
    event_type: str = "",
    subject_type: str = "",
    subject_id: int | None = None,
    meta: dict[str, Any] | None = None,
    deliver_after: datetime | None = None,
) -> OutboxMessage:
    """Queue a message; must run inside the transaction of the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox.enqueue must run inside the transaction of the change")
    message = message_for(
        channel=channel, destination=destination, payload=payload, event_type=event_type,
        subject_type=subject_type, subject_id=subject_id, meta=meta, deliver_after=deliver_after,
    )  # fmt: skip
    return insert(message)


def message_for(
    *,
    channel: str,
    destination: str,
    payload: dict[str, Any],
    event_type: str = "",
    subject_type: str = "",
    subject_id: int | None = None,
    meta: dict[str, Any] | None = None,
    deliver_after: datetime | None = None,
) -> OutboxMessage:
    """The unsaved message :func:`enqueue` would write (for :func:`enqueue_many`)."""
    return OutboxMessage(
        channel=channel,
        destination=destination[:500],
        payload=payload,
        event_type=event_type,
        subject_type=subject_type,
        subject_id=subject_id,
        meta=meta or {},
        due_at=deliver_after or clock.now(),
    )


def enqueue_many(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    """Queue several messages (from :func:`message_for`) with one INSERT, in order;
    must run inside the transaction of the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox.enqueue must run inside the transaction of the change")
    return insert_many(messages)
