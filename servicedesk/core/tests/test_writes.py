"""insert(): what save(force_insert=True) does for a new row, with the SQL compiled once."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Value
from django.db.models.signals import post_save

from servicedesk.core import clock, outbox
from servicedesk.core.models import OutboxMessage
from servicedesk.core.writes import (
    _compile_insert,
    _compile_update,
    insert,
    insert_many,
    update,
    update_each,
)
from servicedesk.escalation.models import IncidentEscalation
from servicedesk.incidents import services
from servicedesk.incidents.models import AssignmentSpan, Incident, IncidentEvent
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def _insert_compilations() -> Any:
    return mock.patch("servicedesk.core.writes._compile_insert", side_effect=_compile_insert)


def _message(n: int) -> OutboxMessage:
    return OutboxMessage(
        channel="email", destination=f"person{n}@example.com", payload={"n": n, "text": "Ünïcode"},
        event_type="incident.created", subject_type="incident", subject_id=n,
        meta={"rule_id": 7}, due_at=clock.now(),
    )  # fmt: skip


def test_rows_read_back_as_save_would_have_written_them() -> None:
    connections["default"].__dict__.pop("_servicedesk_writes", None)  # as a new process
    with (
        _insert_compilations() as compiled,
        mock.patch.object(OutboxMessage, "save", side_effect=AssertionError("save() was used")),
    ):
        first, second = insert(_message(1)), insert(_message(2))
        third, fourth = insert_many([_message(7), _message(8)])
        fifth, sixth = insert_many([_message(9), _message(10)])
    assert compiled.call_count == 2  # one row, two rows
    assert [m.pk for m in (third, fourth, fifth, sixth)] == sorted(
        m.pk for m in (third, fourth, fifth, sixth)
    )
    assert OutboxMessage.objects.get(pk=fourth.pk).destination == "person8@example.com"
    assert first.pk is not None and second.pk not in (None, first.pk)
    assert not first._state.adding and first._state.db == "default"
    saved = _message(3)
    saved.save(force_insert=True)
    for obj in (first, saved):
        row = OutboxMessage.objects.get(pk=obj.pk)
        assert row.payload == obj.payload and row.meta == {"rule_id": 7}
        assert row.created_at is not None and row.created_at == obj.created_at  # auto_now_add
        assert row.message_id == obj.message_id and row.state == "pending"


def test_timeline_events_and_spans_of_a_real_change(org: Org) -> None:
    incident = services.do_create_incident(actor=org.desk_agent, title="Printer jams")
    [span] = AssignmentSpan.objects.filter(incident=incident)
    assert span.group == org.service_desk and span.ended_at is None
    [event] = IncidentEvent.objects.filter(incident=incident)
    assert event.type == "created" and event.actor == org.desk_agent
    assert event.payload["status"] == "new"


def test_a_row_keyed_by_its_parent_is_inserted_with_that_key(org: Org) -> None:
    """A one-to-one primary key is the caller's: no RETURNING, the key as given."""
    incident = services.do_create_incident(actor=org.desk_agent, title="Printer jams")
    IncidentEscalation.objects.filter(incident=incident).delete()
    connections["default"].__dict__.pop("_servicedesk_writes", None)
    state = IncidentEscalation(
        incident=incident, snapshot={"steps": []}, thresholds={}, running_since=clock.now()
    )
    with (
        _insert_compilations() as compiled,
        mock.patch.object(IncidentEscalation, "save", side_effect=AssertionError("save()")),
    ):
        assert insert(state) is state
    assert compiled.call_count == 1 and not state._state.adding
    row = IncidentEscalation.objects.get(pk=incident.pk)
    assert row.snapshot == {"steps": []} and row.running_since == state.running_since
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(IncidentEscalation(incident=incident, snapshot={}, thresholds={}))
    # Without its key the row goes through save(), which refuses it as Django would.
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(IncidentEscalation(snapshot={}, thresholds={}))


def test_what_save_does_differently_goes_through_save() -> None:
    received: list[Any] = []

    def listener(sender: Any, instance: Any, **kwargs: Any) -> None:
        received.append(instance)

    post_save.connect(listener, sender=OutboxMessage, dispatch_uid="test_inserts")
    try:
        message = insert(_message(4))
    finally:
        post_save.disconnect(dispatch_uid="test_inserts", sender=OutboxMessage)
    assert received == [message]
    expression = _message(5)
    expression.subject_id = Value(2) + 3
    insert(expression)
    assert OutboxMessage.objects.get(pk=expression.pk).subject_id == 5


# ---- update -------------------------------------------------------------------------


def _update_compilations() -> Any:
    return mock.patch("servicedesk.core.writes._compile_update", side_effect=_compile_update)


def test_update_writes_the_named_fields_only(org: Org) -> None:
    incident = services.do_create_incident(actor=org.desk_agent, title="Printer jams")
    connections["default"].__dict__.pop("_servicedesk_writes", None)
    incident.title, incident.description = "Printer on fire", "not saved"
    incident.assigned_group_id = org.net_ops.pk
    with (
        _update_compilations() as compiled,
        mock.patch.object(Incident, "save", side_effect=AssertionError("save() was used")),
    ):
        update(incident, "title", "assigned_group_id")
        update(incident, "title", "assigned_group_id")
    assert compiled.call_count == 1
    row = Incident.objects.get(pk=incident.pk)
    assert row.title == "Printer on fire" and row.assigned_group == org.net_ops
    assert row.description == ""
    message = insert(_message(6))
    before = message.updated_at
    message.attempts = 3
    update(message, "attempts", "updated_at")
    row_message = OutboxMessage.objects.get(pk=message.pk)
    assert row_message.attempts == 3 and row_message.updated_at > before  # auto_now
    OutboxMessage.objects.filter(pk=message.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        update(message, "attempts")


@pytest.mark.parametrize("count", [0, 1, 4])
def test_outbox_messages_are_queued_in_order_either_way(count: int) -> None:
    with transaction.atomic():
        queued = outbox.enqueue_many([_message(n) for n in range(count)])
    assert [m.subject_id for m in queued] == list(range(count))
    rows = list(OutboxMessage.objects.order_by("pk"))
    assert [m.pk for m in rows] == [m.pk for m in queued]
    assert [m.destination for m in rows] == [f"person{n}@example.com" for n in range(count)]
    assert len({m.message_id for m in rows}) == count


def test_update_each_changes_the_rows_whose_conditions_still_hold() -> None:
    with transaction.atomic():
        messages = outbox.enqueue_many([_message(n) for n in range(3)])
    OutboxMessage.objects.filter(pk=messages[1].pk).update(token=9)  # taken by someone else
    for message in messages:
        message.attempts, message.last_error = 2, "timeout"
    changed = update_each(
        messages, ["attempts", "last_error", "updated_at"], [{"token": 0} for _ in messages]
    )
    assert changed == 2
    rows = {m.pk: m for m in OutboxMessage.objects.all()}
    assert [rows[m.pk].attempts for m in messages] == [2, 0, 2]
    assert rows[messages[0].pk].last_error == "timeout" and rows[messages[1].pk].last_error == ""
    assert update_each([], ["attempts"], []) == 0
    with pytest.raises(TypeError, match="plain columns"):
        update_each(messages, ["no_such_field"], [{"token": 0} for _ in messages])
