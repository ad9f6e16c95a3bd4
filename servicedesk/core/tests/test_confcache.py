"""The configuration cache: values are reused, and no change is ever missed (whoever
makes it, committed or rolled back, in this connection or another)."""

from __future__ import annotations

import threading
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from servicedesk.core import confcache, scheduling
from servicedesk.core.models import DueItem, RowState
from servicedesk.incidents.models import SeverityBand
from servicedesk.incidents.severity import priority_for, severity_for


class Rollback(Exception):
    pass


@pytest.mark.django_db
def test_every_watched_table_has_the_trigger() -> None:
    watched = confcache.watched_tables()
    assert {"incidents_severityband", "notifications_notificationrule",
            "escalation_escalationpolicy", "integrations_webhookendpoint"} <= set(watched)  # fmt: skip
    assert confcache.installed() == watched


@pytest.mark.django_db
def test_values_are_reused_until_the_configuration_changes(
    django_assert_num_queries: Any,
) -> None:
    assert severity_for(12) == 2
    with django_assert_num_queries(1):  # the token only
        assert severity_for(12) == 2
    # QuerySet.update sends no signal: the trigger changes the token all the same.
    SeverityBand.objects.filter(severity=2).update(min_affected_users=20)
    assert severity_for(12) == 3
    with django_assert_num_queries(1):
        assert severity_for(12) == 3
    assert priority_for(1, 1) == 1
    with confcache.scope(), django_assert_num_queries(1):  # one token read per scope
        assert (severity_for(12), severity_for(60), priority_for(1, 1)) == (3, 1, 1)


@pytest.mark.django_db
def test_values_read_inside_a_rolled_back_change_are_not_kept() -> None:
    assert severity_for(12) == 2
    seen = []

    @transaction.atomic
    def change_then_fail() -> None:
        SeverityBand.objects.filter(severity=2).update(min_affected_users=20)
        seen.append(severity_for(12))  # the change is visible inside its transaction
        raise Rollback

    with pytest.raises(Rollback):
        change_then_fail()
    assert seen == [3]
    assert severity_for(12) == 2


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_by_another_connection_is_seen() -> None:
    # An earlier transactional test's flush may have emptied the shipped bands (a
    # data migration): put them back (idempotent).
    from django.apps import apps

    import_module("servicedesk.incidents.migrations.0002_severity_bands_priority_matrix").forwards(
        apps, None
    )
    assert severity_for(12) == 2

    def elsewhere() -> None:
        try:
            SeverityBand.objects.filter(severity=2).update(min_affected_users=20)
        finally:
            connection.close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert severity_for(12) == 3


@pytest.mark.django_db
def test_without_the_version_row_nothing_is_cached(django_assert_num_queries: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_configversion")
    assert severity_for(12) == 2
    with django_assert_num_queries(2):  # the token and the bands, every time
        assert severity_for(12) == 2
    confcache.install()
    assert confcache.token() is not None


@pytest.mark.django_db
def test_schedule_inserts_then_moves_the_row_and_bumps_its_token() -> None:
    at = timezone.now() + timedelta(minutes=5)
    scheduling.schedule(key="k", kind="tests.a", at=at, payload={"n": 1})
    item = DueItem.objects.get(key="k")
    assert (item.kind, item.due_at, item.payload, item.token, item.state) == (
        "tests.a", at, {"n": 1}, 0, RowState.PENDING,
    )  # fmt: skip
    DueItem.objects.filter(pk=item.pk).update(
        state=RowState.DONE, attempts=3, last_error="x", done_at=timezone.now()
    )
    later = at + timedelta(hours=1)
    scheduling.schedule(key="k", kind="tests.b", at=later)
    moved = DueItem.objects.get(key="k")
    assert moved.pk == item.pk and moved.created_at == item.created_at
    assert (moved.kind, moved.due_at, moved.scheduled_at, moved.payload, moved.token) == (
        "tests.b", later, later, {}, 1,
    )  # fmt: skip
    assert (moved.state, moved.attempts, moved.last_error, moved.done_at) == (
        RowState.PENDING, 0, "", None,
    )  # fmt: skip
