"""Outgoing webhooks through the outbox, against a real HTTP receiver."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from servicedesk.core.models import DeliveryAttempt, OutboxMessage, RowState
from servicedesk.core.worker import Worker
from servicedesk.incidents import services
from servicedesk.integrations import webhooks
from servicedesk.integrations.models import WebhookEndpoint
from servicedesk.testing.org import Org
from servicedesk.testing.receiver import http_receiver

pytestmark = pytest.mark.django_db


def report(org: Org, title: str = "Mail is down") -> int:
    return services.do_create_incident(actor=org.desk_agent, title=title, reporter=org.reporter).pk


def test_delivery_survives_a_failing_receiver_and_keeps_its_message_id(org: Org) -> None:
    with http_receiver(script=[500, 503]) as receiver:
        endpoint = WebhookEndpoint.objects.create(
            name="ops", url=receiver.url, event_types=["incident.created"]
        )
        incident_id = report(org)
        message = OutboxMessage.objects.get(channel="webhook")
        assert (message.channel, message.event_type) == ("webhook", "incident.created")
        worker = Worker()
        start = timezone.now()
        # Other channels' messages (notification rules) are delivered too; only the webhook matters here.
        with time_machine.travel(start, tick=False):
            worker.run_outbox_once()
        message.refresh_from_db()
        assert (message.state, message.attempts) == (RowState.PENDING, 1)
        assert message.due_at == start + timedelta(seconds=5)
        with time_machine.travel(start + timedelta(seconds=6), tick=False):
            worker.run_outbox_once()
        with time_machine.travel(start + timedelta(seconds=20), tick=False):
            worker.run_outbox_once()
        message.refresh_from_db()
        assert message.state == RowState.DONE
        assert message.delivered_at is not None
        assert len(receiver.requests) == 3
        ids = {r.headers["X-ServiceDesk-Message-Id"] for r in receiver.requests}
        assert ids == {str(message.message_id)}
        last = receiver.requests[-1]
        assert webhooks.verify(endpoint.secret, last.headers["X-ServiceDesk-Timestamp"], last.body,
                               last.headers["X-ServiceDesk-Signature"])  # fmt: skip
        body = json.loads(last.body)
        assert body["type"] == "incident.created"
        assert body["incident"]["id"] == incident_id
        assert body["incident"]["number"] == f"INC-{incident_id:06d}"
        log = list(DeliveryAttempt.objects.filter(message=message).values_list("ok", "detail"))
        assert log == [
            (False, "RuntimeError: HTTP 500"),
            (False, "RuntimeError: HTTP 503"),
            (True, "HTTP 200"),
        ]


def test_client_errors_fail_permanently(org: Org) -> None:
    with http_receiver(script=[404]) as receiver:
        WebhookEndpoint.objects.create(name="gone", url=receiver.url)
        report(org)
        Worker().run_outbox_once()
        message = OutboxMessage.objects.get(channel="webhook")
        assert message.state == RowState.FAILED
        assert message.last_error == "HTTP 404"


def test_rolled_back_change_sends_nothing(org: Org) -> None:
    WebhookEndpoint.objects.create(name="ops", url="http://127.0.0.1:9/never")
    seen_inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            report(org)
            seen_inside.append(OutboxMessage.objects.filter(channel="webhook").count())
            raise RuntimeError("the request failed after the incident was written")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert seen_inside == [1]
    assert OutboxMessage.objects.count() == 0


def test_endpoints_receive_only_the_events_they_want(org: Org) -> None:
    WebhookEndpoint.objects.create(name="all", url="http://127.0.0.1:9/a")
    WebhookEndpoint.objects.create(
        name="resolved-only", url="http://127.0.0.1:9/b", event_types=["incident.resolved"]
    )
    WebhookEndpoint.objects.create(name="off", url="http://127.0.0.1:9/c", active=False)
    incident_id = report(org)
    services.do_resolve(
        incident=incident_id, actor=org.desk_agent, resolution_code="other", resolution="ok"
    )
    sent = sorted(
        OutboxMessage.objects.filter(channel="webhook").values_list("destination", "event_type")
    )
    assert sent == [
        ("http://127.0.0.1:9/a", "incident.created"),
        ("http://127.0.0.1:9/a", "incident.resolved"),
        ("http://127.0.0.1:9/b", "incident.resolved"),
    ]


def test_webhook_api_is_for_administrators(org: Org, api: object) -> None:
    admin = api(org.admin)  # type: ignore[operator]
    response = admin.post("/webhooks", {"name": "chatops", "url": "https://chat.example.com/hook",
                                        "event_types": ["incident.escalated"]})  # fmt: skip
    assert response.status_code == 201
    assert len(response.json()["secret"]) > 30
    assert api(org.desk_agent).get("/webhooks").status_code == 403  # type: ignore[operator]
    assert admin.post("/webhooks", {"name": "bad", "url": "not a url"}).status_code == 422
