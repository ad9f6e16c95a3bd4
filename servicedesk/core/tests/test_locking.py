"""Row locks read with their related rows, while another transaction changes them.

On PostgreSQL the second transaction really waits for the first one's lock, and
the reads that follow show whether it saw what the first one committed. (On
SQLite a write transaction holds the whole database, so the reads there are
consistent by construction.)
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from django.db import transaction

from servicedesk.core import locking
from servicedesk.escalation.models import IncidentEscalation
from servicedesk.incidents import services
from servicedesk.incidents.models import Incident
from servicedesk.testing.concurrency import while_uncommitted
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db(transaction=True)


def while_holding(incident_id: int, change: Callable[[], None], read: Callable[[], Any]) -> Any:
    """``read`` in a transaction that waits for the incident's lock, held by one
    that makes ``change`` and commits while ``read`` waits."""

    def lock_and_change() -> None:
        Incident.objects.select_for_update().get(pk=incident_id)
        change()

    return while_uncommitted(lock_and_change, read)


def escalated_incident(org: Org) -> Incident:
    incident = services.do_create_incident(
        actor=org.desk_agent, title="Mail is down", technology=org.email
    )
    return services.do_escalate(
        incident=incident, actor=org.desk_agent, reason="insufficient_knowledge"
    )


def test_a_service_sees_the_group_a_concurrent_escalation_committed(org: Org) -> None:
    """Found by schemathesis: a de-escalation that waited for an escalation read
    the incident's new group as missing (PostgreSQL re-checks the locked row
    against the group row it had read before) and failed with a 500."""
    incident = escalated_incident(org)
    assert incident.assigned_group == org.mail_ops

    def escalate() -> None:
        services.do_escalate(
            incident=incident.pk, actor=org.mail_ops_agent, reason="insufficient_knowledge"
        )

    def de_escalate() -> Incident:
        return services.do_de_escalate(incident=incident.pk, actor=org.mail_engineer)

    after = while_holding(incident.pk, escalate, de_escalate)
    assert (after.support_level, after.assigned_group) == (2, org.mail_ops)
    event = after.events.order_by("-id").first()
    assert event is not None and event.type == "de_escalated"
    assert event.payload["from_group"]["id"] == org.mail_eng.pk
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.assigned_group_id, stored.version) == (org.mail_ops.pk, after.version)


def test_lock_one_reads_foreign_keys_changed_while_it_waited(org: Org) -> None:
    incident = escalated_incident(org)

    def move() -> None:
        Incident.objects.filter(pk=incident.pk).update(assigned_group=org.mail_eng, assignee=None)

    def lock() -> Incident | None:
        return locking.lock_one(Incident.objects.all(), incident.pk, services.LOCK_RELATED)

    found = while_holding(incident.pk, move, lock)
    assert found is not None and found.assigned_group == org.mail_eng
    assert locking.consistent(found, services.LOCK_RELATED)


def test_lock_then_read_reads_what_the_lock_holder_committed(org: Org) -> None:
    """The clocks are guarded by the incident's lock without being named by the
    incident row: a read in the locking statement would see them as they were
    before the holder committed."""
    # Transactional tests flush the data migrations' rows: put the matrix back.
    from django.apps import apps

    import_module("servicedesk.escalation.migrations.0002_table4_matrix").forwards(apps, None)
    incident = escalated_incident(org)
    before = IncidentEscalation.objects.get(pk=incident.pk).next_step

    def advance() -> None:
        IncidentEscalation.objects.filter(pk=incident.pk).update(next_step=before + 5)

    def lock() -> list[Incident]:
        return locking.lock_then_read(Incident, [incident.pk], ("escalation",))

    (found,) = while_holding(incident.pk, advance, lock)
    assert found.escalation.next_step == before + 5


def test_lock_one_of_a_missing_row_is_none(org: Org) -> None:
    with transaction.atomic():
        assert locking.lock_one(Incident.objects.all(), 10**9, services.LOCK_RELATED) is None
        assert locking.lock_then_read(Incident, [10**9], ("escalation",)) == []


def test_lock_then_read_gives_the_rows_with_their_related_rows(
    org: Org, django_assert_num_queries: Any
) -> None:
    """The read is compiled once per row count; what it returns is what the ORM reads."""
    from django.apps import apps

    import_module("servicedesk.escalation.migrations.0002_table4_matrix").forwards(apps, None)
    made = [
        services.do_create_incident(actor=org.desk_agent, title=f"Mail {n}", technology=org.email)
        for n in range(3)
    ]
    services.do_escalate(incident=made[1], actor=org.desk_agent, reason="time_expired")
    related = ("assigned_group", "reporter", "escalation")
    for pks in ([made[0].pk, made[1].pk], [made[2].pk, made[1].pk], [made[1].pk]):
        with transaction.atomic():
            found = locking.lock_then_read(Incident, pks, related)
        assert [i.pk for i in found] == sorted(pks)
        expected = {
            i.pk: (i.title, i.version, str(i.assigned_group), i.reporter_id, i.escalation.next_step)
            for i in Incident.objects.filter(pk__in=pks)
        }
        with django_assert_num_queries(0):
            seen = {
                i.pk: (i.title, i.version, str(i.assigned_group), i.reporter.pk,
                       i.escalation.next_step)
                for i in found
            }  # fmt: skip
        assert seen == expected
