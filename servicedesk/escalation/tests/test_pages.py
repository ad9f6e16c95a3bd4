"""The incident's escalation plan through Django's client: the incident page's
panel, due times as the engine computes them (business calendar applied),
fired, paused and held steps, SLA deadlines, the emergency meeting, pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.escalation import selectors, services
from servicedesk.escalation.models import BusinessCalendar, EscalationPolicy
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident
from servicedesk.oncall.models import Page
from servicedesk.oncall.tests.test_paging import net_ops_schedule
from servicedesk.testing.org import Org

from .helpers import T0, at, create, minutes, refresh, run_worker

pytestmark = pytest.mark.django_db
PANEL = {"HX-Request": "true", "HX-Target": "escalation-plan"}
FRIDAY = datetime(2025, 3, 14, 14, 45, tzinfo=UTC)  # 17:45 in Moscow, 15 minutes before closing
MONDAY = datetime(2025, 3, 17, tzinfo=UTC)


@pytest.fixture
def browser() -> Callable[..., Client]:
    def make(user: User, language: str = "en") -> Client:
        client = Client(headers={"accept-language": language})
        client.force_login(user)
        return client

    return make


def office_policy(org: Org) -> None:
    """Severity 3 on the Internet service, in Moscow business hours: the 2nd line
    after 30 min, its on-call person at once, then the manager and an emergency
    meeting an hour later."""
    services.do_create_policy(actor=org.admin, data=services.PolicyInput(
        name="Internet, office hours", severity=3, scope="service", target=org.internet,
        calendar=BusinessCalendar.objects.get(name="Business hours, Moscow"),
        respond_within=1800, resolve_within=4 * 3600, steps=[
            services.StepInput(kind="assign", support_level=2, after=1800),
            services.StepInput(kind="page", support_level=2, after=0, ack_within=300),
            services.StepInput(kind="notify_manager", after=3600),
            services.StepInput(kind="emergency_meeting", after=0, bridge="https://meet.example/sd"),
        ],
    ))  # fmt: skip


def plan_html(client: Client, incident: Incident) -> str:
    response = client.get(f"/escalation/incidents/{incident.pk}/plan/", headers=PANEL)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<section id="escalation-plan"')  # the fragment only
    return html


def step_items(html: str) -> dict[int, str]:
    return {
        int(n): body
        for n, body in re.findall(r'<li class="esc-step[^"]*" data-step="(\d+)"(.*?)</li>', html, re.S)
    }  # fmt: skip


def due_times(html: str) -> dict[int, str]:
    out = {}
    for n, body in step_items(html).items():
        match = re.search(r'class="esc-due" datetime="([^"]+)"', body)
        if match:
            out[n] = match.group(1)
    return out


class TestPlan:
    def test_due_times_in_business_hours_match_the_engine(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        office_policy(org)
        net_ops_schedule(org)
        incident = create(org, FRIDAY, service=org.internet, affected_users=3)
        assert incident.severity == 3
        org.desk_agent.time_zone = "Europe/Moscow"
        org.desk_agent.save()
        page = browser(org.desk_agent)
        with at(FRIDAY + minutes(5)):
            html = plan_html(page, incident)
            engine = selectors.incident_plan(refresh(incident))
        # 15 business minutes on Friday, the rest from Monday 09:00 Moscow time
        assert due_times(html) == {
            1: "2025-03-17T09:15:00+03:00", 2: "2025-03-17T09:15:00+03:00",
            3: "2025-03-17T10:15:00+03:00", 4: "2025-03-17T10:15:00+03:00",
        }  # fmt: skip
        assert [s["due_at"] for s in engine["steps"]] == [
            datetime.fromisoformat(v) for v in due_times(html).values()
        ]
        assert "Internet, office hours" in html and "Business hours, Moscow" in html
        assert "each step counts from the previous one" in html
        assert "Assign to the 2nd line" in step_items(html)[1]
        assert "Page the on-call person of the 2nd line" in step_items(html)[2]
        assert "esc-next" in html.split('data-step="1"')[0].rsplit("<li", 1)[1]
        # the SLA deadlines are the incident's, computed by the engine
        respond = re.search(r'esc-clock-respond.*?datetime="([^"]+)"', html, re.S)
        resolve = re.search(r'esc-clock-resolve.*?datetime="([^"]+)"', html, re.S)
        assert respond and respond.group(1) == "2025-03-17T09:15:00+03:00"
        assert resolve and resolve.group(1) == "2025-03-17T12:45:00+03:00"
        assert refresh(incident).respond_by == datetime(2025, 3, 17, 6, 15, tzinfo=UTC)
        assert "25 min left" in html  # 5 of the 30 business minutes used
        assert "3/17/2025 9:15 a.m." in html  # the reader's time zone and locale

    def test_fired_steps_the_meeting_and_the_page(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        office_policy(org)
        net_ops_schedule(org)
        incident = create(org, FRIDAY, service=org.internet, affected_users=3)
        run_worker(MONDAY.replace(hour=6, minute=20))
        run_worker(MONDAY.replace(hour=7, minute=16))
        page = browser(org.desk_agent)
        with at(MONDAY.replace(hour=7, minute=20)):
            html = plan_html(page, incident)
            engine = selectors.incident_plan(refresh(incident))
        assert [s["state"] for s in engine["steps"]] == ["done", "done", "done", "done"]
        items = step_items(html)
        assert all('data-state="done"' in items[n] or "esc-tag-done" in items[n] for n in items)
        # fired when the worker ran, and when they were due
        assert re.search(r'fired <time datetime="2025-03-17T06:20:00\+00:00">', items[1])
        assert '(due <time datetime="2025-03-17T06:15:00+00:00">' in items[1]
        assert re.search(r'fired <time datetime="2025-03-17T07:16:00\+00:00">', items[4])
        assert due_times(html) == {}  # nothing left to come
        # the emergency meeting: when, the bridge as a link, who
        assert "Emergency meeting" in html
        assert '<a href="https://meet.example/sd" rel="noopener">' in html
        assert str(refresh(incident).coordinator) in html.split("Participants")[1]
        # the page went to Network Operations' on-call person (week 2 of the
        # rotation: the problem manager); unacknowledged, it moved on to the manager
        paged = Page.objects.get(incident=incident)
        assert [a.person for a in paged.attempts.all()] == [
            org.problem_manager,
            org.net_ops_manager,
        ]
        assert f"Network Operations: {org.net_ops_manager}" in html
        assert "waiting for acknowledgement" in html

    def test_paused_and_held_steps(self, org: Org, browser: Callable[..., Client]) -> None:
        incident = create(org, T0, affected_users=3)  # Table 4, severity 3, 24x7
        run_worker(T0)
        page = browser(org.desk_agent)
        with at(T0 + minutes(10)):
            incidents.do_set_pending(incident=incident.pk, actor=org.desk_agent,
                                     reason="awaiting_user", comment="asked for the logs")  # fmt: skip
            html = plan_html(page, incident)
        states = [re.search(r'data-state="(\w+)"', b).group(1) for b in step_items(html).values()]  # type: ignore[union-attr]
        assert states == ["skipped", "paused", "paused", "paused"]
        assert "paused: awaiting the user" in html and due_times(html) == {}
        assert "waits while the clocks are paused" in html
        with at(T0 + minutes(20)):
            incidents.do_accept(incident=incident.pk, actor=org.desk_agent)
            incidents.do_set_pending(incident=incident.pk, actor=org.desk_agent,
                                     reason="awaiting_problem", comment="known bug")  # fmt: skip
            html = plan_html(page, incident)
        states = [re.search(r'data-state="(\w+)"', b).group(1) for b in step_items(html).values()]  # type: ignore[union-attr]
        assert states == ["skipped", "held", "held", "held"]
        assert "fires when it leaves pending" in html
        # the resolve clock keeps running while held (the respond clock stopped at the acceptance)
        assert "met" in html.split("esc-clock-respond")[1].split("</tr>")[0]
        with at(T0 + minutes(25)):
            incidents.do_accept(incident=incident.pk, actor=org.desk_agent)
            html = plan_html(page, incident)
            engine = selectors.incident_plan(refresh(incident))
        # out of pending: 10 paused minutes push the 2nd line from +30 to +40 min
        assert due_times(html)[2] == (T0 + minutes(40)).isoformat()
        assert [s["due_at"] for s in engine["steps"][1:]] == [
            datetime.fromisoformat(v) for v in due_times(html).values()
        ]

    def test_a_severity_change_keeps_the_earlier_plan_visible(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        incident = create(org, T0, affected_users=3)
        run_worker(T0)
        with at(T0 + minutes(5)):
            incidents.do_update_incident(incident=incident.pk, actor=org.desk_agent,
                                         changes={"affected_users": 60})  # fmt: skip
        run_worker(T0 + minutes(5))
        with at(T0 + minutes(6)):
            html = plan_html(browser(org.desk_agent), incident)
        assert "Severity 1" in html and "Steps of an earlier plan" in html
        assert "Severity 3" in html.split("Steps of an earlier plan")[1]

    def test_without_a_policy(self, org: Org, browser: Callable[..., Client]) -> None:
        EscalationPolicy.objects.filter(severity=4).update(active=False)
        incident = create(org, T0, affected_users=0)
        assert incident.severity == 4
        html = plan_html(browser(org.desk_agent), incident)
        assert "No escalation policy applies to severity 4" in html


class TestPanelOnTheIncidentPage:
    def test_the_panel_loads_the_plan(self, org: Org, browser: Callable[..., Client]) -> None:
        incident = create(org, T0, affected_users=3)
        html = browser(org.desk_agent).get(f"/incidents/{incident.pk}/").content.decode()
        panel = re.search(r'<section id="escalation-plan"[^>]*>', html)
        assert panel, "the incident page has the escalation plan panel"
        assert f'hx-get="/escalation/incidents/{incident.pk}/plan/"' in panel.group(0)
        assert 'hx-trigger="load"' in panel.group(0)
        # without JavaScript: a link to the same plan as a page
        assert f'href="/escalation/incidents/{incident.pk}/plan/"' in html

    def test_the_plan_as_a_page(self, org: Org, browser: Callable[..., Client]) -> None:
        incident = create(org, T0, affected_users=3)
        response = browser(org.desk_agent).get(f"/escalation/incidents/{incident.pk}/plan/")
        html = response.content.decode()
        assert response.status_code == 200 and html.startswith("<!DOCTYPE html>")
        assert f'href="/incidents/{incident.pk}/"' in html and 'id="escalation-plan"' in html

    def test_timeline_lines(self, org: Org, browser: Callable[..., Client]) -> None:
        incident = create(org, T0, affected_users=3)
        run_worker(T0 + minutes(31))
        html = browser(org.desk_agent).get(f"/incidents/{incident.pk}/").content.decode()
        assert "Escalation step 1 skipped: Assign to the 1st line" in html
        assert "Escalation step 2: Assign to the 2nd line" in html
        assert "50% of the Respond target used" in html

    def test_permissions(self, org: Org, client: Client, browser: Callable[..., Client]) -> None:
        incident = create(org, T0, affected_users=3)
        path = f"/escalation/incidents/{incident.pk}/plan/"
        assert client.get(path)["Location"].startswith("/accounts/login/")
        assert browser(org.reporter).get(path)["Location"] == "/portal/"
        assert browser(org.desk_agent).get("/escalation/incidents/999999/plan/").status_code == 404

    def test_query_count_is_pinned(
        self, org: Org, browser: Callable[..., Client], django_assert_max_num_queries: Any
    ) -> None:
        office_policy(org)
        net_ops_schedule(org)
        incident = create(org, FRIDAY, service=org.internet, affected_users=3)
        page = browser(org.desk_agent)
        page.get("/")
        # session, user, incident, clocks' row, steps' log, meetings,
        # pages, and the plan's checks of the steps to come (groups, schedule,
        # the manager chain)
        with at(FRIDAY + minutes(1)), django_assert_max_num_queries(14):
            plan_html(page, incident)
