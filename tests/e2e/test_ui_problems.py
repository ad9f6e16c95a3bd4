"""The problem portfolio in a real browser: the ranked board, a problem page with
its Ishikawa diagram drawn as SVG, the Pareto chart switched in place, and an
action through its form (htmx).

With ``SERVICEDESK_SCREENSHOTS=<directory>`` the test also photographs the board
and the problem page there (``problems-board-en.png``, ``problem-en.png`` and
the ``-ru`` variants), as ``docs/screenshots/`` shows them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from servicedesk.incidents import services as incident_services
from servicedesk.problems import rca, services
from servicedesk.problems.models import Problem, Status
from servicedesk.testing.org import Org, build_org

from .conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db: None) -> Org:
    return build_org()


def portfolio(org: Org) -> tuple[Problem, Problem]:
    """A small portfolio: a major mail problem with RCA artefacts, a network one."""

    def incident(title: str, **kw: Any) -> Any:
        return incident_services.do_create_incident(
            actor=org.desk_agent, title=title, reporter=org.reporter, **kw
        )

    mail_incidents = [
        incident("Mail stuck in the outbox", configuration_item=org.mail_server, affected_users=12),
        incident("Mail arrives an hour late", configuration_item=org.mail_server),
        incident("Outbox full again", configuration_item=org.mail_server),
        incident("Webmail slow", service=org.mail),
    ]
    mail = services.do_create_problem(
        actor=org.problem_manager, title="Mail delivery delays", service=org.mail,
        major=True, business_impact=4, users_affected=120, cause_estimate_hours=40,
        owner=org.mail_ops_agent, incidents=mail_incidents,
        description="Outgoing mail waits in the queue of mail-01 for up to an hour.",
    )  # fmt: skip
    rca.do_set_ishikawa(problem=mail, actor=org.problem_manager, categories=[
        {"name": "technology", "causes": [
            {"text": "Queue disk full", "root_cause": True,
             "sub_causes": [{"text": "Log rotation switched off"}]},
            {"text": "DNS answers slowly"}]},
        {"name": "process", "causes": [{"text": "Nobody watches the queue length"}]},
        {"name": "people", "causes": [{"text": "On-call not trained on the mail relay"}]},
        {"name": "measurement", "causes": [{"text": "No alert on queue age"}]},
        {"name": "environment", "causes": [{"text": "Month-end mail peak"}]},
    ])  # fmt: skip
    rca.do_set_five_whys(problem=mail, actor=org.problem_manager, steps=[
        {"why": "Why is mail late?", "because": "It waits in the queue of mail-01"},
        {"why": "Why does it wait?", "because": "The queue disk is full"},
        {"why": "Why is the disk full?", "because": "Old logs are never rotated"},
    ])  # fmt: skip
    rca.do_set_kepner_tregoe(problem=mail, actor=org.problem_manager, rows=[
        {"dimension": "where", "question": "Which servers?", "is": "mail-01",
         "is_not": "mail-02", "distinctions": "mail-01 keeps its logs locally",
         "changes": "log shipping moved last month"},
        {"dimension": "when", "question": "When?", "is": "month end", "is_not": "mid-month",
         "distinctions": "mail peak", "changes": ""},
    ])  # fmt: skip
    network = services.do_create_problem(
        actor=org.problem_manager, title="Router drops packets under load",
        service=org.internet, business_impact=2, cause_estimate_hours=16,
        incidents=[incident("Internet slow", configuration_item=org.router)],
    )  # fmt: skip
    services.do_start_investigation(problem=network, actor=org.net_ops_agent)
    # Twenty hours spent on an estimate of sixteen: the board shows the overrun.
    Problem.objects.filter(pk=network.pk).update(
        investigation_seconds=20 * 3600, investigation_started_at=None
    )
    return mail, network


def test_portfolio_problem_page_and_an_action(org: Org, open_page: Any) -> None:
    mail, network = portfolio(org)
    shots = os.environ.get("SERVICEDESK_SCREENSHOTS")
    page = open_page(viewport={"width": 1400, "height": 900})
    sign_in(page, org.mail_ops_agent.username)
    page.click("nav.main-nav >> text=Problems")
    page.wait_for_url("**/problems/")
    rows = page.locator("table.board tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td.rank").inner_text() == "1"
    assert mail.number in rows.nth(0).inner_text() and network.number in rows.nth(1).inner_text()
    assert "overrun" in rows.nth(1).inner_text()
    assert page.locator("table.board svg.progress.overrun").count() == 1
    # Filters narrow the board in place and keep the portfolio rank.
    page.select_option("#filter-technology", label="Network")
    page.wait_for_selector("table.board tbody tr:nth-child(2)", state="detached")
    assert page.locator("table.board td.rank").inner_text() == "2"
    assert "technology=" in page.url
    page.select_option("#filter-technology", label="any")
    page.wait_for_selector("table.board tbody tr:nth-child(2)")
    if shots:
        page.screenshot(path=str(Path(shots) / "problems-board-en.png"), full_page=True)

    page.click(f"text={mail.number}")
    page.wait_for_url(f"**/problems/{mail.pk}/")
    fishbone = page.locator("svg.ishikawa")
    fishbone.wait_for()
    assert fishbone.locator("g.bone").count() == 5
    assert "Queue disk full" in (fishbone.text_content() or "")
    assert fishbone.bounding_box()["width"] > 500  # type: ignore[index]
    assert page.locator("svg.pareto rect.bar").count() == 1  # by category: all "(none)"
    page.click(".pareto-by >> text=configuration item")
    page.wait_for_selector(".pareto-by a[aria-current]:has-text('configuration item')")
    assert page.locator("svg.pareto rect.bar").count() == 2  # mail-01 and none

    page.click("details[data-action=investigate] > summary")
    page.fill("#id_investigate-comment", "Looking at the queue disk first.")
    page.click("details[data-action=investigate] button[type=submit]")
    page.wait_for_selector("#problem-main .msg-success:has-text('Investigation started.')")
    assert "under investigation" in page.inner_text(".problem-head")
    assert "Looking at the queue disk first." in page.inner_text(".timeline")
    mail.refresh_from_db()
    assert mail.status == Status.UNDER_INVESTIGATION and mail.investigation_started_at
    if shots:
        # 26 hours into an estimate of 40, for the picture.
        Problem.objects.filter(pk=mail.pk).update(
            investigation_seconds=int(timedelta(hours=26).total_seconds())
        )
        page.reload()
        page.locator("svg.ishikawa").wait_for()
        page.screenshot(path=str(Path(shots) / "problem-en.png"), full_page=True)

    # The incident page shows the problem it is linked to (loaded after the page).
    first = mail.incident_links.order_by("id").first()
    assert first is not None
    page.goto(f"/incidents/{first.incident_id}/")
    page.wait_for_selector("#linked-problem-title")
    assert mail.number in page.inner_text("section:has(#linked-problem-title)")

    if shots:
        russian = open_page(locale="ru-RU", viewport={"width": 1400, "height": 900})
        sign_in(russian, org.mail_ops_agent.username)
        russian.goto("/problems/")
        russian.screenshot(path=str(Path(shots) / "problems-board-ru.png"), full_page=True)
        russian.goto(f"/problems/{mail.pk}/")
        russian.locator("svg.ishikawa").wait_for()
        russian.screenshot(path=str(Path(shots) / "problem-ru.png"), full_page=True)
