"""Operators put failed worker rows back through the admin; nothing else moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from servicedesk.core import outbox, scheduling
from servicedesk.core.models import DueItem, OutboxMessage, RowState
from servicedesk.core.worker import Worker
from servicedesk.testing.org import Org

from .test_worker import performed

pytestmark = pytest.mark.django_db


def _fail(row: DueItem | OutboxMessage) -> None:
    type(row).objects.filter(pk=row.pk).update(
        state=RowState.FAILED, attempts=8, token=5, last_error="receiver down"
    )


def _admin(org: Org) -> Client:
    client = Client()
    client.force_login(org.admin)
    return client


def test_failed_due_items_are_performed_again_after_a_retry(org: Org) -> None:
    scheduling.schedule(key="failed", kind="tests.record", at=timezone.now())
    scheduling.schedule(key="waiting", kind="tests.record", at=timezone.now())
    failed, waiting = DueItem.objects.get(key="failed"), DueItem.objects.get(key="waiting")
    _fail(failed)
    DueItem.objects.filter(pk=waiting.pk).update(due_at=timezone.now() + timedelta(days=1))
    response = _admin(org).post(
        reverse("admin:core_dueitem_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk, waiting.pk]},
        follow=True,
    )
    assert "1 failed row is pending again" in response.content.decode()
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.token) == (RowState.PENDING, 0, 6)
    assert failed.last_error == "receiver down"  # the history of why it failed stays
    assert DueItem.objects.get(pk=waiting.pk).due_at > timezone.now()  # untouched
    performed.clear()
    Worker().run_due_once()
    assert performed == ["failed"]
    assert DueItem.objects.get(pk=failed.pk).state == RowState.DONE


def test_failed_messages_go_out_again_and_delivered_ones_stay(org: Org) -> None:
    with transaction.atomic():
        failed = outbox.enqueue(channel="webhook", destination="http://x", payload={})
        sent = outbox.enqueue(channel="webhook", destination="http://y", payload={})
    _fail(failed)
    OutboxMessage.objects.filter(pk=sent.pk).update(state=RowState.DONE)
    response = _admin(org).post(
        reverse("admin:core_outboxmessage_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.token) == (RowState.PENDING, 0, 6)
    assert failed.due_at <= timezone.now()
    assert OutboxMessage.objects.get(pk=sent.pk).state == RowState.DONE
