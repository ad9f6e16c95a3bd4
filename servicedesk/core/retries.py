"""Operators' second chance for rows the worker gave up on (state ``failed``).

A failed due item or outbox message stays failed until someone has fixed the
cause (a mail server, a webhook receiver, a handler's bug); then it is put
back as pending, due now, with a fresh attempt budget. The fencing token is
bumped, so a worker that still somehow held the row can commit nothing.
Handlers re-read their subject when they perform, so a retried escalation
step that no longer applies is skipped rather than performed blindly.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from . import clock
from .models import DueItem, LeasedRow, OutboxMessage, RowState


def _retry(model: type[LeasedRow], ids: Iterable[int]) -> int:
    with transaction.atomic():
        return model._default_manager.filter(pk__in=list(ids), state=RowState.FAILED).update(
            state=RowState.PENDING, due_at=clock.now(), attempts=0, lease_owner="",
            token=F("token") + 1,
        )  # fmt: skip


def retry_failed_messages(ids: Iterable[int]) -> int:
    """Failed outbox messages among ``ids`` go out again; returns how many."""
    return _retry(OutboxMessage, ids)


def retry_failed_due_items(ids: Iterable[int]) -> int:
    """Failed due items among ``ids`` are performed again; returns how many."""
    return _retry(DueItem, ids)
