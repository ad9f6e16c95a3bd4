"""On-call and the escalation plan in a real browser: who is on call now (with
an override), the schedule's calendar, the incident page's escalation plan
(loaded by htmx) and acknowledging a page.

With ``SERVICEDESK_SCREENSHOTS=docs/screenshots`` the test also photographs
the on-call page and the escalation plan for the docs (oncall.png,
escalation-plan.png).
"""

from __future__ import annotations

from datetime import date, timedelta
from importlib import import_module
from typing import Any

import pytest

from servicedesk.core import clock
from servicedesk.escalation import selectors as escalation
from servicedesk.incidents import services as incidents
from servicedesk.oncall import services
from servicedesk.oncall.models import Page, PageState
from servicedesk.testing.org import Org, build_org

from .conftest import sign_in
from .shots import shoot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db: None) -> Org:
    # An earlier transactional test's flush empties the tables, the shipped
    # escalation matrix (a data migration) included: put it back (idempotent).
    from django.apps import apps

    table4 = import_module("servicedesk.escalation.migrations.0002_table4_matrix")
    table4.forwards(apps, None)
    return build_org()


def test_on_call_calendar_escalation_plan_and_acknowledging(org: Org, open_page: Any) -> None:
    now = clock.now()
    for person, phone in ((org.net_ops_agent, "+7 495 111-22-33"),
                          (org.problem_manager, "+7 495 444-55-66")):  # fmt: skip
        person.phone = phone
        person.save()
    schedule = services.do_create_schedule(
        actor=org.net_ops_manager, group=org.net_ops, time_zone="Europe/Moscow", layers=[
            services.LayerInput(name="primary", members=[org.problem_manager, org.net_ops_agent],
                                starts_on=date.today() - timedelta(days=63)),
            services.LayerInput(name="secondary", members=[org.net_ops_agent, org.problem_manager],
                                starts_on=date.today() - timedelta(days=63)),
        ],
    )  # fmt: skip
    # The agent swaps in on the primary layer for these hours.
    services.do_add_override(
        actor=org.net_ops_manager, schedule=schedule, person=org.net_ops_agent,
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3), reason="swap",
    )  # fmt: skip
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="Core router drops packets", reporter=org.reporter,
        configuration_item=org.router, affected_users=3,
    )  # fmt: skip
    paged = services.do_page(incident=incident, group=org.net_ops, actor=None, ack_within=600)
    assert paged.person == org.net_ops_agent

    page = open_page()
    sign_in(page, org.net_ops_agent.username)
    page.click("nav.main-nav >> text=On-call")
    page.wait_for_url("**/oncall/")
    row = page.locator(f"tr[data-group='{org.net_ops.pk}']")
    primary = row.locator(".oc-primary")
    assert str(org.net_ops_agent) in primary.inner_text()
    assert "override" in primary.inner_text().lower() and "+7 495 111-22-33" in primary.inner_text()
    assert str(org.net_ops_manager) in row.inner_text()  # then the manager
    shoot(page, "oncall.png", full_page=True)

    # The schedule's calendar: the override is highlighted; move a week on and back.
    row.get_by_role("link", name="Calendar").click()
    page.wait_for_url(f"**/oncall/schedules/{schedule.pk}/")
    today = page.locator("td.oc-today")
    assert today.locator(".oc-has-override").count() >= 1
    assert str(org.net_ops_agent) in today.locator(".oc-has-override").first.inner_text()
    page.click("a[rel=next]")
    page.wait_for_url("**view=week&date=*")
    assert page.locator(".oc-has-override").count() == 0
    page.click("text=Month")
    page.wait_for_selector("table.oc-month")
    shoot(page, "oncall-calendar.png", full_page=True)

    # The incident page's escalation plan, loaded by htmx after the page.
    page.goto(f"/incidents/{incident.pk}/")
    plan = page.locator("#escalation-plan")
    plan.locator("ol.esc-steps").wait_for()
    expected = escalation.incident_plan(incident)
    shown = plan.locator("time.esc-due").evaluate_all("els => els.map(e => e.dateTime)")
    due = [s["due_at"].isoformat() for s in expected["steps"] if s["state"] == "pending"]
    assert shown == due and len(due) == 4
    text = plan.inner_text().lower()  # (tags are shown in capitals)
    assert "severity 3" in text and "waiting for acknowledgement" in text
    plan.scroll_into_view_if_needed()
    shoot(page, "escalation-plan.png", full_page=True)

    # Acknowledge the page from the on-call pages list (htmx swaps the list).
    page.goto("/oncall/pages/")
    mine = page.locator(f"tr[data-page='{paged.pk}']")
    mine.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector(f"#pages .msg-success:has-text('Acknowledged {incident.number}.')")
    assert page.locator("#pages-mine + p").inner_text() == "None."
    paged.refresh_from_db()
    assert paged.state == PageState.ACKNOWLEDGED and paged.acknowledged_by == org.net_ops_agent
    # The plan now shows the page acknowledged.
    page.goto(f"/incidents/{incident.pk}/")
    page.locator("#escalation-plan ul.esc-pages").wait_for()
    assert "acknowledged" in page.inner_text("#escalation-plan ul.esc-pages").lower()
    assert Page.objects.filter(state=PageState.PAGING).count() == 0
