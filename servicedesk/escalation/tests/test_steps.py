"""Every step kind through a policy, the worker and (for webhooks) a real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from servicedesk.core.models import OutboxMessage, RowState
from servicedesk.core.worker import Worker
from servicedesk.escalation import services
from servicedesk.escalation.models import EmergencyMeeting, EscalationStep
from servicedesk.incidents import services as incidents
from servicedesk.integrations.webhooks import verify
from servicedesk.oncall import services as oncall
from servicedesk.oncall.models import Page
from servicedesk.testing.org import Org

from .helpers import T0, at, create, events, minutes, refresh, run_worker, steps_log

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server on a free port that records what it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def internet_policy(org: Org, steps: list[services.StepInput], **kw: Any) -> None:
    """A severity-3 policy for the Internet access service: more specific than Table 4's."""
    services.do_create_policy(
        actor=org.admin,
        data=services.PolicyInput(
            name="Internet, severity 3", severity=3, scope="service", target=org.internet,
            respond_within=1800, resolve_within=4 * 3600, steps=steps, **kw,
        ),
    )  # fmt: skip


class TestSteps:
    def test_the_most_specific_policy_wins(self, org: Org) -> None:
        internet_policy(org, [services.StepInput(kind="assign", support_level=3, after=600)])
        router = create(org, affected_users=3)  # the router's service: Internet access
        mail = create(org, affected_users=3, configuration_item=org.mail_server)
        assert refresh(router).resolve_by == T0 + minutes(240)
        assert refresh(mail).resolve_by == T0 + minutes(480)
        run_worker(T0 + minutes(10))
        assert refresh(router).assigned_group == org.net_eng
        assert refresh(mail).support_level == 1

    def test_page_step_pages_the_on_call_person(self, org: Org) -> None:
        oncall.do_create_schedule(
            actor=org.admin, group=org.net_ops,
            layers=[oncall.LayerInput(name="primary", members=[org.net_ops_agent],
                                      starts_on=date(2025, 3, 1))],
        )  # fmt: skip
        steps = [
            services.StepInput(kind="assign", support_level=2, after=0),
            services.StepInput(kind="page", support_level=2, after=0, ack_within=120),
        ]
        internet_policy(org, steps)
        services.do_create_policy(actor=org.admin, data=services.PolicyInput(
            name="Internet, severity 1", severity=1, scope="service", target=org.internet,
            respond_within=600, resolve_within=3600, steps=steps,
        ))  # fmt: skip
        incident = create(org, affected_users=3)
        run_worker(T0)
        page = Page.objects.get(incident=incident)
        assert (page.group, page.person, page.ack_within) == (org.net_ops, org.net_ops_agent, 120)
        assert steps_log(incident) == [(1, "assign", "done"), (2, "page", "done")]
        paged = events(incident, "paged")[0].payload
        assert paged["group"]["id"] == org.net_ops.pk and paged["attempt"] == 1
        # Nobody acknowledges: the group's manager two minutes later.
        run_worker(T0 + minutes(2))
        page.refresh_from_db()
        assert (page.person, page.attempt) == (org.net_ops_manager, 2)
        # Severity 1 now: its plan (the same steps) is due at once, but the page
        # already went out: the recomputed plan does not page again.
        with at(T0 + minutes(3)):
            incidents.do_update_incident(
                incident=incident.pk, actor=org.desk_agent, changes={"affected_users": 80}
            )
        run_worker(T0 + minutes(3))
        assert Page.objects.filter(incident=incident).count() == 1
        assert list(
            EscalationStep.objects.filter(incident=incident, generation=2).values_list(
                "kind", "state"
            )
        ) == [("assign", "skipped"), ("page", "skipped")]

    def test_page_step_without_anyone_fails_visibly(self, org: Org) -> None:
        org.net_ops.manager = None
        org.net_ops.save()
        internet_policy(org, [services.StepInput(kind="page", support_level=2, after=0)])
        incident = create(org, affected_users=3)
        run_worker(T0)
        assert steps_log(incident) == [(1, "page", "failed")]
        assert "nobody to page" in events(incident, "escalation_step")[0].payload["detail"]

    def test_webhook_step_is_signed_and_delivered_once(self, org: Org, receiver: Receiver) -> None:
        internet_policy(org, [
            services.StepInput(kind="webhook", after=300, url=receiver.url, secret="s3cret"),
        ])  # fmt: skip
        incident = create(org, affected_users=3)
        run_worker(T0 + minutes(5))
        run_worker(T0 + minutes(6))  # nothing fires twice
        worker = Worker(name="deliverer")
        worker.run_outbox_once()  # (notification rules queue e-mail alongside)
        worker.run_outbox_once()
        webhook = OutboxMessage.objects.get(channel="webhook")
        assert webhook.state == RowState.DONE
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert verify("s3cret", headers["x-servicedesk-timestamp"], request["body"],
                      headers["x-servicedesk-signature"])  # fmt: skip
        body = json.loads(request["body"])
        assert body["type"] == "incident.escalation_step"
        assert body["incident"]["id"] == incident.pk
        assert body["payload"]["kind"] == "webhook" and body["payload"]["state"] == "done"

    def test_assign_without_a_group_fails_and_the_plan_goes_on(self, org: Org) -> None:
        internet_policy(org, [
            services.StepInput(kind="assign", support_level=3, after=0),
            services.StepInput(kind="emergency_meeting", after=60, bridge="Room 4, +7 495 000-00-00"),
        ])  # fmt: skip
        org.net_eng.is_active = False
        org.net_eng.save()
        incident = create(org, affected_users=3)
        run_worker(T0 + minutes(1))
        assert steps_log(incident) == [(1, "assign", "failed"), (2, "emergency_meeting", "done")]
        meeting = EmergencyMeeting.objects.get(incident=incident)
        assert meeting.bridge == "Room 4, +7 495 000-00-00"
        assert meeting.starts_at == T0 + minutes(1 + 10)
        assert EscalationStep.objects.get(incident=incident, index=0).detail.startswith("No active")

    def test_notify_manager_walks_up_the_chain(self, org: Org) -> None:
        internet_policy(org, [
            services.StepInput(kind="notify_manager", after=60),
            services.StepInput(kind="notify_manager", after=60),
            services.StepInput(kind="notify_manager", after=60),
            services.StepInput(kind="notify_manager", after=60),
        ])  # fmt: skip
        incident = create(org, affected_users=3)
        run_worker(T0 + minutes(1))
        assert refresh(incident).coordinator == org.net_eng_manager
        run_worker(T0 + minutes(2))
        assert refresh(incident).coordinator == org.eng_head
        run_worker(T0 + minutes(4))
        assert refresh(incident).coordinator == org.cio
        assert steps_log(incident)[-1] == (4, "notify_manager", "failed")  # the chain ends
        positions = [e.payload["chain_position"] for e in events(incident, "escalated")]
        assert positions == [1, 2, 3]
