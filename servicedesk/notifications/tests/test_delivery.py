"""Delivery over real channels: an SMTP server and an HTTP receiver on loopback.

The worker runs in this process (``Worker.run(until_idle=True)``); the
multi-process crash test is in tests/e2e/test_notification_delivery.py.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from servicedesk.core import clock
from servicedesk.core.leases import claim
from servicedesk.core.models import DeliveryAttempt, OutboxMessage, RowState
from servicedesk.core.worker import Worker
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident
from servicedesk.integrations.models import WebhookEndpoint
from servicedesk.notifications import channels, services
from servicedesk.notifications.models import Notification, NotificationRule
from servicedesk.notifications.receivers import Delivery, SMTPSink, WebhookReceiver
from servicedesk.testing.org import Org

from .conftest import run_worker

pytestmark = pytest.mark.django_db


def create(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Cannot print")
    kw.setdefault("reporter", org.reporter)
    return incidents.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)


def attempts(message: OutboxMessage) -> list[bool]:
    return list(
        DeliveryAttempt.objects.filter(message=message)
        .order_by("number")
        .values_list("ok", flat=True)
    )


class TestEmail:
    def test_content_language_headers_and_recipients(self, org: Org, smtp: SMTPSink) -> None:
        org.reporter.language = "ru"
        org.reporter.save()
        incident = create(org, service=org.internet)
        incidents.do_escalate(
            incident=incident, actor=org.desk_agent, reason="insufficient_knowledge"
        )
        run_worker()
        [to_reporter] = smtp.to(org.reporter.email)
        assert to_reporter.subject == f"{incident.number} зарегистрирован: Cannot print"
        assert "Ваше обращение зарегистрировано как инцидент" in to_reporter.text
        message = OutboxMessage.objects.get(channel="email", destination=org.reporter.email)
        assert to_reporter.message_id == str(message.message_id)
        assert to_reporter.message["Message-ID"] == f"<{message.message_id}@example.com>"
        assert to_reporter.message["X-ServiceDesk-Reference"] == incident.number
        assert email.utils.parseaddr(str(to_reporter.message["From"])) == (
            "Service Desk", "servicedesk@example.com",
        )  # fmt: skip
        # The escalation went to each member of the receiving group, in English.
        receivers = {m.rcpt_tos[0] for m in smtp.mails if "escalated" in m.subject}
        assert receivers == {org.net_ops_agent.email, org.problem_manager.email}
        [to_agent] = smtp.to(org.net_ops_agent.email)
        assert "escalated to Network Operations" in to_agent.text
        assert message.state == RowState.DONE and attempts(message) == [True]

    def test_temporary_refusal_is_retried_with_backoff(self, org: Org, smtp: SMTPSink) -> None:
        answers = iter(["451 4.3.0 try again later", "451 4.3.0 try again later"])

        async def respond(message: Any) -> str:
            return next(answers, "250 OK")

        smtp.responder = respond
        with time_machine.travel(datetime(2030, 3, 6, 10, 0, tzinfo=UTC), tick=False) as clock:
            create(org)
            message = OutboxMessage.objects.get(channel="email")
            run_worker()
            message.refresh_from_db()
            assert (message.state, message.attempts) == (RowState.PENDING, 1)
            assert "451" in message.last_error
            assert message.due_at == datetime(2030, 3, 6, 10, 0, 5, tzinfo=UTC)  # 5 s backoff
            clock.shift(timedelta(seconds=5))
            run_worker()
            message.refresh_from_db()
            assert message.due_at == datetime(2030, 3, 6, 10, 0, 15, tzinfo=UTC)  # then 10 s
            clock.shift(timedelta(seconds=10))
            run_worker()
        message.refresh_from_db()
        assert message.state == RowState.DONE and attempts(message) == [False, False, True]
        copies = [m for m in smtp.mails if m.message_id == str(message.message_id)]
        assert len(copies) == 3 and len(smtp.unique) == 1

    def test_permanent_refusal_is_marked_failed(self, org: Org, smtp: SMTPSink) -> None:
        async def respond(message: Any) -> str:
            return "550 5.1.1 mailbox unavailable"

        smtp.responder = respond
        create(org)
        run_worker()
        message = OutboxMessage.objects.get(channel="email")
        assert message.state == RowState.FAILED and attempts(message) == [False]
        assert "550" in message.last_error

    def test_server_down_then_up(self, org: Org, smtp: SMTPSink, settings: Any) -> None:
        settings.EMAIL_PORT = 1  # nothing listens there
        with time_machine.travel(datetime(2030, 3, 6, 10, 0, tzinfo=UTC), tick=False) as clock:
            create(org)
            run_worker()
            message = OutboxMessage.objects.get(channel="email")
            assert attempts(message) == [False]
            settings.EMAIL_PORT = smtp.port
            channels._drop_connection()
            clock.shift(timedelta(seconds=6))
            run_worker()
        assert attempts(message) == [False, True]
        assert len(smtp.to(org.reporter.email)) == 1

    def test_no_message_after_a_rollback(self, org: Org, smtp: SMTPSink) -> None:
        def fails() -> None:
            with transaction.atomic():
                incident = create(org)
                incidents.do_resolve(
                    incident=incident, actor=org.desk_agent, resolution_code="other",
                    resolution="Fixed.",
                )  # fmt: skip
                raise RuntimeError("the request fails after the change")

        with pytest.raises(RuntimeError):
            fails()
        create(org, title="A later incident that is committed")
        run_worker()
        assert [m.subject.split(" ", 1)[1] for m in smtp.mails] == [
            "registered: A later incident that is committed"
        ]


class TestWebhooks:
    @pytest.fixture
    def webhook_rule(self, org: Org, receiver: WebhookReceiver) -> WebhookEndpoint:
        endpoint = WebhookEndpoint.objects.create(
            name="Chat bridge", url=receiver.url, secret=receiver.secret,
            event_types=["none.wanted"],  # the endpoint's own feed is not what we test
        )  # fmt: skip
        services.do_save_rule(
            actor=org.admin,
            data={"name": "Chat: escalations", "event_types": ["escalated"],
                  "template_key": "incident_escalated", "channels": ["webhook"],
                  "recipients": [{"kind": "webhook", "webhook": endpoint},
                                 {"kind": "reporter"}]},
        )  # fmt: skip
        return endpoint

    def test_signed_json_with_the_stable_id(
        self, org: Org, receiver: WebhookReceiver, webhook_rule: WebhookEndpoint
    ) -> None:
        incident = create(org, service=org.internet)
        incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
        run_worker()
        [delivery] = receiver.deliveries  # the reporter has no webhook: only the endpoint
        assert delivery.signature_ok is True
        message = OutboxMessage.objects.get(channel="webhook")
        assert delivery.message_id == str(message.message_id)
        body = delivery.json()
        assert body["type"] == "notification" and body["event"] == "incident.escalated"
        assert body["subject"]["number"] == incident.number
        assert body["message"]["subject"].startswith(f"{incident.number} escalated")
        assert "the agreed time expired" in body["message"]["body"]

    def test_retries_after_the_receiver_fails(
        self, org: Org, receiver: WebhookReceiver, webhook_rule: WebhookEndpoint
    ) -> None:
        statuses = iter([503, 500])
        receiver.respond = lambda d: next(statuses, 200)
        with time_machine.travel(datetime(2030, 3, 6, 10, 0, tzinfo=UTC), tick=False) as clock:
            incident = create(org, service=org.internet)
            incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
            message = OutboxMessage.objects.get(channel="webhook")
            for wait in (0, 5, 10):
                clock.shift(timedelta(seconds=wait))
                run_worker()
        message.refresh_from_db()
        assert message.state == RowState.DONE and attempts(message) == [False, False, True]
        assert [d.message_id for d in receiver.deliveries] == [str(message.message_id)] * 3
        assert all(d.signature_ok for d in receiver.deliveries)
        assert len(receiver.unique) == 1

    def test_a_wrong_secret_does_not_verify(
        self, org: Org, receiver: WebhookReceiver, webhook_rule: WebhookEndpoint
    ) -> None:
        webhook_rule.secret = "someone-else"
        webhook_rule.save()
        incident = create(org, service=org.internet)
        incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
        run_worker()
        assert [d.signature_ok for d in receiver.deliveries] == [False]

    def test_gone_receiver_is_a_permanent_failure(
        self, org: Org, receiver: WebhookReceiver, webhook_rule: WebhookEndpoint
    ) -> None:
        receiver.respond = lambda d: 404
        incident = create(org, service=org.internet)
        incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
        run_worker()
        message = OutboxMessage.objects.get(channel="webhook")
        assert message.state == RowState.FAILED and attempts(message) == [False]


class TestInApp:
    def test_unread_list_and_redelivery_is_deduplicated(self, org: Org) -> None:
        incident = create(org)
        run_worker()
        [note] = Notification.objects.filter(user=org.reporter)
        assert note.number == incident.number and note.read_at is None
        # A worker that crashed after writing but before confirming delivers again.
        message = OutboxMessage.objects.get(channel="inapp")
        assert channels.deliver_inapp(message).endswith("(already delivered)")
        assert Notification.objects.filter(user=org.reporter).count() == 1
        services.do_mark_read(user=org.reporter)
        note.refresh_from_db()
        assert note.read_at is not None

    def test_inactive_user_is_a_permanent_failure(self, org: Org) -> None:
        create(org)
        org.reporter.is_active = False
        org.reporter.save()
        run_worker()
        assert OutboxMessage.objects.get(channel="inapp").state == RowState.FAILED


def inapp_messages(org: Org, count: int) -> list[OutboxMessage]:
    for n in range(count):
        create(org, title=f"Cannot print {n}")
    messages = list(OutboxMessage.objects.filter(channel="inapp").order_by("pk"))
    assert len(messages) == count
    return messages


def deliver_claimed(worker: Worker) -> list[tuple[int, int]]:
    """Claim every due message and deliver the in-app ones as the delivery loop
    does; returns what is left for the thread pool."""
    claimed = claim(OutboxMessage, owner=worker.name, now=clock.now(), lease_seconds=60, limit=50)
    return worker._deliver_local(claimed)


class TestInAppBatches:
    """The delivery loop writes a batch of in-app notifications and settles their
    messages in one transaction."""

    @pytest.fixture(autouse=True)
    def _inapp_only(self) -> None:
        OutboxMessage.objects.all().delete()

    def test_a_batch_costs_the_same_statements_whatever_its_size(self, org: Org) -> None:
        counts = []
        for size in (2, 6):
            OutboxMessage.objects.filter(channel="email").update(state=RowState.CANCELLED)
            messages = inapp_messages(org, size)
            OutboxMessage.objects.filter(channel="email").update(state=RowState.CANCELLED)
            with CaptureQueriesContext(connection) as captured:
                assert deliver_claimed(Worker(name="w")) == []
            counts.append(len(captured.captured_queries))
            for message in messages:
                message.refresh_from_db()
                assert message.state == RowState.DONE and attempts(message) == [True]
                assert Notification.objects.filter(message_id=message.message_id).count() == 1
            OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).delete()
        assert counts[0] == counts[1]

    def test_an_inactive_user_fails_alone(self, org: Org) -> None:
        create(org, reporter=org.reporter2, actor=org.desk_agent)
        create(org)
        org.reporter2.is_active = False
        org.reporter2.save()
        OutboxMessage.objects.filter(channel="email").update(state=RowState.CANCELLED)
        assert deliver_claimed(Worker(name="w")) == []
        failed = OutboxMessage.objects.get(channel="inapp", state=RowState.FAILED)
        assert failed.payload["user_id"] == org.reporter2.pk
        assert "inactive" in failed.last_error and attempts(failed) == [False]
        done = OutboxMessage.objects.get(channel="inapp", state=RowState.DONE)
        assert done.payload["user_id"] == org.reporter.pk and attempts(done) == [True]
        assert list(Notification.objects.values_list("user_id", flat=True)) == [org.reporter.pk]

    def test_a_message_written_before_sends_the_batch_one_by_one(self, org: Org) -> None:
        first, second = inapp_messages(org, 2)
        OutboxMessage.objects.filter(channel="email").update(state=RowState.CANCELLED)
        # A worker that crashed after writing the first but before confirming it.
        channels.deliver_inapp(first)
        rest = deliver_claimed(Worker(name="w"))
        assert sorted(pk for pk, _ in rest) == [first.pk, second.pk]
        assert Notification.objects.count() == 1  # the batch's INSERT rolled back
        worker = Worker(name="w")
        for pk, token in rest:
            assert worker.deliver(pk, token)
        assert Notification.objects.count() == 2
        first.refresh_from_db()
        assert DeliveryAttempt.objects.get(message=first).detail.endswith("(already delivered)")

    def test_a_message_another_worker_took_over_is_left_to_it(self, org: Org) -> None:
        first, second = inapp_messages(org, 2)
        OutboxMessage.objects.filter(channel="email").update(state=RowState.CANCELLED)
        claimed = claim(OutboxMessage, owner="w", now=clock.now(), lease_seconds=60, limit=50)
        # The first's lease expired and another worker holds it with a new token.
        OutboxMessage.objects.filter(pk=first.pk).update(token=F("token") + 1, lease_owner="other")
        assert Worker(name="w")._deliver_local(claimed) == []
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.state, first.lease_owner, attempts(first)) == (RowState.LEASED, "other", [])
        assert second.state == RowState.DONE
        assert list(Notification.objects.values_list("message_id", flat=True)) == [
            second.message_id
        ]


class TestDeliveryTrail:
    def test_every_attempt_is_logged(self, org: Org, receiver: WebhookReceiver) -> None:
        receiver.respond = lambda d: 500 if len(receiver.deliveries) == 1 else 204
        NotificationRule.objects.update(active=False)
        services.do_save_rule(
            actor=org.admin,
            data={"name": "Everything to a URL", "event_types": ["created"],
                  "template_key": "incident_created", "channels": ["webhook"],
                  "recipients": [{"kind": "address", "address": receiver.url}]},
        )  # fmt: skip
        with time_machine.travel(datetime(2030, 3, 6, 10, 0, tzinfo=UTC), tick=False) as clock:
            create(org)
            run_worker()
            clock.shift(timedelta(seconds=5))
            run_worker()
        message = OutboxMessage.objects.get(channel="webhook")
        log = list(DeliveryAttempt.objects.filter(message=message).order_by("number"))
        assert [(a.number, a.ok, a.detail) for a in log] == [
            (1, False, "RuntimeError: HTTP 500"), (2, True, "HTTP 204"),
        ]  # fmt: skip
        # Unsigned (an address, not a registered endpoint): no signature header.
        assert "X-ServiceDesk-Signature" not in receiver.deliveries[0].headers


def test_delivery_receipt_matches_the_delivery(receiver: WebhookReceiver) -> None:
    """The receiver helper itself: de-duplication keeps the first accepted copy."""
    seen: list[Delivery] = []
    receiver.hold = seen.append
    import httpx

    for _ in range(2):
        httpx.post(receiver.url, content=b"{}", headers={"X-ServiceDesk-Message-Id": "m-1"})
    assert len(receiver.deliveries) == 2 and list(receiver.unique) == ["m-1"] and len(seen) == 2


def test_read_notifications_are_pruned_after_90_days(org: Org) -> None:
    from servicedesk.notifications.tasks import prune_read_notifications

    with time_machine.travel(datetime(2030, 1, 1, 10, 0, tzinfo=UTC), tick=False) as clock:
        create(org)
        create(org, title="Still unread")
        run_worker()
        first = Notification.objects.order_by("id").first()
        assert first is not None
        services.do_mark_read(user=org.reporter, ids=[first.pk])
        clock.shift(timedelta(days=91))
        assert prune_read_notifications() == "deleted 1"
    assert [n.title.split(": ", 1)[1] for n in Notification.objects.all()] == ["Still unread"]
