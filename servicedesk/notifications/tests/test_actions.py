"""Action requests (tracked, overdue, reminded) and hand-written status updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from servicedesk.core.errors import Conflict, PermissionDenied
from servicedesk.core.models import DueItem, OutboxMessage, RowState
from servicedesk.escalation.models import EscalationPolicy
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.notifications import services
from servicedesk.notifications.dispatch import reminder_key
from servicedesk.notifications.models import ActionRequest, ActionState, Notification
from servicedesk.testing.org import Org

from .conftest import make_user, run_worker

pytestmark = pytest.mark.django_db
T0 = datetime(2030, 3, 6, 10, 0, tzinfo=UTC)


def escalated(org: Org, **kw: Any) -> Incident:
    kw.setdefault("affected_users", 3)
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="Router down", reporter=org.reporter, service=org.internet,
        **kw,
    )  # fmt: skip
    incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="insufficient_knowledge")
    return incident


def timeline(incident: Incident) -> list[str]:
    return list(incident.events.order_by("id").values_list("type", flat=True))


class TestActionRequests:
    def test_overdue_is_recorded_on_the_incident_and_the_addressee_reminded(
        self, org: Org, settings: Any
    ) -> None:
        settings.SERVICEDESK_ACTION_MAX_REMINDERS = 2
        # Without timers moving the incident on (a further escalation would settle the
        # request): this test is about the reminders.
        EscalationPolicy.objects.update(active=False)
        with time_machine.travel(T0, tick=False) as clock:
            incident = escalated(org)
            request = ActionRequest.objects.get(incident=incident)
            assert (request.addressee_group, request.due_at) == (
                org.net_ops,
                T0 + timedelta(minutes=30),
            )
            clock.shift(timedelta(minutes=29))
            run_worker()
            assert "action_request_overdue" not in timeline(incident)
            clock.shift(timedelta(minutes=2))
            run_worker()
            request.refresh_from_db()
            assert request.overdue_at == T0 + timedelta(minutes=31) and request.reminders == 1
            assert timeline(incident)[-1] == "action_request_overdue"
            reminders = OutboxMessage.objects.filter(
                channel="email", event_type="incident.action_request_overdue"
            )
            assert {m.destination for m in reminders} == {
                org.net_ops_agent.email, org.problem_manager.email,
            }  # fmt: skip
            body = reminders[0].payload["body"]
            assert reminders[0].payload["subject"].startswith(f"Reminder {incident.number}")
            assert "accept the incident and contact the reporter" in body
            assert org.reporter.phone in body and f"/incidents/{incident.pk}/" in body
            # Reminded again an interval later, then no more (the limit is 2).
            clock.shift(timedelta(minutes=61))
            run_worker()
            clock.shift(timedelta(hours=5))
            run_worker()
        request.refresh_from_db()
        assert request.reminders == 2 and request.state == ActionState.OPEN
        assert timeline(incident).count("action_request_overdue") == 1
        assert DueItem.objects.get(key=reminder_key(request.pk)).state == RowState.DONE

    def test_done_by_the_addressee_stops_the_reminders(self, org: Org) -> None:
        with time_machine.travel(T0, tick=False) as clock:
            incident = escalated(org)
            request = ActionRequest.objects.get(incident=incident)
            done = services.do_complete_action_request(
                request=request, actor=org.net_ops_agent, outcome="called the reporter"
            )
            assert done.state == ActionState.DONE and done.done_by == org.net_ops_agent
            assert timeline(incident)[-1] == "action_request_done"
            with pytest.raises(Conflict):
                services.do_complete_action_request(request=request, actor=org.net_ops_agent)
            clock.shift(timedelta(hours=1))
            run_worker()
        assert not OutboxMessage.objects.filter(event_type__endswith="overdue").exists()
        assert DueItem.objects.get(key=reminder_key(request.pk)).state == RowState.CANCELLED

    def test_only_the_addressee_or_those_working_it_complete_it(self, org: Org) -> None:
        incident = escalated(org)
        request = ActionRequest.objects.get(incident=incident)
        with pytest.raises(PermissionDenied):
            services.do_complete_action_request(request=request, actor=org.mail_ops_agent)
        with pytest.raises(PermissionDenied):
            services.do_complete_action_request(request=request, actor=org.reporter)

    def test_resolution_makes_open_requests_moot(self, org: Org) -> None:
        incident = escalated(org)
        incidents.do_resolve(
            incident=incident, actor=org.desk_agent, resolution_code="other", resolution="Done."
        )
        request = ActionRequest.objects.get(incident=incident)
        assert request.state == ActionState.CANCELLED and "resolved" in request.outcome

    def test_a_hierarchical_escalation_does_not_settle_the_groups_request(self, org: Org) -> None:
        incident = escalated(org)
        incidents.do_escalate(
            incident=incident, actor=org.desk_agent, kind="hierarchical", reason="time_expired"
        )
        group_request = ActionRequest.objects.get(incident=incident, addressee_group=org.net_ops)
        assert group_request.state == ActionState.OPEN
        manager_request = ActionRequest.objects.get(
            incident=incident, addressee=org.net_eng_manager
        )
        incidents.do_escalate(incident=incident, actor=org.net_ops_agent, reason="time_expired")
        group_request.refresh_from_db()
        assert group_request.state == ActionState.DONE  # the incident moved on to the 3rd line
        assert manager_request.state == ActionState.OPEN


class TestStatusUpdates:
    def test_written_to_stakeholders_in_the_coordinators_name_and_recorded(self, org: Org) -> None:
        watcher = make_user(username="cfo", role="manager", language="ru")
        incident = incidents.do_create_incident(
            actor=org.desk_agent, title="ERP is down", reporter=org.reporter,
            service=org.internet, affected_users=80,
        )  # fmt: skip
        services.do_watch(actor=watcher, incident=incident)
        incidents.do_escalate(
            incident=incident, actor=org.desk_agent, kind="hierarchical", reason="time_expired"
        )
        OutboxMessage.objects.all().delete()
        event, queued = services.do_send_status_update(
            incident=incident, actor=org.desk_agent,
            text="The database failed over; users can log in again from 14:30.",
        )  # fmt: skip
        assert event.type == "status_update_sent"
        assert event.payload["author"]["id"] == org.desk_agent.pk
        assert event.payload["sender"]["id"] == org.net_eng_manager.pk
        mails = {m.destination: m for m in OutboxMessage.objects.filter(channel="email")}
        # Reporter, watcher, the service desk (minus the author) and the coordinator.
        assert set(mails) == {
            org.reporter.email, watcher.email, org.desk_agent2.email, org.net_eng_manager.email,
        }  # fmt: skip
        assert queued == 2 * len(mails)  # e-mail and in-app each
        to_reporter = mails[org.reporter.email].payload
        assert to_reporter["subject"] == f"{incident.number} status update: ERP is down"
        assert "users can log in again from 14:30" in to_reporter["body"]
        assert to_reporter["from_name"] == str(org.net_eng_manager)
        to_watcher = mails[watcher.email].payload["subject"]
        assert "сообщение о статусе" in to_watcher  # noqa: RUF001
        assert all(m.meta["urgent"] for m in mails.values())  # severity 1
        run_worker()
        assert Notification.objects.filter(user=org.reporter, event_type="status_update_sent")

    def test_only_for_high_severity(self, org: Org) -> None:
        incident = incidents.do_create_incident(
            actor=org.desk_agent, title="One printer", reporter=org.reporter
        )
        with pytest.raises(Conflict):
            services.do_send_status_update(incident=incident, actor=org.desk_agent, text="x")
        assert not IncidentEvent.objects.filter(type="status_update_sent").exists()

    def test_not_by_end_users_or_other_groups(self, org: Org) -> None:
        incident = escalated(org, affected_users=30)
        with pytest.raises(PermissionDenied):
            services.do_send_status_update(incident=incident, actor=org.reporter, text="x")
        with pytest.raises(PermissionDenied):
            services.do_send_status_update(incident=incident, actor=org.mail_ops_agent, text="x")
        event, _ = services.do_send_status_update(
            incident=incident, actor=org.ops_head, text="Working on it."
        )
        assert event.payload["sender"]["id"] == org.ops_head.pk  # no coordinator yet
